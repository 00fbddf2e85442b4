"""Audio to send: tones, silence, and PCM a program writes, paced in real time.

A *source* only makes samples (``read(n)``); ``OutboundTrack`` is the aiortc track that
paces them at 20 ms per frame and sends silence while muted.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import math
import threading
from collections import deque
from typing import Protocol

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from sipmedia.pcm import (
    FRAME_SAMPLES,
    SAMPLE_RATE,
    Pcm,
    PcmResampler,
    silence,
    take_queued,
    to_frame,
)
from sipmedia.waiting import wait_future

__all__ = ["AudioSource", "Tone", "Silence", "PcmWriter", "WriterClosedError", "OutboundTrack"]


class WriterClosedError(Exception):
    """``PcmWriter.send`` on a closed writer (the call it played into has ended)."""


class AudioSource(Protocol):
    """Anything that can produce the next ``samples`` samples of mono 48 kHz int16 PCM."""

    def read(self, samples: int) -> Pcm:
        """Exactly ``samples`` samples (silence where it has nothing)."""
        ...


class Silence:
    """Nothing to say."""

    def read(self, samples: int) -> Pcm:
        """Zeros."""
        return silence(samples)


class Tone:
    """A continuous sine tone (phase-continuous across frames).

    Args:
        frequency: Hz.
        level: peak amplitude as a fraction of full scale (0.3 is about -10 dBFS RMS).
    """

    def __init__(self, frequency: float, level: float = 0.3) -> None:
        if not 20 <= frequency <= SAMPLE_RATE / 2:
            raise ValueError(f"tone frequency out of range: {frequency}")
        if not 0 < level <= 1:
            raise ValueError(f"tone level must be within (0, 1]: {level}")
        self.frequency = frequency
        self.level = level
        self._n = 0
        self._table_for: tuple[float, float] | None = None
        self._table: Pcm | None = None
        self._period = 0

    def _sine(self, start: int, samples: int) -> Pcm:
        t = (np.arange(samples) + start) / SAMPLE_RATE
        wave = np.sin(2 * math.pi * self.frequency * t) * (self.level * 32767)
        return wave.astype(np.int16)

    def read(self, samples: int) -> Pcm:
        """The next ``samples`` of the sine."""
        start = self._n
        self._n += samples
        if (self.frequency, self.level) != self._table_for:
            # A whole-Hz tone repeats every SAMPLE_RATE / gcd(SAMPLE_RATE, f) samples:
            # computed once, a frame is then a slice (a sine per frame was ~15 us, the
            # largest per-frame cost of a tone-sending call after the codec).
            self._table_for = (self.frequency, self.level)
            self._table = None
            if float(self.frequency).is_integer():
                self._period = SAMPLE_RATE // math.gcd(SAMPLE_RATE, int(self.frequency))
                self._table = self._sine(0, self._period + FRAME_SAMPLES)
        table = self._table
        if table is None or samples > FRAME_SAMPLES:
            return self._sine(start, samples)
        offset = start % self._period
        return table[offset : offset + samples].copy()


class PcmWriter:
    """PCM a program writes (a bot's speech); read out as it is paced, silence on underrun.

    Takes mono int16 samples at ``rate`` (e.g. a TTS engine's 16 kHz or 8 kHz) and
    resamples them to the call's 48 kHz, stream-wise: chunks of any size join without a
    click (``sipmedia.pcm.PcmResampler``; about 1 ms of the latest audio waits there for
    the next write).

    Two ways in. ``write`` queues at once and never waits: up to ``max_seconds`` are
    kept, beyond that the oldest audio is dropped, so a producer faster than real time
    cannot grow memory without bound. ``await send(...)`` queues and then waits while
    more than ``ahead`` seconds are queued, so a producer faster than real time is held
    back to it and nothing is dropped.

    Any thread may write (the program's, trio's, the media loop's); the call reads it on
    the media loop every 20 ms.

    Args:
        max_seconds: most audio kept by ``write`` (seconds at 48 kHz).
        rate: samples per second of what is written.
        ahead: most audio queued when ``send`` returns, seconds (default 0.5, or
            ``max_seconds`` if less): a stream stays this far ahead of what the call
            sends, so a ``clear`` (barge-in) has little to cut.

    Raises:
        ValueError: ``rate`` outside 8-192 kHz, or ``ahead`` not within (0, max_seconds].
    """

    def __init__(
        self, max_seconds: float = 30.0, *, rate: int = SAMPLE_RATE, ahead: float | None = None
    ) -> None:
        if ahead is None:
            ahead = min(0.5, max_seconds)
        if not 0 < ahead <= max_seconds:
            raise ValueError(f"ahead must be within (0, max_seconds={max_seconds}]: {ahead}")
        self.rate = rate
        """Samples per second of what is written."""
        self._resample = PcmResampler(rate, SAMPLE_RATE)
        self._chunks: deque[Pcm] = deque()
        self._buffered = 0
        self._max = int(max_seconds * SAMPLE_RATE)
        self._ahead = int(ahead * SAMPLE_RATE)
        self._lock = threading.Lock()
        self._waiters: list[concurrent.futures.Future[None]] = []
        self._closed = False

    @property
    def buffered_seconds(self) -> float:
        """Audio written but not yet sent."""
        return self._buffered / SAMPLE_RATE

    @property
    def closed(self) -> bool:
        """Whether ``close`` ran: ``write`` then discards, ``send`` raises."""
        return self._closed

    def write(self, pcm: Pcm) -> None:
        """Queue samples (at ``rate``) to send; never waits, drops the oldest beyond
        ``max_seconds``. Discarded once closed."""
        self._queue(pcm, drop=True)

    def _queue(self, pcm: Pcm, *, drop: bool) -> None:
        with self._lock:
            if self._closed:
                return
            data = self._resample(pcm)
            if data.size == 0:
                return
            self._chunks.append(data)
            self._buffered += data.size
            while drop and self._buffered > self._max and self._chunks:
                dropped = self._chunks.popleft()
                self._buffered -= dropped.size

    async def send(self, pcm: Pcm) -> None:
        """Queue samples (at ``rate``), then wait while more than ``ahead`` seconds are
        queued; from asyncio or trio.

        Nothing is dropped, whatever ``max_seconds`` says: the queue holds at most
        ``ahead`` plus the last chunk. The samples are queued at once: cancelling the
        wait does not take them back. The wait lasts as long as the audio takes to play
        out, so it only ends if the writer is being read (a call plays it), is cleared,
        or is closed.

        Raises:
            WriterClosedError: the writer is closed, before or during the wait (the
                samples are discarded): a producer learns that nobody listens anymore.
        """
        self._queue(pcm, drop=False)
        while True:
            with self._lock:
                if self._closed:
                    raise WriterClosedError("the writer is closed")
                if self._buffered <= self._ahead:
                    return
                waiter: concurrent.futures.Future[None] = concurrent.futures.Future()
                self._waiters.append(waiter)
            try:
                await wait_future(waiter)
            finally:
                with self._lock:
                    if waiter in self._waiters:
                        self._waiters.remove(waiter)

    def clear(self) -> None:
        """Drop everything not yet sent (barge-in); a waiting ``send`` returns."""
        with self._lock:
            self._chunks.clear()
            self._buffered = 0
            self._resample = PcmResampler(self.rate, SAMPLE_RATE)
            waiters = self._take_waiters()
        _wake(waiters)

    def close(self) -> None:
        """Drop what is queued and discard later writes; ``send`` raises from now on,
        a waiting one too (a ``Call`` closes the writer from ``Call.pcm_writer`` when
        it ends)."""
        with self._lock:
            self._closed = True
        self.clear()

    def read(self, samples: int) -> Pcm:
        """The next ``samples`` (48 kHz), padded with silence."""
        out = silence(samples)
        with self._lock:
            self._buffered -= take_queued(self._chunks, out)
            waiters = self._take_waiters() if self._buffered <= self._ahead else []
        _wake(waiters)
        return out

    def _take_waiters(self) -> list[concurrent.futures.Future[None]]:
        waiters, self._waiters = self._waiters, []
        return waiters


def _wake(waiters: list[concurrent.futures.Future[None]]) -> None:
    for waiter in waiters:
        # (a waiter cancelled on its own thread meanwhile needs no waking)
        with contextlib.suppress(concurrent.futures.InvalidStateError):
            waiter.set_result(None)


class OutboundTrack(MediaStreamTrack):
    """The aiortc audio track we send: frames from ``source`` every 20 ms, in real time.

    ``muted`` sends silence without any signalling (the guide's Mute); ``source`` can be
    swapped at any time (a device change, a new prompt) without renegotiation.
    """

    kind = "audio"

    def __init__(self, source: AudioSource | None = None) -> None:
        super().__init__()
        self.source: AudioSource = source or Silence()
        self.muted = False
        self._pts = 0
        self._start: float | None = None
        self.frames_sent = 0

    async def recv(self) -> av.AudioFrame:
        """The next frame, when its time has come."""
        if self.readyState != "live":
            raise MediaStreamError
        loop = asyncio.get_running_loop()
        if self._start is None:
            self._start = loop.time()
        else:
            due = self._start + self._pts / SAMPLE_RATE
            # Even when late, give the loop a turn: a sender that fell behind then catches
            # up one frame per turn instead of starving every other call on the loop
            # (with ``sipmedia.inline`` nothing else in the send path awaits).
            await asyncio.sleep(max(0.0, due - loop.time()))
        pcm = self.source.read(FRAME_SAMPLES)
        if self.muted:
            pcm = silence(FRAME_SAMPLES)
        frame = to_frame(pcm, self._pts)
        self._pts += FRAME_SAMPLES
        self.frames_sent += 1
        return frame
