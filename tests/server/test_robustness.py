"""Malformed and hostile input: the local server answers or drops it, and never raises."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sipcore.message import Response, parse_message
from sipcore.server import Flow, LocalServer, MessageRejected
from tests.server.network import DOMAIN, Network, RawPeer, make_server
from tests.testdata import require

PEER = Flow("ws", "127.0.0.1", 1234)

VALID = (
    f"INVITE sip:bob@{DOMAIN} SIP/2.0\r\n"
    "Via: SIP/2.0/WS x.invalid;branch=z9hG4bK1\r\n"
    "Max-Forwards: 70\r\n"
    f"From: <sip:eve@elsewhere.test>;tag=1\r\n"
    f"To: <sip:bob@{DOMAIN}>\r\n"
    "Call-ID: c1\r\n"
    "CSeq: 1 INVITE\r\n"
    "Contact: <sip:eve@x.invalid;transport=ws>\r\n"
    "Content-Length: 0\r\n\r\n"
).encode()


def rejected(net: Network) -> list[MessageRejected]:
    return net.take_server_events(MessageRejected)


def test_garbage_is_dropped_silently() -> None:
    net = Network(make_server())
    net.inject(PEER, b"\x00\xffthis is not SIP\r\n\r\n")
    assert net.sent_to(PEER) == []
    (event,) = rejected(net)
    assert event.status is None and event.flow == PEER


def test_malformed_header_is_answered_400_with_a_to_tag() -> None:
    net = Network(make_server())
    net.inject(PEER, VALID.replace(b"CSeq: 1 INVITE", b"CSeq: one INVITE"))
    (answer,) = net.sent_to(PEER)
    response = parse_message(answer)
    assert isinstance(response, Response)
    assert response.status_code == 400
    assert response.to.tag is not None
    assert rejected(net)[0].status == 400


def test_unreadable_request_uri_is_answered_400() -> None:
    net = Network(make_server())
    net.inject(PEER, VALID.replace(f"sip:bob@{DOMAIN} SIP".encode(), b"<sip:bob> SIP"))
    assert [parse_message(d).status_code for d in net.sent_to(PEER)] == [400]  # type: ignore[union-attr]


def test_other_sip_version_is_answered_505() -> None:
    net = Network(make_server())
    net.inject(PEER, VALID.replace(b"SIP/2.0\r\nVia", b"SIP/7.0\r\nVia"))
    assert [parse_message(d).status_code for d in net.sent_to(PEER)] == [505]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "data",
    [
        VALID.replace(b"Via: SIP/2.0/WS x.invalid;branch=z9hG4bK1\r\n", b""),  # nowhere to answer
        VALID.replace(b"INVITE", b"ACK"),  # an ACK is never answered
        b"SIP/2.0 200 OK\r\nVia: SIP/2.0/WS 127.0.0.1;branch=z9hG4bKnone\r\n\r\n",  # malformed
        b"SIP/2.0 200 OK\r\nVia: SIP/2.0/WS 127.0.0.1;branch=z9hG4bKnone\r\nFrom: <sip:a@b>;tag=1"
        b"\r\nTo: <sip:b@c>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",  # stray
    ],
    ids=["no-via", "ack-for-nothing", "malformed-response", "stray-response"],
)
def test_unanswerable_messages_are_dropped(data: bytes) -> None:
    net = Network(make_server())
    net.inject(PEER, data)
    assert net.sent_to(PEER) == []
    assert [e.status for e in rejected(net)] == [None]


def test_oversized_message_is_answered_513() -> None:
    net = Network(make_server())
    pad = b"".join(b"X-Pad: " + b"a" * 7000 + b"\r\n" for _ in range(10))
    big = VALID.replace(b"Content-Length: 0\r\n", b"Content-Length: 0\r\n" + pad)
    net.inject(PEER, big)
    assert [parse_message(d).status_code for d in net.sent_to(PEER)] == [513]  # type: ignore[union-attr]


def test_request_retransmission_is_absorbed_by_its_transaction() -> None:
    net = Network(make_server())
    peer = RawPeer(net, Flow("udp", "127.0.0.1", 7000))
    options = peer.request("OPTIONS", f"sip:{DOMAIN}", to=f"<sip:{DOMAIN}>")
    first = peer.send(options)
    again = peer.send(options)  # the same branch: resent from the transaction (§17.2.2)
    assert [r.status_code for r in first] == [200]
    assert bytes(again[0]) == bytes(first[0])


def _torture_messages() -> list[Path]:
    return sorted(require("rfc4475").glob("*.sip")) + sorted(require("rfc5118").glob("*.sip"))


@pytest.mark.parametrize("path", _torture_messages(), ids=lambda p: p.name)
def test_every_torture_message_is_answered_or_dropped(path: Path) -> None:
    server = make_server()
    flow = Flow("udp", "127.0.0.1", 10000)
    server.receive_message(flow, path.read_bytes(), 0.0)
    server.handle_timer(64.0)  # retransmissions and timeouts run their course
    out = server.messages_to_send()
    assert {target for target, _ in out} <= {flow}
    for _, data in out:
        assert isinstance(parse_message(data), Response)
    events = []
    while (event := server.next_event()) is not None:
        events.append(event)
    assert out or events, "neither answered nor reported"


_LINES = VALID.split(b"\r\n")


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, len(_LINES) - 1), st.binary(max_size=12)),
        min_size=1,
        max_size=4,
    ),
    st.sampled_from(["udp", "ws"]),
)
def test_mutated_requests_never_raise(edits: list[tuple[int, bytes]], transport: str) -> None:
    lines = list(_LINES)
    for index, junk in edits:
        line = lines[index]
        cut = len(line) // 2
        lines[index] = line[:cut] + junk + line[cut:]
    server = make_server()
    flow = Flow(transport, "127.0.0.1", 5555)
    server.receive_message(flow, b"\r\n".join(lines), 0.0)
    for target, data in server.messages_to_send():
        assert target == flow
        parse_message(data)  # whatever we send can be read back


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_never_raise(data: bytes) -> None:
    server: LocalServer = make_server()
    server.receive_message(PEER, data, 0.0)
    server.handle_timer(100.0)
    server.flow_closed(PEER, 100.0)
    assert server.messages_to_send() == []
