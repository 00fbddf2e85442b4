"""Levels for the guide's device diagnostics: a microphone meter and a speaker test.

- ``LevelMeter`` reads any ``AudioSource`` (an ``InputDevice`` for the mic test) in
  real time, one block every ``block_ms``, and reports each block's ``AudioLevel``.
- ``SpeakerTest`` plays a ringtone (``RingTone``: the North American 440 + 480 Hz ring,
  2 s on / 4 s off) into a sink (an ``OutputDevice``) and reports the level of each
  block it plays, as a browser's analyser on the playing element would.

Both are async iterators (``levels()``) with a callback form (``run(on_level)``) and
stop with ``stop()``.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import anyio
import numpy as np

from sipmedia.pcm import SAMPLE_RATE, Pcm, rms_dbfs
from sipmedia.sources import AudioSource

__all__ = [
    "AudioLevel",
    "measure_level",
    "RingTone",
    "LevelMeter",
    "SpeakerTest",
    "FLOOR_DBFS",
]

FLOOR_DBFS = -60.0
"""The level shown as 0: quieter blocks are silence as far as a meter is concerned."""


@dataclass(frozen=True, slots=True)
class AudioLevel:
    """How loud one block was."""

    rms_dbfs: float
    """RMS level in dBFS (``-inf`` for digital silence)."""
    peak_dbfs: float
    """The largest sample in dBFS (``-inf`` for digital silence)."""
    level: float
    """0..1 for a meter: ``FLOOR_DBFS`` and below is 0, full scale is 1, linear in dB."""
    samples: int
    """Block length in samples (48 kHz)."""


def measure_level(pcm: Pcm) -> AudioLevel:
    """The level of ``pcm`` (48 kHz mono int16).

    Args:
        pcm: the block.

    Returns:
        Its ``AudioLevel``.
    """
    rms = rms_dbfs(pcm)
    peak = int(np.max(np.abs(pcm.astype(np.int32)))) if pcm.size else 0
    peak_dbfs = 20 * math.log10(peak / 32768.0) if peak > 0 else float("-inf")
    level = 0.0 if math.isinf(rms) else min(1.0, max(0.0, (rms - FLOOR_DBFS) / -FLOOR_DBFS))
    return AudioLevel(rms_dbfs=rms, peak_dbfs=peak_dbfs, level=level, samples=int(pcm.size))


class RingTone:
    """A ring-back style ring: two tones together, on and off in a cadence (an AudioSource).

    Args:
        frequencies: the tones mixed (Hz); 440 + 480 is the North American ring.
        on_seconds: ringing part of the cadence.
        off_seconds: silent part of the cadence (0: continuous).
        level: peak amplitude of the mix as a fraction of full scale.
    """

    def __init__(
        self,
        frequencies: tuple[float, ...] = (440.0, 480.0),
        on_seconds: float = 2.0,
        off_seconds: float = 4.0,
        level: float = 0.3,
    ) -> None:
        if not frequencies or any(not 20 <= f <= SAMPLE_RATE / 2 for f in frequencies):
            raise ValueError(f"ring frequencies out of range: {frequencies}")
        if on_seconds <= 0 or off_seconds < 0:
            raise ValueError("the cadence needs on_seconds > 0 and off_seconds >= 0")
        if not 0 < level <= 1:
            raise ValueError(f"ring level must be within (0, 1]: {level}")
        self.frequencies = frequencies
        self.on_samples = int(on_seconds * SAMPLE_RATE)
        self.period_samples = self.on_samples + int(off_seconds * SAMPLE_RATE)
        self.level = level
        self._n = 0

    def read(self, samples: int) -> Pcm:
        """The next ``samples`` of the ring."""
        n = np.arange(samples) + self._n
        self._n += samples
        t = n / SAMPLE_RATE
        wave = sum(np.sin(2 * math.pi * f * t) for f in self.frequencies) / len(self.frequencies)
        ringing = (n % self.period_samples) < self.on_samples
        return (np.asarray(wave) * ringing * (self.level * 32767)).astype(np.int16)


class _Paced:
    """One block every ``block_ms`` of the event loop's clock, until ``stop()``."""

    def __init__(self, block_ms: int) -> None:
        if block_ms <= 0:
            raise ValueError(f"block_ms must be positive: {block_ms}")
        self.block_ms = block_ms
        self.block_samples = SAMPLE_RATE * block_ms // 1000
        self._stopped = False

    def stop(self) -> None:
        """End ``levels()`` after the block in progress, for good (even if not started yet).

        A stopped meter or test stays stopped: make a new one to start again.
        """
        self._stopped = True

    @property
    def stopped(self) -> bool:
        """Whether ``stop()`` was called."""
        return self._stopped

    async def _blocks(self) -> AsyncIterator[int]:
        # anyio, not asyncio: meters touch no aiortc object, so they run on trio too.
        start = anyio.current_time()
        index = 0
        while True:
            index += 1
            delay = start + index * self.block_ms / 1000 - anyio.current_time()
            if delay > 0:
                await anyio.sleep(delay)
            if self.stopped:  # a property: stop() may run while we sleep
                return
            yield index


class LevelMeter(_Paced):
    """The mic test: reads ``source`` in real time and reports each block's level.

    Args:
        source: what to measure (an ``InputDevice``, or any ``AudioSource``). The meter
            consumes what it reads: do not share one source between a meter and a call.
        block_ms: block length, also the reporting interval.
    """

    def __init__(self, source: AudioSource, block_ms: int = 50) -> None:
        super().__init__(block_ms)
        self.source = source

    async def levels(self) -> AsyncIterator[AudioLevel]:
        """One ``AudioLevel`` every ``block_ms`` until ``stop()`` (or the consumer stops)."""
        async for _ in self._blocks():
            yield measure_level(self.source.read(self.block_samples))

    async def run(self, on_level: Callable[[AudioLevel], None]) -> None:
        """Call ``on_level`` with each block's level until ``stop()``."""
        async for level in self.levels():
            on_level(level)


class SpeakerTest(_Paced):
    """The speaker test: plays ``sound`` into ``sink`` in real time, reporting levels.

    Args:
        sink: where the sound goes (an ``OutputDevice``, or any callable taking PCM).
        sound: what to play; a ``RingTone()`` when omitted.
        block_ms: block length, also the reporting interval.
    """

    def __init__(
        self,
        sink: Callable[[Pcm], None],
        sound: AudioSource | None = None,
        block_ms: int = 50,
    ) -> None:
        super().__init__(block_ms)
        self.sink = sink
        self.sound: AudioSource = sound if sound is not None else RingTone()

    async def levels(self) -> AsyncIterator[AudioLevel]:
        """Play one block every ``block_ms`` and yield its level, until ``stop()``."""
        async for _ in self._blocks():
            block = self.sound.read(self.block_samples)
            self.sink(block)
            yield measure_level(block)

    async def run(self, on_level: Callable[[AudioLevel], None]) -> None:
        """Play, calling ``on_level`` with each block's level, until ``stop()``."""
        async for level in self.levels():
            on_level(level)
