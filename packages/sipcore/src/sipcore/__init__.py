"""sipcore: a sans-IO SIP stack (RFC 3261 and friends) with no I/O, no clock, no threads.

The caller owns the sockets and the clock: feed received messages and the current time
in, take messages to send and the next deadline out. See ``UserAgent`` for the shape,
and ``docs/design.md`` in the repository for why.
"""

from __future__ import annotations

from sipcore.address import NameAddress, parse_name_address
from sipcore.call import Call
from sipcore.call_state import CallState, Direction
from sipcore.config import UserAgentConfig
from sipcore.dialog import Dialog, DialogState
from sipcore.digest import (
    AuthDecision,
    AuthReason,
    ChallengePolicy,
    DigestAlgorithm,
    DigestAuthorization,
    DigestChallenge,
    DigestCredentials,
    DigestSession,
    build_authorization,
    choose_challenge,
    compute_response,
    format_authorization,
    format_challenge,
    parse_authorization,
    parse_challenge,
    parse_challenges,
    verify_authorization,
)
from sipcore.errors import LocalProtocolError, RemoteProtocolError, SipError
from sipcore.events import (
    CallAnswered,
    CallConfirmed,
    CallEnded,
    CallProgressed,
    EndReason,
    Event,
    FlowFailed,
    IncomingCall,
    InfoAnswered,
    InfoReceived,
    KeepAliveAnswered,
    MessageDiscarded,
    ReferReceived,
    Registered,
    RegistrationFailed,
    RegistrationSent,
    ReinviteAnswered,
    ReinviteFailed,
    ReinviteReceived,
    Unregistered,
)
from sipcore.fields import CSeq, EventHeader, MediaType, Reason, RetryAfter, SessionExpires
from sipcore.framing import KeepAlive, StreamFramer, keepalive_kind
from sipcore.headers import Headers
from sipcore.ids import IdFactory, SecureIds, SequentialIds
from sipcore.message import Message, ParseLimits, Request, Response, parse_message
from sipcore.registration import RegistrationState
from sipcore.replies import make_response
from sipcore.sdp import Codec, MediaDescription, SessionDescription
from sipcore.transactions import TimerConfig
from sipcore.uri import AbsoluteUri, SipUri, TelUri, Uri, parse_uri
from sipcore.user_agent import UserAgent
from sipcore.via import Via, parse_via

__all__ = [
    # messages
    "parse_message",
    "Message",
    "Request",
    "Response",
    "Headers",
    "ParseLimits",
    "make_response",
    "StreamFramer",
    "KeepAlive",
    "keepalive_kind",
    # header values
    "Uri",
    "SipUri",
    "TelUri",
    "AbsoluteUri",
    "parse_uri",
    "NameAddress",
    "parse_name_address",
    "Via",
    "parse_via",
    "CSeq",
    "MediaType",
    "RetryAfter",
    "Reason",
    "EventHeader",
    "SessionExpires",
    # errors
    "SipError",
    "LocalProtocolError",
    "RemoteProtocolError",
    # digest
    "DigestAlgorithm",
    "DigestChallenge",
    "DigestCredentials",
    "DigestAuthorization",
    "DigestSession",
    "AuthDecision",
    "AuthReason",
    "ChallengePolicy",
    "parse_challenge",
    "parse_challenges",
    "parse_authorization",
    "format_challenge",
    "format_authorization",
    "choose_challenge",
    "build_authorization",
    "compute_response",
    "verify_authorization",
    # SDP
    "SessionDescription",
    "MediaDescription",
    "Codec",
    # the user agent
    "UserAgent",
    "UserAgentConfig",
    "TimerConfig",
    "IdFactory",
    "SecureIds",
    "SequentialIds",
    "Call",
    "CallState",
    "Direction",
    "Dialog",
    "DialogState",
    "RegistrationState",
    # events
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
