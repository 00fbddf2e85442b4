"""Flows: the connections (and UDP peers) a server talks over (RFC 5626 §3.2).

A ``Flow`` names one path to one peer: a WebSocket, TCP or TLS connection, or a UDP
peer address. For a connection, the peer's address and port tell it apart from every
other live connection; for UDP they are all there is. The I/O side makes them and the
sans-IO server uses them as opaque, hashable keys.
"""

from __future__ import annotations

from dataclasses import dataclass

from sipcore.config import RELIABLE_TRANSPORTS
from sipcore.errors import LocalProtocolError

__all__ = ["Flow", "TRANSPORTS"]

TRANSPORTS = frozenset({"udp", "tcp", "tls", "ws", "wss"})
"""The transports a flow can use (lower case, as in a ``transport=`` URI parameter)."""


@dataclass(frozen=True, slots=True)
class Flow:
    """One connection or UDP peer, seen from the server.

    Raises:
        LocalProtocolError: an unknown transport or a port out of range.
    """

    transport: str
    """``udp``, ``tcp``, ``tls``, ``ws`` or ``wss``."""
    host: str
    """The peer's IP address."""
    port: int
    """The peer's port."""

    def __post_init__(self) -> None:
        if self.transport not in TRANSPORTS:
            raise LocalProtocolError(f"unknown flow transport {self.transport!r}")
        if not 0 <= self.port <= 65535:
            raise LocalProtocolError(f"port out of range: {self.port}")

    @property
    def reliable(self) -> bool:
        """Whether the transport is reliable (RFC 3261 §17: no Timers A, E, G)."""
        return self.transport in RELIABLE_TRANSPORTS

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.transport}:{host}:{self.port}"
