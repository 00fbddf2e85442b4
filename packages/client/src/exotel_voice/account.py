"""An account: who we are, where the server is, and how calls sound."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from exotel_voice.errors import ConfigurationError
from sipadapters import KEEPALIVE_INTERVAL, TlsOptions
from sipmedia import IceServer

__all__ = ["Account", "DtmfMode"]

_USER = re.compile(r"[A-Za-z0-9\-_.!~*'()&=+$,;?/%]+\Z")
_HOST = re.compile(r"[A-Za-z0-9.\-\[\]:]+\Z")

DtmfMode = str
"""``"auto"`` (RFC 4733 if the peer negotiated telephone-event, else SIP INFO),
``"rfc4733"`` or ``"info"``."""
_DTMF_MODES = ("auto", "rfc4733", "info")


@dataclass(frozen=True, slots=True)
class Account:
    """A SIP account on a SIP-over-WebSocket server.

    Raises ``ConfigurationError`` naming the field when something is missing or malformed.
    """

    user: str
    """The user part of our address (``sip:<user>@<domain>``)."""
    password: str = field(repr=False)
    """The digest password; never logged."""
    domain: str
    """The SIP domain (``sipdomain``): host of our address and of REGISTER."""
    server: str
    """The server URL: ``wss://host:port/path`` (or ws://, tcp://, tls://, udp://)."""
    auth_user: str | None = None
    """The digest user name if it differs from ``user``."""
    display_name: str | None = None
    tls: TlsOptions = field(default_factory=TlsOptions)
    """Certificate checks for wss:// (verified against the system CAs by default)."""
    ice_servers: tuple[IceServer, ...] = ()
    """STUN/TURN servers for call media."""
    ice_gathering_timeout: float = 3.0
    """Seconds an offer or answer waits for the ICE servers' candidates; a server slower
    than that is left out of the SDP (host candidates always go), never fails the call."""
    codecs: tuple[str, ...] = ("opus", "PCMU", "PCMA")
    """Audio codecs in order of preference."""
    dtmf_mode: DtmfMode = "auto"
    max_calls: int = 1
    """Concurrent calls; a further INVITE gets ``busy_status``."""
    busy_status: tuple[int, str] = (480, "4001")
    """The answer to an INVITE beyond ``max_calls`` (Exotel's platform: 480 ``4001``)."""
    register_expires: int = 300
    connect_timeout: float = 10.0
    keepalive_interval: float | None = KEEPALIVE_INTERVAL
    """Seconds of silence before a keepalive; a dead line is noticed within this + 10 s
    (30 s in all by default)."""

    def __post_init__(self) -> None:
        if not self.user or not _USER.match(self.user):
            raise ConfigurationError("user", f"not a valid SIP user name: {self.user!r}")
        if self.auth_user is not None and not self.auth_user.strip():
            raise ConfigurationError("auth_user", "is empty")
        if not isinstance(self.password, str):
            raise ConfigurationError("password", "must be a string")
        if "\r" in self.password or "\n" in self.password:
            raise ConfigurationError("password", "contains a line break")
        if not self.domain or not _HOST.match(self.domain):
            raise ConfigurationError("domain", f"not a host name: {self.domain!r}")
        parts = urlsplit(self.server)
        if parts.scheme not in ("ws", "wss", "tcp", "tls", "udp") or not parts.hostname:
            raise ConfigurationError(
                "server", f"must be a ws://, wss://, tcp://, tls:// or udp:// URL: {self.server!r}"
            )
        if self.dtmf_mode not in _DTMF_MODES:
            raise ConfigurationError("dtmf_mode", f"must be one of {_DTMF_MODES}")
        if self.max_calls < 1:
            raise ConfigurationError("max_calls", "must be at least 1")
        if not self.ice_gathering_timeout > 0:
            raise ConfigurationError("ice_gathering_timeout", "must be a positive number")
        if not self.codecs:
            raise ConfigurationError("codecs", "at least one codec is needed")

    @property
    def aor(self) -> str:
        """Our address-of-record, ``sip:user@domain``."""
        return f"sip:{self.user}@{self.domain}"

    @property
    def transport(self) -> str:
        """The Via/Contact transport implied by ``server`` (ws, wss, tcp, tls, udp)."""
        return urlsplit(self.server).scheme
