"""The guide's Call object (sections 5.4-5.9): ``Answer``, ``Hangup``, ``Mute``... by name.

``ExotelWebClient.getCall()`` returns one. It always refers to the client's current
call; when there is none, every action raises ``CallStateError("no active call")``
instead of failing obscurely.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from exotel_voice.call import Call, CallStatus
from exotel_voice.errors import CallStateError
from sipmedia import DTMF_DIGITS

if TYPE_CHECKING:
    from exotel_voice.webclient.client import ExotelWebClient

__all__ = ["WebCall"]


class WebCall:
    """A call as the guide's callbacks and ``getCall()`` present it.

    Attributes follow the guide's callObj: ``callId``, ``callState``, ``callDirection``,
    ``callStartTime``, ``remoteDisplayName``; ``callDetails()`` adds ``callSid``
    (``X-Exotel-Callsid``), ``legSid`` (``LegSid``) and every INVITE header.
    """

    def __init__(self, client: ExotelWebClient, call: Call | None = None) -> None:
        self._client = client
        self._fixed = call

    def _call(self) -> Call:
        call = self._fixed or self._client._current_call()
        if call is None:
            raise CallStateError("no active call")
        return call

    # ------------------------------------------------------------------ the callObj fields

    @property
    def call(self) -> Call:
        """The Pythonic ``Call`` underneath, for what the guide has no name for:
        ``muted``, ``on_hold``, ``remote_on_hold``, ``media.codec``, ``stats()``...

        Raises:
            CallStateError: there is no call.
        """
        return self._call()

    @property
    def callId(self) -> str:
        """The SIP Call-ID."""
        return self._call().id

    @property
    def callState(self) -> str:
        """``incoming``, ``calling``, ``ringing``, ``connecting``, ``connected`` or ``ended``."""
        return self._call().status.value

    @property
    def callDirection(self) -> str:
        """``incoming`` or ``outgoing``."""
        return self._call().direction.value

    @property
    def callStartTime(self) -> str:
        """When the call began, ISO 8601 (UTC)."""
        start = self._call().details.start_time
        return datetime.datetime.fromtimestamp(start, datetime.UTC).isoformat()

    @property
    def remoteDisplayName(self) -> str:
        """The caller's display name (or user)."""
        return self._call().details.remote_display_name

    def callDetails(self) -> dict[str, Any]:
        """Everything known about the call, as the JS SDK's ``callDetails()`` names it."""
        call = self._call()
        d = call.details
        return {
            "callId": d.call_id,
            "callSid": d.call_sid,
            "legSid": d.leg_sid,
            "remoteId": d.remote_uri,
            "remoteDisplayName": d.remote_display_name,
            "callDirection": call.direction.value,
            "callState": call.status.value,
            "callStartedTime": d.start_time,
            "callAnswerTime": d.answer_time,
            "callEndedTime": d.end_time,
            "callDuration": d.duration,
            "callEndReason": d.end_cause.value if d.end_cause else None,
            "sipHeaders": dict(d.headers),
        }

    # ------------------------------------------------------------------ actions

    def _run(self, factory: Callable[[Call], Coroutine[Any, Any, None]]) -> None:
        self._client._perform(factory(self._call()))

    def Answer(self) -> None:
        """Accept the ringing incoming call (section 5.5)."""
        call = self._call()
        if call.status is not CallStatus.INCOMING:
            raise CallStateError(f"cannot answer: the call is {call.status.value}")
        self._run(lambda c: c.answer())

    def Hangup(self) -> None:
        """End the call; before answering, reject it with 486 Busy (section 5.6)."""
        call = self._call()
        if call.ended:
            raise CallStateError("the call has already ended")
        self._run(lambda c: c.hangup())

    def Mute(self) -> None:
        """Send silence (section 5.7); muting twice stays muted."""
        self._call().mute()

    def UnMute(self) -> None:
        """Send our audio again."""
        self._call().unmute()

    def MuteToggle(self) -> None:
        """Mute if unmuted, else unmute."""
        call = self._call()
        if call.muted:
            call.unmute()
        else:
            call.mute()

    def Hold(self) -> None:
        """Put the far end on hold (section 5.8); holding twice stays held."""
        call = self._call()
        self._require_connected(call, "hold")
        self._run(lambda c: c.hold())

    def UnHold(self) -> None:
        """Resume the held call; resuming twice is harmless."""
        call = self._call()
        self._require_connected(call, "resume")
        self._run(lambda c: c.unhold())

    def HoldToggle(self) -> None:
        """Hold if not held, else resume."""
        call = self._call()
        self._require_connected(call, "hold")
        self._run(lambda c: c.unhold() if c.on_hold else c.hold())

    def sendDTMF(self, digit: str) -> None:
        """Send one DTMF digit: 0-9, A-D, ``*`` or ``#`` (section 5.9).

        Raises:
            ValueError: anything else (nothing is sent).
        """
        if not isinstance(digit, str) or len(digit) != 1 or digit.upper() not in DTMF_DIGITS:
            raise ValueError(f"not a DTMF digit: {digit!r} (use 0-9, A-D, * or #)")
        call = self._call()
        self._require_connected(call, "send DTMF")
        self._run(lambda c: c.send_dtmf(digit))

    @staticmethod
    def _require_connected(call: Call, what: str) -> None:
        if call.status is not CallStatus.CONNECTED:
            raise CallStateError(f"cannot {what}: the call is {call.status.value}")

    def __repr__(self) -> str:
        call = self._fixed or self._client._current_call()
        return f"<WebCall {call!r}>"
