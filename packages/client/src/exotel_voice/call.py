"""A call: answer, reject, hang up, mute, hold, DTMF, audio in and out, details, events.

Each Call owns its media (``sipmedia.MediaSession``) and its own mute/hold state, so
nothing leaks into the next call (a bug of the JavaScript SDK). Actions that are not
possible in the current state raise ``CallStateError`` before anything is sent.
"""

from __future__ import annotations

import enum
import logging
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import anyio

from exotel_voice._broadcast import Broadcast, Subscription
from exotel_voice.errors import CallStateError, MediaUnavailable, RecordingError
from exotel_voice.events import (
    Answered,
    CallEvent,
    DtmfReceived,
    EndCause,
    Ended,
    RemoteHoldChanged,
    Ringing,
)
from sipcore.errors import RemoteProtocolError
from sipcore.events import EndReason
from sipcore.message import Request, Response
from sipcore.sdp import Direction as SdpDirection
from sipcore.sdp import SessionDescription
from sipmedia import (
    DTMF_DIGITS,
    AudioFileError,
    AudioSource,
    CallStats,
    DtmfError,
    DtmfMode,
    FileRecorder,
    MediaError,
    MediaSession,
    Pcm,
    PcmWriter,
    Silence,
    dtmf_mode,
    dtmf_relay_body,
    frame_samples,
)
from sipmedia import DtmfReceived as MediaDtmf

if TYPE_CHECKING:
    from exotel_voice.audio import CallAudio
    from exotel_voice.phone import Phone

__all__ = ["Call", "CallStatus", "CallDirection", "CallDetails"]

logger = logging.getLogger(__name__)

_END_CAUSES = {
    EndReason.LOCAL_HANGUP: EndCause.LOCAL_HANGUP,
    EndReason.REMOTE_HANGUP: EndCause.REMOTE_HANGUP,
    EndReason.LOCAL_CANCEL: EndCause.LOCAL_CANCEL,
    EndReason.REMOTE_CANCEL: EndCause.REMOTE_CANCEL,
    EndReason.LOCAL_REJECT: EndCause.LOCAL_REJECT,
    EndReason.REMOTE_REJECT: EndCause.REMOTE_REJECT,
    EndReason.TIMEOUT: EndCause.TIMEOUT,
    EndReason.NO_ACK: EndCause.NO_ACK,
    EndReason.TRANSPORT_ERROR: EndCause.TRANSPORT_ERROR,
}


class CallDirection(enum.Enum):
    INCOMING = "incoming"
    OUTGOING = "outgoing"


class CallStatus(enum.Enum):
    """Where a call is in its life."""

    INCOMING = "incoming"
    """Ringing here, waiting for ``answer`` or ``reject``."""
    CALLING = "calling"
    """Outgoing, no answer yet."""
    RINGING = "ringing"
    """Outgoing, the far end rings."""
    CONNECTING = "connecting"
    """Answered, media being set up (or our 200 waiting for its ACK)."""
    CONNECTED = "connected"
    ENDED = "ended"


@dataclass(slots=True)
class CallDetails:
    """What is known about a call (the guide's callObj and callDetails)."""

    call_id: str
    direction: CallDirection
    remote_uri: str = ""
    remote_display_name: str = ""
    start_time: float = field(default_factory=time.time)
    """Wall-clock seconds when the call began (INVITE sent or received)."""
    answer_time: float | None = None
    end_time: float | None = None
    end_cause: EndCause | None = None
    ended: Ended | None = None
    """How the call ended, with the final SIP status and reason when there was one."""
    call_sid: str | None = None
    """Exotel's ``X-Exotel-Callsid`` header of the INVITE."""
    leg_sid: str | None = None
    """Exotel's ``LegSid`` header of the INVITE (the JS SDK never captured it)."""
    headers: dict[str, str | list[str]] = field(default_factory=dict)
    """Every INVITE header: one string, or a list when repeated (names as written)."""

    @property
    def duration(self) -> float | None:
        """Seconds from answer to end (or to now while connected)."""
        if self.answer_time is None:
            return None
        return (self.end_time or time.time()) - self.answer_time


class Call:
    """One call of a ``Phone``. Obtained from ``Phone.call()`` or ``Phone.incoming()``."""

    def __init__(
        self,
        phone: Phone,
        call_id: str,
        direction: CallDirection,
        *,
        invite: Request | None = None,
        target: str = "",
    ) -> None:
        self._phone = phone
        self.id = call_id
        """The SIP Call-ID."""
        self.direction = direction
        self.status = (
            CallStatus.INCOMING if direction is CallDirection.INCOMING else CallStatus.CALLING
        )
        self.details = CallDetails(call_id, direction, remote_uri=target)
        self.muted = False
        self.on_hold = False
        """We put the far end on hold."""
        self.remote_on_hold = False
        """The far end put us on hold."""
        self.media: MediaSession | None = None
        self.audio: CallAudio | None = None
        """The call's audio from the phone's ``AudioConfig`` (its devices can be switched
        mid-call), or None (the phone has none, or the call is not answered yet)."""
        self._invite = invite
        self._events: Broadcast[CallEvent] = Broadcast()
        self._ended = anyio.Event()
        self._connected = anyio.Event()
        self._reinvite: _Pending | None = None
        self._source: AudioSource = Silence()
        self._remote_sdp: str | None = None
        """The far end's negotiated description (its answer, or the offer we answered)."""
        self.final_stats: CallStats | None = None
        """The media statistics taken as the call ended (``None`` before, or without media)."""
        self._recorder: FileRecorder | None = None
        self._writers: list[PcmWriter] = []
        """Writers from ``pcm_writer``, closed when the call ends."""
        if invite is not None:
            self._read_invite(invite)

    def __repr__(self) -> str:
        return f"<Call {self.direction.value} {self.status.value} {self.id!r}>"

    # ---------------------------------------------------------------- inspection

    @property
    def ended(self) -> bool:
        """Whether the call is over."""
        return self.status is CallStatus.ENDED

    async def wait_connected(self) -> None:
        """Until the call is connected.

        Raises:
            CallStateError: it ended first.
        """
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as tg:

                async def watch_end() -> None:
                    await self._ended.wait()
                    scope.cancel()

                tg.start_soon(watch_end)
                await self._connected.wait()
                tg.cancel_scope.cancel()
        if not self._connected.is_set():
            raise CallStateError(
                f"the call ended before it was connected ({self.details.end_cause})"
            )

    async def wait_ended(self) -> Ended:
        """Until the call is over; returns how it ended (cause, SIP status and reason)."""
        await self._ended.wait()
        return self.details.ended or Ended(EndCause.LOCAL_HANGUP)

    def events(self) -> Subscription[CallEvent]:
        """This call's events from this moment on, until it ends (``async for``)."""
        return self._events.subscribe()

    # ---------------------------------------------------------------- actions

    async def answer(self, source: AudioSource | None = None) -> None:
        """Accept an incoming call; ``source`` is what we send (default: the phone's).

        Raises:
            CallStateError: not an incoming call that is still ringing.
            MediaUnavailable: the phone's ``AudioConfig`` asks for a device that cannot
                be opened; nothing was sent and the call still rings (answer with another
                ``source``, or reject it).
        """
        if self.direction is not CallDirection.INCOMING or self.status is not CallStatus.INCOMING:
            raise CallStateError(f"cannot answer: the call is {self.status.value}")
        assert self._invite is not None
        self.status = CallStatus.CONNECTING  # claimed: a second answer() fails at once
        try:
            audio = await self._phone._open_call_audio(self.id, source)
        except MediaUnavailable as exc:
            if not self.ended:
                self.status = CallStatus.INCOMING  # nothing was sent: it still rings
            if await self._phone._answer_without_media(self, exc):
                return
            raise
        if self.ended:  # cancelled while the devices opened
            if audio is not None:
                await anyio.to_thread.run_sync(audio.close)
            raise CallStateError("cannot answer: the call has ended")
        self.audio = audio
        self._source = audio or source or self._phone._default_source()
        self.status = CallStatus.CONNECTING
        offer = self._invite.body.decode("utf-8", "replace")
        self._remote_sdp = offer
        try:
            media = self.media = await self._phone._media.run(self._new_media)
            answer = await self._phone._media.run(lambda: media.create_answer(offer))
        except (MediaError, RemoteProtocolError) as exc:
            logger.warning("cannot answer %s: %s", self.id, exc)
            await self._phone._act(lambda ua, now: ua.reject(self.id, now, 488))
            return
        await self._phone._act(lambda ua, now: ua.answer(self.id, now, answer.encode()))

    async def reject(self, status: int = 486, reason: str | None = "Busy") -> None:
        """Refuse an incoming call (486 Busy by default, as the JavaScript SDK does).

        Raises:
            CallStateError: not a ringing incoming call.
        """
        if self.status is not CallStatus.INCOMING:
            raise CallStateError(f"cannot reject: the call is {self.status.value}")
        await self._phone._act(lambda ua, now: ua.reject(self.id, now, status, reason))

    async def hangup(self) -> None:
        """End the call at any stage: reject if ringing here, cancel if ringing there, else BYE.

        Raises:
            CallStateError: the call is already over.
        """
        if self.ended:
            raise CallStateError("the call has already ended")
        await self._phone._act(lambda ua, now: ua.hangup(self.id, now, 486, "Busy"))

    def mute(self) -> None:
        """Send silence instead of our audio (no signalling, the call stays connected)."""
        self._require_live("mute")
        self.muted = True
        if self.media is not None:
            self.media.outbound.muted = True

    def unmute(self) -> None:
        """Send our audio again."""
        self._require_live("unmute")
        self.muted = False
        if self.media is not None:
            self.media.outbound.muted = False

    async def hold(self) -> None:
        """Put the far end on hold (re-INVITE with ``a=sendonly``). Holding twice stays held.

        Raises:
            CallStateError: not connected, or the far end refused.
        """
        if self.on_hold:
            return
        await self._reoffer(hold=True)

    async def unhold(self) -> None:
        """Resume a held call (re-INVITE with ``a=sendrecv``). Resuming twice is harmless."""
        if not self.on_hold:
            return
        await self._reoffer(hold=False)

    async def send_dtmf(self, digits: str) -> None:
        """Send DTMF digits (0-9, A-D, ``*``, ``#``).

        The account's ``dtmf_mode`` picks the method: ``"rfc4733"`` (telephone-events in
        the audio stream), ``"info"`` (SIP INFO ``application/dtmf-relay``, what the
        Exotel platform expects), or ``"auto"`` (RFC 4733 when the far end negotiated
        telephone-event, else INFO).

        Raises:
            ValueError: a character is not a DTMF digit (nothing is sent).
            CallStateError: the call is not connected.
        """
        bad = [c for c in digits if c.upper() not in DTMF_DIGITS]
        if not digits or bad:
            raise ValueError(f"not DTMF digits: {bad or digits!r} (use 0-9, A-D, * and #)")
        self._require_connected("send DTMF")
        media = self._require_media()
        if self._dtmf_mode() is DtmfMode.RFC4733:
            try:
                await self._phone._media.run(media.send_dtmf, digits.upper())
            except DtmfError as exc:
                raise CallStateError(f"cannot send DTMF: {exc}") from exc
            return
        for digit in digits.upper():
            await self._send_info(dtmf_relay_body(digit), "application/dtmf-relay")

    async def _send_info(self, body: bytes, content_type: str) -> None:
        await self._phone._act(lambda ua, now: ua.info(self.id, now, body, content_type))

    def _dtmf_mode(self) -> DtmfMode:
        configured = self._phone.account.dtmf_mode
        if configured == "rfc4733":
            return DtmfMode.RFC4733
        if configured == "info" or self._remote_sdp is None:
            return DtmfMode.INFO
        return dtmf_mode(self._remote_sdp)

    def play(self, source: AudioSource) -> None:
        """Send audio from ``source`` from now on (a tone, a file, a PcmWriter...).

        A writer from ``pcm_writer`` that this replaces is closed: nothing reads it any
        more, so a producer waiting in its ``send`` gets ``WriterClosedError`` instead of
        waiting for the rest of the call.
        """
        previous, self._source = self._source, source
        if self.media is not None:
            self.media.outbound.source = source
        if isinstance(previous, PcmWriter) and previous is not source and previous in self._writers:
            self._writers.remove(previous)
            previous.close()

    async def recent_audio(self, seconds: float) -> Pcm:
        """The last ``seconds`` of audio received (48 kHz mono int16)."""
        media = self.media
        if media is None:
            return Silence().read(0)
        return await self._phone._media.call(media.inbound.recent, seconds)

    async def audio_frames(self, rate: int = 16_000) -> AsyncIterator[Pcm]:
        """What we receive, as 20 ms frames of mono int16 at ``rate``, until the call ends.

        For programs that take speech in (a bot's recognizer): ``async for frame in
        call.audio_frames(16000)`` gives arrays of ``rate // 50`` samples (320 at 16 kHz),
        resampled from the call's 48 kHz stream-wise. Works on asyncio and on trio (the
        frames cross from the media thread). Frames are kept for a slow reader, none is
        dropped; nothing arrives while the call is on hold. Several iterators may run at
        once, each from its first step on.

        Args:
            rate: samples per second, 8000-48000, a multiple of 50.

        Yields:
            Each frame, in order. The iteration ends when the call ends.

        Raises:
            ValueError: ``rate`` has no whole number of samples per 20 ms.
            CallStateError: the call has no media (not set up yet, or over).
        """
        frame_samples(rate)  # a bad rate fails here, not on the media loop
        media = self._require_media()
        runner = self._phone._media
        frames = media.inbound.frames(rate)

        async def next_frame() -> Pcm | None:
            # On the media loop; the end of the stream as a value, not an exception.
            try:
                return await anext(frames)
            except StopAsyncIteration:
                return None

        try:
            while (frame := await runner.run(next_frame)) is not None:
                yield frame
        finally:
            with anyio.CancelScope(shield=True):
                try:
                    await runner.run(frames.aclose)
                except RuntimeError as exc:  # the media loop is gone, and the stream with it
                    logger.debug("audio frames of %s not closed: %s", self.id, exc)

    def pcm_writer(
        self, rate: int = 16_000, *, ahead: float = 0.5, max_seconds: float = 30.0
    ) -> PcmWriter:
        """Send what a program writes at ``rate`` (a bot's speech), from now on.

        The same as ``play(PcmWriter(max_seconds, rate=rate, ahead=ahead))``, and the
        writer is closed when the call ends: ``send`` then raises ``WriterClosedError``
        (a waiting one too), so a producer stops with the call. Write mono int16 at
        ``rate``: ``await writer.send(pcm)`` waits while more than ``ahead`` seconds are
        queued (a producer faster than real time loses nothing), ``writer.write(pcm)``
        never waits, ``writer.clear()`` cuts off (barge-in).

        Args:
            rate: samples per second of what is written (8-192 kHz).
            ahead: most audio queued when ``send`` returns, seconds.
            max_seconds: most audio kept by ``write``; older audio is dropped.

        Returns:
            The writer, now what the call sends.

        Raises:
            ValueError: ``rate`` or ``ahead`` out of range.
            CallStateError: the call has ended.
        """
        self._require_live("send audio")
        writer = PcmWriter(max_seconds, rate=rate, ahead=ahead)
        self._writers.append(writer)
        self.play(writer)
        return writer

    # ---------------------------------------------------------------- statistics, recording, echo

    async def stats(self, previous: CallStats | None = None) -> CallStats:
        """The call's media statistics now: packets, loss, jitter, RTT and a MOS estimate.

        Args:
            previous: an earlier sample of this call; loss and MOS then cover the time
                since it (since media began without it).

        Returns:
            The statistics (their ``time`` is on the media loop's clock). No state changes.

        Raises:
            CallStateError: the call has no media (not set up yet, or over: after the end
                ``final_stats`` holds the last ones).
        """
        media = self._require_media()
        return await self._phone._media.run(media.get_stats, previous)

    async def record(self, path: str | os.PathLike[str]) -> None:
        """Record what we receive to ``path`` until ``stop_recording`` or the end of the call.

        The format follows the suffix: ``.wav``, ``.ogg``/``.opus`` or ``.mp3``
        (``sipmedia.RECORD_CODECS``). Nothing is received, so nothing recorded, while the
        call is on hold. The file is finished when the call ends.

        Args:
            path: the file to (over)write.

        Raises:
            CallStateError: the call has no media, or is already being recorded.
            RecordingError: unknown suffix, or the file cannot be created.
        """
        media = self._require_media()
        if self._recorder is not None:
            raise CallStateError(f"the call is already being recorded to {self._recorder.path}")
        try:
            recorder = FileRecorder(path)
        except AudioFileError as exc:
            raise RecordingError(str(exc)) from exc
        self._recorder = recorder

        def sink(pcm: Pcm) -> None:
            # On the media loop: a failing disk must not stop the call's audio.
            if recorder.closed:
                return
            try:
                recorder.write(pcm)
            except AudioFileError as exc:
                logger.warning("recording stopped: %s", exc)
                recorder.close()

        await self._phone._media.call(media.inbound.on_pcm, sink)

    async def stop_recording(self) -> str | None:
        """Finish the file ``record`` writes (idempotent).

        Returns:
            The recording's path, or ``None`` if the call was not being recorded.
        """
        recorder, self._recorder = self._recorder, None
        if recorder is None:
            return None
        # On the media loop, so no chunk is being written while the file is closed.
        await self._phone._media.call(recorder.close)
        return recorder.path

    async def echo(self, max_delay: float = 0.2) -> None:
        """Send back what we receive (a loopback test for the far end) until ``play``.

        Args:
            max_delay: the most audio held back, seconds; older audio is dropped.

        Raises:
            CallStateError: the call has no media yet.
        """
        media = self._require_media()
        writer = PcmWriter(max_seconds=max_delay)

        def feed(pcm: Pcm) -> None:
            if self._source is writer:  # until something else is played
                writer.write(pcm)

        await self._phone._media.call(media.inbound.on_pcm, feed)
        self.play(writer)

    async def _final_stats(self, media: MediaSession) -> CallStats | None:
        with anyio.move_on_after(1.0):
            try:
                return await self._phone._media.run(media.get_stats)
            except Exception as exc:  # noqa: BLE001 - best effort: the call is over anyway
                logger.debug("no final statistics for %s: %r", self.id, exc)
        return None

    # ---------------------------------------------------------------- internals

    def _require_live(self, what: str) -> None:
        if self.ended:
            raise CallStateError(f"cannot {what}: the call has ended")

    def _require_connected(self, what: str) -> None:
        if self.status is not CallStatus.CONNECTED:
            raise CallStateError(f"cannot {what}: the call is {self.status.value}")

    def _require_media(self) -> MediaSession:
        if self.media is None:
            raise CallStateError("the call has no media yet")
        return self.media

    async def _new_media(self) -> MediaSession:
        media = MediaSession(self._phone._media_config, self._source)
        media.outbound.muted = self.muted
        if self.audio is not None:
            media.inbound.on_pcm(self.audio)  # the configured sink (switchable)
        # Keys from RTP (RFC 4733) and from SIP INFO both arrive here (on the media loop).
        media.on_dtmf(lambda event: self._phone._from_media(lambda: self._on_dtmf(event)))
        return media

    def _on_dtmf(self, event: MediaDtmf) -> None:
        self._emit(DtmfReceived(event.digit, event.mode.value, event.duration_ms))

    def _read_invite(self, invite: Request) -> None:
        details = self.details
        from_ = invite.from_
        details.remote_uri = str(from_.uri)
        details.remote_display_name = from_.display_name or getattr(from_.uri, "user", "") or ""
        for name, value in invite.headers:
            previous = details.headers.get(name)
            if previous is None:
                details.headers[name] = value
            elif isinstance(previous, list):
                previous.append(value)
            else:
                details.headers[name] = [previous, value]
        details.call_sid = invite.headers.get("X-Exotel-Callsid")
        details.leg_sid = invite.headers.get("LegSid")

    async def _reoffer(self, *, hold: bool) -> None:
        self._require_connected("hold" if hold else "resume")
        media = self._require_media()
        if self._reinvite is not None:
            raise CallStateError("a hold or resume is already in progress")
        offer = await self._phone._media.run(media.hold_offer if hold else media.resume_offer)
        pending = self._reinvite = _Pending()
        try:
            await self._phone._act(lambda ua, now: ua.reinvite(self.id, now, offer.encode()))
            await pending.done.wait()
        finally:
            self._reinvite = None
        answer = pending.response
        if answer is None:
            raise CallStateError(f"the far end refused to {'hold' if hold else 'resume'} the call")
        sdp = answer.body.decode("utf-8", "replace")
        await self._phone._media.run(lambda: media.accept_answer(sdp))
        self._remote_sdp = sdp  # the session's SDP now (RFC 3264 §8): DTMF mode follows it
        self.on_hold = hold

    # ---------------------------------------------------------------- from the phone

    def _emit(self, event: CallEvent) -> None:
        self._events.publish(event)
        self._phone._call_event(self, event)

    async def _on_progress(self, response: Response) -> None:
        if self.status is CallStatus.CALLING:
            self.status = CallStatus.RINGING
        self._emit(Ringing(response.status_code))

    async def _on_answered(self, response: Response) -> None:
        self.status = CallStatus.CONNECTING
        sdp = response.body.decode("utf-8", "replace")
        self._remote_sdp = sdp
        try:
            await self._phone._media.run(lambda: self._require_media().accept_answer(sdp))
        except (MediaError, RemoteProtocolError) as exc:
            logger.warning("answer to %s unusable: %s; hanging up", self.id, exc)
            await self._phone._act(lambda ua, now: ua.bye(self.id, now))
            return
        self._set_connected()

    def _on_confirmed(self) -> None:
        self._set_connected()

    def _set_connected(self) -> None:
        if self.status in (CallStatus.CONNECTED, CallStatus.ENDED):
            return
        self.status = CallStatus.CONNECTED
        self.details.answer_time = time.time()
        self._connected.set()
        self._emit(Answered())

    async def _on_reinvite(self, request: Request) -> None:
        media = self.media
        if media is None:
            await self._phone._act(lambda ua, now: ua.reject_reinvite(self.id, now, 488))
            return
        offer = request.body.decode("utf-8", "replace")
        try:
            answer = await self._phone._media.run(lambda: media.create_answer(offer))
        except (MediaError, RemoteProtocolError) as exc:
            reason = str(exc)[:60]
            await self._phone._act(lambda ua, now: ua.reject_reinvite(self.id, now, 488, reason))
            return
        await self._phone._act(lambda ua, now: ua.accept_reinvite(self.id, now, answer.encode()))
        self._remote_sdp = offer  # the session's SDP now (RFC 3264 §8): DTMF mode follows it
        held = _offers_hold(offer)
        if held != self.remote_on_hold:
            self.remote_on_hold = held
            self._emit(RemoteHoldChanged(held))

    def _on_reinvite_result(self, response: Response | None) -> None:
        if self._reinvite is not None:
            self._reinvite.response = response
            self._reinvite.done.set()

    async def _on_info(self, request: Request) -> None:
        media = self.media
        content_type = request.content_type
        if media is None or content_type is None:
            return
        kind = content_type.essence
        try:
            await self._phone._media.call(media.receive_dtmf_info, kind, request.body)
        except RemoteProtocolError:
            logger.debug("INFO on %s is not DTMF (%s)", self.id, kind)

    async def _on_ended(
        self, reason: EndReason, status: int | None, reason_text: str | None
    ) -> None:
        if self.ended:
            return
        cause = _END_CAUSES.get(reason, EndCause.TRANSPORT_ERROR)
        self.status = CallStatus.ENDED
        self.details.end_time = time.time()
        self.details.end_cause = cause
        if self._reinvite is not None:
            self._reinvite.done.set()
        media, self.media = self.media, None
        for writer in self._writers:  # first: producers stop even if what follows fails
            writer.close()
        self._writers.clear()
        if media is not None:
            self.final_stats = await self._final_stats(media)
            await self._phone._media.run(media.close)
        await self.stop_recording()
        if self.audio is not None:
            with anyio.CancelScope(shield=True):  # devices are released even when cancelled
                await anyio.to_thread.run_sync(self.audio.close)
        self._ended.set()
        ended = self.details.ended = Ended(cause, status, reason_text)
        self._emit(ended)
        self._events.close()


@dataclass(slots=True)
class _Pending:
    """A re-INVITE of ours waiting for its outcome (``response`` None: refused)."""

    done: anyio.Event = field(default_factory=anyio.Event)
    response: Response | None = None


def _offers_hold(sdp: str) -> bool:
    """Whether an offer puts us on hold (RFC 3264 §8.4: sendonly or inactive)."""
    try:
        description = SessionDescription.parse(sdp)
    except RemoteProtocolError:
        return False
    audio = [m for m in description.media if m.media == "audio"]
    if not audio:
        return False
    direction = description.direction_for(audio[0])
    return direction in (SdpDirection.SENDONLY, SdpDirection.INACTIVE)
