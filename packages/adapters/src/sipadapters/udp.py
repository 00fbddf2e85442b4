"""SIP over UDP (RFC 3261 §18): one message per datagram, to one server."""

from __future__ import annotations

import logging

import anyio
import anyio.abc

from sipadapters.errors import (
    BACKEND_ERRORS,
    ConnectError,
    TransportClosed,
    mapped_error,
    mapped_errors,
)
from sipadapters.tls import local_address
from sipcore.framing import PING

__all__ = ["UdpTransport"]

logger = logging.getLogger(__name__)


class UdpTransport:
    """A UDP socket connected to one SIP server. Make one with ``await UdpTransport.connect``.

    Cancelling ``receive`` loses nothing (the driver cancels it when a timer is due).
    """

    __slots__ = ("_closed", "_peer", "_socket", "last_activity")

    def __init__(self, socket: anyio.abc.ConnectedUDPSocket, peer: str) -> None:
        self._socket = socket
        self._peer = peer
        self._closed = False
        self.last_activity = anyio.current_time()

    @classmethod
    async def connect(
        cls,
        host: str,
        port: int,
        *,
        timeout: float = 10.0,
        local_host: str | None = None,
        local_port: int = 0,
    ) -> UdpTransport:
        """Open a UDP socket towards ``host:port`` (resolving the name).

        Args:
            host: the server's name or address.
            port: its port.
            timeout: seconds allowed for resolving and opening.
            local_host: the address to bind (default: chosen by the system).
            local_port: the port to bind (0: any). A reconnection binds the port used
                before, so that the Via sent-by and Contact stay true.

        Raises:
            ConnectError: the name does not resolve or the socket cannot be made.
        """
        peer = f"udp://{host}:{port}"
        try:
            with anyio.fail_after(timeout), mapped_errors(f"opening {peer}", ConnectError):
                sock = await anyio.create_connected_udp_socket(
                    host, port, local_host=local_host, local_port=local_port
                )
        except TimeoutError:
            raise ConnectError(f"opening {peer}: timed out after {timeout} s") from None
        return cls(sock, peer)

    @property
    def name(self) -> str:
        """``udp``."""
        return "udp"

    @property
    def reliable(self) -> bool:
        """Datagrams get lost: sipcore retransmits (Timers A, E, G)."""
        return False

    @property
    def local_address(self) -> tuple[str, int]:
        """Our (IP address, port): the Via sent-by and Contact of SIP over UDP."""
        return local_address(self._socket)

    async def send(self, data: bytes) -> None:
        """Send one datagram.

        Raises:
            TransportError: the socket is closed or the send failed.
        """
        if self._closed:
            raise TransportClosed(f"{self._peer}: closed")
        try:
            await self._socket.send(data)
        except BACKEND_ERRORS as exc:
            raise mapped_error(exc, f"sending to {self._peer}") from exc

    async def ping(self) -> None:
        """A CRLF CRLF keepalive, to hold NAT bindings open.

        RFC 5626 §4.4.2 keeps UDP flows alive with STUN, and a SIP server need not answer
        a CRLF over UDP: the driver never reads silence on UDP as a dead flow.
        """
        await self.send(PING)

    async def receive(self) -> bytes:
        """The next datagram.

        Raises:
            TransportError: the socket is closed, or ICMP said the port is unreachable.
        """
        if self._closed:
            raise TransportClosed(f"{self._peer}: closed")
        try:
            data = await self._socket.receive()
        except BACKEND_ERRORS as exc:
            raise mapped_error(exc, f"receiving from {self._peer}") from exc
        self.last_activity = anyio.current_time()
        return data

    async def aclose(self) -> None:
        """Close the socket; never raises."""
        if self._closed:
            return
        self._closed = True
        with anyio.CancelScope(shield=True):
            try:
                await self._socket.aclose()
            except Exception:
                logger.debug("socket close failed", exc_info=True)
