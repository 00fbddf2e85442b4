"""SIP over WebSocket (RFC 7118): wsproto over an anyio byte stream.

One SIP message per WebSocket message (§5); the ``sip`` subprotocol is required (§4.1)
and the connection fails clearly if the server does not select it. ``ws://`` and
``wss://`` URLs keep their path and query (Exotel's endpoints live under a path such as
``/wss``). Pings from the server are answered; our pings keep the flow alive.
"""

from __future__ import annotations

import contextlib
import logging
from urllib.parse import urlsplit

import anyio
import anyio.abc
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Event,
    Ping,
    Pong,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)

from sipadapters.errors import (
    ConnectError,
    HandshakeError,
    TransportClosed,
    TransportError,
    mapped_errors,
)
from sipadapters.tls import TlsOptions, connect_stream

__all__ = ["WebSocketStream", "SUBPROTOCOL"]

logger = logging.getLogger(__name__)

SUBPROTOCOL = "sip"
"""RFC 7118 §4.1: the WebSocket subprotocol of SIP."""
_READ_SIZE = 65536


class WebSocketStream:
    """A connected SIP WebSocket. Make one with ``await WebSocketStream.connect(url)``."""

    def __init__(
        self,
        stream: anyio.abc.ByteStream,
        ws: WSConnection,
        url: str,
        secure: bool,
        max_message_size: int,
    ) -> None:
        self._stream = stream
        self._ws = ws
        self._url = url
        self._secure = secure
        self._max_message_size = max_message_size
        self._send_lock = anyio.Lock()
        self._pending: list[Event] = []
        self._parts: list[bytes | str] = []
        self._size = 0
        self._closed = False
        self.last_activity = anyio.current_time()

    # ------------------------------------------------------------------ connecting

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        tls: TlsOptions | None = None,
        timeout: float = 10.0,
        max_message_size: int = 65535,
    ) -> WebSocketStream:
        """Open a WebSocket to ``url`` (``ws://`` or ``wss://``) with subprotocol ``sip``.

        Args:
            url: the server URL; its path and query are sent as the request target.
            tls: certificate checks for ``wss://`` (default: verified against system CAs).
            timeout: seconds for TCP connect + TLS + WebSocket handshake together.
            max_message_size: the largest SIP message accepted from the server.

        Raises:
            ConnectError: unreachable, refused, timed out, or TLS verification failed.
            HandshakeError: the server refused the upgrade or did not select ``sip``.
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
                ws = WSConnection(ConnectionType.CLIENT)
                self = cls(stream, ws, url, secure, max_message_size)
                try:
                    await self._handshake(host_header, target)
                except BaseException:
                    await self._abort()
                    raise
        except TimeoutError:
            raise ConnectError(f"connecting to {url}: timed out after {timeout} s") from None
        return self

    async def _handshake(self, host: str, target: str) -> None:
        with mapped_errors(f"WebSocket handshake with {self._url}", HandshakeError):
            await self._stream.send(
                self._ws.send(Request(host=host, target=target, subprotocols=[SUBPROTOCOL]))
            )
            while True:
                for event in await self._read_events():
                    if isinstance(event, AcceptConnection):
                        if event.subprotocol != SUBPROTOCOL:
                            raise HandshakeError(
                                f"{self._url} did not select the 'sip' WebSocket subprotocol "
                                f"(got {event.subprotocol!r}); is this a SIP server?"
                            )
                        return
                    if isinstance(event, RejectConnection):
                        raise HandshakeError(
                            f"{self._url} refused the WebSocket upgrade (HTTP {event.status_code})"
                        )
                    if isinstance(event, RejectData):
                        continue
                    self._pending.append(event)

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
        """Send a WebSocket Ping; the Pong updates ``last_activity``."""
        await self._send(Ping(b"sip-keepalive"))

    async def receive(self) -> bytes:
        """The next SIP message.

        Raises:
            TransportClosed: the server closed the WebSocket.
            TransportError: it broke, or sent a message over the size cap.
        """
        while True:
            while self._pending:
                event = self._pending.pop(0)
                message = await self._handle(event)
                if message is not None:
                    return message
            self._pending = await self._read_events()

    async def aclose(self) -> None:
        """Send a Close frame (1000) and close the socket; never raises."""
        if self._closed:
            return
        self._closed = True
        with anyio.move_on_after(1.0, shield=True):
            try:
                async with self._send_lock:
                    await self._stream.send(self._ws.send(CloseConnection(code=1000)))
            except Exception:
                logger.debug("WebSocket close frame not sent", exc_info=True)
        await self._abort()

    # ------------------------------------------------------------------ internals

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
        with mapped_errors(f"sending to {self._url}"):
            async with self._send_lock:
                await self._stream.send(self._ws.send(event))

    async def _read_events(self) -> list[Event]:
        with mapped_errors(f"receiving from {self._url}"):
            data = await self._stream.receive(_READ_SIZE)
        self.last_activity = anyio.current_time()
        with mapped_errors(f"receiving from {self._url}"):
            self._ws.receive_data(data)
            return list(self._ws.events())

    async def _handle(self, event: Event) -> bytes | None:
        if isinstance(event, TextMessage | BytesMessage):
            part = event.data if isinstance(event.data, str) else bytes(event.data)
            self._size += len(part)
            if self._size > self._max_message_size:
                limit = self._max_message_size
                raise TransportClosed(f"{self._url} sent a message over {limit} bytes")
            self._parts.append(part)
            if not event.message_finished:
                return None
            parts, self._parts, self._size = self._parts, [], 0
            return b"".join(p.encode("utf-8") if isinstance(p, str) else p for p in parts)
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
        return None
