"""Timing: ``time.perf_counter`` loops, calibrated, warmed up, repeated; best and median.

A workload is a function applied to each item of a list. ``measure`` finds how many
passes over the list fill about ``Settings.seconds``, warms up for a third of that,
then times ``Settings.repeats`` runs of that many passes, interleaving the workloads
it compares. The garbage collector stays on (parsers allocate, and a real receive loop
pays for collection too) but is run before every timed run so that one run does not pay
for the garbage of the one before.
"""

from __future__ import annotations

import gc
import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Settings", "Workload", "Measurement", "measure"]

_CALIBRATION_SECONDS = 0.05


@dataclass(frozen=True, slots=True)
class Settings:
    """How long and how often to measure (from the command line)."""

    repeats: int = 5
    """Timed runs per measurement; best and median are taken over these."""
    seconds: float = 0.3
    """Target duration of one timed run."""


@dataclass(frozen=True, slots=True)
class Measurement:
    """The timed runs of one workload."""

    name: str
    ops_per_pass: int
    """Operations (messages) in one pass over the workload."""
    passes: int
    """Passes per timed run."""
    times: tuple[float, ...]
    """Seconds taken by each timed run."""

    @property
    def ops(self) -> int:
        """Operations per timed run."""
        return self.ops_per_pass * self.passes

    @property
    def best(self) -> float:
        """Operations per second in the fastest run."""
        return self.ops / min(self.times)

    @property
    def median(self) -> float:
        """Operations per second in the median run."""
        return self.ops / statistics.median(self.times)

    @property
    def spread(self) -> float:
        """Slowest run over fastest, minus one: how noisy the machine was (0.05 is 5 %)."""
        return max(self.times) / min(self.times) - 1

    def as_json(self) -> dict[str, Any]:
        """The measurement as plain JSON values."""
        return {
            "name": self.name,
            "median_ops_per_s": round(self.median, 1),
            "best_ops_per_s": round(self.best, 1),
            "spread": round(self.spread, 4),
            "ops_per_pass": self.ops_per_pass,
            "passes": self.passes,
            "times_s": [round(t, 6) for t in self.times],
        }


def _timed(fn: Callable[[Any], object], items: Sequence[Any], passes: int) -> float:
    start = time.perf_counter()
    for _ in range(passes):
        for item in items:
            fn(item)
    return time.perf_counter() - start


@dataclass(frozen=True, slots=True)
class Workload:
    """Something to time: ``fn(item)`` for every item of ``items`` is one pass."""

    name: str
    fn: Callable[[Any], object]
    items: Sequence[Any]


def _calibrate(workload: Workload, settings: Settings) -> int:
    passes = 1
    while (elapsed := _timed(workload.fn, workload.items, passes)) < _CALIBRATION_SECONDS:
        passes *= 2
    return max(1, math.ceil(passes * settings.seconds / elapsed))


def measure(workloads: Sequence[Workload], settings: Settings) -> dict[str, Measurement]:
    """Time each workload for about ``settings.seconds`` per run, ``settings.repeats`` runs.

    The timed runs are interleaved (A B C, A B C, ...) so that a burst of load from
    elsewhere on the machine slows every contender alike instead of one of them, which
    keeps the ratios honest on a shared machine.

    Args:
        workloads: what to time, by distinct names.
        settings: target duration and number of timed runs.

    Returns:
        The timed runs of each workload by name (calibration and warm-up excluded).
    """
    passes = [_calibrate(w, settings) for w in workloads]
    for workload, n in zip(workloads, passes, strict=True):
        _timed(workload.fn, workload.items, max(1, n // 3))  # warm-up
    times: list[list[float]] = [[] for _ in workloads]
    for _ in range(settings.repeats):
        for workload, n, runs in zip(workloads, passes, times, strict=True):
            gc.collect()
            runs.append(_timed(workload.fn, workload.items, n))
    return {
        w.name: Measurement(w.name, len(w.items), n, tuple(runs))
        for w, n, runs in zip(workloads, passes, times, strict=True)
    }
