"""What the driver needs from a transport: whole SIP messages in and out.

WebSocket (RFC 7118) carries one message per WebSocket message; TCP/TLS frame messages
with sipcore's ``StreamFramer``; UDP carries one per datagram. All three look the same
from here. Keepalive pongs (a WebSocket Pong, a CRLF) count as activity.
"""

from __future__ import annotations

from typing import Final, Protocol

__all__ = ["MessageTransport", "REPLY_TIMEOUT"]

REPLY_TIMEOUT: Final = 10.0
"""Seconds a transport's own reply to a peer's keepalive (a CRLF pong, a WebSocket Pong)
may take. The reply is shielded, since the ping is already consumed when a receive is
cancelled; bounded, because a peer that sends but no longer reads would otherwise hold
the receiving task, and with it the driver's reconnection, until TCP gives up."""


class MessageTransport(Protocol):
    """A connected SIP transport. Errors are ``sipadapters.errors.TransportError``."""

    @property
    def name(self) -> str:
        """``ws``, ``wss``, ``tcp``, ``tls`` or ``udp`` (the Via/Contact transport)."""
        ...

    @property
    def reliable(self) -> bool:
        """Whether the transport retransmits for us (all but UDP)."""
        ...

    @property
    def local_address(self) -> tuple[str, int]:
        """Our end of the flow (IP address, port): what a server sees us as."""
        ...

    @property
    def last_activity(self) -> float:
        """When (in the event loop's clock) bytes last arrived, keepalive pongs included."""
        ...

    async def send(self, data: bytes) -> None:
        """Send one whole SIP message (or a keepalive)."""
        ...

    async def receive(self) -> bytes:
        """The next whole SIP message (or CRLF keepalive) from the peer.

        Cancelling it must lose nothing: the driver cancels the wait for a message
        whenever a timer comes due, and calls it again.

        Raises:
            TransportClosed: the peer closed the connection.
            TransportError: it broke.
        """
        ...

    async def ping(self) -> None:
        """Send a keepalive the peer will answer (WebSocket Ping, or a CRLF CRLF)."""
        ...

    async def aclose(self) -> None:
        """Close cleanly (WebSocket close handshake where possible); never raises."""
        ...
