"""The one place sipmedia reaches into aiortc's RTP path, which has no public hooks.

Every reach is made per transceiver of one ``MediaSession``: nothing in aiortc's modules
is patched, so other aiortc users in the process (and our other calls) are untouched.
Written against aiortc 1.16; ``AudioRtpTap`` checks that the internals it needs are
there and raises ``AiortcMismatchError`` if an upgrade moved them, instead of failing
silently.

What is reached, and why:

1. ``RTCRtpReceiver._handle_rtp_packet`` (instance attribute): received packets pass
   through ``AudioRtpTap`` first, so ``telephone-event`` packets are read as DTMF before
   the jitter buffer and decoder (which would stop on that payload: aiortc has no
   decoder for it and its decoder thread dies on ``ValueError``), and so packet loss can
   be simulated where a network would cause it.
2. The receiver's jitter buffer (``_RTCRtpReceiver__jitter_buffer``): aiortc's audio
   buffer holds 4 packets before it decodes one (``JitterBuffer(capacity=16,
   prefetch=4)``), 80 ms of one-way delay on every call without smoothing anything:
   nothing downstream plays on a clock. ``ImmediateJitterBuffer`` decodes each packet as
   it arrives; playout smoothing belongs to the sink that owns the clock (a device).
3. ``RTCDtlsTransport._send_rtp`` (instance attribute): the sender's loop keeps its
   sequence number in a local variable, so telephone-events cannot be sent beside it;
   instead each outgoing audio packet of our SSRC is offered to a
   ``TelephoneEventSender``, which may swap its payload type, marker, timestamp and
   payload for an event's (same SSRC, same sequence number, same pacing).
4. ``RTCRtpSender._enabled``: aiortc's own send gate (it closes it for recvonly and
   inactive streams); we close it while we hold the call.
5. ``RTCRtpTransceiver._codecs``: aiortc only negotiates codecs it can decode, so
   ``telephone-event`` is added to a transceiver's list after each negotiation, always
   after the audio codec so it is never the one aiortc encodes with.
6. The receiving DTLS transport's ``_rtp_router``: it drops every packet whose payload
   type is not registered for a receiver, and aiortc registers a receiver's payload
   types once, from ``_codecs`` as they are when the receiver starts (once DTLS is up).
   ``setRemoteDescription`` resets ``_codecs`` to what aiortc decodes; if DTLS comes up
   during a re-offer (a hold right after the answer), telephone-event would never be
   routed. ``AudioRtpTap.configure_events`` registers its payload types itself.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from fractions import Fraction
from types import MappingProxyType
from typing import Final, cast

import av
import numpy as np
from aiortc import RTCRtpCodecCapability, RTCRtpCodecParameters, RTCRtpTransceiver
from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtcpeerconnection import filter_preferred_codecs
from aiortc.rtp import RtpPacket, is_rtcp
from aiortc.sdp import parameters_from_sdp
from aiortc.utils import uint16_gt

from sipcore.sdp import Codec
from sipmedia.dtmf import (
    DtmfReceived,
    EventPacket,
    TelephoneEventReceiver,
    TelephoneEventSender,
)
from sipmedia.pcm import FRAME_MS, Pcm

__all__ = [
    "AiortcMismatchError",
    "ImmediateJitterBuffer",
    "make_jitter_buffer",
    "SequenceRenumberer",
    "AudioRtpTap",
    "EncoderRateTrack",
    "encoder_rate",
    "add_codecs",
    "restrict_codecs",
    "set_sending",
    "rewrite_rtp",
]

logger = logging.getLogger(__name__)

_JITTER_BUFFER_ATTR: Final = "_RTCRtpReceiver__jitter_buffer"
_SEQ_MOD: Final = 1 << 16


class AiortcMismatchError(RuntimeError):
    """The installed aiortc lacks an internal this module hooks (an upgrade moved it)."""


class ImmediateJitterBuffer(JitterBuffer):
    """Hands each audio packet to the decoder the moment it arrives.

    An audio packet carries whole frames (one 20 ms frame from our senders and from
    browsers), so nothing needs assembling. A packet older than one already decoded
    (reordered or duplicated) is dropped: its time has passed. Zero added delay, no
    reordering tolerance; use ``make_jitter_buffer(n)`` with ``n > 0`` for networks
    that reorder.
    """

    def __init__(self) -> None:
        super().__init__(capacity=2)
        self._last: int | None = None

    def add(self, packet: RtpPacket) -> tuple[bool, JitterFrame | None]:
        """Return ``packet`` as a frame to decode now, or nothing if it is stale."""
        seq = packet.sequence_number
        if self._last is not None and not uint16_gt(seq, self._last):
            return False, None
        self._last = seq
        data = cast(bytes, getattr(packet, "_data", packet.payload))
        return False, JitterFrame(data=data, timestamp=packet.timestamp)


def make_jitter_buffer(packets: int) -> JitterBuffer:
    """A receive buffer holding ``packets`` packets (0: ``ImmediateJitterBuffer``).

    Args:
        packets: how many packets aiortc's buffer collects before it decodes the oldest
            (each is ``FRAME_MS`` ms of one-way delay and of reordering tolerance).

    Returns:
        The buffer.

    Raises:
        ValueError: ``packets`` outside 0-32.
    """
    if not 0 <= packets <= 32:
        raise ValueError(f"jitter buffer size must be within 0-32 packets: {packets}")
    if packets == 0:
        return ImmediateJitterBuffer()
    capacity = 16
    while capacity <= 2 * packets:
        capacity *= 2
    return JitterBuffer(capacity=capacity, prefetch=packets)


class SequenceRenumberer:
    """Closes the sequence-number holes telephone-event packets leave in the audio stream.

    Events replace audio packets in the stream; once we take them out, the audio
    packets around them look lost to aiortc's statistics (RFC 3550 §A.3 counts loss
    from sequence numbers) and to a sequence-ordered jitter buffer. Audio packets are
    renumbered down by the count of removed packets that preceded them, so a real loss
    still shows as a hole. Wrap-aware; reordering across a removal is handled for the
    last 2048 packets.
    """

    _WINDOW = 2048

    def __init__(self) -> None:
        self._highest: int | None = None
        self._removed: list[int] = []
        self._pruned = 0

    def _extend(self, seq: int) -> int:
        highest = self._highest
        if highest is None:
            self._highest = seq
            return seq
        delta = (seq - highest) % _SEQ_MOD
        if delta >= _SEQ_MOD // 2:
            delta -= _SEQ_MOD
        extended = highest + delta
        self._highest = max(highest, extended)
        return extended

    def remove(self, seq: int) -> None:
        """Note that the packet numbered ``seq`` was taken out of the stream."""
        extended = self._extend(seq)
        bisect.insort(self._removed, extended)
        assert self._highest is not None
        floor = self._highest - self._WINDOW
        drop = bisect.bisect_left(self._removed, floor)
        if drop:
            del self._removed[:drop]
            self._pruned += drop

    def renumber(self, seq: int) -> int:
        """The sequence number the packet numbered ``seq`` gets downstream."""
        extended = self._extend(seq)
        offset = self._pruned + bisect.bisect_left(self._removed, extended)
        return (extended - offset) % _SEQ_MOD


def rewrite_rtp(data: bytes, packet: EventPacket) -> bytes:
    """``data`` (one serialized RTP packet) carrying ``packet`` instead of its payload.

    Keeps version, CSRCs, header extensions (mid, audio level), SSRC and sequence
    number; sets payload type, marker and timestamp; clears padding (RFC 3550 §5.1).

    Args:
        data: the packet as aiortc serialized it (before SRTP).
        packet: what to carry.

    Returns:
        The rewritten packet.
    """
    first = data[0]
    header = 12 + 4 * (first & 0x0F)
    if first & 0x10:
        # RFC 3550 §5.3.1: 16-bit profile field, 16-bit length in 32-bit words.
        header += 4 + 4 * int.from_bytes(data[header + 2 : header + 4], "big")
    second = (0x80 if packet.marker else 0) | (packet.payload_type & 0x7F)
    return b"".join(
        (
            bytes((first & ~0x20, second)),
            data[2:4],
            packet.timestamp.to_bytes(4, "big"),
            data[8:header],
            packet.payload,
        )
    )


class AudioRtpTap:
    """Our hooks on one audio transceiver: DTMF in and out, loss simulation, counters.

    Args:
        transceiver: the audio transceiver (its sender and receiver exist from birth).
        on_dtmf: called on the media loop with each key press received in RTP.
        jitter_buffer_packets: see ``make_jitter_buffer``.

    Raises:
        AiortcMismatchError: aiortc's internals are not where this module expects them.
    """

    def __init__(
        self,
        transceiver: RTCRtpTransceiver,
        on_dtmf: Callable[[DtmfReceived], None],
        *,
        jitter_buffer_packets: int = 0,
    ) -> None:
        receiver = transceiver.receiver
        sender = transceiver.sender
        deliver = getattr(receiver, "_handle_rtp_packet", None)
        if deliver is None or not hasattr(receiver, _JITTER_BUFFER_ATTR):
            raise AiortcMismatchError("aiortc's RTCRtpReceiver lacks the hooks sipmedia uses")
        if not hasattr(sender.transport, "_send_rtp") or not hasattr(sender, "_enabled"):
            raise AiortcMismatchError("aiortc's RTCRtpSender lacks the hooks sipmedia uses")
        if not hasattr(receiver.transport, "_rtp_router"):
            raise AiortcMismatchError("aiortc's RTCDtlsTransport lacks the hooks sipmedia uses")
        self._transceiver = transceiver
        self._deliver: Callable[..., Awaitable[None]] = deliver
        self._on_dtmf = on_dtmf
        receiver._handle_rtp_packet = self._receive_rtp  # type: ignore[method-assign]
        setattr(receiver, _JITTER_BUFFER_ATTR, make_jitter_buffer(jitter_buffer_packets))
        self._hooked_transport: object | None = None
        self._send_original: Callable[[bytes], Awaitable[None]] | None = None
        self.hook_sender_transport()

        self.event_sender: TelephoneEventSender | None = None
        """Sends telephone-events, once the peer accepted a usable payload type."""
        self._event_rates: dict[int, int] = {}
        self._events_in = TelephoneEventReceiver()
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._renumber = SequenceRenumberer()
        self._loss = 0.0
        self._random = random.Random(0)  # noqa: S311 - simulated loss, not security

        self.packets_received = 0
        """Audio packets handed to aiortc (telephone-events and dropped ones excluded)."""
        self.bytes_received = 0
        """Their payload bytes."""
        self.events_received = 0
        """Telephone-event packets received (every update and retransmission)."""
        self.events_sent = 0
        """Audio packet slots that carried a telephone-event instead."""
        self.packets_dropped = 0
        """Packets thrown away by ``simulate_loss``."""
        self.last_payload_type: int | None = None
        """Payload type of the last audio packet received (the peer's codec)."""

    # -- configuration -------------------------------------------------------------------

    def hook_sender_transport(self) -> None:
        """Put the send hook on the sender's current DTLS transport (idempotent).

        aiortc swaps a transceiver's transport only when BUNDLE folds it into another
        one; this is called again after every negotiation to follow such a swap.
        """
        transport = self._transceiver.sender.transport
        if transport is self._hooked_transport:
            return
        self._send_original = transport._send_rtp
        transport._send_rtp = self._send_rtp  # type: ignore[method-assign]
        self._hooked_transport = transport

    def configure_events(self, receive: Sequence[Codec], send: Codec | None) -> bool:
        """Set the telephone-event formats negotiated for this stream.

        Their payload types are registered with aiortc's packet router for this receiver
        (again after each negotiation: a re-offer may renumber them).

        Args:
            receive: formats the peer may send us (read as DTMF, never decoded).
            send: the format to send events with (at the audio codec's clock rate), or
                ``None`` if the peer accepted none.

        Returns:
            True if queued tones were dropped because the sending format changed (the
            caller then fails their waiters).
        """
        self._event_rates = {codec.payload_type: codec.clock_rate for codec in receive}
        # RFC 3264 §5.1: "For sendrecv RTP streams, the payload type numbers indicate the
        # value of the payload type field the offerer expects to receive": they must reach
        # us however aiortc's receiver start raced a renegotiation (module docstring, 6).
        receiver = self._transceiver.receiver
        receiver.transport._rtp_router.register_receiver(
            receiver, ssrcs=[], payload_types=list(self._event_rates)
        )
        current = self.event_sender
        if current is not None and (
            send is None
            or (current.payload_type, current.clock_rate) != (send.payload_type, send.clock_rate)
        ):
            dropped = current.busy
            current.cancel()
            self.event_sender = None
            if dropped:
                logger.info("telephone-event format renegotiated: queued tones dropped")
        else:
            dropped = False
        if send is not None and self.event_sender is None:
            self.event_sender = TelephoneEventSender(send.payload_type, send.clock_rate)
        return dropped

    def simulate_loss(self, share: float, seed: int = 0) -> None:
        """Drop ``share`` of the received RTP packets, as a lossy network would.

        A test and diagnostics aid: losses show in the statistics (``packetsLost``) and
        in the audio exactly as real ones do.

        Args:
            share: 0 (off) to 1.
            seed: seed of the random choice, for repeatable runs.

        Raises:
            ValueError: ``share`` outside 0-1.
        """
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"loss share must be within 0-1: {share}")
        self._loss = share
        self._random = random.Random(seed)  # noqa: S311 - simulated loss, not security

    # -- sending -------------------------------------------------------------------------

    def events_sent_future(self, ticket: int) -> asyncio.Future[None]:
        """A future set once the event sender's ``completed`` reaches ``ticket``."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((ticket, future))
        if self.event_sender is not None:
            self._settle(self.event_sender.completed)
        return future

    def fail_waiters(self, error: BaseException) -> None:
        """Fail every pending ``events_sent_future`` with ``error``."""
        waiters, self._waiters = self._waiters, []
        for _, future in waiters:
            if not future.done():
                future.set_exception(error)

    def _settle(self, completed: int) -> None:
        if not self._waiters:
            return
        keep: list[tuple[int, asyncio.Future[None]]] = []
        for ticket, future in self._waiters:
            if future.done():
                continue
            if ticket <= completed:
                future.set_result(None)
            else:
                keep.append((ticket, future))
        self._waiters = keep

    async def _send_rtp(self, data: bytes) -> None:
        sender = self.event_sender
        if (
            sender is not None
            and len(data) >= 12
            and not is_rtcp(data)
            and int.from_bytes(data[8:12], "big") == self._transceiver.sender._ssrc
        ):
            packet = sender.on_audio_packet(int.from_bytes(data[4:8], "big"))
            if packet is not None:
                data = rewrite_rtp(data, packet)
                self.events_sent += 1
            self._settle(sender.completed)
        assert self._send_original is not None
        await self._send_original(data)

    # -- receiving -----------------------------------------------------------------------

    async def _receive_rtp(self, packet: RtpPacket, arrival_time_ms: int) -> None:
        # Runs inside aiortc's DTLS receive loop: an exception here would end the
        # transport, so user callbacks are isolated in ``_report``.
        if self._loss and self._random.random() < self._loss:
            self.packets_dropped += 1
            return
        rate = self._event_rates.get(packet.payload_type)
        receiver = self._transceiver.receiver
        if rate is not None:
            self._renumber.remove(packet.sequence_number)
            self.events_received += 1
            if receiver._enabled:
                self._report(
                    self._events_in.on_event_packet(
                        packet.ssrc, packet.timestamp, packet.payload, rate
                    )
                )
            return
        packet.sequence_number = self._renumber.renumber(packet.sequence_number)
        self.packets_received += 1
        self.bytes_received += len(packet.payload)
        self.last_payload_type = packet.payload_type
        self._report(self._events_in.on_audio_packet(packet.ssrc, packet.timestamp))
        await self._deliver(packet, arrival_time_ms=arrival_time_ms)

    def _report(self, events: list[DtmfReceived]) -> None:
        for event in events:
            try:
                self._on_dtmf(event)
            except Exception:
                logger.exception("DTMF listener failed on %s", event)


# ---------------------------------------------------------------------------------------
# Feeding the encoder at its own rate
# ---------------------------------------------------------------------------------------

_ENCODER_RATES: Final[Mapping[str, int]] = MappingProxyType(
    {"audio/pcmu": 8000, "audio/pcma": 8000, "audio/g722": 16000}
)
"""Sample rate each aiortc encoder resamples to (G.722 samples at 16 kHz although its
RTP clock says 8000, RFC 3551 §4.5.2)."""


def encoder_rate(codec: RTCRtpCodecParameters) -> int | None:
    """The sample rate aiortc's encoder for ``codec`` works at, if it resamples ours."""
    return _ENCODER_RATES.get(codec.mimeType.lower())


class EncoderRateTrack(MediaStreamTrack):
    """Our 48 kHz frames resampled to the encoder's rate, in whole 20 ms frames.

    aiortc's G.711 and G.722 encoders resample with ``AudioResampler(frame_size=...)``,
    whose FIFO holds back a frame's worth less the filter delay (144 of 160 samples for
    PCMU): 18 ms of one-way delay. Handing them frames already at their rate and size
    makes that FIFO pass each frame straight through. The resampler's own filter delay
    (2 ms) stays; the first frame is padded with that much silence in front, so every
    frame after it is exactly ``FRAME_MS`` long.

    Args:
        source: the track whose frames are converted (our ``OutboundTrack``); it is
            never stopped by this one, so it can move to another peer connection.
        rate: a callable giving the encoder's rate once the codec is negotiated
            (``None``: pass frames through unchanged).
    """

    kind = "audio"

    def __init__(self, source: MediaStreamTrack, rate: Callable[[], int | None]) -> None:
        super().__init__()
        self._source = source
        self._rate_of = rate
        self._rate: int | None = None
        self._resolved = False
        self._resampler: av.AudioResampler | None = None
        self._fifo: Pcm = np.zeros(0, dtype=np.int16)
        self._pts = 0

    async def recv(self) -> av.AudioFrame:
        """The next frame of ``source``, at the encoder's rate."""
        if self.readyState != "live":
            raise MediaStreamError
        frame = cast(av.AudioFrame, await self._source.recv())
        if not self._resolved:
            self._rate = self._rate_of()
            self._resolved = True
        rate = self._rate
        if rate is None or rate == frame.sample_rate:
            return frame
        if self._resampler is None:
            self._resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
            first = True
        else:
            first = False
        out = [f.to_ndarray().reshape(-1) for f in self._resampler.resample(frame)]
        samples = np.concatenate(out).astype(np.int16) if out else np.zeros(0, np.int16)
        size = rate * FRAME_MS // 1000
        if first:
            samples = np.concatenate((np.zeros((-samples.size) % size, np.int16), samples))
        self._fifo = np.concatenate((self._fifo, samples))
        take = size if self._fifo.size >= size else self._fifo.size
        chunk, self._fifo = self._fifo[:take], self._fifo[take:]
        converted = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="s16", layout="mono")
        converted.sample_rate = rate
        converted.pts = self._pts
        converted.time_base = Fraction(1, rate)
        self._pts += chunk.size
        return converted


# ---------------------------------------------------------------------------------------
# Transceiver state aiortc keeps private
# ---------------------------------------------------------------------------------------


def add_codecs(transceiver: RTCRtpTransceiver, codecs: Sequence[Codec]) -> None:
    """Append ``codecs`` (e.g. telephone-event) to what the transceiver negotiated.

    They go last, so aiortc keeps encoding with the audio codec (``_codecs[0]``); the
    receiver then registers their payload types, and ``createAnswer`` lists them.

    Args:
        transceiver: the audio transceiver.
        codecs: formats from an SDP (payload types as negotiated).
    """
    have = {codec.payloadType for codec in transceiver._codecs}
    for codec in codecs:
        if codec.payload_type in have:
            continue
        have.add(codec.payload_type)
        transceiver._codecs.append(
            RTCRtpCodecParameters(
                mimeType=f"audio/{codec.name}",
                clockRate=codec.clock_rate,
                channels=codec.channels,
                payloadType=codec.payload_type,
                parameters=parameters_from_sdp(codec.fmtp or ""),
            )
        )


def restrict_codecs(
    transceiver: RTCRtpTransceiver, preferred: Sequence[RTCRtpCodecCapability]
) -> bool:
    """Narrow the codecs aiortc negotiated from an offer to ours, in our order.

    aiortc fills ``_codecs`` from the offer before we can state preferences on a
    transceiver it created, so without this the answer would list every common codec
    in the offerer's order and send with the offerer's favourite.

    Args:
        transceiver: the audio transceiver, after ``setRemoteDescription(offer)``.
        preferred: our codec capabilities, most wanted first.

    Returns:
        False if no offered codec is acceptable (the list is then left as it was).
    """
    chosen = filter_preferred_codecs(transceiver._codecs, list(preferred))
    if not chosen:
        return False
    transceiver._codecs = chosen
    return True


def set_sending(transceiver: RTCRtpTransceiver, enabled: bool) -> None:
    """Open or close aiortc's send gate; closed, frames are read and dropped unsent.

    Reading on keeps the source's real-time pacing, so nothing bursts out on reopening.
    """
    transceiver.sender._enabled = enabled
