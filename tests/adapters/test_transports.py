"""SIP over TCP, TLS and UDP (RFC 3261 §18), on asyncio and trio.

Stream framing is checked against a local TCP peer that splits and glues messages at
the worst places; keepalives, registration and calls against the suite's real Kamailio
(its TCP and UDP ports, and its ``tls:`` listener for SIP over TLS).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import anyio
import anyio.abc
import pytest

from sipadapters import (
    AnyEvent,
    ConnectError,
    ConnectionLost,
    ReconnectPolicy,
    StreamTransport,
    TlsOptions,
    TransportClosed,
    UdpTransport,
    UserAgentDriver,
    open_transport,
    open_user_agent,
)
from sipcore.config import UserAgentConfig
from sipcore.events import (
    CallEnded,
    EndReason,
    FlowFailed,
    KeepAliveAnswered,
    Registered,
    Unregistered,
)
from sipcore.framing import PING, PONG
from sipcore.message import ParseLimits
from tests.adapters.phones import (
    establish,
    events_for,
    phone,
    register,
    server_url,
    wait_for,
)
from tests.kamailio.server import KamailioServer

pytestmark = [pytest.mark.anyio]


def _message(n: int, body: bytes = b"") -> bytes:
    return (
        f"OPTIONS sip:alice@example.test SIP/2.0\r\n"
        f"Via: SIP/2.0/TCP peer.invalid;branch=z9hG4bK{n}\r\n"
        f"Call-ID: c{n}\r\nCSeq: {n} OPTIONS\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


@contextlib.asynccontextmanager
async def _peer(script: list[bytes], heard: list[bytes]) -> AsyncIterator[int]:
    """A TCP peer on loopback that sends ``script`` chunk by chunk, keeping what it hears."""

    async def handle(stream: anyio.abc.SocketStream) -> None:
        async with anyio.create_task_group() as task_group:

            async def listen() -> None:
                with contextlib.suppress(anyio.EndOfStream, anyio.BrokenResourceError):
                    while True:
                        heard.append(await stream.receive())

            task_group.start_soon(listen)
            for chunk in script:
                await stream.send(chunk)
                await anyio.sleep(0.005)  # separate TCP segments
            await anyio.sleep_forever()

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    async with listener, anyio.create_task_group() as task_group:
        task_group.start_soon(listener.serve, handle)
        yield int(listener.extra(anyio.abc.SocketAttribute.local_port))
        task_group.cancel_scope.cancel()


# ------------------------------------------------------------------ TCP framing


async def test_stream_framing_across_splits() -> None:
    first, second, third = _message(1, b"hello"), _message(2), _message(3, b"x" * 3000)
    stream = first + second + b"\r\n" + PING + third
    # first byte by byte; second glued to first's tail; a pong and a ping between
    # messages; the third cut inside its header and inside its body.
    cut = len(first) + len(second) + 2 + 4 + 40
    script = [bytes([b]) for b in stream[: len(first) - 3]]
    script += [stream[len(first) - 3 : cut], stream[cut : cut + 1500], stream[cut + 1500 :]]
    heard: list[bytes] = []
    async with _peer(script, heard) as port:
        transport = await StreamTransport.connect("127.0.0.1", port, timeout=2.0)
        try:
            with anyio.fail_after(5):
                received = [await transport.receive() for _ in range(4)]
            assert received == [first, second, PONG, third]
            with anyio.fail_after(2):
                while PONG not in b"".join(heard):  # the server's ping was answered
                    await anyio.sleep(0.01)
        finally:
            await transport.aclose()


async def test_unframeable_stream_closes_the_connection() -> None:
    oversized = _message(1, b"y" * 2000)
    no_length = b"OPTIONS sip:a@b SIP/2.0\r\nCall-ID: x\r\n\r\n"
    for script in ([oversized], [no_length]):
        async with _peer(script, []) as port:
            limits = ParseLimits(max_message_size=1024)
            transport = await StreamTransport.connect("127.0.0.1", port, limits=limits)
            with pytest.raises(TransportClosed, match="unframeable stream"), anyio.fail_after(5):
                await transport.receive()
            with pytest.raises(TransportClosed):
                await transport.send(PING)  # it closed itself (RFC 4475 §3.1.2.3)


async def test_bad_urls_are_connect_errors() -> None:
    for url in ("http://example.test/", "ws://", "sip:alice@example.test"):
        with pytest.raises(ConnectError, match="unsupported SIP server URL"):
            await open_transport(url)


# ------------------------------------------------------------------ keepalives


@pytest.mark.kamailio
@pytest.mark.parametrize("keeper", ["driver", "sipcore"])
async def test_crlf_keepalive_with_kamailio_over_tcp(kamailio: KamailioServer, keeper: str) -> None:
    """RFC 5626 §3.5.1 over TCP: Kamailio answers our CRLF CRLF with a CRLF.

    The driver's keepalive would declare the flow dead 0.2 + 0.3 s after an unanswered
    ping; sipcore's own reports each pong as ``KeepAliveAnswered`` with its round trip.
    """
    async with phone(
        kamailio,
        "carol",
        transport="tcp",
        keepalive_interval=0.2 if keeper == "driver" else None,
        keepalive_timeout=0.3,
        ua_keepalive_interval=0.25 if keeper == "sipcore" else None,
    ) as carol:
        await register(carol)
        seen = await events_for(carol, 1.5)
        assert not any(isinstance(e, ConnectionLost | FlowFailed) for e in seen), seen
        transport = carol.transport
        assert transport is not None and carol.now() - transport.last_activity < 0.5
        answers = [e for e in seen if isinstance(e, KeepAliveAnswered)]
        if keeper == "sipcore":
            assert len(answers) >= 3 and all(0 <= e.rtt < 0.25 for e in answers), answers


# ------------------------------------------------------------------ TLS, TCP, UDP phones


@contextlib.asynccontextmanager
async def _udp_phone(kamailio: KamailioServer, user: str) -> AsyncIterator[UserAgentDriver]:
    config = UserAgentConfig.for_account(kamailio.aor(user), kamailio.users[user])
    async with open_user_agent(
        server_url(kamailio, "udp"),
        config,
        reconnect=ReconnectPolicy(initial=0.2, maximum=1.0),
    ) as driver:
        yield driver


@contextlib.asynccontextmanager
async def _any_phone(
    kamailio: KamailioServer, user: str, transport: str
) -> AsyncIterator[UserAgentDriver]:
    if transport == "udp":
        async with _udp_phone(kamailio, user) as driver:
            yield driver
    else:
        async with phone(kamailio, user, transport=transport) as driver:
            yield driver


@pytest.mark.kamailio
@pytest.mark.parametrize(("caller", "callee"), [("tls", "udp"), ("udp", "tcp"), ("tcp", "tls")])
async def test_register_and_call_across_transports(
    kamailio: KamailioServer, caller: str, callee: str
) -> None:
    async with (
        _any_phone(kamailio, "erin", caller) as erin,
        _any_phone(kamailio, "frank", callee) as frank,
    ):
        for driver, transport in ((erin, caller), (frank, callee)):
            assert driver.ua.config.transport == transport
            await register(driver)
        for user, transport in (("erin", caller), ("frank", callee)):
            (contact,) = kamailio.contacts(user)
            if transport == "udp":
                # Over UDP our Contact is our real address (open_user_agent's doing).
                udp = erin if user == "erin" else frank
                assert udp.transport is not None
                host, port = udp.transport.local_address
                assert f"@{host}:{port}" in contact and "transport=" not in contact
            else:
                assert f";transport={transport}" in contact
        call_id = await establish(erin, frank, kamailio.aor("frank"))
        frank.ua.bye(call_id, frank.now())
        await frank.transmit()
        assert (await wait_for(erin, CallEnded)).reason is EndReason.REMOTE_HANGUP
        assert (await wait_for(frank, CallEnded)).reason is EndReason.LOCAL_HANGUP


@pytest.mark.kamailio
async def test_udp_reconnection_keeps_the_local_port(kamailio: KamailioServer) -> None:
    """A new UDP socket after an ICMP error binds the old port: the Via and Contact stay true."""
    async with _udp_phone(kamailio, "dave") as dave:
        await register(dave)
        transport = dave.transport
        assert isinstance(transport, UdpTransport)
        address = transport.local_address
        await transport.aclose()  # the reader sees the socket go: a lost flow
        seen: list[AnyEvent] = []
        await wait_for(dave, ConnectionLost, seen=seen)
        await wait_for(dave, Registered, seen=seen)
        assert dave.transport is not None and dave.transport.local_address == address
        dave.ua.unregister(dave.now())
        await dave.transmit()
        await wait_for(dave, Unregistered)
    assert kamailio.contacts("dave") == []


@pytest.mark.kamailio
async def test_tls_to_kamailio_is_verified(kamailio: KamailioServer) -> None:
    url = server_url(kamailio, "tls")
    transport = await open_transport(url, tls=TlsOptions(ca_file=str(kamailio.ca_file)))
    try:
        assert (transport.name, transport.reliable) == ("tls", True)
    finally:
        await transport.aclose()
