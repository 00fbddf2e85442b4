"""Tone detection with the Goertzel algorithm: did the frequency we expect arrive?"""

from __future__ import annotations

import math

import numpy as np

from sipmedia.pcm import SAMPLE_RATE, Pcm

__all__ = ["goertzel_power", "tone_ratio", "detect_tone", "dominant_frequency"]


def goertzel_power(pcm: Pcm, frequency: float, rate: int = SAMPLE_RATE) -> float:
    """The power of ``frequency`` in ``pcm``: the single DFT bin Goertzel computes.

    Normalised so that a pure sine at ``frequency`` gives the same value as
    ``sum(x**2) / 2`` (see ``tone_ratio``). Vectorised with numpy rather than the
    recursive Goertzel loop, which is the same number computed faster in Python.
    """
    if pcm.size == 0:
        return 0.0
    x = pcm.astype(np.float64) / 32768.0
    n = x.size
    k = round(n * frequency / rate)
    phase = np.exp(-2j * math.pi * k * np.arange(n) / n)
    return float(abs(np.dot(x, phase)) ** 2) / n


def tone_ratio(pcm: Pcm, frequency: float, rate: int = SAMPLE_RATE) -> float:
    """The share (0..1) of the signal's energy that sits at ``frequency``."""
    if pcm.size == 0:
        return 0.0
    x = pcm.astype(np.float64) / 32768.0
    total = float(np.sum(x * x)) / 2.0
    if total <= 0:
        return 0.0
    return min(1.0, goertzel_power(pcm, frequency, rate) / total)


def dominant_frequency(pcm: Pcm, rate: int = SAMPLE_RATE) -> float:
    """The strongest frequency in ``pcm`` (FFT peak), in Hz."""
    if pcm.size == 0:
        return 0.0
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float64) * np.hanning(pcm.size)))
    spectrum[0] = 0.0
    return float(np.argmax(spectrum)) * rate / pcm.size


def detect_tone(
    pcm: Pcm, frequency: float, rate: int = SAMPLE_RATE, threshold: float = 0.5
) -> bool:
    """Whether ``frequency`` carries at least ``threshold`` of the energy of ``pcm``."""
    return tone_ratio(pcm, frequency, rate) >= threshold
