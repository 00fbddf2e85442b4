"""Exotel Voice SDK for Python: a real phone inside a Python program.

The async API (``Account``, ``Phone``, ``Call``) runs on asyncio and trio; the guide's
synchronous ``ExotelWebClient`` facade sits on top of it.
"""

from __future__ import annotations

from exotel_voice.account import Account
from exotel_voice.audio import AudioConfig, CallAudio
from exotel_voice.call import Call, CallDetails, CallDirection, CallStatus
from exotel_voice.diagnostics import (
    DiagnosticResult,
    MicCheck,
    NetworkReport,
    SpeakerCheck,
    TroubleshootingReport,
    run_network_diagnostics,
)
from exotel_voice.errors import (
    CallStateError,
    ConfigurationError,
    ConnectionFailed,
    ExotelVoiceError,
    MediaUnavailable,
    RecordingError,
    RegistrationError,
)
from exotel_voice.events import (
    Answered,
    CallEvent,
    Connected,
    Disconnected,
    DtmfReceived,
    EndCause,
    Ended,
    IncomingCall,
    PhoneEvent,
    ReconnectScheduled,
    Registered,
    RegisterSent,
    RegistrationFailed,
    RemoteHoldChanged,
    Ringing,
    Unregistered,
)
from exotel_voice.phone import Phone
from exotel_voice.rest import (
    ApiConnectionError,
    ApiTimeoutError,
    AsyncExotelRestClient,
    AuthenticationError,
    CallRecord,
    ExotelApiError,
    ExotelRestClient,
    MalformedResponseError,
    NotFoundError,
    RateLimitError,
    ServerError,
)
from exotel_voice.webclient import ExotelWebClient, WebCall
from sipadapters import ReconnectPolicy, TlsOptions
from sipmedia import (
    AudioSource,
    FileSource,
    IceServer,
    PcmWriter,
    Silence,
    Tone,
    WriterClosedError,
)

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "Account",
    "Phone",
    "ExotelWebClient",
    "WebCall",
    "Call",
    "CallDetails",
    "CallDirection",
    "CallStatus",
    "TlsOptions",
    "IceServer",
    "AudioConfig",
    "CallAudio",
    "run_network_diagnostics",
    "NetworkReport",
    "DiagnosticResult",
    "TroubleshootingReport",
    "SpeakerCheck",
    "MicCheck",
    "ReconnectPolicy",
    "Tone",
    "FileSource",
    "AudioSource",
    "Silence",
    "PcmWriter",
    "WriterClosedError",
    "ExotelVoiceError",
    "ConfigurationError",
    "CallStateError",
    "RegistrationError",
    "ConnectionFailed",
    "MediaUnavailable",
    "RecordingError",
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
    "ExotelRestClient",
    "AsyncExotelRestClient",
    "CallRecord",
    "ExotelApiError",
    "AuthenticationError",
    "NotFoundError",
    "RateLimitError",
    "ServerError",
    "ApiConnectionError",
    "ApiTimeoutError",
    "MalformedResponseError",
]
