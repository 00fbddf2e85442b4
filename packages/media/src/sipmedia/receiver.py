"""Audio we receive: read the remote track, convert to our PCM, hand it to listeners."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncGenerator, Callable
from typing import cast

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from sipmedia.pcm import SAMPLE_RATE, Pcm, PcmResampler, Resampler, frame_samples, silence

__all__ = ["InboundAudio"]

logger = logging.getLogger(__name__)


class InboundAudio:
    """Consumes the remote audio track for as long as the call lasts.

    Keeps the last ``history_seconds`` for analysis (``recent``), counts frames, and
    feeds every subscriber (``frames()`` async iterators and ``on_pcm`` callbacks).
    """

    def __init__(self, history_seconds: float = 10.0) -> None:
        self._history: deque[Pcm] = deque()
        self._history_samples = 0
        self._max_history = int(history_seconds * SAMPLE_RATE)
        self._queues: list[asyncio.Queue[Pcm | None]] = []
        self._callbacks: list[Callable[[Pcm], None]] = []
        self._task: asyncio.Task[None] | None = None
        self._track: MediaStreamTrack | None = None
        self._resample = Resampler()
        self._closed = False
        self.frames_received = 0
        self.paused = False
        """While paused (we are on hold), received audio is discarded, not delivered."""

    def attach(self, track: MediaStreamTrack) -> None:
        """Start reading ``track`` (replacing any previous one)."""
        if self._task is not None:
            self._task.cancel()
        self._track = track
        self._task = asyncio.get_running_loop().create_task(self._run(track))

    def push(self, frame: av.AudioFrame, track: MediaStreamTrack) -> None:
        """Take ``frame``, decoded from ``track``'s packets on the loop (see
        ``sipmedia.inline``), as if read from the track: dropped unless ``track`` is the
        one attached (during an ICE restart the old connection still decodes)."""
        if track is self._track:
            self._deliver(frame)

    def _deliver(self, frame: av.AudioFrame) -> None:
        pcm = self._resample(frame)
        if pcm.size == 0:
            return
        self.frames_received += 1
        if self.paused:
            return
        self._remember(pcm)
        for callback in self._callbacks:
            callback(pcm)
        for queue in self._queues:
            queue.put_nowait(pcm)

    async def _run(self, track: MediaStreamTrack) -> None:
        try:
            while True:
                self._deliver(cast(av.AudioFrame, await track.recv()))
        except MediaStreamError:
            # The peer connection closed; iterators end with the session (``aclose``),
            # not here: an ICE restart replaces the track and the call's audio goes on.
            logger.debug("remote track ended")

    def _remember(self, pcm: Pcm) -> None:
        self._history.append(pcm)
        self._history_samples += pcm.size
        while self._history_samples - self._history[0].size >= self._max_history:
            self._history_samples -= self._history.popleft().size

    def recent(self, seconds: float) -> Pcm:
        """The last ``seconds`` of received audio (shorter if less arrived)."""
        want = int(seconds * SAMPLE_RATE)
        if not self._history:
            return silence(0)
        data = np.concatenate(list(self._history))
        return data[-want:]

    def on_pcm(self, callback: Callable[[Pcm], None]) -> None:
        """Call ``callback`` with each received chunk (from the media loop)."""
        self._callbacks.append(callback)

    async def frames(self, rate: int | None = None) -> AsyncGenerator[Pcm, None]:
        """Every chunk received from now on, until the session closes (on the media loop).

        Args:
            rate: ``None``: 48 kHz chunks as they are decoded (960 samples each for
                Opus). A rate (8000-48000, a multiple of 50): 20 ms frames of exactly
                ``sipmedia.pcm.frame_samples(rate)`` samples (320 at 16 kHz), resampled
                stream-wise, for a program that wants, say, 16 kHz speech.

        Raises:
            ValueError: ``rate`` has no whole number of samples per 20 ms.
        """
        size = frame_samples(rate) if rate is not None else 0
        resample = PcmResampler(SAMPLE_RATE, rate) if rate is not None else None
        if self._closed:
            return
        queue: asyncio.Queue[Pcm | None] = asyncio.Queue()
        self._queues.append(queue)
        pending = silence(0)
        try:
            while (pcm := await queue.get()) is not None:
                if resample is None:
                    yield pcm
                    continue
                pending = np.concatenate((pending, resample(pcm)))
                while pending.size >= size:
                    frame, pending = pending[:size], pending[size:]
                    yield frame
        finally:
            self._queues.remove(queue)

    async def aclose(self) -> None:
        """Stop reading; every ``frames()`` iterator ends."""
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        for queue in self._queues:
            queue.put_nowait(None)
