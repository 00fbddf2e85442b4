"""Opus encoding and audio decoding on the media loop, without aiortc's thread hand-offs.

aiortc encodes each 20 ms audio frame in the loop's default executor
(``run_in_executor``) and decodes each received one in a thread per receiver, handing the
frame back with ``run_coroutine_threadsafe``. For audio the hand-offs cost more than the
codec work they move: measured with ``python -m benchmarks media``, an Opus call
endpoint cost ~0.045 CPU-s per second of call, and ~0.02 with encoding and decoding done
inline. aiortc also computes the RFC 6464 audio level of every frame it encodes in a
pure-Python loop over the samples (~70 us per 48 kHz frame), and encodes our mono audio
as stereo.

* ``InlineOpusTrack`` hands aiortc's sender Opus packets it encoded itself (mono; aiortc
  sends a ``Packet`` it is given as it is, with no executor, resampler or audio level).
* ``InlineDecodeBuffer`` is the receive buffer of ``ImmediateJitterBuffer`` (decode each
  packet on arrival) that decodes right there and hands the frame to a sink, so
  aiortc's decoder thread stays idle.

Like ``sipmedia.rtp``, this reaches into aiortc 1.16 per transceiver and checks that
what it needs is there (``AiortcMismatchError`` otherwise).
"""

from __future__ import annotations

import fractions
import logging
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, cast

import av
from aiortc import RTCRtpCodecParameters, RTCRtpTransceiver
from aiortc.codecs import get_decoder
from aiortc.codecs.base import Decoder
from aiortc.jitterbuffer import JitterFrame
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtp import RtpPacket

from sipmedia.pcm import FRAME_SAMPLES, SAMPLE_RATE
from sipmedia.rtp import AiortcMismatchError, ImmediateJitterBuffer

__all__ = ["InlineOpusTrack", "InlineDecodeBuffer", "install_inline_decoder"]

logger = logging.getLogger(__name__)

_TIME_BASE: Final = fractions.Fraction(1, SAMPLE_RATE)
_OPUS_BIT_RATE: Final = 96_000
"""aiortc's ``OpusEncoder.bit_rate`` (the MOS model in ``sipmedia.stats`` assumes it)."""
_RECEIVER_CODECS_ATTR: Final = "_RTCRtpReceiver__codecs"
_JITTER_BUFFER_ATTR: Final = "_RTCRtpReceiver__jitter_buffer"


def _is_opus(codec: RTCRtpCodecParameters | None) -> bool:
    return codec is not None and codec.mimeType.lower() == "audio/opus"


def _opus_encoder() -> av.AudioCodecContext:
    encoder = av.CodecContext.create("libopus", "w")
    encoder.bit_rate = _OPUS_BIT_RATE
    encoder.format = "s16"
    encoder.layout = "mono"
    encoder.sample_rate = SAMPLE_RATE
    encoder.time_base = _TIME_BASE
    encoder.options = {"application": "voip"}
    return encoder


def _opus_decoder() -> av.AudioCodecContext:
    decoder = av.CodecContext.create("libopus", "r")
    decoder.format = "s16"
    decoder.layout = "mono"
    decoder.sample_rate = SAMPLE_RATE
    return decoder


def _fits_encoder(frame: av.AudioFrame) -> bool:
    return (
        frame.samples == FRAME_SAMPLES
        and frame.sample_rate == SAMPLE_RATE
        and frame.format.name == "s16"
        and frame.layout.name == "mono"
    )


class InlineOpusTrack(MediaStreamTrack):
    """Frames of ``source`` encoded here to Opus packets when Opus is the codec we send.

    A 20 ms mono 48 kHz s16 frame (what ``OutboundTrack`` makes) is one Opus packet,
    encoded at once on the loop; anything else goes through a resampler that cuts it to
    such frames (from then on, so no sample is reordered). With another codec, frames
    pass through unchanged for aiortc to encode.

    Args:
        source: the track whose frames are sent (never stopped by this one).
        codec: gives the codec we send with once negotiated (read at the first frame,
            as aiortc creates its encoder then).
    """

    kind = "audio"

    def __init__(
        self, source: MediaStreamTrack, codec: Callable[[], RTCRtpCodecParameters | None]
    ) -> None:
        super().__init__()
        self._source = source
        self._codec_of = codec
        self._resolved = False
        self._encoder: av.AudioCodecContext | None = None
        self._cutter: av.AudioResampler | None = None
        self._pending: deque[av.Packet[Any]] = deque()
        self._pts = 0

    async def recv(self) -> av.AudioFrame | av.Packet[Any]:
        """The next Opus packet (or frame, with another codec) of ``source``."""
        if self.readyState != "live":
            raise MediaStreamError
        while not self._pending:
            frame = cast(av.AudioFrame, await self._source.recv())
            if not self._resolved:
                self._resolved = True
                if _is_opus(self._codec_of()):
                    self._encoder = _opus_encoder()
            encoder = self._encoder
            if encoder is None:
                return frame
            if self._cutter is None and _fits_encoder(frame):
                self._pending.extend(encoder.encode(frame))
            else:
                if self._cutter is None:
                    self._cutter = av.AudioResampler(
                        format="s16", layout="mono", rate=SAMPLE_RATE, frame_size=FRAME_SAMPLES
                    )
                for piece in self._cutter.resample(frame):
                    self._pending.extend(encoder.encode(piece))
        packet = self._pending.popleft()
        # aiortc's ``OpusEncoder.pack`` reads the RTP timestamp from pts and time base.
        packet.pts = self._pts
        packet.time_base = _TIME_BASE
        self._pts += FRAME_SAMPLES
        return packet


class InlineDecodeBuffer(ImmediateJitterBuffer):
    """``ImmediateJitterBuffer`` that decodes each packet itself and hands the frames to
    ``sink``; it returns no frame, so aiortc's decoder thread gets nothing to do.

    Args:
        codecs: the receiver's payload type -> codec table (aiortc's own, read live:
            a renegotiation updates it).
        sink: called on the media loop with each decoded frame.
    """

    def __init__(
        self,
        codecs: Mapping[int, RTCRtpCodecParameters],
        sink: Callable[[av.AudioFrame], None],
    ) -> None:
        super().__init__()
        self._codecs = codecs
        self._sink = sink
        self._decoders: dict[int, tuple[RTCRtpCodecParameters, Decoder | av.AudioCodecContext]] = {}

    def add(self, packet: RtpPacket) -> tuple[bool, JitterFrame | None]:
        """Decode ``packet`` now (unless stale) and pass its audio on; never a frame."""
        _, frame = super().add(packet)
        if frame is None:
            return False, None
        codec = self._codecs.get(packet.payload_type)
        if codec is None:
            return False, None
        known = self._decoders.get(packet.payload_type)
        if known is None or known[0] is not codec:
            # Opus decodes straight to our mono (aiortc's decoder makes stereo).
            known = (codec, _opus_decoder() if _is_opus(codec) else get_decoder(codec))
            self._decoders[packet.payload_type] = known
        decoder = known[1]
        decoded: Sequence[av.frame.Frame]
        try:
            if isinstance(decoder, Decoder):
                decoded = decoder.decode(frame)
            else:
                chunk = av.Packet(frame.data)
                chunk.pts = frame.timestamp
                chunk.time_base = _TIME_BASE
                decoded = decoder.decode(chunk)
        except av.FFmpegError as exc:
            # As aiortc's decoder thread does: keep the decoder state and go on.
            logger.warning("failed to decode a %s frame: %s", codec.mimeType, exc)
            return False, None
        for audio in decoded:
            self._sink(cast(av.AudioFrame, audio))
        return False, None


def install_inline_decoder(
    transceiver: RTCRtpTransceiver, sink: Callable[[av.AudioFrame], None]
) -> None:
    """Make ``transceiver``'s receiver decode on arrival, on the loop, into ``sink``.

    Replaces the receive buffer (which must be an ``ImmediateJitterBuffer``: with a
    buffer that holds packets, aiortc's own path is kept).

    Raises:
        AiortcMismatchError: aiortc's receiver lacks the internals this needs.
    """
    receiver = transceiver.receiver
    codecs = getattr(receiver, _RECEIVER_CODECS_ATTR, None)
    if not isinstance(codecs, dict) or not hasattr(receiver, _JITTER_BUFFER_ATTR):
        raise AiortcMismatchError("aiortc's RTCRtpReceiver lacks the hooks sipmedia uses")
    setattr(receiver, _JITTER_BUFFER_ATTR, InlineDecodeBuffer(codecs, sink))
