"""SIP over WebSocket (RFC 7118): wsproto over an anyio byte stream.

One SIP message per WebSocket message (§5); the ``sip`` subprotocol is required (§4.1)
and the connection fails clearly if the server does not select it. ``ws://`` and
``wss://`` URLs keep their path and query (Exotel's endpoints live under a path such as
``/wss``). Pings from the server are answered; our pings keep the flow alive. A message
over the size cap closes the connection with 1009 (RFC 6455 §7.4.1 "Message Too Big"):
there is no way to skip the rest of a WebSocket message and stay in step.
"""

from __future__ import annotations

import contextlib
import logging
from urllib.parse import urlsplit

import anyio
import anyio.abc
from wsproto import ConnectionType, WSConnection
from wsproto.connection import Connection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Event,
    Ping,
    Pong,
    RejectConnection,
    Request,
    TextMessage,
)
from wsproto.frame_protocol import CloseReason

from sipadapters._sendlock import SendLock
from sipadapters.errors import (
    BACKEND_ERRORS,
    ConnectError,
    HandshakeError,
    TransportClosed,
    TransportError,
    mapped_error,
    mapped_errors,
)
from sipadapters.tls import TlsOptions, connect_stream, local_address
from sipadapters.transport import REPLY_TIMEOUT

__all__ = ["WebSocketStream", "SUBPROTOCOL", "DEFAULT_MAX_MESSAGE_SIZE"]

logger = logging.getLogger(__name__)

SUBPROTOCOL = "sip"
"""RFC 7118 §4.1: the WebSocket subprotocol of SIP."""
DEFAULT_MAX_MESSAGE_SIZE = 262144
"""The largest WebSocket message accepted from the server by default (bytes).

A hard memory bound, deliberately above sipcore's SIP size cap (65535): a SIP message a
little too large still reaches the UA, which answers it 513 (RFC 3261 §21.5.14) and
keeps the connection, where only one beyond this bound costs the connection."""
_READ_SIZE = 65536


class WebSocketStream:
    """A connected SIP WebSocket. Make one with ``await WebSocketStream.connect(url)``.

    One task may ``receive`` while others ``send``/``ping``: writes are serialised.
    Cancelling ``receive`` loses nothing (the driver cancels it when a timer is due).
    """

    __slots__ = (
        "_closed",
        "_max_message_size",
        "_parts",
        "_pending",
        "_secure",
        "_send_lock",
        "_size",
        "_stream",
        "_url",
        "_ws",
        "last_activity",
    )

    def __init__(
        self,
        stream: anyio.abc.ByteStream,
        ws: WSConnection | Connection,
        url: str,
        secure: bool,
        max_message_size: int,
    ) -> None:
        self._stream = stream
        # Once open, only the frame protocol (``Connection``) is needed: the handshake's
        # HTTP/1.1 machinery (h11) is let go, which is a good part of an idle phone.
        self._ws = ws
        self._url = url
        self._secure = secure
        self._max_message_size = max_message_size
        self._send_lock = SendLock()  # taken without a checkpoint; nothing kept while free
        self._pending: list[Event] = []
        self._parts: list[bytes] = []
        self._size = 0
        self._closed = False
        self.last_activity = anyio.current_time()
        """When bytes last arrived (Pongs and the server's Pings included)."""

    # ------------------------------------------------------------------ connecting

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        tls: TlsOptions | None = None,
        timeout: float = 10.0,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
    ) -> WebSocketStream:
        """Open a WebSocket to ``url`` (``ws://`` or ``wss://``) with subprotocol ``sip``.

        Args:
            url: the server URL; its path and query are sent as the request target.
            tls: certificate checks for ``wss://`` (default: verified against system CAs).
            timeout: seconds for TCP connect + TLS + WebSocket handshake together.
            max_message_size: the largest WebSocket message accepted from the server.

        Raises:
            ConnectError: unreachable, refused, timed out, or TLS verification failed.
            HandshakeError: the server refused the upgrade, closed the connection during
                it, or did not select ``sip``.
        """
        parts = urlsplit(url)
        if parts.scheme not in ("ws", "wss") or not parts.hostname:
            raise ConnectError(f"not a ws:// or wss:// URL: {url!r}")
        secure = parts.scheme == "wss"
        host = parts.hostname
        port = parts.port or (443 if secure else 80)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host_header = parts.netloc.rsplit("@", 1)[-1]
        try:
            with anyio.fail_after(timeout):
                with mapped_errors(f"connecting to {url}", ConnectError):
                    stream = await connect_stream(host, port, secure=secure, tls=tls)
                self = cls(
                    stream, WSConnection(ConnectionType.CLIENT), url, secure, max_message_size
                )
                try:
                    await self._handshake(host_header, target)
                except BaseException:
                    await self._abort()
                    raise
        except TimeoutError:
            raise ConnectError(f"connecting to {url}: timed out after {timeout} s") from None
        return self

    async def _handshake(self, host: str, target: str) -> None:
        what = f"WebSocket handshake with {self._url}"
        request = Request(host=host, target=target, subprotocols=[SUBPROTOCOL])
        try:
            with mapped_errors(what, HandshakeError):
                await self._stream.send(self._ws.send(request))
                while True:
                    events = await self._read_events()
                    for index, event in enumerate(events):
                        if isinstance(event, RejectConnection):
                            raise HandshakeError(
                                f"{self._url} refused the WebSocket upgrade "
                                f"(HTTP {event.status_code})"
                            )
                        if isinstance(event, AcceptConnection):
                            if event.subprotocol != SUBPROTOCOL:
                                raise HandshakeError(
                                    f"{self._url} did not select the 'sip' WebSocket "
                                    f"subprotocol (got {event.subprotocol!r}); "
                                    "is this a SIP server?"
                                )
                            # Frames read together with the 101 belong to receive().
                            self._pending = events[index + 1 :]
                            if isinstance(self._ws, WSConnection) and self._ws.connection:
                                self._ws = self._ws.connection  # every event was read
                            return
        except HandshakeError:
            raise
        except TransportError as exc:
            raise HandshakeError(f"{what}: {exc}") from exc

    # ------------------------------------------------------------------ MessageTransport

    @property
    def name(self) -> str:
        """``wss`` or ``ws``."""
        return "wss" if self._secure else "ws"

    @property
    def reliable(self) -> bool:
        """WebSocket runs over TCP: always reliable."""
        return True

    @property
    def url(self) -> str:
        """The URL connected to."""
        return self._url

    @property
    def local_address(self) -> tuple[str, int]:
        """Our end of the TCP connection (IP address, port)."""
        return local_address(self._stream)

    @property
    def max_message_size(self) -> int:
        """The largest WebSocket message accepted from the server."""
        return self._max_message_size

    async def send(self, data: bytes) -> None:
        """Send one SIP message as one WebSocket message (text if UTF-8, else binary).

        Raises:
            TransportError: the connection is closed or broke.
        """
        try:
            message: TextMessage | BytesMessage = TextMessage(data.decode("utf-8"))
        except UnicodeDecodeError:
            message = BytesMessage(data)
        await self._send(message)

    async def ping(self) -> None:
        """Send a WebSocket Ping; the Pong updates ``last_activity``.

        Raises:
            TransportError: the connection is closed or broke.
        """
        await self._send(Ping(b"sip-keepalive"))

    async def receive(self) -> bytes:
        """The next SIP message (a whole WebSocket message, as bytes).

        Raises:
            TransportClosed: the server closed the WebSocket, or sent a message over the
                size cap (the connection is then closed with 1009).
            TransportError: it broke.
        """
        while True:
            while self._pending:
                event = self._pending.pop(0)
                if isinstance(event, TextMessage | BytesMessage):
                    message = await self._message(event)
                    if message is not None:
                        return message
                else:
                    # Answering a control frame must not be cut short by a cancelled
                    # receive: the frame is already taken off the queue.
                    with anyio.move_on_after(REPLY_TIMEOUT, shield=True) as replying:
                        await self._control(event)
                    if replying.cancelled_caught:
                        await self._abort()  # a Close frame would not be taken either
                        raise TransportClosed(f"{self._url}: stopped reading (Pong not taken)")
            if self._closed:
                raise TransportClosed(f"{self._url}: the WebSocket is closed")
            # Read here, not through _read_events(): an idle phone waits in this frame,
            # and one coroutine fewer is one object fewer re-made per message (and
            # promoted by the garbage collector when it finds the phone waiting).
            try:
                data = await self._stream.receive(_READ_SIZE)
                self._pending = self._events_in(data)
            except BACKEND_ERRORS as exc:
                raise mapped_error(exc, f"receiving from {self._url}") from exc

    async def aclose(self) -> None:
        """Send a Close frame (1000) and close the socket; never raises."""
        await self._close(CloseReason.NORMAL_CLOSURE, None)

    # ------------------------------------------------------------------ internals

    async def _close(self, code: int, reason: str | None) -> None:
        if self._closed:
            return
        self._closed = True
        with anyio.move_on_after(1.0, shield=True):
            try:
                async with self._send_lock:
                    await self._stream.send(self._ws.send(CloseConnection(code, reason)))
            except Exception:
                logger.debug("WebSocket close frame not sent", exc_info=True)
        await self._abort()

    async def _abort(self) -> None:
        self._closed = True
        with anyio.CancelScope(shield=True):
            try:
                await self._stream.aclose()
            except Exception:
                logger.debug("socket close failed", exc_info=True)

    async def _send(self, event: Event) -> None:
        if self._closed:
            raise TransportClosed(f"{self._url}: the WebSocket is closed")
        try:
            async with self._send_lock:
                await self._stream.send(self._ws.send(event))
        except BACKEND_ERRORS as exc:
            raise mapped_error(exc, f"sending to {self._url}") from exc

    async def _read_events(self) -> list[Event]:
        try:
            return self._events_in(await self._stream.receive(_READ_SIZE))
        except BACKEND_ERRORS as exc:
            raise mapped_error(exc, f"receiving from {self._url}") from exc

    def _events_in(self, data: bytes) -> list[Event]:
        """Feed bytes read to wsproto; the events they complete."""
        self.last_activity = anyio.current_time()
        self._ws.receive_data(data)
        return list(self._ws.events())

    async def _message(self, event: TextMessage | BytesMessage) -> bytes | None:
        # wsproto hands out a long message in pieces as they arrive, so the cap holds
        # however the peer frames it.
        part = event.data.encode("utf-8") if isinstance(event.data, str) else event.data
        self._size += len(part)
        if self._size > self._max_message_size:
            limit = self._max_message_size
            await self._close(CloseReason.MESSAGE_TOO_BIG, f"over {limit} bytes")  # shielded
            raise TransportClosed(
                f"{self._url} sent a WebSocket message over {limit} bytes; "
                "closed the connection (1009)"
            )
        if event.message_finished and not self._parts:
            self._size = 0
            return bytes(part)  # the usual case: the whole message in one piece
        self._parts.append(bytes(part))
        if not event.message_finished:
            return None
        parts, self._parts, self._size = self._parts, [], 0
        return b"".join(parts)

    async def _control(self, event: Event) -> None:
        if isinstance(event, Ping):
            await self._send(event.response())
        elif isinstance(event, Pong):
            pass  # last_activity was updated when its bytes arrived
        elif isinstance(event, CloseConnection):
            if not self._closed:
                with contextlib.suppress(TransportError):
                    await self._send(event.response())
            await self._abort()
            reason = event.reason or "no reason"
            raise TransportClosed(f"{self._url} closed the WebSocket (code {event.code}, {reason})")
