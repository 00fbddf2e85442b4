"""Encoding and decoding on the media loop (``sipmedia.inline``): Opus packets handed to
aiortc's sender, packets decoded on arrival, and a call that uses no codec thread."""

from __future__ import annotations

import asyncio
import fractions
from typing import Any

import av
import numpy as np
from aiortc import RTCRtpCodecParameters
from aiortc.mediastreams import MediaStreamTrack
from aiortc.rtp import RtpPacket

from sipmedia import MediaConfig, MediaSession, Tone, tone_ratio
from sipmedia.inline import InlineDecodeBuffer, InlineOpusTrack
from sipmedia.pcm import FRAME_SAMPLES, SAMPLE_RATE, Pcm, to_frame

OPUS = RTCRtpCodecParameters(mimeType="audio/opus", clockRate=48000, channels=2, payloadType=111)
PCMU = RTCRtpCodecParameters(mimeType="audio/PCMU", clockRate=8000, channels=1, payloadType=0)


class _Frames(MediaStreamTrack):
    """Hands out the given frames at once (no pacing)."""

    kind = "audio"

    def __init__(self, frames: list[av.AudioFrame]) -> None:
        super().__init__()
        self._frames = list(frames)

    async def recv(self) -> av.AudioFrame:
        return self._frames.pop(0)


def _tone_frames(count: int, samples: int = FRAME_SAMPLES) -> list[av.AudioFrame]:
    tone = Tone(1000)
    return [to_frame(tone.read(samples), i * samples) for i in range(count)]


async def _drain(track: InlineOpusTrack, count: int) -> list[object]:
    return [await track.recv() for _ in range(count)]


def _decode(packets: list[av.Packet[Any]]) -> Pcm:
    decoder = av.CodecContext.create("libopus", "r")
    decoder.format = "s16"
    decoder.layout = "mono"
    decoder.sample_rate = SAMPLE_RATE
    out = [f.to_ndarray().reshape(-1) for p in packets for f in decoder.decode(av.Packet(bytes(p)))]
    return np.concatenate(out).astype(np.int16)


def test_opus_frames_leave_as_packets_stamped_in_samples() -> None:
    track = InlineOpusTrack(_Frames(_tone_frames(25)), lambda: OPUS)
    got = asyncio.run(_drain(track, 25))
    assert all(isinstance(p, av.Packet) for p in got)
    packets = [p for p in got if isinstance(p, av.Packet)]
    # aiortc's OpusEncoder.pack turns pts/time_base into the RTP timestamp.
    assert [p.pts for p in packets[:3]] == [0, FRAME_SAMPLES, 2 * FRAME_SAMPLES]
    assert all(p.time_base == fractions.Fraction(1, SAMPLE_RATE) for p in packets)
    heard = _decode(packets)
    assert heard.size == 25 * FRAME_SAMPLES
    assert tone_ratio(heard[-SAMPLE_RATE // 4 :], 1000) > 0.8


def test_other_codecs_get_frames_for_aiortc_to_encode() -> None:
    frames = _tone_frames(3)
    track = InlineOpusTrack(_Frames(frames), lambda: PCMU)
    assert asyncio.run(_drain(track, 3)) == frames


def test_frames_of_another_size_are_cut_to_20_ms_packets() -> None:
    track = InlineOpusTrack(_Frames(_tone_frames(8, samples=480)), lambda: OPUS)
    packets = asyncio.run(_drain(track, 4))
    assert all(isinstance(p, av.Packet) for p in packets)
    assert [p.pts for p in packets if isinstance(p, av.Packet)] == [0, 960, 1920, 2880]


def _rtp(seq: int, payload: bytes, payload_type: int = 111) -> RtpPacket:
    packet = RtpPacket(payload_type=payload_type, sequence_number=seq, timestamp=seq * 960)
    packet.payload = payload
    packet._data = payload  # type: ignore[attr-defined]  # aiortc's depayloaded data
    return packet


def test_packets_are_decoded_on_arrival_and_never_queued_for_aiortc() -> None:
    async def encoded() -> list[object]:
        return await _drain(InlineOpusTrack(_Frames(_tone_frames(10)), lambda: OPUS), 10)

    payloads = [bytes(p) for p in asyncio.run(encoded()) if isinstance(p, av.Packet)]
    sunk: list[av.AudioFrame] = []
    buffer = InlineDecodeBuffer({111: OPUS}, sunk.append)
    results = [buffer.add(_rtp(100 + i, data)) for i, data in enumerate(payloads)]
    assert results == [(False, None)] * len(payloads)  # nothing for aiortc's decoder thread
    assert len(sunk) == len(payloads)
    first = sunk[0]
    assert (first.format.name, first.layout.name, first.sample_rate, first.samples) == (
        "s16",
        "mono",
        SAMPLE_RATE,
        FRAME_SAMPLES,
    )
    assert buffer.add(_rtp(105, payloads[0])) == (False, None)  # stale: dropped
    assert buffer.add(_rtp(200, b"\x00", payload_type=96)) == (False, None)  # unknown type
    assert len(sunk) == len(payloads)


def test_pcmu_packets_are_decoded_with_aiortcs_decoder() -> None:
    sunk: list[av.AudioFrame] = []
    buffer = InlineDecodeBuffer({0: PCMU}, sunk.append)
    buffer.add(_rtp(1, b"\xff" * 160, payload_type=0))
    assert len(sunk) == 1 and sunk[0].sample_rate == 8000 and sunk[0].samples == 160


def test_a_call_uses_no_codec_threads() -> None:
    async def run() -> None:
        config = MediaConfig(codecs=("opus",))
        a, b = MediaSession(config, Tone(440)), MediaSession(config, Tone(1000))
        try:
            await a.accept_answer(await b.create_answer(await a.create_offer()))
            await asyncio.sleep(1.0)
            assert tone_ratio(a.inbound.recent(0.5), 1000) > 0.8
            assert tone_ratio(b.inbound.recent(0.5), 440) > 0.8
            # aiortc would encode in the loop's default executor: it was never started.
            loop = asyncio.get_running_loop()
            assert getattr(loop, "_default_executor", None) is None
        finally:
            await a.close()
            await b.close()

    asyncio.run(run())
