"""The development server over real loopback sockets: ws, wss, tcp and udp.

Two sipcore phones, each a ``UserAgentDriver`` over a real transport (as in
``tests/adapters/phones.py``), register with the ``LocalServer`` that
``sipadapters.server.serve`` runs, and call each other through it; on asyncio and trio.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest
import trustme

from sipadapters import (
    MessageTransport,
    ReconnectPolicy,
    TlsOptions,
    TransportClosed,
    UserAgentDriver,
    open_transport,
)
from sipadapters.server import LocalServerRunner, serve
from sipcore.config import UserAgentConfig
from sipcore.events import CallEnded, EndReason, IncomingCall, Registered
from sipcore.message import Response, parse_message
from sipcore.server import ContactUnbound, ServerEvent, UnbindReason
from sipcore.user_agent import UserAgent
from tests.adapters.phones import OFFER, establish, register, wait_for

pytestmark = pytest.mark.anyio

USERS = {"alice": "alice-pw", "bob": "bob-pw"}


@contextlib.asynccontextmanager
async def local_phone(
    server: LocalServerRunner,
    user: str,
    transport: str = "ws",
    *,
    reconnect: ReconnectPolicy | None = None,
) -> AsyncIterator[UserAgentDriver]:
    """A driven phone for ``user`` on the development server (not registered yet)."""
    config = UserAgentConfig.for_account(server.aor(user), USERS[user], transport=transport)
    url = server.url(transport)
    tls = TlsOptions(ca_file=server.ca_file)

    async def connect() -> MessageTransport:
        return await open_transport(url, tls=tls, timeout=5.0)

    driver = UserAgentDriver(
        UserAgent(config),
        connect,
        url=url,
        reconnect=reconnect or ReconnectPolicy(initial=0.1, maximum=0.5),
    )
    async with driver:
        yield driver


async def hang_up_and_wait(caller: UserAgentDriver, callee: UserAgentDriver, call_id: str) -> None:
    callee.ua.bye(call_id, callee.now())
    await callee.transmit()
    ended = await wait_for(caller, CallEnded)
    assert ended.reason is EndReason.REMOTE_HANGUP
    assert (await wait_for(callee, CallEnded)).status_code == 200


@pytest.mark.parametrize(
    ("caller_transport", "callee_transport"),
    [("ws", "ws"), ("wss", "wss"), ("tcp", "tcp"), ("udp", "udp"), ("wss", "udp"), ("tls", "ws")],
)
async def test_two_phones_register_and_call_each_other(
    caller_transport: str, callee_transport: str
) -> None:
    transports = ("ws", "wss", "tcp", "udp", "tls")
    with anyio.fail_after(20):
        async with (
            serve(USERS, domain="local.test", transports=transports) as server,
            local_phone(server, "alice", caller_transport) as alice,
            local_phone(server, "bob", callee_transport) as bob,
        ):
            assert (await register(alice)).expires == 300
            await register(bob)
            (binding,) = server.server.bindings("bob")
            assert binding.flow.transport == callee_transport
            call_id = await establish(alice, bob, "bob")
            await hang_up_and_wait(alice, bob, call_id)


async def test_calling_an_unregistered_user_gets_480() -> None:
    with anyio.fail_after(10):
        async with (
            serve(USERS) as server,
            local_phone(server, "alice") as alice,
        ):
            await register(alice)
            alice.ua.invite("bob", alice.now(), body=OFFER)
            await alice.transmit()
            assert (await wait_for(alice, CallEnded)).status_code == 480


async def test_closed_connection_drops_the_binding() -> None:
    unbound = anyio.Event()
    seen: list[ServerEvent] = []

    def on_event(event: ServerEvent) -> None:
        seen.append(event)
        if isinstance(event, ContactUnbound):
            unbound.set()

    with anyio.fail_after(10):
        async with serve(USERS, on_event=on_event) as server:
            ua = UserAgent(UserAgentConfig.for_account(server.aor("bob"), USERS["bob"]))
            transport = await open_transport(server.ws_url)
            ua.register(anyio.current_time())
            while not any(isinstance(e, Registered) for e in iter(ua.next_event, None)):
                for data in ua.messages_to_send():
                    await transport.send(data)
                ua.receive_message(await transport.receive(), anyio.current_time())
            assert len(server.server.bindings("bob")) == 1
            await transport.aclose()  # abruptly: no un-REGISTER
            await unbound.wait()
            assert server.server.bindings("bob") == []
            gone = [e for e in seen if isinstance(e, ContactUnbound)]
            assert [e.reason for e in gone] == [UnbindReason.FLOW_CLOSED]


async def test_call_survives_the_caller_reconnecting() -> None:
    with anyio.fail_after(20):
        async with (
            serve(USERS) as server,
            local_phone(server, "alice") as alice,
            local_phone(server, "bob") as bob,
        ):
            await register(alice)
            await register(bob)
            call_id = await establish(alice, bob, "bob")
            first = alice.transport
            assert first is not None
            await first.aclose()  # the connection dies; the driver reconnects and re-registers
            await wait_for(alice, Registered)
            second = alice.transport
            assert second is not None and second is not first
            (binding,) = server.server.bindings("alice")
            assert binding.flow.port == second.local_address[1]
            await hang_up_and_wait(alice, bob, call_id)


async def test_serves_wss_with_a_certificate_of_our_own(tmp_path: Path) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    certfile, keyfile, ca_file = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(certfile))
    cert.private_key_pem.write_to_path(str(keyfile))
    ca.cert_pem.write_to_path(str(ca_file))
    with anyio.fail_after(10):
        async with (
            serve(
                USERS, transports=("wss",), certfile=certfile, keyfile=keyfile, ca_file=ca_file
            ) as server,
            local_phone(server, "alice", "wss") as alice,
        ):
            assert server.ca_file == str(ca_file)
            assert (await register(alice)).expires == 300


async def test_options_and_keepalives_over_tcp() -> None:
    with anyio.fail_after(10):
        async with serve(USERS, transports=("tcp",)) as server:
            transport = await open_transport(f"tcp://127.0.0.1:{server.tcp_port}")
            await transport.ping()
            assert await transport.receive() == b"\r\n"  # RFC 5626 §3.5.1 pong
            options = (
                "OPTIONS sip:local.test SIP/2.0\r\n"
                "Via: SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bKopt\r\n"
                "From: <sip:probe@local.test>;tag=1\r\nTo: <sip:local.test>\r\n"
                "Call-ID: opt\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
            )
            await transport.send(options.encode())
            response = parse_message(await transport.receive())
            assert isinstance(response, Response) and response.status_code == 200
            await transport.aclose()


async def test_websocket_without_the_sip_subprotocol_is_refused() -> None:
    with anyio.fail_after(10):
        async with serve(USERS, transports=("ws",)) as server:
            stream = await anyio.connect_tcp("127.0.0.1", server.ws_port)
            await stream.send(
                b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                b"Sec-WebSocket-Version: 13\r\n\r\n"
            )
            reply = await stream.receive()
            assert reply.startswith(b"HTTP/1.1 400")
            await stream.aclose()


async def test_leaving_the_block_closes_websockets_and_removes_the_certificates() -> None:
    with anyio.fail_after(10):
        async with serve(USERS, transports=("wss",)) as server:
            assert server.ca_file is not None
            ca = Path(server.ca_file)
            transport = await open_transport(server.wss_url, tls=TlsOptions(ca_file=str(ca)))
        with pytest.raises(TransportClosed, match="closed the WebSocket"):
            await transport.receive()
        assert not ca.exists()
        await transport.aclose()


async def test_incoming_call_rings_every_registered_connection_of_the_user() -> None:
    with anyio.fail_after(15):
        async with (
            serve(USERS) as server,
            local_phone(server, "alice", "tcp") as alice,
            local_phone(server, "bob", "ws") as desk,
            local_phone(server, "bob", "udp") as mobile,
        ):
            for phone in (alice, desk, mobile):
                await register(phone)
            assert len(server.server.bindings("bob")) == 2
            call_id = alice.ua.invite("bob", alice.now(), body=OFFER)
            await alice.transmit()
            assert (await wait_for(desk, IncomingCall)).call_id == call_id
            assert (await wait_for(mobile, IncomingCall)).call_id == call_id
            alice.ua.cancel(call_id, alice.now())
            await alice.transmit()
            assert (await wait_for(alice, CallEnded)).status_code == 487
            for phone in (desk, mobile):
                assert (await wait_for(phone, CallEnded)).reason is EndReason.REMOTE_CANCEL
