"""PCM audio as our media code passes it around: mono, signed 16-bit, 48 kHz, 20 ms frames.

Everything inside sipmedia speaks this one format; conversion happens at the edges
(``to_frame`` for aiortc's encoders, ``from_frame`` for what its decoders give us).
"""

from __future__ import annotations

import fractions
from collections import deque

import av
import numpy as np
import numpy.typing as npt

__all__ = [
    "SAMPLE_RATE",
    "FRAME_MS",
    "FRAME_SAMPLES",
    "Pcm",
    "to_frame",
    "Resampler",
    "PcmResampler",
    "frame_samples",
    "silence",
    "take_queued",
    "rms_dbfs",
]

SAMPLE_RATE = 48_000
"""Samples per second of all PCM inside sipmedia (Opus's native rate)."""
FRAME_MS = 20
"""Milliseconds per frame (the WebRTC ptime)."""
FRAME_SAMPLES = SAMPLE_RATE * FRAME_MS // 1000
"""Samples per 20 ms frame (960)."""

Pcm = npt.NDArray[np.int16]
"""A 1-D array of mono int16 samples at ``SAMPLE_RATE``."""

_TIME_BASE = fractions.Fraction(1, SAMPLE_RATE)


def silence(samples: int = FRAME_SAMPLES) -> Pcm:
    """``samples`` zero samples."""
    return np.zeros(samples, dtype=np.int16)


def take_queued(chunks: deque[Pcm], out: Pcm) -> int:
    """Fill ``out`` from the front of a queue of chunks, popping what is used up and
    keeping the rest of a chunk taken in part; returns how many samples were filled
    (the rest of ``out`` is left as it was)."""
    filled = 0
    while filled < out.size and chunks:
        chunk = chunks[0]
        take = min(out.size - filled, chunk.size)
        out[filled : filled + take] = chunk[:take]
        filled += take
        if take == chunk.size:
            chunks.popleft()
        else:
            chunks[0] = chunk[take:]
    return filled


def to_frame(pcm: Pcm, pts: int) -> av.AudioFrame:
    """An ``av.AudioFrame`` (s16, mono, 48 kHz) holding ``pcm``, stamped ``pts`` samples."""
    frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = SAMPLE_RATE
    frame.pts = pts
    frame.time_base = _TIME_BASE
    return frame


class Resampler:
    """Turns decoded frames of any rate/layout into our mono 48 kHz int16 PCM."""

    def __init__(self, rate: int = SAMPLE_RATE) -> None:
        self._rate = rate
        self._resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)

    def __call__(self, frame: av.AudioFrame) -> Pcm:
        """The samples of ``frame`` (may be empty while the resampler fills its buffer)."""
        if (
            frame.format.name == "s16"
            and frame.layout.name == "mono"
            and frame.sample_rate == self._rate
        ):
            return frame.to_ndarray().reshape(-1).astype(np.int16, copy=False)
        out = [f.to_ndarray().reshape(-1) for f in self._resampler.resample(frame)]
        if not out:
            return silence(0)
        return np.concatenate(out).astype(np.int16, copy=False)


class PcmResampler:
    """Mono int16 PCM from one sample rate to another, chunk after chunk.

    Stateful: the filter carries on across chunks, so a stream cut into chunks of any
    size comes out as if resampled in one piece (no click at the joins). About 1 ms of
    the latest input stays inside until more comes.

    Args:
        from_rate: the input's samples per second.
        to_rate: the output's.

    Raises:
        ValueError: a rate outside 8-192 kHz.
    """

    def __init__(self, from_rate: int, to_rate: int) -> None:
        for rate in (from_rate, to_rate):
            if not 8_000 <= rate <= 192_000:
                raise ValueError(f"sample rate out of range (8000-192000): {rate}")
        self.from_rate = from_rate
        self.to_rate = to_rate
        self._resample = Resampler(to_rate)

    def __call__(self, pcm: Pcm) -> Pcm:
        """The resampled samples of ``pcm`` so far (``pcm`` itself at equal rates)."""
        data = np.asarray(pcm, dtype=np.int16).reshape(-1)
        if self.from_rate == self.to_rate or data.size == 0:
            return data
        frame = av.AudioFrame.from_ndarray(data.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = self.from_rate
        return self._resample(frame)


def frame_samples(rate: int) -> int:
    """Samples in one 20 ms frame at ``rate`` (320 at 16 kHz).

    Raises:
        ValueError: ``rate`` is outside 8-48 kHz or has no whole number of samples in
            20 ms (it must be a multiple of 50).
    """
    if not 8_000 <= rate <= SAMPLE_RATE or rate % (1000 // FRAME_MS):
        raise ValueError(f"not a frame rate (8000-48000, a multiple of 50): {rate}")
    return rate * FRAME_MS // 1000


def rms_dbfs(pcm: Pcm) -> float:
    """The RMS level of ``pcm`` in dBFS (-inf for silence)."""
    if pcm.size == 0:
        return float("-inf")
    rms = float(np.sqrt(np.mean(np.square(pcm.astype(np.float64)))))
    return 20 * float(np.log10(rms / 32768.0)) if rms > 0 else float("-inf")
