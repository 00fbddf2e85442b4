"""DTMF: RFC 4733 telephone-events inside the audio stream, and the SIP INFO fallback.

Two ways to carry a key press, decided per call from the negotiated SDP (``dtmf_mode``):

* RFC 4733: the digit travels as ``telephone-event`` RTP packets in the audio stream
  itself (same SSRC, continuing sequence numbers). ``TelephoneEventSender`` decides,
  packet by packet, what the next outgoing packet carries; ``TelephoneEventReceiver``
  turns received event packets back into one ``DtmfReceived`` per key press. Both are
  sans-IO: their only clock is the stream's RTP timestamp. ``sipmedia.rtp`` plugs them
  into aiortc.
* SIP INFO: ``dtmf_relay_body`` builds the ``application/dtmf-relay`` body the Exotel
  platform expects (``Signal=5\\r\\nDuration=240``) and ``parse_dtmf_info`` reads the
  bodies peers send; the client layer sends and receives the INFO requests.
"""

from __future__ import annotations

import enum
import logging
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from sipcore.errors import LocalProtocolError, RemoteProtocolError
from sipcore.sdp import Attribute, Codec, MediaDescription, SessionDescription
from sipmedia.pcm import FRAME_MS

__all__ = [
    "DtmfError",
    "DtmfMode",
    "DtmfReceived",
    "DTMF_DIGITS",
    "DEFAULT_DURATION_MS",
    "DEFAULT_GAP_MS",
    "DEFAULT_VOLUME",
    "MIN_DURATION_MS",
    "MAX_DURATION_MS",
    "MIN_GAP_MS",
    "MAX_GAP_MS",
    "event_codes",
    "digit_for_event",
    "TelephoneEvent",
    "EventPacket",
    "TelephoneEventSender",
    "TelephoneEventReceiver",
    "dtmf_relay_body",
    "parse_dtmf_info",
    "dtmf_mode",
    "add_telephone_events",
    "telephone_event_for",
]

logger = logging.getLogger(__name__)

DTMF_DIGITS: Final = "0123456789*#ABCD"
"""The sixteen DTMF keys; a key's index here is its RFC 4733 event code.

RFC 4733 §3.2 (DTMF events): 0-9 are events 0-9, ``*`` is 10, ``#`` is 11, A-D are
12-15 (16, flash, is not a key and is not sent).
"""

DEFAULT_DURATION_MS: Final = 160
"""Tone length sent by default: long enough for every IVR we know (they want >= 40-100
ms), short enough that a PIN goes through quickly."""
DEFAULT_GAP_MS: Final = 80
"""Pause between two tones by default (libwebrtc uses 70 ms, and at least 30)."""
DEFAULT_VOLUME: Final = 10
"""Tone power sent in the volume field: -10 dBm0 (RFC 4733 §2.3.4: 0 to -63 dBm0)."""

MIN_DURATION_MS: Final = 40
"""Shortest tone sent (libwebrtc's minimum too)."""
MAX_DURATION_MS: Final = 1000
"""Longest tone sent: one RFC 4733 segment (65535 units is 1.36 s at 48 kHz)."""
MIN_GAP_MS: Final = 30
"""Shortest pause between tones."""
MAX_GAP_MS: Final = 5000
"""Longest pause between tones."""

_END_PACKETS: Final = 3
"""RFC 4733 §2.5.1.4: "The final packet for each event and for each segment SHOULD be
sent a total of three times at the interval used by the source for updates"."""

_RTP_TS_MOD: Final = 1 << 32


class DtmfError(LocalProtocolError, ValueError):
    """A DTMF request we refuse before anything is sent (bad digit, duration, gap)."""


class DtmfMode(enum.Enum):
    """How DTMF reaches the peer on a given call."""

    RFC4733 = "rfc4733"
    """``telephone-event`` packets in the RTP audio stream."""
    INFO = "info"
    """SIP INFO requests with an ``application/dtmf-relay`` body."""


@dataclass(frozen=True, slots=True)
class DtmfReceived:
    """The peer pressed a key (one event per key press, however many packets carried it)."""

    digit: str
    """One of ``DTMF_DIGITS``."""
    duration_ms: int | None
    """How long the key was held, if the peer said (always known for RFC 4733)."""
    mode: DtmfMode
    """Whether it came in the RTP stream or in a SIP INFO."""
    volume: int | None = None
    """RFC 4733 volume field: the tone's power in -dBm0 (``None`` for INFO)."""
    ended: bool = True
    """False if no end packet arrived (all three lost) and the event was closed by the
    next event or by the audio resuming after it."""


# ---------------------------------------------------------------------------------------
# Digits
# ---------------------------------------------------------------------------------------


def event_codes(digits: str) -> list[int]:
    """The RFC 4733 event codes of ``digits`` (``a``-``d`` are accepted for A-D).

    Args:
        digits: the keys to press, in order (``"1234#"``).

    Returns:
        One event code (0-15) per digit.

    Raises:
        DtmfError: ``digits`` is empty or holds anything other than 0-9 A-D * #.
    """
    if not digits:
        raise DtmfError("no DTMF digits to send")
    codes: list[int] = []
    for digit in digits:
        code = DTMF_DIGITS.find(digit.upper()) if digit.isascii() else -1
        if code < 0:
            raise DtmfError(f"not a DTMF digit: {digit!r} (use 0-9, A-D, * and #)")
        codes.append(code)
    return codes


def digit_for_event(event: int) -> str | None:
    """The key of an RFC 4733 event code, or ``None`` for events other than DTMF."""
    return DTMF_DIGITS[event] if 0 <= event < len(DTMF_DIGITS) else None


def _check_range(name: str, value: int, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise DtmfError(f"{name} must be an integer within [{low}, {high}]: {value!r}")


# ---------------------------------------------------------------------------------------
# The RFC 4733 payload
# ---------------------------------------------------------------------------------------


# RFC 4733 §2.3, Figure 1: Payload Format for Named Events
#
#     0                   1                   2                   3
#     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
#    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#    |     event     |E|R| volume    |          duration             |
#    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
@dataclass(frozen=True, slots=True)
class TelephoneEvent:
    """One ``telephone-event`` payload (RFC 4733 §2.3): event, E bit, volume, duration."""

    event: int
    """Event code (0-255; DTMF is 0-15)."""
    end: bool
    """The E bit: this packet reports the end of the event."""
    volume: int
    """Power in -dBm0, 0-63."""
    duration: int
    """Length so far, in RTP timestamp units (0-65535)."""

    def __bytes__(self) -> bytes:
        # RFC 4733 §2.3.3: "The sender MUST set [the R bit] to zero".
        flags = (0x80 if self.end else 0) | (self.volume & 0x3F)
        return bytes((self.event & 0xFF, flags)) + (self.duration & 0xFFFF).to_bytes(2, "big")

    @classmethod
    def parse(cls, payload: bytes) -> TelephoneEvent | None:
        """Read a payload; ``None`` if it is too short to be one.

        Only the first four bytes are read: RFC 4733 §2.5.1.5 lets a packet carry
        redundant older events after them, which we do not need.
        """
        if len(payload) < 4:
            return None
        # RFC 4733 §2.3.3: "the receiver MUST ignore [the R bit]".
        return cls(
            event=payload[0],
            end=bool(payload[1] & 0x80),
            volume=payload[1] & 0x3F,
            duration=int.from_bytes(payload[2:4], "big"),
        )


@dataclass(frozen=True, slots=True)
class EventPacket:
    """What to send in place of one audio packet: header fields and payload."""

    payload_type: int
    marker: bool
    timestamp: int
    """The event's start (RFC 4733 §2.2.1: "the RTP timestamp identifies the beginning
    of the event, i.e., several RTP packets may carry the same timestamp")."""
    payload: bytes
    event: TelephoneEvent


@dataclass(frozen=True, slots=True)
class _Tone:
    event: int
    duration: int
    """Timestamp units."""
    gap: int
    """Timestamp units of audio between this tone's end and the next tone."""
    volume: int


def _ts_diff(a: int, b: int) -> int:
    """``a - b`` for RTP timestamps, wrap-aware (-2**31 .. 2**31-1)."""
    diff = (a - b) % _RTP_TS_MOD
    return diff - _RTP_TS_MOD if diff >= _RTP_TS_MOD // 2 else diff


class TelephoneEventSender:
    """Turns queued key presses into telephone-event packets, one audio packet slot at a time.

    The audio stream keeps its rhythm (one packet per ``packet_ms``); while a tone plays,
    each audio packet is replaced by an event packet, so events use the audio stream's
    SSRC and sequence numbers and are paced by it. Sans-IO: the caller reports each
    outgoing audio packet's RTP timestamp to ``on_audio_packet`` and sends what it gets.

    Args:
        payload_type: the negotiated ``telephone-event`` payload type.
        clock_rate: its RTP clock rate, which must be the audio codec's: event
            timestamps and durations are read on the audio stream's clock.
        packet_ms: the audio packet interval.
    """

    def __init__(self, payload_type: int, clock_rate: int, packet_ms: int = FRAME_MS) -> None:
        self.payload_type = payload_type
        self.clock_rate = clock_rate
        self._packet_units = clock_rate * packet_ms // 1000
        self._queue: deque[_Tone] = deque()
        self._current: _Tone | None = None
        self._start = 0
        self._started = False
        self._ends_sent = 0
        self._resume_at: int | None = None
        self.queued = 0
        """Tones ever queued (a ticket counter: see ``enqueue``)."""
        self.completed = 0
        """Tones whose three end packets have been handed out."""

    def enqueue(
        self,
        events: Sequence[int],
        *,
        duration_ms: int = DEFAULT_DURATION_MS,
        gap_ms: int = DEFAULT_GAP_MS,
        volume: int = DEFAULT_VOLUME,
    ) -> int:
        """Queue tones; nothing is sent until audio packets flow.

        Args:
            events: event codes (``event_codes("123")``).
            duration_ms: tone length, 40-1000 ms. Longer events would need RFC 4733
                §2.5.1.3 segments, which this sender does not make.
            gap_ms: silence between tones, 30-5000 ms (the two end retransmissions
                fall inside it).
            volume: 0-63 (-dBm0).

        Returns:
            A ticket: the tones are all sent once ``completed >= ticket``.

        Raises:
            DtmfError: an argument is out of range; nothing was queued.
        """
        _check_range("duration_ms", duration_ms, MIN_DURATION_MS, MAX_DURATION_MS)
        _check_range("gap_ms", gap_ms, MIN_GAP_MS, MAX_GAP_MS)
        _check_range("volume", volume, 0, 63)
        for event in events:
            _check_range("event", event, 0, 255)
        duration = self.clock_rate * duration_ms // 1000
        if duration > 0xFFFF:
            raise DtmfError(
                f"{duration_ms} ms does not fit the 16-bit duration at {self.clock_rate} Hz"
            )
        gap = self.clock_rate * gap_ms // 1000
        for event in events:
            self._queue.append(_Tone(event, duration, gap, volume))
        self.queued += len(events)
        return self.queued

    @property
    def busy(self) -> bool:
        """Whether a tone is playing or queued."""
        return self._current is not None or bool(self._queue)

    def cancel(self) -> int:
        """Drop the queued tones (a tone already playing still ends properly).

        Returns:
            How many tones were dropped.
        """
        dropped = len(self._queue)
        self._queue.clear()
        self.queued -= dropped
        return dropped

    def on_audio_packet(self, timestamp: int) -> EventPacket | None:
        """Decide what the audio packet stamped ``timestamp`` is to carry.

        Args:
            timestamp: the RTP timestamp of the audio packet about to be sent.

        Returns:
            The event packet to send instead, or ``None`` to send the audio.
        """
        tone = self._current
        if tone is None:
            if not self._queue:
                return None
            if self._resume_at is not None and _ts_diff(timestamp, self._resume_at) < 0:
                return None  # still in the gap after the previous tone
            tone = self._current = self._queue.popleft()
            self._start = timestamp
            self._started = False
            self._ends_sent = 0
        if self._ends_sent:
            # RFC 4733 §2.5.1.4: "Once the sender has set the E bit for a packet, it MUST
            # continue to set the E bit for any further retransmissions of that packet."
            return self._end_packet(tone)
        # Duration so far, counting the packet being sent (RFC 4733 §2.3.5: "the event
        # ... began at the instant identified by the RTP timestamp and has so far lasted
        # as long as indicated by this parameter").
        elapsed = _ts_diff(timestamp, self._start) + self._packet_units
        if elapsed >= tone.duration:
            return self._end_packet(tone)
        return self._packet(tone, end=False, duration=elapsed)

    def _end_packet(self, tone: _Tone) -> EventPacket:
        packet = self._packet(tone, end=True, duration=tone.duration)
        self._ends_sent += 1
        if self._ends_sent == _END_PACKETS:
            self._current = None
            self._resume_at = (self._start + tone.duration + tone.gap) % _RTP_TS_MOD
            self.completed += 1
        return packet

    def _packet(self, tone: _Tone, *, end: bool, duration: int) -> EventPacket:
        # RFC 4733 §2.2.2: "The RTP marker bit indicates the beginning of a new event."
        marker = not self._started
        self._started = True
        event = TelephoneEvent(tone.event, end, tone.volume, duration)
        return EventPacket(self.payload_type, marker, self._start, bytes(event), event)


@dataclass(slots=True)
class _Pending:
    ssrc: int
    timestamp: int
    event: int
    volume: int
    duration: int
    clock_rate: int


class TelephoneEventReceiver:
    """Turns received telephone-event packets into one ``DtmfReceived`` per key press.

    Packets of one event share its start timestamp (RFC 4733 §2.2.1), so the event is
    keyed by (SSRC, timestamp): updates and the three end packets of §2.5.1.4 report it
    once. A digit is reported on its first end packet; if every end packet is lost it is
    reported when a new event starts or when audio resumes well after its last reported
    duration. Sans-IO: feed it packets in arrival order.
    """

    _REMEMBERED = 64
    _AUDIO_MARGIN_MS = 60

    def __init__(self) -> None:
        self._pending: _Pending | None = None
        self._done: deque[tuple[int, int]] = deque(maxlen=self._REMEMBERED)

    def on_event_packet(
        self, ssrc: int, timestamp: int, payload: bytes, clock_rate: int
    ) -> list[DtmfReceived]:
        """Read one telephone-event packet.

        Args:
            ssrc: the packet's SSRC.
            timestamp: its RTP timestamp (the event's start).
            payload: its payload.
            clock_rate: the payload type's clock rate.

        Returns:
            The key presses this packet completes (usually none or one).
        """
        event = TelephoneEvent.parse(payload)
        if event is None:
            logger.debug("telephone-event payload too short (%d bytes)", len(payload))
            return []
        key = (ssrc, timestamp)
        if key in self._done:
            return []  # a retransmitted end packet, or an update that came late
        out: list[DtmfReceived] = []
        pending = self._pending
        if pending is not None and (pending.ssrc, pending.timestamp) != key:
            out += self._finish(ended=False)
            pending = None
        if digit_for_event(event.event) is None:
            logger.debug("ignoring telephone-event %d (not DTMF)", event.event)
            return out
        if event.duration == 0:
            # RFC 4733 §2.3.5: "The receiver SHOULD ignore an event report with zero
            # duration if the event is not a state."
            return out
        if pending is None:
            pending = self._pending = _Pending(
                ssrc, timestamp, event.event, event.volume, event.duration, clock_rate
            )
        pending.duration = max(pending.duration, event.duration)
        if event.end:
            out += self._finish(ended=True)
        return out

    def on_audio_packet(self, ssrc: int, timestamp: int) -> list[DtmfReceived]:
        """Note an audio packet: one well past an unfinished event ends that event.

        Args:
            ssrc: the packet's SSRC.
            timestamp: its RTP timestamp.

        Returns:
            The key press this closes, if any.
        """
        pending = self._pending
        if pending is None or pending.ssrc != ssrc:
            return []
        margin = pending.clock_rate * self._AUDIO_MARGIN_MS // 1000
        if _ts_diff(timestamp, pending.timestamp) > pending.duration + margin:
            return self._finish(ended=False)
        return []

    def _finish(self, *, ended: bool) -> list[DtmfReceived]:
        pending = self._pending
        if pending is None:
            return []
        self._pending = None
        self._done.append((pending.ssrc, pending.timestamp))
        digit = digit_for_event(pending.event)
        if digit is None:
            return []
        return [
            DtmfReceived(
                digit=digit,
                duration_ms=pending.duration * 1000 // pending.clock_rate,
                mode=DtmfMode.RFC4733,
                volume=pending.volume,
                ended=ended,
            )
        ]


# ---------------------------------------------------------------------------------------
# SIP INFO
# ---------------------------------------------------------------------------------------


def dtmf_relay_body(digit: str, duration: int = 240) -> bytes:
    """The body of a SIP INFO carrying one key (``Content-Type: application/dtmf-relay``).

    The format the Exotel platform expects, ``Signal=<key>`` CRLF ``Duration=<ms>``.

    Args:
        digit: one of 0-9 A-D * #.
        duration: tone length in milliseconds.

    Returns:
        ``b"Signal=5\\r\\nDuration=240"`` for ``("5", 240)``.

    Raises:
        DtmfError: not exactly one DTMF digit, or a duration outside 1-60000 ms.
    """
    if len(digit) != 1:
        raise DtmfError(f"one digit per INFO: {digit!r}")
    (code,) = event_codes(digit)
    _check_range("duration", duration, 1, 60_000)
    return f"Signal={DTMF_DIGITS[code]}\r\nDuration={duration}".encode("ascii")


_INFO_CONTENT_TYPES: Final = frozenset(("application/dtmf-relay", "application/dtmf"))


def _signal_digit(value: str) -> str:
    value = value.strip()
    if value.isascii() and value.isdigit() and len(value) > 1:
        # Some stacks send the event code: Signal=10 for *, 11 for #.
        digit = digit_for_event(int(value))
    else:
        digit = value.upper() if len(value) == 1 and value.upper() in DTMF_DIGITS else None
    if digit is None:
        raise RemoteProtocolError(f"not a DTMF signal: {value!r}", status_hint=400)
    return digit


def parse_dtmf_info(content_type: str, body: bytes) -> DtmfReceived:
    """Read the key of a received SIP INFO.

    ``application/dtmf-relay`` bodies are ``key=value`` lines (``Signal``, ``Duration``;
    names in any case, LF or CRLF line ends, unknown lines ignored).
    ``application/dtmf`` bodies hold the key alone.

    Args:
        content_type: the request's Content-Type (parameters are ignored).
        body: the request body.

    Returns:
        The key press.

    Raises:
        RemoteProtocolError: another content type (status hint 415) or a body without a
            usable key (400).
    """
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type not in _INFO_CONTENT_TYPES:
        raise RemoteProtocolError(f"not a DTMF INFO body: {content_type!r}", status_hint=415)
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError as exc:
        raise RemoteProtocolError("DTMF INFO body is not ASCII", status_hint=400) from exc
    if media_type == "application/dtmf":
        return DtmfReceived(_signal_digit(text), None, DtmfMode.INFO)
    fields: dict[str, str] = {}
    for line in text.splitlines():
        name, sep, value = line.partition("=")
        if sep:
            fields.setdefault(name.strip().lower(), value.strip())
    if "signal" not in fields:
        raise RemoteProtocolError("DTMF INFO body has no Signal line", status_hint=400)
    duration: int | None = None
    if fields.get("duration", "").isdigit():
        duration = int(fields["duration"])
    return DtmfReceived(_signal_digit(fields["signal"]), duration, DtmfMode.INFO)


# ---------------------------------------------------------------------------------------
# SDP
# ---------------------------------------------------------------------------------------

_PREFERRED_PAYLOAD_TYPES: Final[Mapping[int, int]] = MappingProxyType({8000: 101, 48000: 110})
"""Payload types we offer telephone-event under: 101 is what most SIP stacks hard-code
for /8000, 110 is Chrome's for /48000. Any free dynamic type is used if taken."""
_EVENTS_FMTP: Final = "0-15"
"""RFC 4733 §2.4: the fmtp ``events`` list names the events a receiver supports; we do
the sixteen DTMF keys."""


def _as_description(sdp: str | bytes | SessionDescription) -> SessionDescription:
    if isinstance(sdp, SessionDescription):
        return sdp
    return SessionDescription.parse(sdp)


def _first_audio(description: SessionDescription) -> MediaDescription | None:
    for section in description.media:
        if section.media == "audio" and not section.is_rejected:
            return section
    return None


def telephone_event_for(
    sdp: str | bytes | SessionDescription, clock_rate: int | None = None
) -> Codec | None:
    """The ``telephone-event`` format of the first audio stream usable at ``clock_rate``.

    Args:
        sdp: a description (the peer's offer or answer).
        clock_rate: the audio codec's RTP clock rate; ``None`` takes the rate of the
            first audio codec listed in ``sdp``.

    Returns:
        The format, or ``None`` if the stream lists none at that rate.

    Raises:
        RemoteProtocolError: ``sdp`` does not parse (400).
    """
    description = _as_description(sdp)
    section = _first_audio(description)
    if section is None:
        return None
    codecs = section.codecs
    if clock_rate is None:
        media = [codec for codec in codecs if not codec.is_telephone_event]
        if not media:
            return None
        clock_rate = media[0].clock_rate
    for codec in codecs:
        # One SSRC, one clock: RFC 4733 §2.2.1 reads the event's start and duration on
        # the RTP timestamp, which the audio packets of the same stream also use; so
        # only a telephone-event at the audio codec's rate can share the stream
        # (libwebrtc picks it the same way).
        if codec.is_telephone_event and codec.clock_rate == clock_rate:
            return codec
    return None


def dtmf_mode(remote_sdp: str | bytes | SessionDescription) -> DtmfMode:
    """How to send DTMF on a call, from the peer's negotiated description.

    RFC 4733 if the peer's audio stream lists ``telephone-event`` at the clock rate of
    the audio codec it chose (its first one), SIP INFO otherwise.

    Args:
        remote_sdp: the peer's answer to our offer (or its offer that we answered).

    Returns:
        ``DtmfMode.RFC4733`` or ``DtmfMode.INFO``.

    Raises:
        RemoteProtocolError: ``remote_sdp`` does not parse (400).
    """
    if telephone_event_for(remote_sdp) is not None:
        return DtmfMode.RFC4733
    return DtmfMode.INFO


def add_telephone_events(sdp: str) -> str:
    """Offer ``telephone-event`` in every audio stream of ``sdp``, once per clock rate.

    For each distinct clock rate among a stream's codecs (48000 for Opus, 8000 for
    PCMU, PCMA and G722) a ``telephone-event/<rate>`` format with ``a=fmtp:<pt> 0-15`` is
    appended to the m= line (last: it must never be mistaken for the preferred codec),
    under a payload type the stream does not use yet. Browsers offer the same pair
    (``telephone-event/48000`` and ``/8000``).

    Args:
        sdp: an offer as aiortc wrote it.

    Returns:
        The offer with the formats added (unchanged if it already has them).

    Raises:
        RemoteProtocolError: ``sdp`` does not parse.
    """
    description = SessionDescription.parse(sdp)
    for section in description.media:
        if section.media != "audio" or section.is_rejected:
            continue
        codecs = section.codecs
        have = {codec.clock_rate for codec in codecs if codec.is_telephone_event}
        rates = [c.clock_rate for c in codecs if not c.is_telephone_event]
        used = {int(fmt) for fmt in section.formats if fmt.isdigit()}
        insert_at = _after_last_codec_line(section)
        for rate in dict.fromkeys(rates):
            if rate in have:
                continue
            pt = _free_payload_type(used, _PREFERRED_PAYLOAD_TYPES.get(rate))
            if pt is None:
                logger.warning("no free payload type for telephone-event/%d", rate)
                continue
            used.add(pt)
            have.add(rate)
            section.formats.append(str(pt))
            attributes = Codec(pt, "telephone-event", rate, None, _EVENTS_FMTP).to_attributes()
            section.lines[insert_at:insert_at] = attributes
            insert_at += len(attributes)
    return str(description)


def _after_last_codec_line(section: MediaDescription) -> int:
    last = len(section.lines)
    for index, line in enumerate(section.lines):
        if isinstance(line, Attribute) and line.name in ("rtpmap", "fmtp", "rtcp-fb"):
            last = index + 1
    return last


def _free_payload_type(used: set[int], preferred: int | None) -> int | None:
    if preferred is not None and preferred not in used:
        return preferred
    # RFC 3551 §6: 96-127 are the dynamic payload types.
    return next((pt for pt in range(96, 128) if pt not in used), None)
