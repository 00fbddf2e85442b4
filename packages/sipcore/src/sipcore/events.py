"""Events a ``UserAgent`` reports: one frozen class per thing that happened.

Like h11's events: plain data, named in the past tense, never subclassed, read with
``UserAgent.next_event()``. Calls are named by their Call-ID.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sipcore.message import Request, Response

__all__ = [
    "Event",
    "RegistrationSent",
    "Registered",
    "RegistrationFailed",
    "Unregistered",
    "IncomingCall",
    "CallProgressed",
    "CallAnswered",
    "CallConfirmed",
    "CallEnded",
    "EndReason",
    "ReinviteReceived",
    "ReinviteAnswered",
    "ReinviteFailed",
    "InfoReceived",
    "InfoAnswered",
    "ReferReceived",
    "MessageDiscarded",
    "FlowFailed",
    "KeepAliveAnswered",
]


@dataclass(frozen=True, slots=True)
class RegistrationSent:
    """A REGISTER went out (first try, authenticated retry, refresh, or un-REGISTER)."""

    request: Request
    expires: int
    """The expiry asked for; 0 for an un-REGISTER."""


@dataclass(frozen=True, slots=True)
class Registered:
    """The registrar accepted the binding."""

    expires: int
    """Seconds the registrar granted for our Contact."""
    response: Response


@dataclass(frozen=True, slots=True)
class RegistrationFailed:
    """Registration gave up: bad credentials, a final error, a timeout or a dead transport.

    Nothing is retried after this event; the caller decides (e.g. not on 401/403).
    """

    status_code: int
    """The final status, 408 for a timeout, 503 for a transport failure."""
    reason: str
    response: Response | None
    auth_rejected: bool
    """True when the registrar refused our credentials (wrong password): retrying
    with the same credentials cannot succeed."""


@dataclass(frozen=True, slots=True)
class Unregistered:
    """Our binding is gone: the un-REGISTER succeeded, or the flow it lived on failed."""

    response: Response | None


@dataclass(frozen=True, slots=True)
class IncomingCall:
    """A new INVITE arrived and is waiting for ``ring``/``answer``/``reject``."""

    call_id: str
    request: Request


@dataclass(frozen=True, slots=True)
class CallProgressed:
    """An outgoing call got a provisional response (180 Ringing, 183 Session Progress)."""

    call_id: str
    response: Response


@dataclass(frozen=True, slots=True)
class CallAnswered:
    """An outgoing call got a 2xx; the ACK has been sent. The SDP answer is in the body."""

    call_id: str
    response: Response


@dataclass(frozen=True, slots=True)
class CallConfirmed:
    """The ACK for our 2xx arrived: the incoming call is established."""

    call_id: str
    ack: Request


class EndReason(enum.Enum):
    """Why a call ended."""

    LOCAL_HANGUP = "we sent BYE"
    REMOTE_HANGUP = "the peer sent BYE"
    LOCAL_CANCEL = "we cancelled before an answer"
    REMOTE_CANCEL = "the caller cancelled before we answered"
    LOCAL_REJECT = "we rejected the incoming call"
    REMOTE_REJECT = "the callee (or a proxy) answered with a final error"
    TIMEOUT = "no response (Timer B/F) or no answer in time"
    NO_ACK = "our 2xx was never ACKed (RFC 3261 §13.3.1.4)"
    TRANSPORT_ERROR = "the transport failed"


@dataclass(frozen=True, slots=True)
class CallEnded:
    """A call is over; the Call-ID is free again."""

    call_id: str
    reason: EndReason
    status_code: int | None = None
    """The final status for rejected/cancelled calls, if any."""
    message: Request | Response | None = None


@dataclass(frozen=True, slots=True)
class ReinviteReceived:
    """The peer sent a re-INVITE or UPDATE carrying (or asking for) a new offer.

    Answer with ``UserAgent.accept_reinvite`` or ``reject_reinvite``.
    """

    call_id: str
    request: Request


@dataclass(frozen=True, slots=True)
class ReinviteAnswered:
    """Our re-INVITE was accepted; the SDP answer is in the body."""

    call_id: str
    response: Response


@dataclass(frozen=True, slots=True)
class ReinviteFailed:
    """Our re-INVITE was refused (the session continues as before, RFC 3261 §14.1)."""

    call_id: str
    status_code: int
    response: Response | None


@dataclass(frozen=True, slots=True)
class InfoReceived:
    """An in-dialog INFO arrived (already answered 200), e.g. DTMF relay."""

    call_id: str
    request: Request


@dataclass(frozen=True, slots=True)
class InfoAnswered:
    """Our INFO got its final response."""

    call_id: str
    status_code: int


@dataclass(frozen=True, slots=True)
class ReferReceived:
    """An in-dialog REFER arrived (answered 202); ``refer_to`` is the transfer target."""

    call_id: str
    request: Request


@dataclass(frozen=True, slots=True)
class MessageDiscarded:
    """A received message was malformed or unexpected; it was answered or dropped."""

    reason: str
    status_code: int | None
    """The error response we sent, or ``None`` if the message was dropped silently."""
    data: bytes
    """The first bytes of what was received."""


@dataclass(frozen=True, slots=True)
class FlowFailed:
    """The keepalive got no answer in time (RFC 5626 §4.4.1): the connection is dead."""

    since: float
    """When the unanswered ping was sent."""


@dataclass(frozen=True, slots=True)
class KeepAliveAnswered:
    """A CRLF pong arrived (RFC 5626 §3.5.1); ``rtt`` in the caller's clock units."""

    rtt: float


Event = (
    RegistrationSent
    | Registered
    | RegistrationFailed
    | Unregistered
    | IncomingCall
    | CallProgressed
    | CallAnswered
    | CallConfirmed
    | CallEnded
    | ReinviteReceived
    | ReinviteAnswered
    | ReinviteFailed
    | InfoReceived
    | InfoAnswered
    | ReferReceived
    | MessageDiscarded
    | FlowFailed
    | KeepAliveAnswered
)
"""Any event."""
