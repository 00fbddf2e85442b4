"""The local server's stateful proxy (RFC 3261 §16): calls between in-memory phones."""

from __future__ import annotations

import pytest

from sipcore.events import (
    CallAnswered,
    CallConfirmed,
    CallEnded,
    CallProgressed,
    EndReason,
    IncomingCall,
)
from sipcore.message import Request
from sipcore.replies import make_response
from sipcore.server import Flow, RequestForwarded
from sipcore.server.proxy import best_response
from sipcore.uri import SipUri
from sipcore.user_agent import UserAgent
from tests.server.network import (
    ANSWER,
    DOMAIN,
    OFFER,
    USERS,
    Network,
    RawPeer,
    events,
    first_line,
    make_server,
    of_type,
)

ALICE = Flow("ws", "127.0.0.1", 1000)
BOB = Flow("ws", "127.0.0.1", 2000)


def registered(net: Network, *phones: UserAgent) -> None:
    for phone in phones:
        phone.register(net.now)
    net.pump()
    for phone in phones:
        events(phone)


def two_phones(transport: str = "ws", **server: object) -> tuple[Network, UserAgent, UserAgent]:
    net = Network(make_server(**server))
    alice = net.phone("alice", 1000, transport)
    bob = net.phone("bob", 2000, transport)
    registered(net, alice, bob)
    return net, alice, bob


def call(net: Network, caller: UserAgent, callee: UserAgent, target: str = "bob") -> str:
    """INVITE through the server; returns the Call-ID once the callee rings."""
    call_id = caller.invite(target, net.now, body=OFFER)
    net.pump()
    (incoming,) = of_type(events(callee), IncomingCall)
    assert incoming.call_id == call_id
    return call_id


def test_invite_is_authenticated_then_forwarded_with_record_route() -> None:
    net, alice, bob = two_phones()
    call_id = call(net, alice, bob)
    to_alice = [first_line(d) for d in net.sent_to(ALICE)][2:]  # after REGISTER's 401, 200
    assert to_alice == [
        "SIP/2.0 407 Proxy Authentication Required",
        "SIP/2.0 100 Trying",
        "SIP/2.0 180 Ringing",
    ]
    (invite,) = net.requests_to(BOB, "INVITE")
    assert isinstance(invite.uri, SipUri) and invite.uri.host.endswith(".invalid")
    assert invite.max_forwards == 69
    assert "Proxy-Authorization" not in invite.headers  # consumed (§22.3)
    top, caller_via = invite.via
    assert top.host == "127.0.0.1" and top.port == 5066 and top.transport == "WS"
    assert caller_via.received == "127.0.0.1"  # §18.2.1
    routes = invite.record_route
    assert [r.uri.lr for r in routes] == [True, True]  # type: ignore[union-attr]
    assert routes[0] != routes[1]  # one flow token per side
    forwarded = net.take_server_events(RequestForwarded)
    assert [(e.method, e.source, e.target) for e in forwarded] == [("INVITE", ALICE, BOB)]
    assert of_type(events(alice), CallProgressed)[0].call_id == call_id


def test_call_answered_acked_and_hung_up_by_the_callee_via_record_route() -> None:
    net, alice, bob = two_phones()
    call_id = call(net, alice, bob)
    bob.answer(call_id, net.now, ANSWER)
    net.pump()
    assert of_type(events(alice), CallAnswered)[0].response.body == ANSWER
    assert of_type(events(bob), CallConfirmed)
    (ack,) = net.requests_to(BOB, "ACK")  # the 2xx ACK, routed by Route (§16.12)
    assert "Route" not in ack.headers  # our own Routes were removed (§16.4)
    bob.bye(call_id, net.now)
    net.pump()
    (bye,) = net.requests_to(ALICE, "BYE")
    assert "Route" not in bye.headers
    assert of_type(events(alice), CallEnded)[0].reason is EndReason.REMOTE_HANGUP
    assert of_type(events(bob), CallEnded)[0].status_code == 200
    assert [e.method for e in net.take_server_events(RequestForwarded)] == ["INVITE", "ACK", "BYE"]


def test_caller_hangs_up_through_the_same_route_set() -> None:
    net, alice, bob = two_phones()
    call_id = call(net, alice, bob)
    bob.answer(call_id, net.now, ANSWER)
    net.pump()
    alice.bye(call_id, net.now)
    net.pump()
    assert of_type(events(bob), CallEnded)[0].reason is EndReason.REMOTE_HANGUP
    assert of_type(events(alice), CallEnded)[0].status_code == 200


def test_rejection_is_forwarded_and_the_hop_by_hop_ack_stays_with_the_proxy() -> None:
    net, alice, bob = two_phones()
    call_id = call(net, alice, bob)
    bob.reject(call_id, net.now, 486)
    net.pump()
    ended = of_type(events(alice), CallEnded)[0]
    assert (ended.reason, ended.status_code) == (EndReason.REMOTE_REJECT, 486)
    acks = net.requests_to(BOB, "ACK")
    assert len(acks) == 1  # our client transaction's ACK (§17.1.1.3)
    assert acks[0].via[0].host == "127.0.0.1"
    net.advance(net.now + 40)
    # Every transaction ended: only the bindings' expiry is left to wait for.
    assert net.server.get_timer() == 300.0


def test_cancel_is_answered_and_forwarded_and_the_487_comes_back() -> None:
    net, alice, bob = two_phones()
    call_id = call(net, alice, bob)
    alice.cancel(call_id, net.now)
    net.pump()
    (cancel,) = net.requests_to(BOB, "CANCEL")
    (invite,) = net.requests_to(BOB, "INVITE")
    assert cancel.via[0].branch == invite.via[0].branch  # §9.1
    assert of_type(events(bob), CallEnded)[0].reason is EndReason.REMOTE_CANCEL
    ended = of_type(events(alice), CallEnded)[0]
    assert (ended.reason, ended.status_code) == (EndReason.LOCAL_CANCEL, 487)
    cancel_answers = [r for r in net.responses_to(ALICE) if r.cseq.method == "CANCEL"]
    assert [r.status_code for r in cancel_answers] == [200]


def test_cancel_waits_for_a_provisional_response_before_it_goes_downstream() -> None:
    # §9.1: "If no provisional response has been received, the CANCEL request MUST NOT
    # be sent; rather, the client MUST wait for the arrival of a provisional response".
    net = Network(make_server())
    alice = net.phone("alice", 1000)
    registered(net, alice)
    callee = RawPeer(net, Flow("tcp", "127.0.0.1", 3000), user="carol")
    register = callee.send_authenticated(
        lambda n: callee.request(
            "REGISTER",
            f"sip:{DOMAIN}",
            cseq=n,
            headers=(("Contact", "<sip:carol@127.0.0.1:3000;transport=tcp>"),),
        ),
        USERS["carol"],
    )
    assert register.status_code == 200
    call_id = alice.invite("carol", net.now, body=OFFER)
    net.pump()
    (invite,) = net.requests_to(callee.flow, "INVITE")
    alice.cancel(call_id, net.now)
    net.pump()
    assert net.requests_to(callee.flow, "CANCEL") == []
    ringing = _response_to(invite, 180, to_tag="carol-tag")
    net.inject(callee.flow, ringing)
    (cancel,) = net.requests_to(callee.flow, "CANCEL")
    assert cancel.cseq.seq == invite.cseq.seq
    net.inject(callee.flow, _response_to(invite, 487, to_tag="carol-tag"))
    ended = of_type(events(alice), CallEnded)[0]
    assert ended.status_code == 487


def _response_to(request: Request, status: int, *, to_tag: str) -> bytes:
    response = make_response(request, status, to_tag=to_tag)
    if status < 300:
        response.headers.add("Contact", "<sip:carol@127.0.0.1:3000;transport=tcp>")
    return bytes(response)


def test_forking_rings_every_registered_phone_and_cancels_the_others_on_answer() -> None:
    net = Network(make_server())
    alice = net.phone("alice", 1000)
    desk = net.phone("bob", 2000, instance_id="urn:uuid:desk")
    mobile = net.phone("bob", 2001, instance_id="urn:uuid:mobile")
    registered(net, alice, desk, mobile)
    call_id = alice.invite("bob", net.now, body=OFFER)
    net.pump()
    assert of_type(events(desk), IncomingCall) and of_type(events(mobile), IncomingCall)
    mobile.answer(call_id, net.now, ANSWER)
    net.pump()
    assert of_type(events(alice), CallAnswered)
    (cancel,) = net.requests_to(Flow("ws", "127.0.0.1", 2000), "CANCEL")
    assert cancel.headers.get("Reason") == 'SIP;cause=200;text="Call completed elsewhere"'
    assert of_type(events(desk), CallEnded)[0].reason is EndReason.REMOTE_CANCEL
    assert of_type(events(mobile), CallConfirmed)


def test_all_branches_fail_and_the_best_response_goes_upstream() -> None:
    net = Network(make_server())
    alice = net.phone("alice", 1000)
    desk = net.phone("bob", 2000, instance_id="urn:uuid:desk")
    mobile = net.phone("bob", 2001, instance_id="urn:uuid:mobile")
    registered(net, alice, desk, mobile)
    call_id = alice.invite("bob", net.now, body=OFFER)
    net.pump()
    desk.reject(call_id, net.now, 486)
    net.pump()
    assert of_type(events(alice), CallEnded) == []  # still waiting for the mobile
    mobile.reject(call_id, net.now, 603)
    net.pump()
    assert of_type(events(alice), CallEnded)[0].status_code == 603  # §16.7 step 6: 6xx wins


def test_unknown_user_gets_404_and_unregistered_user_480() -> None:
    net, alice, _ = two_phones()
    for target, status in (("nobody", 404), ("carol", 480)):
        call_id = alice.invite(target, net.now, body=OFFER)
        net.pump()
        assert of_type(events(alice), CallEnded)[0].status_code == status, target
        assert call_id not in alice.calls


def test_callee_flow_closed_drops_bindings_and_later_calls_get_480() -> None:
    net, alice, _ = two_phones()
    net.close(BOB)
    alice.invite("bob", net.now, body=OFFER)
    net.pump()
    assert of_type(events(alice), CallEnded)[0].status_code == 480


def test_callee_flow_closing_while_ringing_fails_the_call_with_480() -> None:
    net, alice, bob = two_phones()
    call(net, alice, bob)
    net.close(BOB)
    ended = of_type(events(alice), CallEnded)[0]
    assert (ended.reason, ended.status_code) == (EndReason.REMOTE_REJECT, 480)


def test_caller_flow_closing_while_ringing_cancels_the_callee() -> None:
    net, alice, bob = two_phones()
    call(net, alice, bob)
    before = len(net.sent_to(ALICE))
    net.close(ALICE)
    assert len(net.requests_to(BOB, "CANCEL")) == 1
    assert of_type(events(bob), CallEnded)[0].reason is EndReason.REMOTE_CANCEL
    assert len(net.sent_to(ALICE)) == before  # the 487 has nowhere to go: dropped


def test_in_dialog_request_reaches_a_caller_that_reconnected_on_a_new_flow() -> None:
    net, alice, bob = two_phones()
    call_id = call(net, alice, bob)
    bob.answer(call_id, net.now, ANSWER)
    net.pump()
    events(alice)
    net.close(ALICE)
    net.reconnect(alice, Flow("ws", "127.0.0.1", 1001))  # re-registers on the new flow
    bob.bye(call_id, net.now)
    net.pump()
    (bye,) = net.requests_to(Flow("ws", "127.0.0.1", 1001), "BYE")
    assert bye.call_id == call_id
    assert of_type(events(alice), CallEnded)[0].reason is EndReason.REMOTE_HANGUP


def test_in_dialog_request_for_a_flow_that_is_gone_gets_430() -> None:
    net, alice, bob = two_phones()
    call_id = call(net, alice, bob)
    bob.answer(call_id, net.now, ANSWER)
    net.pump()
    net.close(ALICE)  # and alice never comes back
    bob.bye(call_id, net.now)
    net.pump()
    assert of_type(events(bob), CallEnded)[0].status_code == 430  # RFC 5626 §5.3


def test_timer_c_cancels_a_branch_that_rings_too_long() -> None:
    net, alice, bob = two_phones(timer_c=10.0)
    call(net, alice, bob)
    invite_at = net.now
    net.advance(invite_at + 9.999)
    assert net.requests_to(BOB, "CANCEL") == []
    net.advance(invite_at + 10.0)
    assert len(net.requests_to(BOB, "CANCEL")) == 1
    assert of_type(events(alice), CallEnded)[0].status_code == 487


def test_udp_branch_is_retransmitted_on_timer_a() -> None:
    net, alice, bob = two_phones("udp")
    bob_flow = net.flow_of(bob)
    lost = [0]

    def lose_first_invite(flow: Flow, data: bytes) -> bool:
        if flow == bob_flow and data.startswith(b"INVITE") and not lost[0]:
            lost[0] = 1
            return True
        return False

    net.drop_down = lose_first_invite
    call_id = alice.invite("bob", net.now, body=OFFER)
    net.pump()
    sent_at = net.now
    assert of_type(events(bob), IncomingCall) == []
    assert net.server.get_timer() == sent_at + 0.5  # Timer A = T1 (§17.1.1.2)
    net.advance(sent_at + 0.5)
    assert of_type(events(bob), IncomingCall)[0].call_id == call_id
    assert len(net.requests_to(bob_flow, "INVITE")) == 2


def test_options_for_a_user_is_forwarded_statefully_and_answered_by_the_phone() -> None:
    net, _, _ = two_phones()
    peer = RawPeer(net, Flow("ws", "127.0.0.1", 1500), user="alice")
    response = peer.send_authenticated(
        lambda n: peer.request(
            "OPTIONS", f"sip:bob@{DOMAIN}", to=f"<sip:bob@{DOMAIN}>", call_id="opt", cseq=n
        ),
        USERS["alice"],
    )
    assert response.status_code == 200  # answered by bob's phone, through the proxy
    assert response.headers.get("User-Agent") is None
    assert [v.host for v in response.via] == ["raw.invalid"]
    assert "Record-Route" not in response.headers  # OPTIONS is not Record-Routed


@pytest.mark.parametrize(
    ("uri", "headers", "max_forwards", "status"),
    [
        (f"sip:bob@{DOMAIN}", (), 0, 483),
        ("sip:bob@elsewhere.test", (), 70, 403),
        (f"sip:{DOMAIN}", (), 70, 484),
        (f"sip:bob@{DOMAIN}", (("Proxy-Require", "foo"),), 70, 420),
        ("tel:+15551234", (), 70, 416),
        (f"sip:bob@{DOMAIN}", (("Route", "<sip:other.test;lr>"),), 70, 403),
    ],
)
def test_requests_the_proxy_refuses(
    uri: str, headers: tuple[tuple[str, str], ...], max_forwards: int, status: int
) -> None:
    net, _, _ = two_phones()
    # From a foreign domain: no proxy authentication, so each check is reached.
    peer = RawPeer(net, Flow("udp", "127.0.0.1", 7000), user="eve")
    request = peer.request("INVITE", uri, headers=headers, max_forwards=max_forwards)
    request.headers.set("From", "<sip:eve@elsewhere.test>;tag=e")
    request.headers.add("Contact", "<sip:eve@127.0.0.1:7000>")
    responses = peer.send(request)
    assert responses[-1].status_code == status
    assert net.requests_to(BOB, "INVITE") == []


def test_from_our_domain_but_not_the_authenticated_user_is_forbidden() -> None:
    net, _, _ = two_phones()
    peer = RawPeer(net, Flow("ws", "127.0.0.1", 1500), user="alice")

    def invite(n: int) -> Request:
        request = peer.request(
            "INVITE", f"sip:bob@{DOMAIN}", to=f"<sip:bob@{DOMAIN}>", call_id="spoof", cseq=n
        )
        request.headers.set("From", f"<sip:carol@{DOMAIN}>;tag=x")
        return request

    assert peer.send_authenticated(invite, USERS["alice"]).status_code == 403


def test_options_to_the_server_itself_is_answered_200() -> None:
    net = Network(make_server())
    peer = RawPeer(net, Flow("tcp", "127.0.0.1", 4000))
    (response,) = peer.send(peer.request("OPTIONS", f"sip:{DOMAIN}", to=f"<sip:{DOMAIN}>"))
    assert response.status_code == 200
    assert "INVITE" in response.tokens("allow")
    assert response.headers.get("Server") == "exotel-voice-local/0.1"
    assert response.to.tag is not None


def test_crlf_keepalive_is_answered_with_crlf() -> None:
    net = Network(make_server())
    net.inject(Flow("tcp", "127.0.0.1", 4000), b"\r\n\r\n")
    assert net.sent_to(Flow("tcp", "127.0.0.1", 4000)) == [b"\r\n"]


def test_in_dialog_request_not_routed_through_us_gets_404() -> None:
    net, _, _ = two_phones()
    peer = RawPeer(net, Flow("ws", "127.0.0.1", 1500), user="alice")
    bye = peer.request("BYE", f"sip:bob@{DOMAIN}", to=f"<sip:bob@{DOMAIN}>;tag=t")
    assert peer.send(bye)[-1].status_code == 404


def test_cancel_for_no_transaction_gets_481() -> None:
    net = Network(make_server())
    peer = RawPeer(net, Flow("ws", "127.0.0.1", 1500), user="alice")
    cancel = peer.request("CANCEL", f"sip:bob@{DOMAIN}", to=f"<sip:bob@{DOMAIN}>")
    assert peer.send(cancel)[-1].status_code == 481


@pytest.mark.parametrize(
    ("codes", "chosen"),
    [
        ([486, 603, 404], 603),  # "MUST choose from the 6xx class responses if any exist"
        ([486, 302, 404], 302),  # else the lowest class
        ([404, 407, 486], 407),  # a challenge is a resubmission hint (§16.7 step 6)
        ([480, 486], 480),
    ],
)
def test_best_response(codes: list[int], chosen: int) -> None:
    invite = Request("INVITE", "sip:bob@local.test")
    for name, value in (
        ("Via", "SIP/2.0/WS a.invalid;branch=z9hG4bK1"),
        ("From", "<sip:a@b>;tag=1"),
        ("To", "<sip:bob@local.test>"),
        ("Call-ID", "c"),
        ("CSeq", "1 INVITE"),
    ):
        invite.headers.add(name, value)
    finals = [make_response(invite, code, to_tag="t") for code in codes]
    assert best_response(finals).status_code == chosen


def test_only_503s_become_500_upstream() -> None:
    net = Network(make_server())
    alice = net.phone("alice", 1000)
    bob = net.phone("bob", 2000)
    registered(net, alice, bob)
    call_id = alice.invite("bob", net.now, body=OFFER)
    net.pump()
    bob.reject(call_id, net.now, 503)
    net.pump()
    assert of_type(events(alice), CallEnded)[0].status_code == 500
