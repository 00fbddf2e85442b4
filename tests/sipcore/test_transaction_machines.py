"""The four RFC 3261 §17 transaction machines (with RFC 6026's Accepted states).

A Hypothesis ``RuleBasedStateMachine`` per machine feeds random interleavings of peer
inputs (responses, request retransmissions, ACKs), TU inputs, timers fired at their
deadline or at random later times, stale timer calls and transport errors, on reliable and
unreliable transports, and checks what the RFC says after every step:

- an illegal TU input raises ``LocalProtocolError`` and changes nothing; peer inputs never
  raise, and those a state does not expect are absorbed without a trace;
- nothing is armed in Terminated; no deadline is ever at or before the time it was armed
  at; a reliable transport never arms A, E, G (nor D, I, J, K, which it fires at once);
- every (re)armed timer has its exact RFC value: A doubles from T1 without a cap; E and G
  double up to T2 (E goes straight to T2 in Proceeding); B, F, H, J, L, M are 64*T1;
  D is at least 32 s; I and K are T4;
- exactly the due timers fire: each retransmission timer re-sends once, and a timer the
  state no longer uses does nothing;
- a 2xx passes to the TU in Accepted (RFC 6026 §8.4), an ACK too (§8.7); a non-2xx final
  gets exactly one ACK for each copy received in Calling, Proceeding or Completed.

Unit tests below pin the exact retransmission schedules.
"""

from __future__ import annotations

import enum
from typing import ClassVar

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from sipcore.errors import LocalProtocolError
from sipcore.message import Request, Response, parse_message
from sipcore.replies import make_response
from sipcore.transactions import (
    ClientInviteState,
    ClientInviteTransaction,
    ClientNonInviteState,
    ClientNonInviteTransaction,
    Input,
    Notice,
    NoticeKind,
    ServerInviteState,
    ServerInviteTransaction,
    ServerNonInviteState,
    ServerNonInviteTransaction,
    TimerConfig,
    Transaction,
)

DEFAULT = TimerConfig()
FAST = TimerConfig(t1=0.25, t2=2.0, t4=3.0)
RETRANSMISSION_TIMERS = frozenset({"A", "E", "G"})
# Timers a reliable transport never arms: A/E/G are skipped, D/I/J/K are zero (fire at once).
UNRELIABLE_ONLY = frozenset({"A", "E", "G", "D", "I", "J", "K"})
TU_INPUTS = (Input.TU_1XX, Input.TU_2XX, Input.TU_FINAL)

STATE_MACHINE_SETTINGS = settings(max_examples=120, stateful_step_count=40, deadline=None)


def make_request(method: str) -> Request:
    request = Request("INVITE" if method == "INVITE" else method, "sip:bob@example.com")
    h = request.headers
    h.add("Via", "SIP/2.0/UDP client.example.com;branch=z9hG4bKtx1")
    h.add("Max-Forwards", "70")
    h.add("From", "<sip:alice@example.com>;tag=a1")
    h.add("To", "<sip:bob@example.com>")
    h.add("Call-ID", "tx-call-1")
    h.add("CSeq", f"1 {method}")
    h.add("Content-Length", "0")
    return request


def make_ack(invite: Request) -> Request:
    ack = Request("ACK", invite.uri)
    for name in ("Via", "From", "Call-ID"):
        ack.headers.add(name, invite.headers.get(name) or "")
    ack.headers.add("To", "<sip:bob@example.com>;tag=b1")
    ack.headers.add("CSeq", "1 ACK")
    return ack


def answer(request: Request, code: int) -> Response:
    return make_response(request, code, to_tag="b1")


def expected_interval(
    name: str, timers: TimerConfig, previous: float | None, state: enum.Enum
) -> float:
    """The interval RFC 3261 §17 (and RFC 6026) give a timer when it is (re)armed."""
    if name == "A":
        # §17.1.1.2: "set timer A to fire in T1 seconds" ... "reset the timer with a value
        # of 2*T1" each time: no cap (it is bounded only by Timer B).
        return timers.t1 if previous is None else 2 * previous
    if name == "E":
        # §17.1.2.2: T1, then MIN(2*T1, T2)...; in Proceeding "reset with a value of T2".
        if previous is None:
            return timers.t1
        if state is ClientNonInviteState.PROCEEDING:
            return timers.t2
        return min(2 * previous, timers.t2)
    if name == "G":
        # §17.2.1: "timer G is set to fire in MIN(2*T1, T2) seconds" each time.
        return timers.t1 if previous is None else min(2 * previous, timers.t2)
    if name == "D":
        # §17.1.1.2: "at least 32 seconds for unreliable transports".
        return max(32.0, 64 * timers.t1)
    if name in ("I", "K"):
        return timers.t4
    # B, F, H, J (unreliable), L, M: 64*T1.
    return 64 * timers.t1


class TransactionMachine(RuleBasedStateMachine):
    """What all four machines are checked for; subclasses say which state does what."""

    KIND: ClassVar[
        type[ClientInviteTransaction]
        | type[ClientNonInviteTransaction]
        | type[ServerInviteTransaction]
        | type[ServerNonInviteTransaction]
    ]
    METHOD: ClassVar[str]
    RETRANSMITS: ClassVar[frozenset[tuple[enum.Enum, str]]]
    """(state, timer) pairs where the timer re-sends (the request or the final response)."""
    TERMINATES: ClassVar[dict[tuple[enum.Enum, str], bool]]
    """(state, timer) pairs where the timer ends the transaction -> whether it tells a timeout."""
    TRANSPORT_ERROR_ENDS: ClassVar[frozenset[enum.Enum]]
    """States a transport error terminates (RFC 3261 §17.1.4, §17.2.4)."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[bytes] = []
        self.notices: list[Notice] = []
        self.now = 0.0
        self.intervals: dict[str, float] = {}
        self.reliable = False
        self.timers = DEFAULT
        self.request = make_request(self.METHOD)
        self.tx: Transaction = self.KIND(("k",), self.request, self.sent.append, DEFAULT, False)

    # -- helpers ---------------------------------------------------------------------

    def snapshot(self) -> tuple[enum.Enum, dict[str, float], int]:
        return self.tx.state, self.tx.armed(), len(self.sent)

    def check_armed(self, before: dict[str, float], state: enum.Enum, now: float) -> None:
        """Every timer armed (or re-armed) by the last step got its RFC interval."""
        for name, deadline in self.tx.armed().items():
            if before.get(name) == deadline:
                continue
            interval = deadline - now
            expected = expected_interval(name, self.timers, self.intervals.get(name), state)
            assert interval == pytest.approx(expected), (name, interval, expected)
            if name == "D":
                assert deadline >= now + 32.0  # "at least 32 seconds"
            self.intervals[name] = interval

    def step(self, event: Input, message: Request | Response | None) -> list[Notice]:
        state, armed, _ = self.snapshot()
        notices = self.tx.step(event, self.now, message)
        self.notices += notices
        self.check_armed(armed, state, self.now)
        if self.tx.terminated and state is not self.tx.state:
            assert notices[-1].kind is NoticeKind.TERMINATED
        return notices

    def assert_unchanged(
        self, before: tuple[enum.Enum, dict[str, float], int], notices: list[Notice]
    ) -> None:
        assert self.snapshot() == before
        assert notices == []

    def tu_legal(self, event: Input, state: enum.Enum) -> bool:
        return False  # a client transaction takes no responses from its TU

    def tu_code(self, event: Input, data: st.DataObject) -> int:
        if event is Input.TU_1XX:
            return data.draw(st.sampled_from([100, 180, 183]))
        if event is Input.TU_2XX:
            return data.draw(st.sampled_from([200, 202]))
        low = 300 if self.METHOD == "INVITE" else 200
        return data.draw(st.integers(low, 699))

    def run_timers(self, now: float) -> None:
        """``handle_timer(now)`` and check that exactly the due timers did their job."""
        assert now >= self.now
        state, armed, sent_before = self.snapshot()
        due = sorted((deadline, name) for name, deadline in armed.items() if deadline <= now)
        notices = self.tx.handle_timer(now)
        self.now = now
        if not due:
            # Nothing due (or only a timer that was disarmed): a stale call does nothing.
            self.assert_unchanged((state, armed, sent_before), notices)
            return
        self.notices += notices
        self.check_armed(armed, state, now)
        ends = [(d, n) for d, n in due if (state, n) in self.TERMINATES]
        end_at = ends[0][0] if ends else float("inf")
        retransmits = [d for d, n in due if (state, n) in self.RETRANSMITS]
        resent = self.sent[sent_before:]
        # A retransmission due at the very instant the transaction ends may go either way.
        assert len([d for d in retransmits if d < end_at]) <= len(resent)
        assert len(resent) <= len([d for d in retransmits if d <= end_at])
        assert all(data == self.retransmission() for data in resent)
        if ends:
            assert self.tx.terminated
            timed_out = self.TERMINATES[(state, ends[0][1])]
            kinds = [n.kind for n in notices]
            assert kinds == ([NoticeKind.TIMEOUT] if timed_out else []) + [NoticeKind.TERMINATED]
        else:
            assert self.tx.state is state
            assert [n for n in notices if n.kind is not NoticeKind.MESSAGE] == []

    def retransmission(self) -> bytes:
        raise NotImplementedError

    # -- rules -----------------------------------------------------------------------

    @initialize(reliable=st.booleans(), timers=st.sampled_from([DEFAULT, FAST]))
    def start(self, reliable: bool, timers: TimerConfig) -> None:
        self.reliable = reliable
        self.timers = timers
        self.sent.clear()
        self.tx = self.KIND(("k",), self.request, self.sent.append, timers, reliable)
        state = self.tx.state
        if isinstance(self.tx, ClientInviteTransaction | ClientNonInviteTransaction):
            self.notices += self.tx.start(0.0)
            assert self.sent == [bytes(self.request)]
            self.check_armed({}, state, 0.0)

    @rule(event=st.sampled_from(TU_INPUTS), data=st.data())
    def tu_sends(self, event: Input, data: st.DataObject) -> None:
        response = answer(self.request, self.tu_code(event, data))
        before = self.snapshot()
        state, _, sent_before = before
        if not self.tu_legal(event, state):
            with pytest.raises(LocalProtocolError):
                self.tx.step(event, self.now, response)
            self.assert_unchanged(before, [])
            return
        notices = self.step(event, response)
        # The response goes out once, now; the transaction remembers it for re-sending.
        assert self.sent[sent_before:] == [bytes(response)]
        assert self.tx.last_response is response
        assert [n.kind for n in notices] in ([], [NoticeKind.TERMINATED])

    @rule()
    def transport_fails(self) -> None:
        before = self.snapshot()
        state = before[0]
        notices = self.tx.transport_error(self.now)
        self.notices += notices
        if state in self.TRANSPORT_ERROR_ENDS:
            assert self.tx.terminated
            assert [n.kind for n in notices] == [NoticeKind.TRANSPORT_ERROR, NoticeKind.TERMINATED]
        else:
            self.assert_unchanged(before, notices)

    @rule()
    def fire_next_deadline(self) -> None:
        deadline = self.tx.next_deadline()
        if deadline is not None:
            self.run_timers(deadline)

    @rule(delay=st.floats(min_value=0.0, max_value=10.0, allow_nan=False))
    def advance_time(self, delay: float) -> None:
        self.run_timers(self.now + delay)

    @rule(earlier=st.floats(min_value=0.0, max_value=5.0, allow_nan=False))
    def stale_timer_call(self, earlier: float) -> None:
        # A wake-up before any deadline (a timer the caller armed from an older
        # get_timer(), or a clock that jittered back) does nothing at all.
        before = self.snapshot()
        self.assert_unchanged(before, self.tx.handle_timer(self.now - earlier))

    # -- invariants --------------------------------------------------------------------

    @invariant()
    def timers_are_consistent(self) -> None:
        armed = self.tx.armed()
        if self.tx.terminated:
            assert armed == {} and self.tx.next_deadline() is None
        # Every deadline lies after the last time we drove the machine.
        assert all(deadline > self.now for deadline in armed.values()), (armed, self.now)
        if self.reliable:
            assert not armed.keys() & UNRELIABLE_ONLY, armed
        if armed:
            assert self.tx.next_deadline() == min(armed.values())

    @invariant()
    def termination_is_told_once(self) -> None:
        ended = [n for n in self.notices if n.kind is NoticeKind.TERMINATED]
        assert len(ended) == (1 if self.tx.terminated else 0)


# ================================================================== client INVITE

CI = ClientInviteState


class ClientInviteMachine(TransactionMachine):
    KIND = ClientInviteTransaction
    METHOD = "INVITE"
    RETRANSMITS = frozenset({(CI.CALLING, "A")})
    TERMINATES: ClassVar[dict[tuple[enum.Enum, str], bool]] = {
        (CI.CALLING, "B"): True,
        (CI.COMPLETED, "D"): False,
        (CI.ACCEPTED, "M"): False,
    }
    TRANSPORT_ERROR_ENDS = frozenset({CI.CALLING, CI.PROCEEDING, CI.COMPLETED})

    def __init__(self) -> None:
        super().__init__()
        self.acks: list[bytes] = []

    def retransmission(self) -> bytes:
        return bytes(self.request)

    @rule(code=st.sampled_from([100, 180, 183, 200, 202, 302, 404, 486, 487, 500, 603]))
    def response_arrives(self, code: int) -> None:
        response = answer(self.request, code)
        event = (
            Input.RESPONSE_1XX
            if code < 200
            else Input.RESPONSE_2XX
            if code < 300
            else Input.RESPONSE_FINAL
        )
        before = self.snapshot()
        state, armed, sent_before = before
        notices = self.step(event, response)
        new = self.sent[sent_before:]
        if code < 200:
            if state in (CI.CALLING, CI.PROCEEDING):
                # §17.1.1.2: Proceeding; pass to the TU; stop retransmitting.
                assert self.tx.state is CI.PROCEEDING
                assert notices == [Notice(NoticeKind.MESSAGE, response)]
                assert new == [] and "A" not in self.tx.armed()
            else:
                self.assert_unchanged(before, notices)
        elif code < 300:
            if state in (CI.CALLING, CI.PROCEEDING, CI.ACCEPTED):
                # RFC 6026 §8.4: to Accepted, pass every 2xx to the TU, which ACKs it
                # itself (the transaction never sends an ACK for a 2xx).
                assert self.tx.state is CI.ACCEPTED
                assert notices == [Notice(NoticeKind.MESSAGE, response)]
                assert new == []
                assert "A" not in self.tx.armed() and "M" in self.tx.armed()
                if state is CI.ACCEPTED:
                    assert self.tx.armed()["M"] == armed["M"]  # M is not restarted
            else:
                self.assert_unchanged(before, notices)
        elif state in (CI.CALLING, CI.PROCEEDING, CI.COMPLETED):
            # §17.1.1.2/3: one ACK per non-2xx final received; only the first goes to the TU.
            assert len(new) == 1
            ack = parse_message(new[0])
            assert isinstance(ack, Request) and ack.method == "ACK"
            assert (ack.cseq.seq, ack.cseq.method) == (1, "ACK")
            assert ack.via[0].branch == self.request.via[0].branch and len(ack.via) == 1
            assert ack.to == response.to and ack.from_ == self.request.from_
            assert ack.call_id == self.request.call_id and str(ack.uri) == str(self.request.uri)
            if state is CI.COMPLETED:
                assert new[0] == self.acks[0] and notices == []
            else:
                assert notices[0] == Notice(NoticeKind.MESSAGE, response)
                # Timer D: 32 s unreliable; zero (Terminated at once) reliable.
                expected = CI.TERMINATED if self.reliable else CI.COMPLETED
                assert self.tx.state is expected
            self.acks.append(new[0])
        else:
            # Accepted absorbs a stray non-2xx; Terminated absorbs everything.
            self.assert_unchanged(before, notices)


class ClientNonInviteMachine(TransactionMachine):
    KIND = ClientNonInviteTransaction
    METHOD = "OPTIONS"
    CN = ClientNonInviteState
    RETRANSMITS = frozenset({(CN.TRYING, "E"), (CN.PROCEEDING, "E")})
    TERMINATES: ClassVar[dict[tuple[enum.Enum, str], bool]] = {
        (CN.TRYING, "F"): True,
        (CN.PROCEEDING, "F"): True,
        (CN.COMPLETED, "K"): False,
    }
    TRANSPORT_ERROR_ENDS = frozenset({CN.TRYING, CN.PROCEEDING})

    def retransmission(self) -> bytes:
        return bytes(self.request)

    @rule(code=st.sampled_from([100, 180, 200, 202, 302, 404, 500, 603]))
    def response_arrives(self, code: int) -> None:
        cn = ClientNonInviteState
        response = answer(self.request, code)
        event = Input.RESPONSE_1XX if code < 200 else Input.RESPONSE_FINAL
        before = self.snapshot()
        state, armed, sent_before = before
        notices = self.step(event, response)
        assert self.sent[sent_before:] == []  # a non-INVITE client never answers a response
        if state not in (cn.TRYING, cn.PROCEEDING):
            # "The Completed state exists to buffer any additional response retransmissions".
            self.assert_unchanged(before, notices)
        elif code < 200:
            assert self.tx.state is cn.PROCEEDING
            assert notices == [Notice(NoticeKind.MESSAGE, response)]
            assert self.tx.armed() == armed  # E keeps its schedule until it next fires
        else:
            # §17.1.2.2: final -> TU, Completed; Timer K T4 unreliable, zero reliable.
            assert notices[0] == Notice(NoticeKind.MESSAGE, response)
            assert self.tx.state is (cn.TERMINATED if self.reliable else cn.COMPLETED)
            assert "E" not in self.tx.armed()


class ServerInviteMachine(TransactionMachine):
    KIND = ServerInviteTransaction
    METHOD = "INVITE"
    SI = ServerInviteState
    RETRANSMITS = frozenset({(SI.COMPLETED, "G")})
    TERMINATES: ClassVar[dict[tuple[enum.Enum, str], bool]] = {
        (SI.COMPLETED, "H"): True,
        (SI.CONFIRMED, "I"): False,
        (SI.ACCEPTED, "L"): False,
    }
    TRANSPORT_ERROR_ENDS = frozenset({SI.PROCEEDING, SI.COMPLETED})

    def tu_legal(self, event: Input, state: enum.Enum) -> bool:
        si = ServerInviteState
        # §17.2.1: provisionals and the final only in Proceeding; RFC 6026 §8.7: the TU's
        # 2xx retransmissions in Accepted.
        if event is Input.TU_2XX:
            return state in (si.PROCEEDING, si.ACCEPTED)
        return state is si.PROCEEDING

    def retransmission(self) -> bytes:
        response = self.tx.last_response
        assert response is not None and response.status_code >= 300
        return bytes(response)

    @rule()
    def request_retransmitted(self) -> None:
        si = ServerInviteState
        before = self.snapshot()
        state, _, sent_before = before
        last = self.tx.last_response
        notices = self.step(Input.REQUEST_RETRANSMISSION, self.request)
        assert notices == [] and self.tx.state is state
        if state in (si.PROCEEDING, si.COMPLETED) and last is not None:
            # §17.2.1: re-send the most recent provisional (Proceeding) or the final.
            assert self.sent[sent_before:] == [bytes(last)]
        else:
            # RFC 6026 §8.7: "MUST NOT generate responses to retransmitted INVITE
            # requests" in Accepted; Confirmed and Terminated absorb it too.
            self.assert_unchanged(before, notices)

    @rule()
    def ack_arrives(self) -> None:
        si = ServerInviteState
        ack = make_ack(self.request)
        before = self.snapshot()
        state, _, _ = before
        notices = self.step(Input.ACK, ack)
        if state is si.COMPLETED:
            # §17.2.1: Confirmed, stop G; Timer I T4 unreliable, zero reliable.
            assert self.tx.state is (si.TERMINATED if self.reliable else si.CONFIRMED)
            assert "G" not in self.tx.armed()
            assert self.sent[before[2] :] == []
        elif state is si.ACCEPTED:
            # RFC 6026 §8.7: "Any ACKs received ... are passed directly to the TU".
            assert notices == [Notice(NoticeKind.MESSAGE, ack)]
            assert self.tx.state is si.ACCEPTED and self.sent[before[2] :] == []
        else:
            self.assert_unchanged(before, notices)


class ServerNonInviteMachine(TransactionMachine):
    KIND = ServerNonInviteTransaction
    METHOD = "OPTIONS"
    SN = ServerNonInviteState
    RETRANSMITS: ClassVar[frozenset[tuple[enum.Enum, str]]] = frozenset()
    TERMINATES: ClassVar[dict[tuple[enum.Enum, str], bool]] = {(SN.COMPLETED, "J"): False}
    TRANSPORT_ERROR_ENDS = frozenset({SN.TRYING, SN.PROCEEDING, SN.COMPLETED})

    def tu_legal(self, event: Input, state: enum.Enum) -> bool:
        sn = ServerNonInviteState
        # §17.2.2: 1xx and finals in Trying and Proceeding; "Any other final responses
        # passed by the TU to the server transaction MUST be discarded" (refused here). A
        # non-INVITE 2xx is an ordinary final (TU_FINAL); TU_2XX is INVITE-only.
        return event is not Input.TU_2XX and state in (sn.TRYING, sn.PROCEEDING)

    def retransmission(self) -> bytes:
        raise AssertionError("a non-INVITE server transaction has no retransmission timer")

    @rule()
    def request_retransmitted(self) -> None:
        sn = ServerNonInviteState
        before = self.snapshot()
        state, _, sent_before = before
        last = self.tx.last_response
        notices = self.step(Input.REQUEST_RETRANSMISSION, self.request)
        if state in (sn.PROCEEDING, sn.COMPLETED):
            # §17.2.2: the last provisional (Proceeding) or the final (Completed) again.
            assert last is not None and self.sent[sent_before:] == [bytes(last)]
            assert notices == [] and self.tx.state is state
        else:
            # "Once in the "Trying" state, any further request retransmissions are discarded."
            self.assert_unchanged(before, notices)


TestClientInviteMachine = ClientInviteMachine.TestCase
TestClientInviteMachine.settings = STATE_MACHINE_SETTINGS
TestClientNonInviteMachine = ClientNonInviteMachine.TestCase
TestClientNonInviteMachine.settings = STATE_MACHINE_SETTINGS
TestServerInviteMachine = ServerInviteMachine.TestCase
TestServerInviteMachine.settings = STATE_MACHINE_SETTINGS
TestServerNonInviteMachine = ServerNonInviteMachine.TestCase
TestServerNonInviteMachine.settings = STATE_MACHINE_SETTINGS


# ======================================================== exact retransmission schedules


class Wire:
    """A send callback that records when each datagram left."""

    def __init__(self) -> None:
        self.now = 0.0
        self.log: list[tuple[float, bytes]] = []

    def send(self, data: bytes) -> None:
        self.log.append((self.now, data))

    def times(self, data: bytes) -> list[float]:
        return [t for t, d in self.log if d == data]


def run(tx: Transaction, wire: Wire, until: float) -> list[Notice]:
    notices: list[Notice] = []
    while (deadline := tx.next_deadline()) is not None and deadline <= until:
        wire.now = deadline
        notices += tx.handle_timer(deadline)
    return notices


def test_client_invite_unreliable_schedule_timer_a_doubles_until_timer_b() -> None:
    wire = Wire()
    request = make_request("INVITE")
    tx = ClientInviteTransaction(("k",), request, wire.send, DEFAULT, reliable=False)
    tx.start(0.0)
    assert tx.armed() == {"A": 0.5, "B": 32.0}
    notices = run(tx, wire, 100.0)
    # §17.1.1.2: 0, then T1, 2*T1, 4*T1 ... after each: 0.5, 1.5, 3.5, 7.5, 15.5, 31.5.
    assert wire.times(bytes(request)) == [0.0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    assert [n.kind for n in notices] == [NoticeKind.TIMEOUT, NoticeKind.TERMINATED]
    assert tx.terminated and wire.now == 32.0


def test_client_invite_reliable_sends_once_and_times_out_at_64_t1() -> None:
    wire = Wire()
    request = make_request("INVITE")
    tx = ClientInviteTransaction(("k",), request, wire.send, DEFAULT, reliable=True)
    tx.start(0.0)
    assert tx.armed() == {"B": 32.0}
    notices = run(tx, wire, 100.0)
    assert wire.times(bytes(request)) == [0.0]
    assert notices[0].kind is NoticeKind.TIMEOUT and wire.now == 32.0


def test_client_invite_provisional_stops_a_and_final_is_acked_per_copy() -> None:
    wire = Wire()
    request = make_request("INVITE")
    tx = ClientInviteTransaction(("k",), request, wire.send, DEFAULT, reliable=False)
    tx.start(0.0)
    run(tx, wire, 1.0)  # INVITE at 0 and 0.5
    tx.step(Input.RESPONSE_1XX, 1.0, answer(request, 180))
    assert "A" not in tx.armed()
    wire.now = 2.0
    busy = answer(request, 486)
    tx.step(Input.RESPONSE_FINAL, 2.0, busy)
    # D = 32 s after the final; B can no longer act and is disarmed.
    assert tx.armed() == {"D": 34.0}
    wire.now = 3.0
    assert tx.step(Input.RESPONSE_FINAL, 3.0, busy) == []  # not passed up again
    acks = [t for t, d in wire.log if d.startswith(b"ACK ")]
    assert acks == [2.0, 3.0]
    assert wire.times(bytes(request)) == [0.0, 0.5]
    assert [n.kind for n in run(tx, wire, 100.0)] == [NoticeKind.TERMINATED]
    assert wire.now == 34.0


def test_client_invite_2xx_in_accepted_goes_to_the_tu_until_timer_m() -> None:
    wire = Wire()
    request = make_request("INVITE")
    tx = ClientInviteTransaction(("k",), request, wire.send, DEFAULT, reliable=True)
    tx.start(0.0)
    ok = answer(request, 200)
    assert tx.step(Input.RESPONSE_2XX, 1.0, ok) == [Notice(NoticeKind.MESSAGE, ok)]
    assert tx.state is ClientInviteState.ACCEPTED and tx.armed()["M"] == 33.0
    assert tx.step(Input.RESPONSE_2XX, 5.0, ok) == [Notice(NoticeKind.MESSAGE, ok)]
    assert wire.log == [(0.0, bytes(request))]  # the TU, not the transaction, ACKs a 2xx
    assert tx.handle_timer(32.9) == []
    assert tx.handle_timer(33.0) == [Notice(NoticeKind.TERMINATED)]


def test_client_non_invite_unreliable_schedule_timer_e_caps_at_t2() -> None:
    wire = Wire()
    request = make_request("OPTIONS")
    tx = ClientNonInviteTransaction(("k",), request, wire.send, DEFAULT, reliable=False)
    tx.start(0.0)
    assert tx.armed() == {"E": 0.5, "F": 32.0}
    notices = run(tx, wire, 100.0)
    # §17.1.2.2: intervals 0.5, 1, 2, 4, 4, 4 ...: sends at 0, 0.5, 1.5, 3.5, 7.5, 11.5 ...
    expected = [0.0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    assert wire.times(bytes(request)) == expected
    assert [n.kind for n in notices] == [NoticeKind.TIMEOUT, NoticeKind.TERMINATED]


def test_client_non_invite_proceeding_retransmits_every_t2() -> None:
    wire = Wire()
    request = make_request("OPTIONS")
    tx = ClientNonInviteTransaction(("k",), request, wire.send, DEFAULT, reliable=False)
    tx.start(0.0)
    tx.step(Input.RESPONSE_1XX, 0.2, answer(request, 100))
    run(tx, wire, 13.0)
    # E fires at 0.5 (its Trying schedule), then "reset with a value of T2" each time.
    assert wire.times(bytes(request)) == [0.0, 0.5, 4.5, 8.5, 12.5]
    ok = answer(request, 200)
    assert tx.step(Input.RESPONSE_FINAL, 13.0, ok)[0] == Notice(NoticeKind.MESSAGE, ok)
    assert tx.armed() == {"K": 18.0}  # F can no longer act: disarmed
    assert [n.kind for n in run(tx, wire, 100.0)] == [NoticeKind.TERMINATED]
    assert wire.now == 18.0 and len(wire.log) == 5


def test_client_non_invite_reliable_ends_as_soon_as_the_final_arrives() -> None:
    wire = Wire()
    request = make_request("OPTIONS")
    tx = ClientNonInviteTransaction(("k",), request, wire.send, DEFAULT, reliable=True)
    tx.start(0.0)
    assert tx.armed() == {"F": 32.0}
    ok = answer(request, 200)
    assert tx.step(Input.RESPONSE_FINAL, 1.0, ok) == [
        Notice(NoticeKind.MESSAGE, ok),
        Notice(NoticeKind.TERMINATED),
    ]
    assert tx.armed() == {}


def test_server_invite_unreliable_final_retransmitted_by_g_until_h() -> None:
    wire = Wire()
    request = make_request("INVITE")
    tx = ServerInviteTransaction(("k",), request, wire.send, DEFAULT, reliable=False)
    trying = answer(request, 100)
    tx.step(Input.TU_1XX, 0.0, trying)
    wire.now = 0.1
    tx.step(Input.REQUEST_RETRANSMISSION, 0.1)  # the provisional again
    wire.now = 1.0
    busy = answer(request, 486)
    tx.step(Input.TU_FINAL, 1.0, busy)
    assert tx.armed() == {"G": 1.5, "H": 33.0}
    notices = run(tx, wire, 100.0)
    # §17.2.1: G = T1, then MIN(2*T1, T2)...: intervals 0.5, 1, 2, 4, 4 ...
    assert wire.times(bytes(trying)) == [0.0, 0.1]
    assert wire.times(bytes(busy)) == [1.0, 1.5, 2.5, 4.5, 8.5, 12.5, 16.5, 20.5, 24.5, 28.5, 32.5]
    assert [n.kind for n in notices] == [NoticeKind.TIMEOUT, NoticeKind.TERMINATED]
    assert wire.now == 33.0


def test_server_invite_ack_stops_g_and_timer_i_absorbs_acks() -> None:
    wire = Wire()
    request = make_request("INVITE")
    tx = ServerInviteTransaction(("k",), request, wire.send, DEFAULT, reliable=False)
    busy = answer(request, 486)
    tx.step(Input.TU_FINAL, 0.0, busy)
    run(tx, wire, 2.0)  # 0, 0.5, 1.5
    assert tx.step(Input.ACK, 2.0, make_ack(request)) == []
    assert tx.state is ServerInviteState.CONFIRMED
    assert tx.armed() == {"I": 7.0}  # I = T4; H can no longer act: disarmed
    assert tx.step(Input.ACK, 3.0, make_ack(request)) == []
    assert tx.step(Input.REQUEST_RETRANSMISSION, 3.0) == []
    assert [n.kind for n in run(tx, wire, 100.0)] == [NoticeKind.TERMINATED]
    assert wire.times(bytes(busy)) == [0.0, 0.5, 1.5] and wire.now == 7.0


def test_server_invite_reliable_never_retransmits_and_ack_ends_it() -> None:
    wire = Wire()
    request = make_request("INVITE")
    tx = ServerInviteTransaction(("k",), request, wire.send, DEFAULT, reliable=True)
    busy = answer(request, 486)
    tx.step(Input.TU_FINAL, 0.0, busy)
    assert tx.armed() == {"H": 32.0}
    assert tx.step(Input.ACK, 1.0, make_ack(request)) == [Notice(NoticeKind.TERMINATED)]
    assert wire.log == [(0.0, bytes(busy))]


def test_server_invite_accepted_passes_2xx_and_acks_then_timer_l() -> None:
    wire = Wire()
    request = make_request("INVITE")
    tx = ServerInviteTransaction(("k",), request, wire.send, DEFAULT, reliable=False)
    ok = answer(request, 200)
    tx.step(Input.TU_2XX, 0.0, ok)
    assert tx.state is ServerInviteState.ACCEPTED and tx.armed() == {"L": 32.0}
    # RFC 6026 §8.7: no response to a retransmitted INVITE; the TU's 2xx re-sends go out.
    assert tx.step(Input.REQUEST_RETRANSMISSION, 0.5) == []
    tx.step(Input.TU_2XX, 0.5, ok)
    ack = make_ack(request)
    assert tx.step(Input.ACK, 1.0, ack) == [Notice(NoticeKind.MESSAGE, ack)]
    with pytest.raises(LocalProtocolError):
        tx.step(Input.TU_FINAL, 1.0, answer(request, 500))
    assert [d for _, d in wire.log] == [bytes(ok), bytes(ok)]
    assert tx.handle_timer(32.0) == [Notice(NoticeKind.TERMINATED)]


def test_server_non_invite_resends_only_on_retransmission_until_timer_j() -> None:
    wire = Wire()
    request = make_request("OPTIONS")
    tx = ServerNonInviteTransaction(("k",), request, wire.send, DEFAULT, reliable=False)
    assert tx.step(Input.REQUEST_RETRANSMISSION, 0.1) == []  # Trying: discarded
    ok = answer(request, 200)
    tx.step(Input.TU_FINAL, 1.0, ok)
    assert tx.armed() == {"J": 33.0}  # 64*T1 unreliable
    for t in (2.0, 10.0):
        wire.now = t
        tx.step(Input.REQUEST_RETRANSMISSION, t)
    assert [n.kind for n in run(tx, wire, 100.0)] == [NoticeKind.TERMINATED]
    assert wire.times(bytes(ok)) == [0.0, 2.0, 10.0] and wire.now == 33.0


def test_server_non_invite_reliable_timer_j_is_zero() -> None:
    wire = Wire()
    request = make_request("OPTIONS")
    tx = ServerNonInviteTransaction(("k",), request, wire.send, DEFAULT, reliable=True)
    tx.step(Input.TU_1XX, 0.0, answer(request, 100))
    assert tx.step(Input.TU_FINAL, 0.0, answer(request, 200)) == [Notice(NoticeKind.TERMINATED)]
    assert tx.armed() == {}
    assert len(wire.log) == 2


@pytest.mark.parametrize("timers", [DEFAULT, FAST, TimerConfig(t1=1.0, t2=8.0)])
def test_timer_d_is_at_least_32_seconds(timers: TimerConfig) -> None:
    request = make_request("INVITE")
    tx = ClientInviteTransaction(("k",), request, lambda _: None, timers, reliable=False)
    tx.start(0.0)
    tx.step(Input.RESPONSE_FINAL, 0.0, answer(request, 404))
    assert tx.armed()["D"] == max(32.0, 64 * timers.t1) >= 32.0
