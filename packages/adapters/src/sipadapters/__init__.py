"""anyio transports for sipcore (WebSocket per RFC 7118, TCP, TLS, UDP) and the driver loop.

Runs unchanged on asyncio and trio (``sipadapters.trio`` has trio-flavoured entry points).
The shortest way in::

    async with open_user_agent("wss://sip.example.com/ws", config, register=True) as driver:
        async for event in driver.events():
            ...  # Registered, IncomingCall, ConnectionLost, Connected, ...
"""

from __future__ import annotations

from sipadapters.connect import DEFAULT_PORTS, open_transport, open_user_agent
from sipadapters.driver import (
    KEEPALIVE_INTERVAL,
    KEEPALIVE_TIMEOUT,
    AnyEvent,
    Connector,
    UserAgentDriver,
)
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
    TargetRefreshSent,
)
from sipadapters.reconnect import ReconnectPolicy
from sipadapters.stream import StreamTransport
from sipadapters.tls import TlsOptions
from sipadapters.transport import MessageTransport
from sipadapters.udp import UdpTransport
from sipadapters.websocket import SUBPROTOCOL, WebSocketStream

__all__ = [
    "open_transport",
    "open_user_agent",
    "DEFAULT_PORTS",
    "KEEPALIVE_INTERVAL",
    "KEEPALIVE_TIMEOUT",
    "UserAgentDriver",
    "AnyEvent",
    "Connector",
    "TransportError",
    "ConnectError",
    "HandshakeError",
    "TransportClosed",
    "Connected",
    "ConnectionLost",
    "ConnectFailed",
    "ReconnectScheduled",
    "ReconnectAbandoned",
    "TargetRefreshSent",
    "DriverEvent",
    "ReconnectPolicy",
    "TlsOptions",
    "MessageTransport",
    "WebSocketStream",
    "StreamTransport",
    "UdpTransport",
    "SUBPROTOCOL",
]
