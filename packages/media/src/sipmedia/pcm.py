"""PCM audio as our media code passes it around: mono, signed 16-bit, 48 kHz, 20 ms frames.

Everything inside sipmedia speaks this one format; conversion happens at the edges
(``to_frame`` for aiortc's encoders, ``from_frame`` for what its decoders give us).
"""

from __future__ import annotations

import fractions

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
    "silence",
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


def rms_dbfs(pcm: Pcm) -> float:
    """The RMS level of ``pcm`` in dBFS (-inf for silence)."""
    if pcm.size == 0:
        return float("-inf")
    rms = float(np.sqrt(np.mean(np.square(pcm.astype(np.float64)))))
    return 20 * float(np.log10(rms / 32768.0)) if rms > 0 else float("-inf")
