"""The SDK's errors: one base class, a few precise kinds, each naming the problem."""

from __future__ import annotations

__all__ = [
    "ExotelVoiceError",
    "ConfigurationError",
    "CallStateError",
    "RegistrationError",
    "ConnectionFailed",
    "MediaUnavailable",
    "RecordingError",
]


class ExotelVoiceError(Exception):
    """Base class of every error the SDK raises on purpose."""


class ConfigurationError(ExotelVoiceError, ValueError):
    """An account or option is missing or malformed; the message names the field."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field


class CallStateError(ExotelVoiceError):
    """The call cannot do that now (answer an outgoing call, hold before it is up...).

    Raised before anything is sent.
    """


class RegistrationError(ExotelVoiceError):
    """Registration failed; ``auth_rejected`` says whether the credentials were refused."""

    def __init__(
        self, message: str, *, status_code: int | None = None, auth_rejected: bool = False
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.auth_rejected = auth_rejected


class ConnectionFailed(ExotelVoiceError):
    """The SIP server could not be reached (or refused the WebSocket)."""


class RecordingError(ExotelVoiceError):
    """A recording could not be started (unknown file type, file not writable)."""


class MediaUnavailable(ExotelVoiceError):
    """An audio device was asked for and none could be opened (the guide's
    ``media_permission_denied``)."""
