"""Two UserAgents back to back (``b2b.Link``), driven by a Hypothesis state machine.

The rules are what a user, the network and a hostile peer can do in any order: a calls b;
b rings, answers or rejects; a cancels; either side hangs up, sends BYE, re-INVITEs (and the
other accepts or refuses), or sends INFO; messages are delivered, virtual time advances,
the next message in a direction is lost (UDP only: a reliable transport does not lose a
message, it fails the connection), and garbage is thrown at either side.

Checked throughout: an action the call's state does not allow raises ``LocalProtocolError``
and queues nothing (no message, no event); nothing else ever escapes; garbage is answered
or dropped, never acted on; no call ends twice. Checked once the timers have run out: no
timer is left, a call still up is established, and on a lossless network both sides agree
(the same established Call-IDs, the same calls ended) and every call someone hung up,
cancelled or rejected has ended on both sides exactly once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from sipcore.call_state import CallState
from sipcore.config import UserAgentConfig
from sipcore.errors import LocalProtocolError
from sipcore.events import (
    CallConfirmed,
    CallEnded,
    EndReason,
    Event,
    IncomingCall,
    MessageDiscarded,
)
from sipcore.ids import SequentialIds
from sipcore.message import Response, parse_message
from sipcore.user_agent import UserAgent
from tests.sipcore.b2b import Link, drop_matching, events
from tests.testdata import require

OFFER = (
    b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    b"m=audio 4000 RTP/AVP 0\r\n"
)
HOLD = OFFER.replace(b"RTP/AVP 0\r\n", b"RTP/AVP 0\r\na=sendonly\r\n")
SIDES = ("a", "b")
# Long enough for every timer a call can arm (no-answer 60 s, 64*T1 = 32 s chains).
SETTLE = 1000.0


def _garbage() -> tuple[bytes, ...]:
    """Messages no UA may act on: RFC 4475's malformed ones, and plain junk."""
    names = (
        "badinv01", "clerr", "ncl", "scalar02", "scalarlg", "quotbal", "ltgtruri", "lwsruri",
        "lwsstart", "trws", "regbadct", "badaspec", "baddn", "badvers", "mismatch01",
        "mismatch02", "bigcode", "insuf", "multi01", "mcl01", "test", "bcast", "unreason",
    )  # fmt: skip
    torture = tuple(require("rfc4475", f"{name}.sip").read_bytes() for name in names)
    junk = (
        b"\x00\xff\xfe garbage \r\n\r\n",
        b"INVITE\r\n\r\n",
        b"SIP/2.0 200 OK\r\n\r\n",
        b"BYE sip:x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKjunk\r\n\r\n",
        b"\r\n\r\n\r\nOPTIONS",
    )
    return torture + junk


GARBAGE = _garbage()


class TwoPhones(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.a = self._phone("alice", "ws")
        self.b = self._phone("bob", "ws")
        self.link = Link(self.a, self.b)
        self.lossy = False
        self.lost = False
        self.drop_next = {"a": False, "b": False}  # by sender
        self.calls: list[str] = []
        """Call-IDs of the calls a placed, in order."""
        self.seen: dict[str, set[str]] = {"a": set(), "b": set()}
        """Call-IDs each side knows: a from invite(), b from IncomingCall."""
        self.ended: dict[str, Counter[str]] = {"a": Counter(), "b": Counter()}
        self.answered: set[str] = set()
        """Calls b answered."""
        self.confirmed: Counter[str] = Counter()
        """CallConfirmed events b reported, by Call-ID."""
        self.finished: set[tuple[str, str]] = set()
        """(side, Call-ID) of each hang-up, cancel or reject that was accepted."""

    @staticmethod
    def _phone(user: str, transport: str) -> UserAgent:
        config = UserAgentConfig.for_account(f"sip:{user}@example.com", "pw", transport=transport)
        return UserAgent(config, ids=SequentialIds(user[0]))

    def _dropper(self, sender: str) -> Callable[[bytes], bool]:
        def drop(_: bytes) -> bool:
            if self.drop_next[sender]:
                self.drop_next[sender] = False
                self.lost = True
                return True
            return False

        return drop

    @initialize(transport=st.sampled_from(["ws", "udp"]), lossy=st.booleans())
    def wire_up(self, transport: str, lossy: bool) -> None:
        self.a = self._phone("alice", transport)
        self.b = self._phone("bob", transport)
        # Only a datagram transport loses messages; RFC 3261 §17 retransmits over it.
        self.lossy = lossy and transport == "udp"
        self.link = Link(self.a, self.b, drop_ab=self._dropper("a"), drop_ba=self._dropper("b"))

    # -- helpers ---------------------------------------------------------------------

    def ua(self, side: str) -> UserAgent:
        return self.a if side == "a" else self.b

    @property
    def now(self) -> float:
        return self.link.now

    def collect(self) -> list[Event]:
        """Read both sides' events and check what must hold of each one."""
        out: list[Event] = []
        for side in SIDES:
            ua = self.ua(side)
            while (event := ua.next_event()) is not None:
                out.append(event)
                if isinstance(event, CallConfirmed):
                    assert side == "b"
                    self.confirmed[event.call_id] += 1
                elif isinstance(event, IncomingCall):
                    assert side == "b", "only b is ever called"
                    self.seen["b"].add(event.call_id)
                elif isinstance(event, CallEnded):
                    self.ended[side][event.call_id] += 1
                    # A call ends once, and is gone once it has ended.
                    assert self.ended[side][event.call_id] == 1, event
                    assert event.call_id not in ua.calls
        return out

    def latest(self) -> str:
        return self.calls[-1] if self.calls else "no-such-call"

    def act(self, side: str, action: Callable[[UserAgent], object], deliver: bool) -> bool:
        """Do a TU action (after delivering what is in flight, if ``deliver``); if it is
        illegal it must raise LocalProtocolError, queue no message and report no event.
        Returns whether it was accepted."""
        ua = self.ua(side)
        if deliver:
            self.link.pump()
        self.collect()
        held = ua.messages_to_send(self.now)  # what was queued before, kept for the wire
        try:
            action(ua)
        except LocalProtocolError:
            assert ua.messages_to_send(self.now) == []
            assert ua.next_event() is None
            accepted = False
        else:
            accepted = True
        for data in [*held, *ua.messages_to_send(self.now)]:
            ua.send_raw(data)
        self.collect()
        return accepted

    def settle(self) -> None:
        self.link.advance(self.now + SETTLE)
        self.collect()

    # -- user actions ----------------------------------------------------------------
    # Each draws ``deliver``: whether what is in flight arrives before the user acts.

    @rule(deliver=st.booleans())
    def a_invites_b(self, deliver: bool) -> None:
        placed: list[str] = []

        def invite(ua: UserAgent) -> None:
            placed.append(ua.invite("sip:bob@example.com", now=self.now, body=OFFER))

        if self.act("a", invite, deliver):
            (call_id,) = placed
            assert call_id not in self.calls
            self.calls.append(call_id)
            self.seen["a"].add(call_id)

    @rule(status=st.sampled_from([180, 183]), deliver=st.booleans())
    def b_rings(self, status: int, deliver: bool) -> None:
        self.act("b", lambda ua: ua.ring(self.latest(), now=self.now, status=status), deliver)

    @rule(deliver=st.booleans())
    def b_answers(self, deliver: bool) -> None:
        call_id = self.latest()
        if self.act("b", lambda ua: ua.answer(call_id, now=self.now, body=OFFER), deliver):
            self.answered.add(call_id)

    @rule(status=st.sampled_from([486, 603, 480]), deliver=st.booleans())
    def b_rejects(self, status: int, deliver: bool) -> None:
        call_id = self.latest()
        if self.act("b", lambda ua: ua.reject(call_id, now=self.now, status=status), deliver):
            self.finished.add(("b", call_id))

    @rule(deliver=st.booleans())
    def a_cancels(self, deliver: bool) -> None:
        call_id = self.latest()
        if self.act("a", lambda ua: ua.cancel(call_id, now=self.now), deliver):
            self.finished.add(("a", call_id))

    @rule(side=st.sampled_from(SIDES), deliver=st.booleans())
    def bye(self, side: str, deliver: bool) -> None:
        call_id = self.latest()
        if self.act(side, lambda ua: ua.bye(call_id, now=self.now), deliver):
            self.finished.add((side, call_id))

    @rule(side=st.sampled_from(SIDES), deliver=st.booleans())
    def hangup(self, side: str, deliver: bool) -> None:
        call_id = self.latest()
        if self.act(side, lambda ua: ua.hangup(call_id, now=self.now), deliver):
            self.finished.add((side, call_id))

    @rule(side=st.sampled_from(SIDES), body=st.sampled_from([OFFER, HOLD]), deliver=st.booleans())
    def reinvite(self, side: str, body: bytes, deliver: bool) -> None:
        self.act(side, lambda ua: ua.reinvite(self.latest(), now=self.now, body=body), deliver)

    @rule(side=st.sampled_from(SIDES), deliver=st.booleans())
    def accept_reinvite(self, side: str, deliver: bool) -> None:
        self.act(
            side,
            lambda ua: ua.accept_reinvite(self.latest(), now=self.now, body=OFFER),
            deliver,
        )

    @rule(
        side=st.sampled_from(SIDES), status=st.sampled_from([488, 491, 500]), deliver=st.booleans()
    )
    def reject_reinvite(self, side: str, status: int, deliver: bool) -> None:
        self.act(
            side,
            lambda ua: ua.reject_reinvite(self.latest(), now=self.now, status=status),
            deliver,
        )

    @rule(side=st.sampled_from(SIDES), deliver=st.booleans())
    def info(self, side: str, deliver: bool) -> None:
        self.act(
            side,
            lambda ua: ua.info(
                self.latest(),
                now=self.now,
                body=b"Signal=5\r\nDuration=240",
                content_type="application/dtmf-relay",
            ),
            deliver,
        )

    @precondition(lambda self: not self.a.calls)
    @rule()
    def a_calls_and_b_answers(self) -> None:
        # The happy path in one step, so that most runs spend their steps inside a call.
        self.a_invites_b(deliver=True)
        self.b_answers(deliver=True)
        self.deliver()

    # -- the network -------------------------------------------------------------------

    @rule()
    def deliver(self) -> None:
        self.link.pump()
        self.collect()

    @rule(delay=st.floats(min_value=0.0, max_value=40.0, allow_nan=False))
    def advance_time(self, delay: float) -> None:
        self.link.advance(self.now + delay)
        self.collect()

    @precondition(lambda self: self.lossy)
    @rule(sender=st.sampled_from(SIDES))
    def lose_next_message(self, sender: str) -> None:
        self.drop_next[sender] = True

    @rule(side=st.sampled_from(SIDES), data=st.sampled_from(GARBAGE))
    def inject_garbage(self, side: str, data: bytes) -> None:
        ua = self.ua(side)
        self.collect()
        held = ua.messages_to_send(self.now)
        states = {call_id: call.state for call_id, call in ua.calls.items()}
        ua.receive_message(data, now=self.now)
        answers = ua.messages_to_send(self.now)
        # Garbage is answered (with a response) or dropped; it never moves a call.
        for raw in answers:
            assert isinstance(parse_message(raw), Response)
        reported = []
        while (event := ua.next_event()) is not None:
            reported.append(event)
        assert len(reported) == 1 and isinstance(reported[0], MessageDiscarded), reported
        assert {call_id: call.state for call_id, call in ua.calls.items()} == states
        for raw in [*held, *answers]:
            ua.send_raw(raw)

    @rule()
    def settle_and_check(self) -> None:
        self.settle()
        self.check_settled()

    # -- invariants ----------------------------------------------------------------------

    @invariant()
    def calls_are_consistent(self) -> None:
        for side in SIDES:
            ua = self.ua(side)
            for call_id, call in ua.calls.items():
                assert call.state is not CallState.ENDED
                assert self.ended[side][call_id] == 0
                assert call_id in self.seen[side] or call_id in self.calls

    def check_settled(self) -> None:
        for side in SIDES:
            ua = self.ua(side)
            assert ua.get_timer() is None, (side, ua.get_timer())
            # Nothing is left half-way (ringing, cancelling, ending...) once timers ran out.
            states = {call_id: call.state for call_id, call in ua.calls.items()}
            assert set(states.values()) <= {CallState.ESTABLISHED}, (side, states)
            assert ua.messages_to_send(self.now) == []
        # Whoever hung up, cancelled or rejected has seen the call end, and so has the
        # other side if it knew the call and nothing was lost.
        for actor, call_id in self.finished:
            assert self.ended[actor][call_id] == 1, (actor, call_id)
            for side in SIDES:
                if call_id in self.seen[side] and not self.lost:
                    assert self.ended[side][call_id] == 1, (side, call_id)
        if self.lost:
            return
        # Lossless: both sides agree on what is up and what ended, and every 2xx b sent
        # was ACKed (RFC 3261 §13.3.1.4), whatever raced it (CANCEL, BYE, re-INVITE).
        assert set(self.a.calls) == set(self.b.calls)
        for call_id in self.answered:
            assert self.confirmed[call_id] == 1, call_id
        for call_id in self.seen["b"]:
            assert self.ended["a"][call_id] == self.ended["b"][call_id], call_id
        for call_id in self.seen["a"] - self.seen["b"]:
            # b never took it as a call (busy with another): a has seen it refused.
            assert self.ended["a"][call_id] == 1, call_id

    def teardown(self) -> None:
        self.settle()
        self.check_settled()


TestTwoPhones = TwoPhones.TestCase
TestTwoPhones.settings = settings(max_examples=200, stateful_step_count=40, deadline=None)


def test_cancel_gives_up_when_neither_cancel_nor_final_gets_through() -> None:
    # Found by the machine's "nothing left half-way" check: on UDP, with every CANCEL and
    # the callee's final response lost, the call stayed cancelling for ever, no timer armed.
    # RFC 3261 §9.1: after 64*T1 with no final response, consider the INVITE cancelled.
    a = TwoPhones._phone("alice", "udp")
    b = TwoPhones._phone("bob", "udp")
    link = Link(a, b)
    call_id = a.invite("sip:bob@example.com", now=0.0, body=OFFER)
    link.pump()  # INVITE, 100, 180
    link.drop_ab = drop_matching("CANCEL")
    link.drop_ba = drop_matching("SIP/2.0 480")  # b's no-answer rejection, 60 s later
    a.cancel(call_id, now=1.0)
    assert a.get_timer() == 1.5  # Timer E of the CANCEL
    link.settle()
    ended = [e for e in events(a) if isinstance(e, CallEnded)]
    assert [(e.call_id, e.reason, e.status_code) for e in ended] == [
        (call_id, EndReason.LOCAL_CANCEL, 408)
    ]
    assert a.calls == {} and b.calls == {}
    assert a.get_timer() is None and b.get_timer() is None
    # The CANCEL was retransmitted until Timer F; the call was given up 64*T1 after it,
    # and the INVITE's client transaction destroyed with it (§9.1).
    assert sum(m.startswith(b"CANCEL ") for m in link.sent_ab) == 11
    assert a._client == {}


def test_a_reinvite_2xx_after_the_peer_hung_up_is_acked_and_nothing_raises() -> None:
    # Found by the machine: b answers a's re-INVITE after sending BYE; a gets the BYE first,
    # then the 2xx, which must still be ACKed (§13.2.2.4) without raising out of
    # receive_message.
    a = TwoPhones._phone("alice", "ws")
    b = TwoPhones._phone("bob", "ws")
    link = Link(a, b)
    call_id = a.invite("sip:bob@example.com", now=0.0, body=OFFER)
    link.pump()
    b.answer(call_id, now=0.0, body=OFFER)
    link.pump()
    a.reinvite(call_id, now=1.0, body=OFFER)
    link.pump()
    held: list[bytes] = []

    def hold_back(data: bytes) -> bool:
        held.append(data)
        return True  # "dropped" from the link: delivered by hand below

    link.drop_ba = hold_back
    b.bye(call_id, now=1.0)
    b.accept_reinvite(call_id, now=1.0, body=OFFER)
    link.pump()
    link.drop_ba = lambda _: False
    for data in held:  # BYE first, then the 200 for the re-INVITE
        a.receive_message(data, 1.0)
    out = a.messages_to_send(1.0)
    assert [m.split(b" ", 1)[0] for m in out] == [b"SIP/2.0", b"ACK"]
    ended = [e for e in events(a) if isinstance(e, CallEnded)]
    assert [e.call_id for e in ended] == [call_id]
