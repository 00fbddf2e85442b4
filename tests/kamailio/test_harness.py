"""The suite's Kamailio does what the other tests rely on (raw SIP, no project code)."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable

import pytest

from tests.kamailio.plugin import KamailioFactory
from tests.kamailio.server import KamailioError, KamailioServer, render_config
from tests.kamailio.sipwire import (
    SipMessage,
    SipPeer,
    TcpPeer,
    UdpPeer,
    WebSocketPeer,
    digest_authorization,
    new_branch,
    new_call_id,
    new_tag,
    parse_challenge,
    register,
    request,
    response,
)

pytestmark = [pytest.mark.kamailio, pytest.mark.timeout(60)]

SDP = (
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
)


def udp(server: KamailioServer) -> UdpPeer:
    return UdpPeer((server.host, server.udp_port))


def ws(server: KamailioServer, *, secure: bool = False) -> WebSocketPeer:
    if secure:
        return WebSocketPeer(server.host, server.wss_port, tls=server.client_ssl_context())
    return WebSocketPeer(server.host, server.ws_port)


def uri_in(header: str) -> str:
    """The URI of a name-addr (``<sip:...>;params``) or addr-spec header value."""
    match = re.search(r"<([^>]+)>", header)
    return match.group(1) if match else header.split(";", maxsplit=1)[0].strip()


def eventually(check: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


def sign_in(server: KamailioServer, peer: SipPeer, user: str, expires: int = 60) -> SipMessage:
    reply = register(
        peer, domain=server.domain, user=user, password=server.users[user], expires=expires
    )
    assert reply.status == 200, reply
    return reply


def sign_out(server: KamailioServer, peer: SipPeer, user: str) -> None:
    reply = register(peer, domain=server.domain, user=user, password=server.users[user], expires=0)
    assert reply.status == 200, reply


# --------------------------------------------------------------------------- (1) REGISTER


def test_udp_register_needs_digest_auth(kamailio: KamailioServer) -> None:
    with udp(kamailio) as alice:
        challenge = register(alice, domain=kamailio.domain, user="alice", password=None)
        assert challenge.status == 401
        params = parse_challenge(challenge.header("WWW-Authenticate"))
        assert params["realm"] == kamailio.domain
        assert params["nonce"]

        ok = sign_in(kamailio, alice, "alice", expires=60)
        contact = alice.contact_uri("alice")
        assert any(uri_in(value) == contact for value in ok.header_values("Contact")), ok
        assert contact in kamailio.contacts("alice")

        wrong = register(alice, domain=kamailio.domain, user="alice", password="not-her-password")
        assert wrong.status in (401, 403)

        sign_out(kamailio, alice, "alice")
        assert kamailio.contacts("alice") == []


def test_register_for_another_users_aor_is_refused(kamailio: KamailioServer) -> None:
    """Auth username must match the To user (auth_check flag 1)."""
    with udp(kamailio) as mallory:
        call_id, tag, uri = new_call_id(), new_tag(), kamailio.registrar_uri
        aor = kamailio.aor("bob")

        def attempt(cseq: int, authorization: str | None) -> SipMessage:
            extra = [("Authorization", authorization)] if authorization else []
            mallory.send(
                request(
                    "REGISTER",
                    uri,
                    via=mallory.via(),
                    from_=f"<{aor}>;tag={tag}",
                    to=f"<{aor}>",
                    call_id=call_id,
                    cseq=cseq,
                    contact=f"<{mallory.contact_uri('bob')}>",
                    extra=extra,
                )
            )
            return mallory.recv_final("REGISTER")

        challenge = attempt(1, None)
        answer = digest_authorization(
            challenge.header("WWW-Authenticate"),
            method="REGISTER",
            uri=uri,
            username="alice",
            password=kamailio.users["alice"],
        )
        assert attempt(2, answer).status in (401, 403)
        assert kamailio.contacts("bob") == []


def test_min_expires_is_small(kamailio: KamailioServer) -> None:
    with udp(kamailio) as dave:
        ok = sign_in(kamailio, dave, "dave", expires=3)
        expires = re.search(r"expires=(\d+)", ok.header("Contact"))
        assert expires is not None
        assert int(expires.group(1)) == kamailio.settings.min_expires == 10
        sign_out(kamailio, dave, "dave")


# --------------------------------------------------------------------------- (2) WebSocket


@pytest.mark.parametrize("secure", [False, True], ids=["ws", "wss"])
def test_websocket_handshake_and_register(kamailio: KamailioServer, secure: bool) -> None:
    with ws(kamailio, secure=secure) as carol:
        assert carol.accepted, carol.handshake
        assert carol.subprotocol == "sip"
        challenge = register(carol, domain=kamailio.domain, user="carol", password=None)
        assert challenge.status == 401
        sign_in(kamailio, carol, "carol")
        assert kamailio.contacts("carol")
    # closing the connection drops its registration (usrloc handle_lost_tcp)
    assert eventually(lambda: kamailio.contacts("carol") == [])


def test_tcp_register_and_lost_connection(kamailio: KamailioServer) -> None:
    with TcpPeer((kamailio.host, kamailio.tcp_port)) as erin:
        assert register(erin, domain=kamailio.domain, user="erin", password=None).status == 401
        sign_in(kamailio, erin, "erin")
        assert kamailio.contacts("erin") == [erin.contact_uri("erin")]
    assert eventually(lambda: kamailio.contacts("erin") == [])


def test_websocket_handshake_needs_sip_subprotocol(kamailio: KamailioServer) -> None:
    peer = WebSocketPeer(kamailio.host, kamailio.ws_port, subprotocols=())
    with peer:
        assert not peer.accepted


def test_wss_certificate_is_verified_against_the_ca(kamailio: KamailioServer) -> None:
    context = kamailio.client_ssl_context()
    for name in ("127.0.0.1", "localhost"):
        with (
            socket.create_connection((kamailio.host, kamailio.wss_port), timeout=3) as raw,
            context.wrap_socket(raw, server_hostname=name) as tls,
        ):
            assert tls.version() in ("TLSv1.2", "TLSv1.3")


# --------------------------------------------------------------------------- (3) calls


def place_call(server: KamailioServer, caller: SipPeer, callee: SipPeer) -> None:
    """alice (caller) calls bob (callee): 407, INVITE delivered, 200, ACK, BYE from bob."""
    alice_aor, bob_aor = server.aor("alice"), server.aor("bob")
    call_id, alice_tag, bob_tag = new_call_id(), new_tag(), new_tag()
    alice_contact = f"<{caller.contact_uri('alice')}>"

    def invite(cseq: int, branch: str, auth: str | None) -> SipMessage:
        return request(
            "INVITE",
            bob_aor,
            via=caller.via(branch),
            from_=f"<{alice_aor}>;tag={alice_tag}",
            to=f"<{bob_aor}>",
            call_id=call_id,
            cseq=cseq,
            contact=alice_contact,
            extra=[("Proxy-Authorization", auth)] if auth else [],
            body=SDP,
            content_type="application/sdp",
        )

    branch = new_branch()
    caller.send(invite(1, branch, None))
    challenge = caller.recv_final("INVITE")
    assert challenge.status == 407, challenge
    caller.send(  # hop-by-hop ACK of the 407
        request(
            "ACK",
            bob_aor,
            via=caller.via(branch),
            from_=f"<{alice_aor}>;tag={alice_tag}",
            to=challenge.header("To"),
            call_id=call_id,
            cseq=1,
        )
    )
    auth = digest_authorization(
        challenge.header("Proxy-Authenticate"),
        method="INVITE",
        uri=bob_aor,
        username="alice",
        password=server.users["alice"],
    )
    caller.send(invite(2, new_branch(), auth))

    incoming = callee.recv_request("INVITE")
    assert uri_in(incoming.request_uri) == callee.contact_uri(
        "bob"
    ) or incoming.request_uri.startswith(callee.contact_uri("bob")), incoming.request_uri
    assert incoming.header_values("Record-Route"), incoming
    assert not incoming.has("Proxy-Authorization")  # consumed by the proxy
    assert incoming.body == SDP

    callee.send(response(incoming, 180, "Ringing", to_tag=bob_tag))
    callee.send(
        response(
            incoming,
            200,
            "OK",
            to_tag=bob_tag,
            contact=f"<{callee.contact_uri('bob')}>",
            body=SDP,
            content_type="application/sdp",
        )
    )
    answer = caller.recv_final("INVITE")
    assert answer.status == 200, answer
    # (the 180 may lose the race with the 200 between Kamailio's UDP workers and be dropped)

    # ACK and BYE follow the Record-Route set
    caller_routes = list(reversed(answer.header_values("Record-Route")))
    caller.send(
        request(
            "ACK",
            uri_in(answer.header("Contact")),
            via=caller.via(),
            from_=f"<{alice_aor}>;tag={alice_tag}",
            to=answer.header("To"),
            call_id=call_id,
            cseq=2,
            extra=[("Route", r) for r in caller_routes],
        )
    )
    ack = callee.recv_request("ACK")
    assert ack.header("Call-ID") == call_id

    callee.send(
        request(
            "BYE",
            uri_in(incoming.header("Contact")),
            via=callee.via(),
            from_=incoming.header("To") + f";tag={bob_tag}",
            to=incoming.header("From"),
            call_id=call_id,
            cseq=1,
            extra=[("Route", r) for r in incoming.header_values("Record-Route")],
        )
    )
    bye = caller.recv_request("BYE")
    caller.send(response(bye, 200, "OK"))
    assert callee.recv_final("BYE").status == 200


def test_invite_between_udp_users(kamailio: KamailioServer) -> None:
    with udp(kamailio) as alice, udp(kamailio) as bob:
        sign_in(kamailio, alice, "alice")
        sign_in(kamailio, bob, "bob")
        try:
            place_call(kamailio, alice, bob)
        finally:
            sign_out(kamailio, alice, "alice")
            sign_out(kamailio, bob, "bob")


@pytest.mark.parametrize(
    ("caller_kind", "callee_kind"),
    [("udp", "ws"), ("ws", "wss"), ("wss", "udp"), ("tcp", "ws"), ("ws", "tcp"), ("udp", "tcp")],
)
def test_invite_across_transports(
    kamailio: KamailioServer, caller_kind: str, callee_kind: str
) -> None:
    def peer(kind: str) -> SipPeer:
        if kind == "udp":
            return udp(kamailio)
        if kind == "tcp":
            return TcpPeer((kamailio.host, kamailio.tcp_port))
        return ws(kamailio, secure=kind == "wss")

    with peer(caller_kind) as alice, peer(callee_kind) as bob:
        sign_in(kamailio, alice, "alice")
        sign_in(kamailio, bob, "bob")
        try:
            place_call(kamailio, alice, bob)
        finally:
            sign_out(kamailio, alice, "alice")
            sign_out(kamailio, bob, "bob")


def test_invite_to_unregistered_user_is_404(kamailio: KamailioServer) -> None:
    with udp(kamailio) as alice:
        aor, target, call_id, tag = (
            kamailio.aor("alice"),
            kamailio.aor("frank"),
            new_call_id(),
            new_tag(),
        )

        def invite(cseq: int, auth: str | None) -> SipMessage:
            return request(
                "INVITE",
                target,
                via=alice.via(),
                from_=f"<{aor}>;tag={tag}",
                to=f"<{target}>",
                call_id=call_id,
                cseq=cseq,
                contact=f"<{alice.contact_uri('alice')}>",
                extra=[("Proxy-Authorization", auth)] if auth else [],
            )

        alice.send(invite(1, None))
        challenge = alice.recv_final("INVITE")
        assert challenge.status == 407
        alice.send(
            invite(
                2,
                digest_authorization(
                    challenge.header("Proxy-Authenticate"),
                    method="INVITE",
                    uri=target,
                    username="alice",
                    password=kamailio.users["alice"],
                ),
            )
        )
        assert alice.recv_final("INVITE").status == 404


# --------------------------------------------------------------------------- (4) faults


def test_kill_and_restart_keep_the_ports(fresh_kamailio: KamailioFactory) -> None:
    server = fresh_kamailio()
    ports = server.ports
    with udp(server) as alice:
        sign_in(server, alice, "alice")
    assert server.contacts("alice")

    with ws(server) as carol:  # a client still connected when Kamailio dies
        sign_in(server, carol, "carol")
        server.kill()
        assert not server.running
        assert carol.wait_closed() in ("eof", "reset")
        with pytest.raises(OSError):
            socket.create_connection((server.host, server.ws_port), timeout=1).close()

    server.start()
    assert server.ports == ports
    assert server.contacts("alice") == []  # registrations died with the process
    with udp(server) as alice:
        sign_in(server, alice, "alice")
    with ws(server) as carol:
        assert carol.accepted

    server.restart()
    assert server.ports == ports
    with ws(server, secure=True) as carol:
        sign_in(server, carol, "carol")


def test_server_side_websocket_close(kamailio: KamailioServer) -> None:
    with ws(kamailio) as carol:
        sign_in(kamailio, carol, "carol")
        assert [c for c in kamailio.ws_connections() if c["src_port"] == str(carol.local_port)]
        kamailio.close_ws(carol.local_port)
        assert carol.wait_closed() == "close-frame"
    assert eventually(lambda: kamailio.contacts("carol") == [])


def test_server_side_connection_reset(kamailio: KamailioServer) -> None:
    with ws(kamailio, secure=True) as carol:
        sign_in(kamailio, carol, "carol")
        kamailio.drop_connection(carol.local_port)
        assert carol.wait_closed() in ("reset", "eof")
    assert eventually(lambda: kamailio.contacts("carol") == [])


# --------------------------------------------------------------------------- plumbing


def test_config_template_placeholders_are_checked() -> None:
    assert render_config("a {{X}} b", {"X": 1}) == "a 1 b"
    with pytest.raises(KamailioError):
        render_config("a {{X}} {{Y}}", {"X": 1})
    with pytest.raises(KamailioError):
        render_config("a {{X}}", {"X": 1, "Z": 2})
