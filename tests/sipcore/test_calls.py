"""Two UserAgents back to back in memory: calls, re-INVITE, CANCEL, glare, BYE, loss.

Virtual time starts at 0.0; 32-second timers are exercised without waiting.
"""

from __future__ import annotations

import pytest

from sipcore.call_state import CallState
from sipcore.config import UserAgentConfig
from sipcore.errors import LocalProtocolError
from sipcore.events import (
    CallAnswered,
    CallConfirmed,
    CallEnded,
    CallProgressed,
    EndReason,
    IncomingCall,
    InfoAnswered,
    InfoReceived,
    MessageDiscarded,
    ReinviteAnswered,
    ReinviteFailed,
    ReinviteReceived,
)
from sipcore.ids import SequentialIds
from sipcore.message import parse_message
from sipcore.user_agent import UserAgent
from tests.sipcore.b2b import Link, drop_matching, events, first_line, of_type

OFFER = (
    b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    b"m=audio 4000 RTP/AVP 0\r\n"
)
ANSWER = OFFER.replace(b"4000", b"5000")


def pair(transport: str = "ws", **b_options: object) -> tuple[UserAgent, UserAgent, Link]:
    a = UserAgent(
        UserAgentConfig.for_account("sip:alice@example.com", "pa", transport=transport),
        ids=SequentialIds("a"),
    )
    b = UserAgent(
        UserAgentConfig.for_account("sip:bob@example.com", "pb", transport=transport, **b_options),
        ids=SequentialIds("b"),
    )
    return a, b, Link(a, b)


def establish(a: UserAgent, b: UserAgent, link: Link) -> str:
    call_id = a.invite("sip:bob@example.com", now=link.now, body=OFFER)
    link.pump()
    incoming = of_type(events(b), IncomingCall)
    assert [c.call_id for c in incoming] == [call_id]
    b.answer(call_id, now=link.now, body=ANSWER)
    link.pump()
    assert of_type(events(a), CallAnswered)[0].response.body == ANSWER
    assert of_type(events(b), CallConfirmed)
    return call_id


def test_invite_ring_answer_ack_bye() -> None:
    a, b, link = pair()
    call_id = a.invite("sip:bob@example.com", now=0.0, body=OFFER)
    link.pump()
    got_b = events(b)
    invite = of_type(got_b, IncomingCall)[0].request
    assert invite.body == OFFER
    assert invite.contact and invite.headers.get("Allow")
    assert [first_line(m) for m in link.sent_ba] == ["SIP/2.0 100 Trying", "SIP/2.0 180 Ringing"]
    progressed = of_type(events(a), CallProgressed)
    assert progressed[0].response.status_code == 180
    assert a.call(call_id).state is CallState.EARLY
    b.answer(call_id, now=0.0, body=ANSWER)
    link.pump()
    assert of_type(events(a), CallAnswered)[0].response.body == ANSWER
    assert of_type(events(b), CallConfirmed)
    assert a.call(call_id).state is CallState.ESTABLISHED
    assert b.call(call_id).state is CallState.ESTABLISHED
    ack = parse_message(link.sent_ab[-1])
    assert first_line(link.sent_ab[-1]).startswith("ACK ")
    assert ack.cseq.seq == 1 and ack.cseq.method == "ACK"
    a.bye(call_id, now=1.0)
    link.pump()
    assert of_type(events(b), CallEnded)[0].reason is EndReason.REMOTE_HANGUP
    ended = of_type(events(a), CallEnded)
    assert ended[0].reason is EndReason.LOCAL_HANGUP and ended[0].status_code == 200
    assert a.calls == {} and b.calls == {}
    link.settle()
    assert a.get_timer() is None and b.get_timer() is None


def test_callee_hangs_up() -> None:
    a, b, link = pair()
    call_id = establish(a, b, link)
    b.hangup(call_id, now=2.0)
    link.pump()
    assert of_type(events(a), CallEnded)[0].reason is EndReason.REMOTE_HANGUP
    assert of_type(events(b), CallEnded)[0].reason is EndReason.LOCAL_HANGUP


def test_reject_busy() -> None:
    a, b, link = pair()
    call_id = a.invite("bob", now=0.0, body=OFFER)
    link.pump()
    events(b)
    b.reject(call_id, now=0.0, status=486)
    link.pump()
    ended_a = of_type(events(a), CallEnded)[0]
    assert ended_a.reason is EndReason.REMOTE_REJECT and ended_a.status_code == 486
    assert of_type(events(b), CallEnded)[0].reason is EndReason.LOCAL_REJECT


def test_exotel_busy_answer_when_max_calls_reached() -> None:
    a, b, link = pair(busy_status=(480, "4001"))
    c = UserAgent(
        UserAgentConfig.for_account("sip:carol@example.com", "pc"), ids=SequentialIds("c")
    )
    establish(a, b, link)
    link2 = Link(c, b)
    c.invite("bob", now=0.0, body=OFFER)
    link2.pump()
    ended = of_type(events(c), CallEnded)[0]
    assert ended.status_code == 480 and isinstance(ended.message, object)
    assert any(first_line(m) == "SIP/2.0 480 4001" for m in link2.sent_ba)
    assert of_type(events(b), MessageDiscarded)


def test_cancel_before_answer() -> None:
    a, b, link = pair()
    call_id = a.invite("bob", now=0.0, body=OFFER)
    link.pump()
    events(a), events(b)
    a.cancel(call_id, now=1.0)
    link.pump()
    assert of_type(events(b), CallEnded)[0].reason is EndReason.REMOTE_CANCEL
    ended = of_type(events(a), CallEnded)[0]
    assert ended.reason is EndReason.LOCAL_CANCEL and ended.status_code == 487
    lines = [first_line(m) for m in link.sent_ab]
    assert lines[1].startswith("CANCEL ") and lines[2].startswith("ACK ")
    cancel, invite = parse_message(link.sent_ab[1]), parse_message(link.sent_ab[0])
    assert cancel.via[0].branch == invite.via[0].branch  # §9.1: the INVITE's Via


def test_cancel_waits_for_a_provisional_response() -> None:
    a, b, link = pair()
    call_id = a.invite("bob", now=0.0, body=OFFER)
    a.cancel(call_id, now=0.0)  # nothing heard yet: the CANCEL must wait (§9.1)
    assert [first_line(m).split()[0] for m in a.messages_to_send(0.0)] == ["INVITE"]
    invite = link.sent_ab  # the link saw nothing yet; deliver the INVITE by hand
    assert invite == []
    b.receive_message(bytes(a.call(call_id).invite), 0.0)
    for data in b.messages_to_send(0.0):  # 100 Trying, 180 Ringing
        a.receive_message(data, 0.0)
    assert [first_line(m).split()[0] for m in a.messages_to_send(0.0)] == ["CANCEL"]


def test_reinvite_hold_and_resume() -> None:
    a, b, link = pair()
    call_id = establish(a, b, link)
    hold = OFFER.replace(b"RTP/AVP 0\r\n", b"RTP/AVP 0\r\na=sendonly\r\n")
    a.reinvite(call_id, now=3.0, body=hold)
    link.pump()
    received = of_type(events(b), ReinviteReceived)[0].request
    assert b"a=sendonly" in received.body
    b.accept_reinvite(
        call_id, now=3.0, body=ANSWER.replace(b"RTP/AVP 0\r\n", b"RTP/AVP 0\r\na=recvonly\r\n")
    )
    link.pump()
    assert b"a=recvonly" in of_type(events(a), ReinviteAnswered)[0].response.body
    # The re-INVITE's 2xx was ACKed: nothing is retransmitted afterwards.
    sent_before = len(link.sent_ba)
    link.advance(40.0)
    assert len(link.sent_ba) == sent_before
    assert a.call(call_id).state is CallState.ESTABLISHED


def test_reinvite_while_one_is_pending_is_refused_locally() -> None:
    a, b, link = pair()
    call_id = establish(a, b, link)
    a.reinvite(call_id, now=3.0, body=OFFER)
    with pytest.raises(LocalProtocolError):
        a.reinvite(call_id, now=3.0, body=OFFER)


def test_glare_both_get_491_then_retry_with_the_rfc_backoff() -> None:
    a, b, link = pair()
    call_id = establish(a, b, link)
    link.now = 5.0
    a.reinvite(call_id, now=5.0, body=OFFER)
    b.reinvite(call_id, now=5.0, body=ANSWER)
    link.pump()
    assert any(first_line(m).startswith("SIP/2.0 491") for m in link.sent_ab)
    assert any(first_line(m).startswith("SIP/2.0 491") for m in link.sent_ba)
    # SequentialIds.fraction() is 0.5: the Call-ID owner (a) waits 2.1 + 0.95 = 3.05 s,
    # the other (b) 1.0 s (§14.1).
    assert b.get_timer() == pytest.approx(6.0)
    link.advance(6.0)
    reinvite = of_type(events(a), ReinviteReceived)
    assert reinvite and reinvite[0].request.body == ANSWER
    a.accept_reinvite(call_id, now=6.0, body=OFFER)
    link.pump()
    assert of_type(events(b), ReinviteAnswered)
    link.advance(8.05)
    assert of_type(events(b), ReinviteReceived)[0].request.body == OFFER
    assert of_type(events(a), ReinviteFailed) == []


def test_info_both_ways() -> None:
    a, b, link = pair()
    call_id = establish(a, b, link)
    a.info(
        call_id, now=1.0, body=b"Signal=5\r\nDuration=240", content_type="application/dtmf-relay"
    )
    link.pump()
    info = of_type(events(b), InfoReceived)[0].request
    assert info.body == b"Signal=5\r\nDuration=240"
    assert info.content_type is not None and info.content_type.essence == "application/dtmf-relay"
    assert of_type(events(a), InfoAnswered)[0].status_code == 200


def test_in_dialog_request_for_an_unknown_dialog_gets_481() -> None:
    a, b, link = pair()
    call_id = establish(a, b, link)
    bye = bytes(parse_message(link.sent_ab[0]))  # reuse the INVITE's framing for a forged BYE
    forged = bye.replace(b"INVITE sip:", b"BYE sip:", 1).replace(b" INVITE\r\n", b" BYE\r\n")
    forged = forged.replace(b"To: <sip:bob@example.com>", b"To: <sip:bob@example.com>;tag=nope")
    forged = forged.replace(b"branch=z9hG4bK", b"branch=z9hG4bKforged", 1)
    b.receive_message(forged, 1.0)
    out = [first_line(m) for m in b.messages_to_send(1.0)]
    assert out == ["SIP/2.0 481 Call/Transaction Does Not Exist"]
    assert b.call(call_id).state is CallState.ESTABLISHED


def test_garbage_during_a_call_is_discarded_and_the_call_survives() -> None:
    a, b, link = pair()
    call_id = establish(a, b, link)
    b.receive_message(b"\x00\xffnot sip at all\r\n\r\n", 1.0)
    b.receive_message(b"INVITE sip:x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKq\r\n\r\n", 1.0)
    assert len(of_type(events(b), MessageDiscarded)) == 2
    a.bye(call_id, now=2.0)
    link.pump()
    assert of_type(events(b), CallEnded)[0].reason is EndReason.REMOTE_HANGUP


def test_lost_invite_is_retransmitted_by_timer_a_on_udp() -> None:
    a, b, link = pair(transport="udp")
    link.drop_ab = drop_matching("INVITE", times=2)
    call_id = a.invite("bob", now=0.0, body=OFFER)
    link.advance(1.0)
    assert of_type(events(b), IncomingCall) == []
    link.advance(1.5)  # Timer A: 0.5, then 1.5
    assert of_type(events(b), IncomingCall)[0].call_id == call_id
    assert sum(first_line(m).startswith("INVITE") for m in link.sent_ab) == 3


def test_timer_b_ends_an_unanswered_invite_after_64_t1() -> None:
    a, _b, link = pair(transport="udp")
    link.drop_ab = drop_matching("INVITE")
    call_id = a.invite("bob", now=0.0, body=OFFER)
    link.settle()
    ended = of_type(events(a), CallEnded)[0]
    assert ended.call_id == call_id and ended.reason is EndReason.TIMEOUT
    assert link.now == pytest.approx(32.0)
    # Timer A doubling without cap: 0.5, 1, 2, 4, 8, 16 -> 7 INVITEs by 32 s.
    assert sum(first_line(m).startswith("INVITE") for m in link.sent_ab) == 7


def test_2xx_is_retransmitted_until_ack_then_bye_when_no_ack_ever_comes() -> None:
    a, b, link = pair()
    link.drop_ab = drop_matching("ACK")
    call_id = a.invite("bob", now=0.0, body=OFFER)
    link.pump()
    events(b)
    b.answer(call_id, now=0.0, body=ANSWER)
    link.settle()
    oks = [
        m for m in link.sent_ba if first_line(m).startswith("SIP/2.0 200") and b" INVITE\r\n" in m
    ]
    # §13.3.1.4 (even over a reliable transport): T1 doubling to T2 for 64*T1:
    # retransmissions at 0.5, 1.5, 3.5, 7.5, then every 4 s to 31.5.
    assert len(oks) == 1 + 10
    ended = of_type(events(b), CallEnded)[0]
    assert ended.reason is EndReason.NO_ACK
    assert of_type(events(a), CallEnded)[0].reason is EndReason.REMOTE_HANGUP


def test_no_answer_timeout_rejects_with_480() -> None:
    a, b, link = pair(no_answer_timeout=30.0)
    call_id = a.invite("bob", now=0.0, body=OFFER)
    link.advance(31.0)
    assert of_type(events(b), CallEnded)[0].reason is EndReason.TIMEOUT
    ended = of_type(events(a), CallEnded)[0]
    assert ended.call_id == call_id and ended.status_code == 480


def test_a_header_value_with_crlf_is_refused_without_echoing_it() -> None:
    a, _b, _link = pair()
    injected = [("X-Api-Token", "tok-9f3a\r\nVia: SIP/2.0/UDP evil.example")]
    with pytest.raises(LocalProtocolError, match=r"X-Api-Token.*CR or LF") as info:
        a.invite("bob", now=0.0, body=OFFER, headers=injected)
    assert "tok-9f3a" not in str(info.value)  # the caller's secret is not repeated
    assert a.messages_to_send(0.0) == []  # nothing went out


def test_call_actions_in_wrong_states_raise_before_sending() -> None:
    a, b, link = pair()
    call_id = a.invite("bob", now=0.0, body=OFFER)
    link.pump()
    events(a), events(b)
    with pytest.raises(LocalProtocolError):
        a.bye(call_id, now=0.0)
    with pytest.raises(LocalProtocolError):
        a.answer(call_id, now=0.0, body=ANSWER)
    with pytest.raises(LocalProtocolError):
        b.cancel(call_id, now=0.0)
    with pytest.raises(LocalProtocolError):
        b.info(call_id, now=0.0, body=b"x", content_type="text/plain")
    with pytest.raises(LocalProtocolError):
        a.call("no-such-call")
    assert a.messages_to_send(0.0) == [] and b.messages_to_send(0.0) == []
    assert a.call(call_id).state is CallState.EARLY
    assert b.call(call_id).state is CallState.INCOMING
