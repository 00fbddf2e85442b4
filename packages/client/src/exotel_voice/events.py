"""What a Phone and its Calls report, as frozen dataclasses named in the past tense."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from exotel_voice.call import Call

__all__ = [
    "PhoneEvent",
    "Connected",
    "Disconnected",
    "ReconnectScheduled",
    "RegisterSent",
    "Registered",
    "Unregistered",
    "RegistrationFailed",
    "IncomingCall",
    "CallEvent",
    "Ringing",
    "Answered",
    "Ended",
    "EndCause",
    "DtmfReceived",
    "RemoteHoldChanged",
]


# ------------------------------------------------------------------------------ phone


@dataclass(frozen=True, slots=True)
class Connected:
    """The WebSocket (or other transport) to the server is up."""

    url: str
    reconnection: bool


@dataclass(frozen=True, slots=True)
class Disconnected:
    """The connection was lost; the phone reconnects by itself unless told otherwise."""

    error: str


@dataclass(frozen=True, slots=True)
class ReconnectScheduled:
    """The next connection attempt comes after ``delay`` seconds."""

    attempt: int
    delay: float


@dataclass(frozen=True, slots=True)
class RegisterSent:
    """A REGISTER went out (first, authenticated retry, refresh, or un-REGISTER)."""

    expires: int


@dataclass(frozen=True, slots=True)
class Registered:
    """The server accepted our registration for ``expires`` seconds."""

    expires: int


@dataclass(frozen=True, slots=True)
class Unregistered:
    """We are no longer registered (un-REGISTER done, or the connection was lost)."""


@dataclass(frozen=True, slots=True)
class RegistrationFailed:
    """Registration failed; nothing is retried when ``auth_rejected`` (wrong password)."""

    status_code: int
    reason: str
    auth_rejected: bool


@dataclass(frozen=True, slots=True)
class IncomingCall:
    """A call is ringing; answer or reject it."""

    call: Call


PhoneEvent = (
    Connected
    | Disconnected
    | ReconnectScheduled
    | RegisterSent
    | Registered
    | Unregistered
    | RegistrationFailed
    | IncomingCall
)
"""Any phone-level event."""


# ------------------------------------------------------------------------------ calls


class EndCause(enum.Enum):
    """How a call ended."""

    LOCAL_HANGUP = "local hangup"
    REMOTE_HANGUP = "remote hangup"
    LOCAL_CANCEL = "cancelled by us before answer"
    REMOTE_CANCEL = "cancelled by the caller before answer"
    LOCAL_REJECT = "rejected by us"
    REMOTE_REJECT = "rejected by the callee or the network"
    TIMEOUT = "no response or no answer in time"
    NO_ACK = "our answer was never acknowledged"
    TRANSPORT_ERROR = "the connection failed"
    MEDIA_ERROR = "media could not be set up"

    @property
    def by_remote(self) -> bool:
        """Whether the far end (or the network) ended it: the guide's ``terminated``."""
        return self in (EndCause.REMOTE_HANGUP, EndCause.REMOTE_CANCEL, EndCause.REMOTE_REJECT)


@dataclass(frozen=True, slots=True)
class Ringing:
    """The callee's phone is ringing (180/183)."""

    status_code: int


@dataclass(frozen=True, slots=True)
class Answered:
    """The call is connected: audio flows both ways."""


@dataclass(frozen=True, slots=True)
class Ended:
    """The call is over."""

    cause: EndCause
    status_code: int | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class DtmfReceived:
    """The far end sent a DTMF digit."""

    digit: str
    method: str
    """``"rfc4733"`` or ``"info"``."""
    duration_ms: int | None = None


@dataclass(frozen=True, slots=True)
class RemoteHoldChanged:
    """The far end put us on hold (``held=True``) or resumed."""

    held: bool


CallEvent = Ringing | Answered | Ended | DtmfReceived | RemoteHoldChanged
"""Any call-level event."""
