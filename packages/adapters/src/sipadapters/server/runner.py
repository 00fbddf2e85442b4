"""The embedded development server: sipcore's ``LocalServer`` served over real sockets.

One loop, as the style asks of every adapter: feed what arrives, drain what the server
queued to the right flow, re-arm the one timer. Listeners on loopback (free ports by
default) for SIP over WebSocket (``ws``, and ``wss`` with a development certificate made
at startup), TCP (framed by sipcore's ``StreamFramer``), UDP, and optionally TLS; one
task per connection, one writer task per connection so a slow peer never holds up the
others, and one UDP socket shared by every UDP peer. A connection that closes is a
``flow_closed`` for the server, which drops its registrations (RFC 5626 §5.3).

    async with serve({"alice": "pw", "bob": "pw"}, domain="local.test") as server:
        server.ws_url, server.wss_url, server.tcp_port, server.udp_port, server.ca_file

It is a development server (``exotel-voice demo``, a developer's first hour, offline
work); deployments and the test suite use a real one (Kamailio). See
``sipcore.server.server`` for what it does and does not do.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import shutil
import ssl
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Self

import anyio
import anyio.abc
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from anyio.streams.tls import TLSListener
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, RejectConnection, Request

from sipadapters.errors import TransportError, mapped_errors
from sipadapters.server.certs import TlsFiles, make_development_certificates
from sipadapters.stream import StreamTransport
from sipadapters.transport import MessageTransport
from sipadapters.websocket import DEFAULT_MAX_MESSAGE_SIZE, SUBPROTOCOL, WebSocketStream
from sipcore.ids import IdFactory
from sipcore.server import Flow, LocalServer, ServerConfig, ServerEvent

__all__ = ["LocalServerRunner", "serve", "DEFAULT_TRANSPORTS"]

logger = logging.getLogger(__name__)

DEFAULT_TRANSPORTS = ("ws", "wss", "tcp", "udp")
"""What ``serve`` listens on unless told otherwise (``tls`` may be added)."""
_HANDSHAKE_TIMEOUT = 10.0
_READ_SIZE = 65536


class LocalServerRunner:
    """A ``LocalServer`` listening on loopback. Use it with ``async with`` (or ``serve``).

    Args:
        users: clear username -> password, the only accounts that may register.
        domain: the SIP domain (``sip:alice@<domain>``); overrides ``config.domain``.
        config: registrar/proxy settings; its ``host`` and ``ports`` are replaced by
            where the runner actually listens.
        host: the address to listen on (loopback by default: it is a development server).
        transports: any of ``ws``, ``wss``, ``tcp``, ``udp``, ``tls``.
        ports: a port per transport (missing or 0: a free one).
        certfile: the server certificate chain for ``wss``/``tls`` (PEM); ``None`` makes
            a development CA and certificate at startup (needs ``cryptography``).
        keyfile: its private key (with ``certfile``).
        ca_file: with ``certfile``, the CA clients should trust (reported as ``ca_file``).
        ids: the server's id factory (tests pass ``SequentialIds``).
        on_event: called with every ``ServerEvent`` (they are logged at DEBUG anyway).
        max_websocket_message: the largest WebSocket message accepted from a client.
    """

    def __init__(
        self,
        users: Mapping[str, str],
        *,
        domain: str | None = None,
        config: ServerConfig | None = None,
        host: str = "127.0.0.1",
        transports: Iterable[str] = DEFAULT_TRANSPORTS,
        ports: Mapping[str, int] | None = None,
        certfile: str | Path | None = None,
        keyfile: str | Path | None = None,
        ca_file: str | Path | None = None,
        ids: IdFactory | None = None,
        on_event: Callable[[ServerEvent], None] | None = None,
        max_websocket_message: int = DEFAULT_MAX_MESSAGE_SIZE,
    ) -> None:
        self._transports = tuple(dict.fromkeys(t.lower() for t in transports))
        unknown = set(self._transports) - {"ws", "wss", "tcp", "udp", "tls"}
        if unknown or not self._transports:
            raise ValueError(f"unknown or no transports: {sorted(unknown)}")
        if (certfile is None) != (keyfile is None):
            raise ValueError("give certfile and keyfile together")
        base = config or ServerConfig()
        self._config = dataclasses.replace(base, domain=domain) if domain else base
        self._users = dict(users)
        self._host = host
        self._wanted_ports = dict(ports or {})
        self._certfile = Path(certfile) if certfile is not None else None
        self._keyfile = Path(keyfile) if keyfile is not None else None
        self._ca_file = Path(ca_file) if ca_file is not None else None
        self._ids = ids
        self._on_event = on_event
        self._max_message = max_websocket_message
        self._ports: dict[str, int] = {}
        self._server: LocalServer | None = None
        self._stack: contextlib.AsyncExitStack | None = None
        self._writers: dict[Flow, MemoryObjectSendStream[bytes]] = {}
        self._udp_out: MemoryObjectSendStream[tuple[Flow, bytes]] | None = None
        self._wake: anyio.Event | None = None  # made in the event loop, by the timer task
        self._tempdir: Path | None = None

    # ================================================================ addresses

    @property
    def server(self) -> LocalServer:
        """The sans-IO server (bindings, configuration).

        Raises:
            RuntimeError: not started.
        """
        if self._server is None:
            raise RuntimeError("the server is not running")
        return self._server

    @property
    def domain(self) -> str:
        """The SIP domain."""
        return self._config.domain

    @property
    def host(self) -> str:
        """The listening address."""
        return self._host

    @property
    def ports(self) -> dict[str, int]:
        """The listening port of each transport (once started)."""
        return dict(self._ports)

    def _port(self, transport: str) -> int:
        try:
            return self._ports[transport]
        except KeyError:
            raise RuntimeError(f"not listening on {transport}") from None

    @property
    def ws_port(self) -> int:
        return self._port("ws")

    @property
    def wss_port(self) -> int:
        return self._port("wss")

    @property
    def tcp_port(self) -> int:
        return self._port("tcp")

    @property
    def udp_port(self) -> int:
        return self._port("udp")

    @property
    def tls_port(self) -> int:
        return self._port("tls")

    @property
    def ws_url(self) -> str:
        """``ws://host:port/``"""
        return f"ws://{self._url_host}:{self.ws_port}/"

    @property
    def wss_url(self) -> str:
        """``wss://host:port/`` (trust ``ca_file``)."""
        return f"wss://{self._url_host}:{self.wss_port}/"

    def url(self, transport: str) -> str:
        """The server as a URL for ``open_transport``/``open_user_agent``."""
        if transport in ("ws", "wss"):
            return self.ws_url if transport == "ws" else self.wss_url
        return f"{transport}://{self._url_host}:{self._port(transport)}"

    @property
    def ca_file(self) -> str | None:
        """The CA certificate clients should trust for wss/tls (``TlsOptions(ca_file=...)``)."""
        return None if self._ca_file is None else str(self._ca_file)

    def aor(self, user: str) -> str:
        """``sip:user@domain``."""
        return f"sip:{user}@{self.domain}"

    @property
    def _url_host(self) -> str:
        return f"[{self._host}]" if ":" in self._host else self._host

    # ================================================================ lifecycle

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def start(self) -> None:
        """Bind every listener, then serve in background tasks.

        Raises:
            OSError: a port could not be bound.
            RuntimeError: already started, or TLS wanted without ``cryptography``.
        """
        if self._stack is not None:
            raise RuntimeError("the server was started already")
        stack = contextlib.AsyncExitStack()
        await stack.__aenter__()
        self._stack = stack
        try:
            await self._start(stack)
        except BaseException:
            await self.aclose()
            raise

    async def _start(self, stack: contextlib.AsyncExitStack) -> None:
        stack.callback(self._remove_tempdir)
        listeners: list[tuple[str, anyio.abc.Listener[anyio.abc.ByteStream]]] = []
        context = self._tls_context() if {"wss", "tls"} & set(self._transports) else None
        udp: anyio.abc.UDPSocket | None = None
        for transport in self._transports:
            port = self._wanted_ports.get(transport, 0)
            if transport == "udp":
                udp = await anyio.create_udp_socket(local_host=self._host, local_port=port)
                stack.push_async_callback(udp.aclose)
                self._ports["udp"] = int(udp.extra(anyio.abc.SocketAttribute.local_port))  # noqa: S610
                continue
            tcp = await anyio.create_tcp_listener(local_host=self._host, local_port=port)
            stack.push_async_callback(tcp.aclose)
            self._ports[transport] = int(tcp.extra(anyio.abc.SocketAttribute.local_port))  # noqa: S610
            listener: anyio.abc.Listener[anyio.abc.ByteStream] = tcp
            if transport in ("wss", "tls"):
                assert context is not None
                listener = TLSListener(
                    tcp, context, standard_compatible=False, handshake_timeout=_HANDSHAKE_TIMEOUT
                )
            listeners.append((transport, listener))
        config = dataclasses.replace(self._config, host=self._host, ports=dict(self._ports))
        self._server = LocalServer(config, self._users, ids=self._ids)
        task_group = anyio.create_task_group()
        await stack.enter_async_context(task_group)
        stack.callback(task_group.cancel_scope.cancel)  # runs first on exit
        task_group.start_soon(self._timer_loop)
        for transport, listener in listeners:
            task_group.start_soon(listener.serve, self._handler(transport))
        if udp is not None:
            send, receive = anyio.create_memory_object_stream[tuple[Flow, bytes]](math.inf)
            self._udp_out = send
            task_group.start_soon(self._udp_reader, udp)
            task_group.start_soon(self._udp_writer, udp, receive)
        logger.info(
            "development SIP server for %s on %s",
            config.domain,
            ", ".join(f"{t}:{self._host}:{p}" for t, p in self._ports.items()),
        )

    async def aclose(self) -> None:
        """Close every connection (WebSocket close handshake where possible) and listener."""
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.__aexit__(None, None, None)

    def _tls_context(self) -> ssl.SSLContext:
        if self._certfile is None or self._keyfile is None:
            self._tempdir = Path(tempfile.mkdtemp(prefix="exotel-voice-devserver-"))
            hosts = [self._host, "localhost", self._config.domain]
            files: TlsFiles = make_development_certificates(self._tempdir, hosts)
            certfile, keyfile, self._ca_file = files.cert_file, files.key_file, files.ca_file
        else:
            certfile, keyfile = self._certfile, self._keyfile
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(str(certfile), str(keyfile))
        return context

    def _remove_tempdir(self) -> None:
        if self._tempdir is not None:
            shutil.rmtree(self._tempdir, ignore_errors=True)
            self._tempdir = None
            self._ca_file = None

    # ================================================================ the loop

    def _feed(self, flow: Flow, data: bytes) -> None:
        server = self.server
        try:
            server.receive_message(flow, data, anyio.current_time())
        except Exception:  # one message must never take the server down
            logger.exception("the server failed on a message from %s", flow)
        self._flush()

    def _closed(self, flow: Flow) -> None:
        self._writers.pop(flow, None)
        if self._server is None:
            return
        try:
            self._server.flow_closed(flow, anyio.current_time())
        except Exception:
            logger.exception("the server failed closing %s", flow)
        self._flush()

    def _flush(self) -> None:
        """Hand what the server queued to each flow's writer; deliver events; re-arm."""
        server = self.server
        for flow, data in server.messages_to_send():
            if flow.transport == "udp":
                if self._udp_out is not None:
                    self._udp_out.send_nowait((flow, data))
                continue
            writer = self._writers.get(flow)
            if writer is None:
                logger.debug("%s is gone: %d bytes dropped", flow, len(data))
                continue
            with contextlib.suppress(anyio.ClosedResourceError, anyio.BrokenResourceError):
                writer.send_nowait(data)
        while (event := server.next_event()) is not None:
            logger.debug("%r", event)
            if self._on_event is not None:
                try:
                    self._on_event(event)
                except Exception:  # the caller's bug must not take the server down
                    logger.exception("on_event failed on %r", event)
        if self._wake is not None:
            self._wake.set()

    async def _timer_loop(self) -> None:
        server = self.server
        while True:
            wake = self._wake = anyio.Event()
            deadline = server.get_timer()
            with anyio.CancelScope(deadline=math.inf if deadline is None else deadline):
                await wake.wait()
            if deadline is None or wake.is_set():
                continue
            # Never early: the clock may lag the deadline by a hair when the scope ends.
            try:
                server.handle_timer(max(deadline, anyio.current_time()))
            except Exception:
                logger.exception("the server failed handling its timers")
            self._flush()

    # ================================================================ connections

    def _handler(self, transport: str) -> Callable[[anyio.abc.ByteStream], Awaitable[None]]:
        async def handle(stream: anyio.abc.ByteStream) -> None:
            try:
                address = stream.extra(anyio.abc.SocketAttribute.remote_address)  # noqa: S610
            except (anyio.TypedAttributeLookupError, OSError):
                address = None
            if not isinstance(address, tuple):
                await stream.aclose()
                return
            host, port = str(address[0]), int(address[1])
            peer = f"{transport}://{host}:{port}"
            connection: MessageTransport | None
            if transport in ("ws", "wss"):
                connection = await self._upgrade(stream, transport, peer)
            else:
                connection = StreamTransport(
                    stream, transport, peer, self._config.limits, server=True
                )
            if connection is not None:
                await self._serve_connection(connection, Flow(transport, host, port))

        return handle

    async def _upgrade(
        self, stream: anyio.abc.ByteStream, transport: str, peer: str
    ) -> WebSocketStream | None:
        """The server side of the WebSocket handshake; RFC 7118 §4.1 subprotocol ``sip``."""
        ws = WSConnection(ConnectionType.SERVER)
        try:
            with anyio.fail_after(_HANDSHAKE_TIMEOUT), mapped_errors(f"handshake with {peer}"):
                while True:
                    data = await stream.receive(_READ_SIZE)
                    ws.receive_data(data)
                    for event in ws.events():
                        if not isinstance(event, Request):
                            continue
                        if SUBPROTOCOL not in event.subprotocols:
                            # RFC 7118 §4.1: SIP needs the "sip" subprotocol; refuse clearly.
                            logger.info("%s asked for no 'sip' subprotocol: refused", peer)
                            await stream.send(ws.send(RejectConnection(status_code=400)))
                            await stream.aclose()
                            return None
                        await stream.send(ws.send(AcceptConnection(subprotocol=SUBPROTOCOL)))
                        return WebSocketStream(
                            stream, ws, peer, transport == "wss", self._max_message
                        )
        except (TimeoutError, TransportError) as exc:
            logger.info("WebSocket handshake with %s failed: %s", peer, exc)
            with anyio.CancelScope(shield=True):
                await stream.aclose()
            return None

    async def _serve_connection(self, connection: MessageTransport, flow: Flow) -> None:
        send, receive = anyio.create_memory_object_stream[bytes](math.inf)
        self._writers[flow] = send
        logger.debug("%s connected", flow)
        try:
            async with anyio.create_task_group() as task_group:
                task_group.start_soon(self._writer, connection, receive, flow)
                try:
                    while True:
                        self._feed(flow, await connection.receive())
                except TransportError as exc:
                    logger.debug("%s closed: %s", flow, exc)
                task_group.cancel_scope.cancel()
        finally:
            send.close()
            self._closed(flow)
            await connection.aclose()  # shields itself

    async def _writer(
        self,
        connection: MessageTransport,
        queue: MemoryObjectReceiveStream[bytes],
        flow: Flow,
    ) -> None:
        try:
            async with queue:
                async for data in queue:
                    await connection.send(data)
        except TransportError as exc:
            logger.debug("sending to %s failed: %s", flow, exc)
            await connection.aclose()  # the reader sees it and cleans up

    async def _udp_reader(self, sock: anyio.abc.UDPSocket) -> None:
        while True:
            try:
                data, (host, port) = await sock.receive()
            except (anyio.ClosedResourceError, anyio.EndOfStream):
                return
            except (OSError, anyio.BrokenResourceError) as exc:
                # ICMP errors surface here on some systems; the socket still works.
                logger.debug("UDP receive error: %s", exc)
                continue
            self._feed(Flow("udp", str(host), int(port)), data)

    async def _udp_writer(
        self, sock: anyio.abc.UDPSocket, queue: MemoryObjectReceiveStream[tuple[Flow, bytes]]
    ) -> None:
        async with queue:
            async for flow, data in queue:
                try:
                    await sock.sendto(data, flow.host, flow.port)
                except (OSError, anyio.BrokenResourceError) as exc:
                    logger.debug("UDP send to %s failed: %s", flow, exc)


@contextlib.asynccontextmanager
async def serve(
    users: Mapping[str, str],
    *,
    domain: str = "local.test",
    config: ServerConfig | None = None,
    host: str = "127.0.0.1",
    transports: Iterable[str] = DEFAULT_TRANSPORTS,
    ports: Mapping[str, int] | None = None,
    certfile: str | Path | None = None,
    keyfile: str | Path | None = None,
    ca_file: str | Path | None = None,
    ids: IdFactory | None = None,
    on_event: Callable[[ServerEvent], None] | None = None,
) -> AsyncIterator[LocalServerRunner]:
    """Run the development server for the duration of the block.

    The arguments are ``LocalServerRunner``'s. Leaving the block closes every connection
    (a WebSocket Close where possible) and listener, and removes the development
    certificates.

    Yields:
        The started runner: ``ws_url``, ``wss_url``, ``tcp_port``, ``udp_port``,
        ``ca_file``, ``server`` (the sans-IO ``LocalServer``)...

    Raises:
        OSError: a port could not be bound.
    """
    runner = LocalServerRunner(
        users,
        domain=domain,
        config=config,
        host=host,
        transports=transports,
        ports=ports,
        certfile=certfile,
        keyfile=keyfile,
        ca_file=ca_file,
        ids=ids,
        on_event=on_event,
    )
    async with runner:
        yield runner
