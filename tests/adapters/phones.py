"""Phones for the integration tests: a sipcore UserAgent driven over a real transport.

Also the small scripted peers the fault tests need where Kamailio cannot misbehave on
demand: ``FakeWebSocketServer`` is a SIP-over-WebSocket server written with wsproto and
anyio on loopback (it can omit the ``sip`` subprotocol, send garbage, oversized
messages...). They parse with ``tests.kamailio.sipwire``, not with sipcore, so the
phone under test is not checked against itself.
"""

from __future__ import annotations

import contextlib
import math
import socket
from collections.abc import AsyncIterator, Callable
from types import TracebackType
from typing import Self, TypeVar

import anyio
import anyio.abc
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Ping,
    Pong,
    Request,
    TextMessage,
)

from sipadapters import (
    AnyEvent,
    MessageTransport,
    ReconnectPolicy,
    TlsOptions,
    UserAgentDriver,
    open_transport,
)
from sipcore.config import UserAgentConfig
from sipcore.events import (
    CallAnswered,
    CallConfirmed,
    CallProgressed,
    IncomingCall,
    Registered,
)
from sipcore.user_agent import UserAgent
from tests.kamailio import sipwire
from tests.kamailio.server import KamailioServer

E = TypeVar("E")

OFFER = (
    b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    b"m=audio 4000 RTP/AVP 0\r\n"
)
ANSWER = OFFER.replace(b"4000", b"5000")
HOLD_OFFER = OFFER.replace(b"o=- 1 1", b"o=- 1 2") + b"a=sendonly\r\n"
"""The next version of ``OFFER``, putting the call on hold (RFC 3264 §8.4)."""
HOLD_ANSWER = ANSWER.replace(b"o=- 1 1", b"o=- 1 2") + b"a=recvonly\r\n"


def server_url(kamailio: KamailioServer, transport: str) -> str:
    """The suite's Kamailio as a URL for ``transport``.

    ``tls`` is the wss port: Kamailio's ``tls:`` listener there also takes plain SIP over
    TLS (its TCP reader tells a WebSocket upgrade from a SIP message), so it is the
    suite's SIP/TLS port as well.
    """
    return {
        "ws": kamailio.ws_url,
        "wss": kamailio.wss_url,
        "tcp": f"tcp://127.0.0.1:{kamailio.tcp_port}",
        "tls": f"tls://127.0.0.1:{kamailio.wss_port}",
        "udp": f"udp://127.0.0.1:{kamailio.udp_port}",
    }[transport]


class Recording:
    """A transport that keeps a copy of everything it received (to see what a server said)."""

    def __init__(self, inner: MessageTransport, received: list[bytes]) -> None:
        self._inner = inner
        self._received = received

    @property
    def name(self) -> str:
        return self._inner.name

    @property
    def reliable(self) -> bool:
        return self._inner.reliable

    @property
    def local_address(self) -> tuple[str, int]:
        return self._inner.local_address

    @property
    def last_activity(self) -> float:
        return self._inner.last_activity

    async def send(self, data: bytes) -> None:
        await self._inner.send(data)

    async def receive(self) -> bytes:
        data = await self._inner.receive()
        self._received.append(data)
        return data

    async def ping(self) -> None:
        await self._inner.ping()

    async def aclose(self) -> None:
        await self._inner.aclose()


@contextlib.asynccontextmanager
async def phone(
    kamailio: KamailioServer,
    user: str,
    *,
    transport: str = "ws",
    password: str | None = None,
    reconnect: ReconnectPolicy | None = None,
    keepalive_interval: float | None = 30.0,
    keepalive_timeout: float = 10.0,
    connect_timeout: float = 5.0,
    received: list[bytes] | None = None,
    ua_keepalive_interval: float | None = None,
    **options: object,
) -> AsyncIterator[UserAgentDriver]:
    """A driven UA for ``user`` on the suite's Kamailio (not registered yet).

    ``keepalive_*`` are the driver's keepalives, ``ua_keepalive_interval`` sipcore's
    own CRLF ones (RFC 5626). ``received`` collects every message the phone receives.
    """
    config = UserAgentConfig.for_account(
        kamailio.aor(user),
        kamailio.users[user] if password is None else password,
        transport=transport,
        keepalive_interval=ua_keepalive_interval,
        **options,
    )
    ua = UserAgent(config)
    url = server_url(kamailio, transport)
    tls = TlsOptions(ca_file=str(kamailio.ca_file))

    async def connect() -> MessageTransport:
        transport = await open_transport(url, tls=tls, timeout=connect_timeout)
        return transport if received is None else Recording(transport, received)

    driver = UserAgentDriver(
        ua,
        connect,
        url=url,
        reconnect=reconnect or ReconnectPolicy(initial=0.2, maximum=1.0),
        keepalive_interval=keepalive_interval,
        keepalive_timeout=keepalive_timeout,
    )
    async with driver:
        yield driver


async def wait_for(
    driver: UserAgentDriver,
    kind: type[E],
    *,
    timeout: float = 5.0,
    where: Callable[[E], bool] = lambda _: True,
    seen: list[AnyEvent] | None = None,
) -> E:
    """The next event of ``kind`` (others are collected into ``seen``)."""
    with anyio.fail_after(timeout):
        while True:
            event = await driver.next_event()
            if seen is not None:
                seen.append(event)
            if isinstance(event, kind) and where(event):
                return event


async def events_for(driver: UserAgentDriver, seconds: float) -> list[AnyEvent]:
    """Every event the driver reports in the next ``seconds``."""
    seen: list[AnyEvent] = []
    with anyio.move_on_after(seconds):
        while True:
            seen.append(await driver.next_event())
    return seen


async def register(driver: UserAgentDriver, *, seen: list[AnyEvent] | None = None) -> Registered:
    """REGISTER and wait until the registrar accepts."""
    driver.ua.register(driver.now())
    await driver.transmit()
    return await wait_for(driver, Registered, seen=seen)


def local_port(driver: UserAgentDriver) -> int:
    """The phone's local port on its current connection (what the server sees)."""
    transport = driver.transport
    assert transport is not None, "not connected"
    return transport.local_address[1]


async def establish(
    caller: UserAgentDriver, callee: UserAgentDriver, target: str, *, ring_first: bool = True
) -> str:
    """INVITE/100/180/200/ACK from ``caller`` to ``callee``; returns the Call-ID.

    The callee rings at once (``auto_ring``); with ``ring_first`` the caller sees the 180
    as ``CallProgressed`` before the callee answers, so Kamailio cannot reorder them.
    """
    call_id = caller.ua.invite(target, caller.now(), body=OFFER)
    await caller.transmit()
    incoming = await wait_for(callee, IncomingCall)
    assert incoming.call_id == call_id
    assert incoming.request.body == OFFER
    if ring_first:
        progressed = await wait_for(caller, CallProgressed)
        assert progressed.response.status_code == 180
    callee.ua.answer(call_id, callee.now(), body=ANSWER)
    await callee.transmit()
    answered = await wait_for(caller, CallAnswered)
    assert answered.response.body == ANSWER
    await wait_for(callee, CallConfirmed)
    return call_id


# ------------------------------------------------------------------ a fake WebSocket server


class FakeConnection:
    """One WebSocket connection accepted by ``FakeWebSocketServer``, driven by the test."""

    def __init__(self, stream: anyio.abc.ByteStream, ws: WSConnection, request: Request) -> None:
        self._stream = stream
        self._ws = ws
        self.request = request
        """The client's upgrade request."""
        self.close_code: int | None = None
        """The code of the Close frame the client sent, once it did."""
        self.pongs: list[bytes] = []
        """The payloads of the Pongs the client answered our Pings with."""
        self._parts: list[bytes] = []

    async def send(self, data: bytes | str) -> None:
        """Send one WebSocket text message."""
        text = data.decode() if isinstance(data, bytes) else data
        await self._stream.send(self._ws.send(TextMessage(text)))

    async def send_sip(self, message: sipwire.SipMessage) -> None:
        await self.send(message.encode())

    async def ping(self, payload: bytes) -> None:
        """Send a WebSocket Ping (its Pong lands in ``pongs`` as ``receive`` reads)."""
        await self._stream.send(self._ws.send(Ping(payload)))

    async def send_pings(self, count: int) -> None:
        """Send ``count`` WebSocket Pings (125-byte payloads, the most a control frame
        holds) in one write, reading nothing back."""
        await self._stream.send(self._ws.send(Ping(b"p" * 125)) * count)

    def shrink_receive_buffer(self) -> None:
        """A small kernel receive buffer, so that not reading soon stalls the client."""
        sock = self._stream.extra(anyio.abc.SocketAttribute.raw_socket)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)

    async def receive(self) -> bytes:
        """The next whole message from the client (Pings are answered on the way).

        Raises:
            anyio.EndOfStream: the client closed (``close_code`` says how) or went away.
        """
        while True:
            for event in self._ws.events():
                if isinstance(event, Ping):
                    await self._stream.send(self._ws.send(event.response()))
                elif isinstance(event, Pong):
                    self.pongs.append(bytes(event.payload))
                elif isinstance(event, CloseConnection):
                    self.close_code = event.code
                    with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
                        await self._stream.send(self._ws.send(event.response()))
                    raise anyio.EndOfStream
                elif isinstance(event, TextMessage | BytesMessage):
                    data = event.data.encode() if isinstance(event.data, str) else event.data
                    self._parts.append(bytes(data))
                    if event.message_finished:
                        message, self._parts = b"".join(self._parts), []
                        return message
            try:
                data = await self._stream.receive()
            except (anyio.BrokenResourceError, anyio.ClosedResourceError) as exc:
                raise anyio.EndOfStream from exc
            self._ws.receive_data(data)

    async def receive_sip(self, method: str | None = None) -> sipwire.SipMessage:
        """The next SIP message (skipping keepalives and, with ``method``, other ones)."""
        while True:
            data = await self.receive()
            if not data.strip(b"\r\n"):
                continue
            message = sipwire.parse(data)
            if method is None or message.method == method:
                return message

    async def aclose(self) -> None:
        with contextlib.suppress(Exception):
            await self._stream.aclose()


class FakeWebSocketServer:
    """A scripted SIP-over-WebSocket server on a free loopback port.

    ``accept()`` hands each upgraded connection to the test. ``subprotocol`` is what the
    server selects (``None``: it selects none, which RFC 7118 clients must refuse).
    ``greeting``, if given, is a first message sent in the same TCP write as the 101.
    """

    def __init__(self, *, subprotocol: str | None = "sip", greeting: bytes | None = None) -> None:
        self.subprotocol = subprotocol
        self.greeting = greeting
        self._listener: anyio.abc.Listener[anyio.abc.SocketStream] | None = None
        self._task_group: anyio.abc.TaskGroup | None = None
        self._send: MemoryObjectSendStream[FakeConnection]
        self._receive: MemoryObjectReceiveStream[FakeConnection]
        self._send, self._receive = anyio.create_memory_object_stream[FakeConnection](math.inf)
        self.connections: list[FakeConnection] = []

    @property
    def port(self) -> int:
        assert self._listener is not None
        return int(self._listener.extra(anyio.abc.SocketAttribute.local_port))

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/sip"

    async def __aenter__(self) -> Self:
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
        self._listener = listener
        self._task_group = anyio.create_task_group()
        await self._task_group.__aenter__()
        self._task_group.start_soon(listener.serve, self._upgrade)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._task_group is not None and self._listener is not None
        for connection in self.connections:
            await connection.aclose()
        self._task_group.cancel_scope.cancel()
        await self._task_group.__aexit__(None, None, None)
        await self._listener.aclose()

    async def accept(self, timeout: float = 5.0) -> FakeConnection:
        """The next connection a client opened (after its upgrade)."""
        with anyio.fail_after(timeout):
            return await self._receive.receive()

    async def _upgrade(self, stream: anyio.abc.SocketStream) -> None:
        ws = WSConnection(ConnectionType.SERVER)
        while True:
            try:
                ws.receive_data(await stream.receive())
            except (anyio.EndOfStream, anyio.BrokenResourceError):
                return
            for event in ws.events():
                if isinstance(event, Request):
                    data = ws.send(AcceptConnection(subprotocol=self.subprotocol))
                    if self.greeting is not None:
                        data += ws.send(TextMessage(self.greeting.decode()))
                    await stream.send(data)
                    connection = FakeConnection(stream, ws, event)
                    self.connections.append(connection)
                    await self._send.send(connection)
                    await anyio.sleep_forever()  # the test owns the connection now


def ok_to_register(request: sipwire.SipMessage, expires: int = 300) -> sipwire.SipMessage:
    """The fake registrar's 200 OK: the binding granted as asked (or ``expires``)."""
    contact = request.header("Contact").split(";expires=")[0]
    return sipwire.response(
        request, 200, "OK", to_tag=sipwire.new_tag(), contact=f"{contact};expires={expires}"
    )


async def serve_registrar(
    connection: FakeConnection, others: list[sipwire.SipMessage] | None = None
) -> None:
    """Be a registrar on ``connection`` until it closes: 200 to every REGISTER.

    Everything else (requests, responses; keepalives are dropped) goes to ``others``.
    """
    with contextlib.suppress(anyio.EndOfStream):
        while True:
            message = await connection.receive_sip()
            if message.method == "REGISTER" and not message.is_response:
                await connection.send_sip(ok_to_register(message))
            elif others is not None:
                others.append(message)
