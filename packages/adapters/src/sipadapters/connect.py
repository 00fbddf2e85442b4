"""Open a SIP transport, or a whole driven user agent, from a URL.

URLs: ``ws://``, ``wss://`` (RFC 7118), ``tcp://``, ``tls://`` and ``udp://``
(RFC 3261 §18). ``open_user_agent`` is the one-call entry point on either anyio
backend; ``sipadapters.trio`` has trio-flavoured ones built on it.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Callable
from urllib.parse import urlsplit

from sipadapters.driver import KEEPALIVE_INTERVAL, KEEPALIVE_TIMEOUT, UserAgentDriver
from sipadapters.errors import ConnectError
from sipadapters.reconnect import ReconnectPolicy
from sipadapters.stream import StreamTransport
from sipadapters.tls import TlsOptions
from sipadapters.transport import MessageTransport
from sipadapters.udp import UdpTransport
from sipadapters.websocket import DEFAULT_MAX_MESSAGE_SIZE, WebSocketStream
from sipcore.config import UserAgentConfig
from sipcore.ids import IdFactory
from sipcore.message import ParseLimits
from sipcore.user_agent import UserAgent

__all__ = ["open_transport", "open_user_agent", "DEFAULT_PORTS"]

DEFAULT_PORTS = {"ws": 80, "wss": 443, "tcp": 5060, "udp": 5060, "tls": 5061}


def _scheme(url: str) -> str:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        raise ConnectError(f"unsupported SIP server URL {url!r} (use ws, wss, tcp, tls or udp)")
    return scheme


async def open_transport(
    url: str,
    *,
    tls: TlsOptions | None = None,
    timeout: float = 10.0,
    limits: ParseLimits | None = None,
    max_websocket_message: int | None = None,
    local_port: int = 0,
) -> MessageTransport:
    """Connect to the SIP server at ``url``.

    Args:
        url: ``ws://host:port/path``, ``wss://...``, ``tcp://host:port``,
            ``tls://host:port`` or ``udp://host:port``.
        tls: certificate checks for wss:// and tls:// (verified by default).
        timeout: seconds allowed for connecting (and handshaking).
        limits: sipcore's size caps; over TCP/TLS a message over ``max_message_size``
            cannot be framed and closes the connection (default 65535 bytes).
        max_websocket_message: the largest WebSocket message accepted; one larger closes
            the connection (default: ``DEFAULT_MAX_MESSAGE_SIZE``, or the SIP cap if that
            is larger).
        local_port: for udp://, the local port to bind (0: any).

    Raises:
        ConnectError: bad URL, unreachable server, TLS or handshake failure.
    """
    scheme = _scheme(url)
    if scheme in ("ws", "wss"):
        size = max_websocket_message or max(
            DEFAULT_MAX_MESSAGE_SIZE, limits.max_message_size if limits else 0
        )
        return await WebSocketStream.connect(url, tls=tls, timeout=timeout, max_message_size=size)
    parts = urlsplit(url)
    host = parts.hostname
    assert host is not None
    port = parts.port or DEFAULT_PORTS[scheme]
    if scheme == "udp":
        return await UdpTransport.connect(host, port, timeout=timeout, local_port=local_port)
    return await StreamTransport.connect(
        host, port, tls=tls, secure=scheme == "tls", timeout=timeout, limits=limits
    )


@contextlib.asynccontextmanager
async def open_user_agent(
    url: str,
    config: UserAgentConfig,
    *,
    tls: TlsOptions | None = None,
    timeout: float = 10.0,
    reconnect: ReconnectPolicy | None = None,
    keepalive_interval: float | None = KEEPALIVE_INTERVAL,
    keepalive_timeout: float = KEEPALIVE_TIMEOUT,
    ids: IdFactory | None = None,
    register: bool = False,
    random: Callable[[], float] | None = None,
) -> AsyncIterator[UserAgentDriver]:
    """A ``UserAgent`` for ``config``, connected to ``url`` and driven; closed on exit.

    The Via/Contact transport is the URL's (``config.transport`` is replaced by it).
    Over UDP the UA's Via sent-by and Contact are the socket's real address and port
    (unless ``config`` sets them), and reconnections bind the same port again, so a
    server can answer and reach us without RFC 3581 ``rport`` help. Over WebSocket,
    TCP and TLS the host stays a ``.invalid`` name (RFC 7118 §5.2; the server answers
    on the connection).

    Leaving the block hangs up every call and unregisters first (``aclose``).

    Args:
        url: the server (see ``open_transport``).
        config: the account.
        tls: certificate checks for wss:// and tls://.
        timeout: seconds allowed for each connection attempt.
        reconnect: the reconnection policy (default: ``ReconnectPolicy()``).
        keepalive_interval: idle seconds before a keepalive (None: none).
        keepalive_timeout: seconds a keepalive may go unanswered.
        ids: the UA's id factory (tests pass ``SequentialIds``).
        register: send REGISTER at once (``Registered`` or ``RegistrationFailed`` follows
            as an event).
        random: jitter source for the backoff (see ``UserAgentDriver``).

    Yields:
        The started driver; its ``ua`` is the user agent.

    Raises:
        ConnectError: the first connection failed.
    """
    scheme = _scheme(url)
    if config.transport != scheme:
        config = dataclasses.replace(config, transport=scheme)
    first = await open_transport(url, tls=tls, timeout=timeout, limits=config.limits)
    local_port = 0
    if scheme == "udp" and config.local_host is None and config.local_port is None:
        host, local_port = first.local_address
        config = dataclasses.replace(config, local_host=host, local_port=local_port)
    pending: list[MessageTransport] = [first]

    async def connect() -> MessageTransport:
        if pending:
            return pending.pop()
        return await open_transport(
            url, tls=tls, timeout=timeout, limits=config.limits, local_port=local_port
        )

    driver = UserAgentDriver(
        UserAgent(config, ids=ids),
        connect,
        url=url,
        reconnect=reconnect,
        keepalive_interval=keepalive_interval,
        keepalive_timeout=keepalive_timeout,
        random=random,
    )
    try:
        await driver.start()
    except BaseException:
        if pending:
            await first.aclose()
        raise
    try:
        if register:
            driver.ua.register(driver.now())
            await driver.transmit()
        yield driver
    finally:
        await driver.aclose()
