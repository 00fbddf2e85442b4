"""How a ``UserAgent`` is set up: one account on one server, over one flow."""

from __future__ import annotations

from dataclasses import dataclass, field

from sipcore.errors import LocalProtocolError
from sipcore.message import DEFAULT_LIMITS, ParseLimits
from sipcore.params import check_header_text
from sipcore.transactions import TimerConfig
from sipcore.uri import SipUri, parse_uri

__all__ = ["UserAgentConfig", "RELIABLE_TRANSPORTS"]

RELIABLE_TRANSPORTS = frozenset({"tcp", "tls", "ws", "wss", "sctp"})
"""RFC 3261 §17: these skip retransmission timers A, E, G."""

DEFAULT_ALLOW = ("INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "INFO", "UPDATE", "REFER", "NOTIFY")


@dataclass(frozen=True, slots=True)
class UserAgentConfig:
    """One SIP account and how to reach its server. Frozen: make a new one to change it."""

    aor: SipUri
    """Our address-of-record, e.g. ``sip:alice@example.com`` (From of our requests)."""
    username: str | None = None
    """The digest user name (``authUser``); defaults to the AoR's user part."""
    password: str | None = field(default=None, repr=False)
    """The digest password; never printed."""
    display_name: str | None = None
    """Display name in From and Contact."""
    registrar: SipUri | None = None
    """Request-URI of REGISTER; defaults to ``sip:<aor host>`` (RFC 3261 §10.2)."""
    outbound_proxy: SipUri | None = None
    """A pre-loaded Route for every out-of-dialog request (loose routing, ``;lr``)."""
    transport: str = "ws"
    """Via/Contact transport: ``ws``, ``wss``, ``udp``, ``tcp`` or ``tls``."""
    local_host: str | None = None
    """Via sent-by and Contact host. None: a random ``<token>.invalid`` (RFC 7118 §5.2)."""
    local_port: int | None = None
    """Via sent-by port, if any."""
    contact_user: str | None = None
    """User part of our Contact; None: a random token."""
    instance_id: str | None = None
    """RFC 5626 ``+sip.instance`` (a ``urn:uuid:...``); None: made from the id factory."""
    reg_id: int | None = 1
    """RFC 5626 ``reg-id``; None turns SIP outbound off."""
    register_expires: int = 300
    """Expiry asked for in REGISTER (Exotel's SDK asks 300 s)."""
    refresh_fraction: float = 0.8
    """Refresh the registration after this fraction of the granted expiry."""
    user_agent: str = "exotel-voice-python/0.1"
    """User-Agent header value."""
    allow: tuple[str, ...] = DEFAULT_ALLOW
    """Methods we accept (Allow header; others get 405/501)."""
    supported: tuple[str, ...] = ("outbound",)
    """Option tags we support (Supported header; a Require of anything else gets 420)."""
    accept: tuple[str, ...] = ("application/sdp", "application/dtmf-relay", "application/dtmf")
    """Body types we accept (others get 415)."""
    max_calls: int = 1
    """Concurrent calls; a further INVITE gets ``busy_status``."""
    busy_status: tuple[int, str] = (486, "Busy Here")
    """Answer to an INVITE beyond ``max_calls`` (Exotel's platform uses 480 ``4001``)."""
    auto_ring: bool = True
    """Send 180 Ringing on every new INVITE (as SIP.js does)."""
    no_answer_timeout: float | None = 60.0
    """Reject an unanswered incoming call with 480 after this many seconds (None: never)."""
    keepalive_interval: float | None = None
    """Send an RFC 5626 CRLF ping this often when idle (None: the adapter keeps alive)."""
    keepalive_timeout: float = 10.0
    """RFC 5626 §4.4.1: a pong must arrive within 10 s, or the flow has failed."""
    timers: TimerConfig = field(default_factory=TimerConfig)
    limits: ParseLimits = DEFAULT_LIMITS

    def __post_init__(self) -> None:
        transport = self.transport.lower()
        if transport not in ("ws", "wss", "udp", "tcp", "tls"):
            raise LocalProtocolError(f"unknown transport {self.transport!r}")
        object.__setattr__(self, "transport", transport)
        for value, what in (
            (self.username, "username"),
            (self.display_name, "display name"),
            (self.user_agent, "User-Agent"),
            (self.local_host, "local host"),
            (self.contact_user, "contact user"),
        ):
            if value is not None:
                check_header_text(value, what)
        if self.register_expires < 0:
            raise LocalProtocolError("register_expires must be >= 0")
        if not 0.1 <= self.refresh_fraction <= 0.95:
            raise LocalProtocolError("refresh_fraction must be within 0.1..0.95")
        if self.max_calls < 1:
            raise LocalProtocolError("max_calls must be at least 1")

    @classmethod
    def for_account(
        cls, aor: str, password: str | None = None, **options: object
    ) -> UserAgentConfig:
        """Build from an AoR string such as ``"sip:alice@example.com"``.

        Raises:
            LocalProtocolError: the AoR is not a SIP URI with a user part.
        """
        try:
            uri = parse_uri(aor)
        except Exception as exc:
            raise LocalProtocolError(f"not a SIP address: {aor!r}") from exc
        if not isinstance(uri, SipUri) or not uri.user:
            raise LocalProtocolError(f"the AoR must be a sip: URI with a user: {aor!r}")
        return cls(aor=uri, password=password, **options)  # type: ignore[arg-type]

    @property
    def reliable(self) -> bool:
        """Whether the transport is reliable (no A/E/G retransmissions)."""
        return self.transport in RELIABLE_TRANSPORTS

    @property
    def auth_username(self) -> str:
        """The digest user name."""
        return self.username or self.aor.user or ""

    @property
    def registrar_uri(self) -> SipUri:
        """The REGISTER Request-URI."""
        return self.registrar or SipUri(
            host=self.aor.host, port=self.aor.port, scheme=self.aor.scheme
        )
