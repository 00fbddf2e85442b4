"""How a ``LocalServer`` is set up: its domain, where it listens, registrar limits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from sipcore.digest import DigestAlgorithm
from sipcore.errors import LocalProtocolError
from sipcore.message import DEFAULT_LIMITS, ParseLimits
from sipcore.params import check_header_text
from sipcore.server.flow import TRANSPORTS
from sipcore.transactions import TimerConfig

__all__ = ["ServerConfig"]


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """One SIP domain served by one registrar + proxy. Frozen: make a new one to change it."""

    domain: str = "local.test"
    """The SIP domain whose users register here (``sip:alice@local.test``)."""
    realm: str | None = None
    """The digest realm; ``None`` uses ``domain``."""
    host: str = "127.0.0.1"
    """The address the server listens on: the host of its Via and Record-Route."""
    ports: Mapping[str, int] = field(default_factory=dict, hash=False)
    """Listening port by transport (``{"ws": 5066, "udp": 5060}``), for Via and
    Record-Route; a transport missing here is written without a port."""
    aliases: tuple[str, ...] = ("localhost",)
    """Other host names that mean this server (besides ``domain`` and ``host``)."""
    min_expires: int = 10
    """Shorter registrations are refused with 423 (RFC 3261 §10.3 step 7)."""
    max_expires: int = 3600
    """Longer registrations are cut down to this."""
    default_expires: int = 3600
    """The expiry of a Contact that asks for none (RFC 3261 §10.3 step 7), kept within
    ``min_expires..max_expires``."""
    nonce_lifetime: float = 300.0
    """Seconds a digest nonce stays valid; older ones get ``stale=true``."""
    algorithms: tuple[str, ...] = ("MD5",)
    """Digest algorithms offered, one challenge each, in this order (RFC 8760 §2.4)."""
    authenticate_requests: bool = True
    """Challenge (407) new requests from our own domain, as the suite's Kamailio does."""
    timer_c: float = 180.0
    """RFC 3261 §16.6 step 11: an INVITE branch still ringing after this long is
    cancelled (must exceed 3 minutes per the RFC; shorter values suit tests)."""
    server_header: str | None = "exotel-voice-local/0.1"
    """The Server header of responses the server makes itself (``None``: none)."""
    timers: TimerConfig = field(default_factory=TimerConfig)
    limits: ParseLimits = DEFAULT_LIMITS

    def __post_init__(self) -> None:
        for text, what in ((self.domain, "domain"), (self.host, "host")):
            check_header_text(text, what)
            if not text or " " in text:
                raise LocalProtocolError(f"unusable server {what}: {text!r}")
        if self.realm is not None:
            check_header_text(self.realm, "realm")
        if self.server_header is not None:
            check_header_text(self.server_header, "Server header")
        # A private read-only copy: the caller's dict may change, the config may not.
        object.__setattr__(self, "ports", MappingProxyType(dict(self.ports)))
        for transport, port in self.ports.items():
            if transport not in TRANSPORTS or not 0 < port <= 65535:
                raise LocalProtocolError(f"bad listening port {transport}:{port}")
        if not 0 < self.min_expires <= self.max_expires or self.default_expires <= 0:
            raise LocalProtocolError("need 0 < min_expires <= max_expires and default_expires > 0")
        if not self.algorithms:
            raise LocalProtocolError("offer at least one digest algorithm")
        for algorithm in self.algorithms:
            if DigestAlgorithm.from_token(algorithm) is None:
                raise LocalProtocolError(f"unknown digest algorithm {algorithm!r}")
        if self.nonce_lifetime <= 0 or self.timer_c <= 0:
            raise LocalProtocolError("nonce_lifetime and timer_c must be positive")

    @property
    def digest_realm(self) -> str:
        """The realm of our challenges."""
        return self.realm or self.domain

    @property
    def local_names(self) -> frozenset[str]:
        """Host names (lower case) that address this server."""
        return frozenset(n.lower() for n in (self.domain, self.host, *self.aliases))
