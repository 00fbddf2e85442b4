"""Open a SIP transport from a URL: ws://, wss://, tcp://, tls:// or udp://."""

from __future__ import annotations

from urllib.parse import urlsplit

from sipadapters.errors import ConnectError
from sipadapters.stream import StreamTransport
from sipadapters.tls import TlsOptions
from sipadapters.transport import MessageTransport
from sipadapters.udp import UdpTransport
from sipadapters.websocket import WebSocketStream

__all__ = ["open_transport", "DEFAULT_PORTS"]

DEFAULT_PORTS = {"ws": 80, "wss": 443, "tcp": 5060, "udp": 5060, "tls": 5061}


async def open_transport(
    url: str, *, tls: TlsOptions | None = None, timeout: float = 10.0
) -> MessageTransport:
    """Connect to the SIP server at ``url``.

    Args:
        url: ``ws://host:port/path``, ``wss://...``, ``tcp://host:port``,
            ``tls://host:port`` or ``udp://host:port``.
        tls: certificate checks for wss:// and tls:// (verified by default).
        timeout: seconds allowed for connecting (and handshaking).

    Raises:
        ConnectError: bad URL, unreachable server, TLS or handshake failure.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        raise ConnectError(f"unsupported SIP server URL {url!r} (use ws, wss, tcp, tls or udp)")
    if scheme in ("ws", "wss"):
        return await WebSocketStream.connect(url, tls=tls, timeout=timeout)
    port = parts.port or DEFAULT_PORTS[scheme]
    if scheme == "udp":
        return await UdpTransport.connect(parts.hostname, port, timeout=timeout)
    return await StreamTransport.connect(
        parts.hostname, port, tls=tls, secure=scheme == "tls", timeout=timeout
    )
