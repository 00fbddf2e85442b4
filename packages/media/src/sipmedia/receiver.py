"""Audio we receive: read the remote track, convert to our PCM, hand it to listeners."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import cast

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from sipmedia.pcm import SAMPLE_RATE, Pcm, Resampler, silence

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
            logger.debug("remote track ended")
        finally:
            for queue in self._queues:
                queue.put_nowait(None)

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

    async def frames(self) -> AsyncIterator[Pcm]:
        """Every chunk received from now on, until the call ends."""
        queue: asyncio.Queue[Pcm | None] = asyncio.Queue()
        self._queues.append(queue)
        try:
            while (pcm := await queue.get()) is not None:
                yield pcm
        finally:
            self._queues.remove(queue)

    async def aclose(self) -> None:
        """Stop reading."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
