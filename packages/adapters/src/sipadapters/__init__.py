"""anyio transports for sipcore (WebSocket per RFC 7118, TCP, TLS, UDP) and the driver loop.

Runs unchanged on asyncio and trio (``sipadapters.trio`` has trio-flavoured entry points).
"""

from __future__ import annotations

from sipadapters.connect import DEFAULT_PORTS, open_transport
from sipadapters.driver import AnyEvent, UserAgentDriver
from sipadapters.errors import (
    ConnectError,
    HandshakeError,
    TransportClosed,
    TransportError,
)
from sipadapters.events import (
    Connected,
    ConnectFailed,
    ConnectionLost,
    DriverEvent,
    ReconnectAbandoned,
    ReconnectScheduled,
)
from sipadapters.reconnect import ReconnectPolicy
from sipadapters.stream import StreamTransport
from sipadapters.tls import TlsOptions
from sipadapters.transport import MessageTransport
from sipadapters.udp import UdpTransport
from sipadapters.websocket import SUBPROTOCOL, WebSocketStream

__all__ = [
    "open_transport",
    "DEFAULT_PORTS",
    "UserAgentDriver",
    "AnyEvent",
    "TransportError",
    "ConnectError",
    "HandshakeError",
    "TransportClosed",
    "Connected",
    "ConnectionLost",
    "ConnectFailed",
    "ReconnectScheduled",
    "ReconnectAbandoned",
    "DriverEvent",
    "ReconnectPolicy",
    "TlsOptions",
    "MessageTransport",
    "WebSocketStream",
    "StreamTransport",
    "UdpTransport",
    "SUBPROTOCOL",
]
