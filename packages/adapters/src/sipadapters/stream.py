"""SIP over TCP and TLS (RFC 3261 §18): messages framed by Content-Length.

sipcore's ``StreamFramer`` cuts the byte stream into messages and CRLF keepalives
(RFC 5626 §3.5.1); a framing error is unrecoverable on a stream, so it closes the
connection (RFC 4475 §3.1.2.3).
"""

from __future__ import annotations

import logging

import anyio
import anyio.abc

from sipadapters._sendlock import SendLock
from sipadapters.errors import (
    BACKEND_ERRORS,
    ConnectError,
    TransportClosed,
    mapped_error,
    mapped_errors,
)
from sipadapters.tls import TlsOptions, connect_stream, local_address
from sipadapters.transport import REPLY_TIMEOUT
from sipcore.errors import RemoteProtocolError
from sipcore.framing import PING, PONG, KeepAlive, StreamFramer
from sipcore.message import ParseLimits

__all__ = ["StreamTransport"]

logger = logging.getLogger(__name__)

_READ_SIZE = 65536


class StreamTransport:
    """A connected TCP or TLS SIP transport. Make one with ``await StreamTransport.connect``.

    Cancelling ``receive`` loses nothing (the driver cancels it when a timer is due).
    """

    __slots__ = ("_closed", "_framer", "_name", "_peer", "_send_lock", "_stream", "last_activity")

    def __init__(
        self,
        stream: anyio.abc.ByteStream,
        name: str,
        peer: str,
        limits: ParseLimits,
        *,
        server: bool = False,
    ) -> None:
        """Wrap a connected byte stream; ``server=True`` on the accepting side (it reads
        CRLF CRLF pings rather than CRLF pongs, see ``StreamFramer``)."""
        self._stream = stream
        self._name = name
        self._peer = peer
        self._framer = StreamFramer(limits, server=server)
        self._send_lock = SendLock()  # taken without a checkpoint; nothing kept while free
        self._closed = False
        self.last_activity = anyio.current_time()

    @classmethod
    async def connect(
        cls,
        host: str,
        port: int,
        *,
        tls: TlsOptions | None = None,
        secure: bool = False,
        timeout: float = 10.0,
        limits: ParseLimits | None = None,
    ) -> StreamTransport:
        """Connect over TCP (or TLS with ``secure=True``).

        Raises:
            ConnectError: unreachable, refused, timed out, or TLS verification failed.
        """
        peer = f"{'tls' if secure else 'tcp'}://{host}:{port}"
        try:
            with anyio.fail_after(timeout), mapped_errors(f"connecting to {peer}", ConnectError):
                stream = await connect_stream(host, port, secure=secure, tls=tls)
        except TimeoutError:
            raise ConnectError(f"connecting to {peer}: timed out after {timeout} s") from None
        return cls(stream, "tls" if secure else "tcp", peer, limits or ParseLimits())

    @property
    def name(self) -> str:
        """``tcp`` or ``tls``."""
        return self._name

    @property
    def reliable(self) -> bool:
        """Always reliable."""
        return True

    @property
    def local_address(self) -> tuple[str, int]:
        """Our end of the connection (IP address, port)."""
        return local_address(self._stream)

    async def send(self, data: bytes) -> None:
        """Send bytes as they are (a whole message or a keepalive).

        Raises:
            TransportError: closed or broken.
        """
        if self._closed:
            raise TransportClosed(f"{self._peer}: closed")
        try:
            async with self._send_lock:
                await self._stream.send(data)
        except BACKEND_ERRORS as exc:
            raise mapped_error(exc, f"sending to {self._peer}") from exc

    async def ping(self) -> None:
        """RFC 5626 §3.5.1 CRLF CRLF ping; the server answers CRLF."""
        await self.send(PING)

    async def receive(self) -> bytes:
        """The next whole message, or ``PONG`` for a keepalive answer.

        Pings from the server are answered here.

        Raises:
            TransportClosed: the peer closed the connection, or framing failed.
            TransportError: it broke.
        """
        while True:
            try:
                frame = self._framer.next_frame()
            except RemoteProtocolError as exc:
                await self.aclose()
                raise TransportClosed(f"{self._peer}: unframeable stream ({exc})") from exc
            if frame is not None:
                if frame.message is not None:
                    return frame.message
                if frame.keepalive is KeepAlive.PING:
                    # RFC 5626 §3.5.1: on receiving a double CRLF "it MUST immediately
                    # respond with a single CRLF over the same connection". Shielded: the
                    # ping is already taken from the framer if this receive is cancelled.
                    with anyio.move_on_after(REPLY_TIMEOUT, shield=True) as replying:
                        await self.send(PONG)
                    if replying.cancelled_caught:
                        await self.aclose()
                        raise TransportClosed(f"{self._peer}: stopped reading (pong not taken)")
                    continue
                return PONG
            if self._closed:
                raise TransportClosed(f"{self._peer}: closed")
            try:
                data = await self._stream.receive(_READ_SIZE)
            except BACKEND_ERRORS as exc:
                raise mapped_error(exc, f"receiving from {self._peer}") from exc
            self.last_activity = anyio.current_time()
            self._framer.feed(data)

    async def aclose(self) -> None:
        """Close the socket; never raises."""
        if self._closed:
            return
        self._closed = True
        with anyio.CancelScope(shield=True):
            try:
                await self._stream.aclose()
            except Exception:
                logger.debug("socket close failed", exc_info=True)
