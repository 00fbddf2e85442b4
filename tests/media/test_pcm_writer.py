"""Program audio at a chosen rate: ``PcmWriter(rate)`` in, ``InboundAudio.frames(rate)`` out.

The writer resamples stream-wise (chunks join without a click) and ``send`` holds a
producer faster than real time back instead of dropping its audio; the received side
cuts exact 20 ms frames at the rate asked for.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time

import av
import numpy as np
import pytest
import trio
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from sipmedia import (
    FRAME_SAMPLES,
    SAMPLE_RATE,
    InboundAudio,
    OutboundTrack,
    Pcm,
    PcmResampler,
    PcmWriter,
    Tone,
    WriterClosedError,
    dominant_frequency,
    frame_samples,
    tone_ratio,
)
from sipmedia.pcm import to_frame

LEVEL = 0.5


def sine(frequency: float, rate: int, seconds: float, level: float = LEVEL) -> Pcm:
    t = np.arange(int(rate * seconds)) / rate
    return (np.sin(2 * math.pi * frequency * t) * level * 32767).astype(np.int16)


def read_all(writer: PcmWriter) -> Pcm:
    """Everything queued, read in one go."""
    return writer.read(round(writer.buffered_seconds * SAMPLE_RATE))


def max_step(pcm: Pcm) -> float:
    """The largest jump between neighbouring samples: a click shows up here."""
    return float(np.max(np.abs(np.diff(pcm.astype(np.int32)))))


@pytest.mark.parametrize("rate", [8_000, 16_000, 24_000])
def test_chunks_of_any_size_join_without_a_click(rate: int) -> None:
    tone = sine(1000, rate, 1.0)
    writer = PcmWriter(rate=rate)
    sizes = [1, 7, 137, 320, 999, 50]
    start = 0
    i = 0
    while start < tone.size:
        writer.write(tone[start : start + sizes[i % len(sizes)]])
        start += sizes[i % len(sizes)]
        i += 1
    chunked = read_all(writer)

    whole = PcmResampler(rate, SAMPLE_RATE)(tone)
    # The same samples as resampling the tone in one piece...
    assert chunked.size == pytest.approx(whole.size, abs=FRAME_SAMPLES)
    same = min(chunked.size, whole.size)
    assert np.array_equal(chunked[:same], whole[:same])
    # ...so a 1 kHz sine at 48 kHz, whose steepest step is 2*pi*1000/48000 of its peak.
    steady = chunked[100 : whole.size - 100]
    assert max_step(steady) < 1.2 * 2 * math.pi * 1000 / SAMPLE_RATE * LEVEL * 32767
    assert tone_ratio(steady[: 48_000 // 2], 1000) > 0.98, dominant_frequency(steady)
    # As many samples out as the rates say (less 1-2 ms held in the filter).
    assert 0 <= tone.size * SAMPLE_RATE // rate - whole.size < SAMPLE_RATE // 200


def test_a_fresh_resampler_per_chunk_would_click() -> None:
    """The check above can fail: restarting the filter at each join leaves steps."""
    tone = sine(1000, 16_000, 0.5)
    pieces = [PcmResampler(16_000, SAMPLE_RATE)(tone[i : i + 137]) for i in range(0, 8000, 137)]
    restarted = np.concatenate(pieces)
    whole = PcmResampler(16_000, SAMPLE_RATE)(tone)
    assert not np.array_equal(restarted[: whole.size], whole[: restarted.size])
    steepest = 2 * math.pi * 1000 / SAMPLE_RATE * LEVEL * 32767
    assert max_step(restarted[100:-100]) > 1.2 * steepest


def test_the_writer_rejects_rates_and_bounds_it_cannot_honour() -> None:
    with pytest.raises(ValueError, match="rate"):
        PcmWriter(rate=4_000)
    with pytest.raises(ValueError, match="ahead"):
        PcmWriter(max_seconds=1.0, ahead=2.0)
    assert frame_samples(16_000) == 320 and frame_samples(8_000) == 160
    with pytest.raises(ValueError):
        frame_samples(11_025)


def test_send_waits_while_more_than_ahead_is_queued_and_resumes_as_it_plays() -> None:
    async def run() -> None:
        writer = PcmWriter(max_seconds=0.5, rate=16_000, ahead=0.2)
        speech = sine(1000, 16_000, 1.0)  # twice what write() would keep
        sending = asyncio.create_task(writer.send(speech))
        await asyncio.sleep(0.05)
        assert not sending.done()
        assert writer.buffered_seconds == pytest.approx(1.0, abs=0.01)  # nothing dropped

        frames: list[Pcm] = []
        while writer.buffered_seconds > 0.2 + FRAME_SAMPLES / SAMPLE_RATE:
            frames.append(writer.read(FRAME_SAMPLES))
            await asyncio.sleep(0)
        assert not sending.done()  # still more than 0.2 s ahead
        frames.append(writer.read(FRAME_SAMPLES))
        await asyncio.wait_for(sending, 1.0)  # at or under 0.2 s: it returns

        frames.append(read_all(writer))
        played = np.concatenate(frames)
        whole = PcmResampler(16_000, SAMPLE_RATE)(speech)
        assert np.array_equal(played[: whole.size], whole)  # all of it, in order
        assert not played[whole.size :].any()

    asyncio.run(run())


def test_clear_releases_send_and_close_makes_it_raise() -> None:
    async def run() -> None:
        writer = PcmWriter(rate=8_000, ahead=0.1)
        sending = asyncio.create_task(writer.send(sine(1000, 8_000, 1.0)))
        await asyncio.sleep(0.05)
        assert not sending.done()
        writer.clear()  # barge-in
        await asyncio.wait_for(sending, 1.0)
        assert writer.buffered_seconds == 0

        sending = asyncio.create_task(writer.send(sine(1000, 8_000, 1.0)))
        await asyncio.sleep(0.05)
        assert not sending.done()
        writer.close()  # the call ended: the producer is told, at once
        with pytest.raises(WriterClosedError):
            await asyncio.wait_for(sending, 1.0)
        with pytest.raises(WriterClosedError):
            await writer.send(sine(1000, 8_000, 1.0))
        writer.write(sine(1000, 8_000, 1.0))  # a sink on the media loop: no raising there
        assert writer.closed and writer.buffered_seconds == 0

    asyncio.run(run())


def test_a_cancelled_send_keeps_its_audio_queued() -> None:
    async def run() -> None:
        writer = PcmWriter(rate=16_000, ahead=0.1)
        sending = asyncio.create_task(writer.send(sine(1000, 16_000, 0.5)))
        await asyncio.sleep(0.05)
        sending.cancel()
        with pytest.raises(asyncio.CancelledError):
            await sending
        assert writer.buffered_seconds == pytest.approx(0.5, abs=0.01)
        read_all(writer)  # no waiter is left to wake

    asyncio.run(run())


def test_send_from_trio_waits_for_a_reader_on_another_thread() -> None:
    """The call reads on the media thread; a trio producer is woken across threads."""
    writer = PcmWriter(rate=16_000, ahead=0.2)
    stop = threading.Event()
    played: list[Pcm] = []

    def media_thread() -> None:  # what OutboundTrack does: 20 ms every 20 ms
        while not stop.is_set():
            played.append(writer.read(FRAME_SAMPLES))
            time.sleep(0.02)

    async def produce() -> float:
        start = trio.current_time()
        tone = sine(1000, 16_000, 1.0)
        for i in range(0, tone.size, 1600):  # 100 ms chunks, as fast as they come
            await writer.send(tone[i : i + 1600])
        return trio.current_time() - start

    reader = threading.Thread(target=media_thread, daemon=True)
    reader.start()
    try:
        took = trio.run(produce)
    finally:
        stop.set()
        reader.join(2)
    # Held back to real time: 1 s of audio, 0.2 s of it still queued at the end.
    assert took > 0.5, took
    assert writer.buffered_seconds <= 0.2 + 0.1


def test_a_faster_than_real_time_producer_loses_nothing_through_the_track() -> None:
    """``send`` into the track the call sends: every sample goes out, in real time."""

    async def run() -> None:
        writer = PcmWriter(max_seconds=0.3, rate=16_000, ahead=0.1)
        track = OutboundTrack(writer)
        sent: list[Pcm] = []

        async def pump() -> None:
            while True:
                frame = await track.recv()
                sent.append(frame.to_ndarray().reshape(-1).astype(np.int16))

        pumping = asyncio.create_task(pump())
        speech = sine(1000, 16_000, 1.0)
        start = time.monotonic()
        for i in range(0, speech.size, 4000):  # 250 ms chunks, each beyond max_seconds / 2
            await writer.send(speech[i : i + 4000])
        took = time.monotonic() - start
        await asyncio.sleep(0.3)
        pumping.cancel()
        await asyncio.gather(pumping, return_exceptions=True)
        track.stop()

        out = np.concatenate(sent)
        expected = PcmResampler(16_000, SAMPLE_RATE)(speech)
        voiced = out[np.flatnonzero(out)[0] - np.flatnonzero(expected)[0] :]
        assert np.array_equal(voiced[: expected.size], expected)  # nothing dropped
        assert took > 0.5, took  # paced by the track, not by the producer

    asyncio.run(run())


class ToneTrack(MediaStreamTrack):
    """A remote track of ``frames`` 20 ms frames of a tone at 48 kHz, then the end."""

    kind = "audio"

    def __init__(self, frequency: float, frames: int) -> None:
        super().__init__()
        self._tone = Tone(frequency, LEVEL)
        self._left = frames
        self._pts = 0

    async def recv(self) -> av.AudioFrame:
        if self._left == 0:
            raise MediaStreamError
        self._left -= 1
        await asyncio.sleep(0.001)
        frame = to_frame(self._tone.read(FRAME_SAMPLES), self._pts)
        self._pts += FRAME_SAMPLES
        return frame


@pytest.mark.parametrize(("rate", "size"), [(16_000, 320), (8_000, 160), (48_000, 960)])
def test_received_frames_at_a_chosen_rate_are_exact_20_ms_frames(rate: int, size: int) -> None:
    async def run() -> list[Pcm]:
        inbound = InboundAudio()
        got: list[Pcm] = []

        async def listen() -> None:
            async for frame in inbound.frames(rate):
                got.append(frame)

        listening = asyncio.create_task(listen())
        await asyncio.sleep(0)
        inbound.attach(ToneTrack(1000, 50))
        await asyncio.sleep(0.5)  # the track ends: the iterator waits for the session
        assert not listening.done()
        await inbound.aclose()
        await asyncio.wait_for(listening, 1.0)
        return got

    got = asyncio.run(run())
    assert {frame.size for frame in got} == {size}
    assert len(got) >= 48  # 1 s in; about 1 ms stays in the resampler
    received = np.concatenate(got)
    assert tone_ratio(received[size:], 1000, rate) > 0.95, dominant_frequency(received, rate)


def test_frames_after_close_end_at_once() -> None:
    async def run() -> None:
        inbound = InboundAudio()
        await inbound.aclose()
        got = [frame async for frame in inbound.frames(16_000)]
        assert got == []

    asyncio.run(asyncio.wait_for(run(), 2.0))
