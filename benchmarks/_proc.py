"""What a process costs, read from Linux's ``/proc``: resident memory and CPU seconds.

Linux only, like the Kamailio the load benchmarks run against. ``ProcessUsage`` reads
one process (ours, or a child such as SIPp); ``group_usage`` adds up a process group
(Kamailio's main process and its forked workers) by proportional set size, so that the
shared memory every worker maps is counted once rather than once per worker.
"""

from __future__ import annotations

import contextlib
import gc
import os
import resource
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = [
    "Usage",
    "self_usage",
    "self_peak_memory",
    "process_usage",
    "group_usage",
    "raise_open_files_limit",
    "GcClock",
]

_TICKS = os.sysconf("SC_CLK_TCK")
_PROC = Path("/proc")


@dataclass(frozen=True, slots=True)
class Usage:
    """Memory and CPU of a process (or a group of them) at one moment."""

    memory: int
    """Bytes resident: RSS for one process, the sum of PSS for a group."""
    cpu: float
    """CPU seconds used so far (user + system)."""

    def __sub__(self, other: Usage) -> Usage:
        return Usage(self.memory - other.memory, self.cpu - other.cpu)


def _status_kib(pid: int | str, field: str) -> int:
    for line in (_PROC / str(pid) / "status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(f"no {field} in /proc/{pid}/status")


def self_usage(*, collect: bool = True) -> Usage:
    """Our own RSS (``VmRSS``) and CPU seconds.

    Args:
        collect: run the garbage collector first, so that what is measured is what is
            alive rather than what the collector has not reached yet.
    """
    if collect:
        gc.collect()
    times = os.times()
    return Usage(_status_kib("self", "VmRSS") * 1024, times.user + times.system)


def self_peak_memory() -> int:
    """Our peak RSS so far (``VmHWM``), bytes."""
    return _status_kib("self", "VmHWM") * 1024


def _stat_fields(pid: str) -> list[str]:
    # The command name may hold spaces and parentheses: split after the last ')'.
    return (_PROC / pid / "stat").read_text().rsplit(")", 1)[-1].split()


def _pss(pid: str) -> int:
    for line in (_PROC / pid / "smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) * 1024
    return 0


def group_usage(pgid: int) -> Usage:
    """The summed PSS and CPU seconds of every live process in process group ``pgid``.

    CPU of workers that already exited is not counted (Kamailio's workers live as long
    as the server does).
    """
    memory = 0
    ticks = 0
    for entry in os.listdir(_PROC):
        if not entry.isdigit():
            continue
        try:
            fields = _stat_fields(entry)
            # fields[0] is the state (field 3 of stat), so field n is fields[n - 3]
            if int(fields[2]) != pgid or fields[0] in ("Z", "X"):
                continue
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
            memory += _pss(entry)
        except (OSError, IndexError, ValueError):
            continue  # exited while we looked
    return Usage(memory, ticks / _TICKS)


def process_usage(pid: int) -> Usage:
    """RSS and CPU seconds of one process (and of its children it has waited for)."""
    fields = _stat_fields(str(pid))
    # utime, stime, cutime, cstime
    ticks = sum(int(fields[n]) for n in (11, 12, 13, 14))
    return Usage(_status_kib(pid, "VmRSS") * 1024, ticks / _TICKS)


def raise_open_files_limit() -> tuple[int, int]:
    """Raise our soft ``RLIMIT_NOFILE`` to the hard limit; returns (soft, hard) after.

    Every phone holds a socket: 10,000 phones need more than the usual soft limit of
    1,024 descriptors.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


@dataclass(slots=True)
class GcClock:
    """CPU seconds spent in the cyclic garbage collector, by generation (``gc.callbacks``).

    A collection of the oldest generation walks every tracked object, so with thousands
    of phones alive it is where much of the CPU goes; this says how much. Process CPU
    time, not wall time, so that a busy machine does not inflate it. Use as a context
    manager around what is measured.
    """

    seconds: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    collections: list[int] = field(default_factory=lambda: [0, 0, 0])
    _started: float = 0.0
    _paused: bool = False

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Collections in this block (an explicit ``gc.collect()``) are not counted."""
        self._paused = True
        try:
            yield
        finally:
            self._paused = False

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if self._paused:
            return
        if phase == "start":
            self._started = time.process_time()
            return
        generation = int(info["generation"])
        self.seconds[generation] += time.process_time() - self._started
        self.collections[generation] += 1

    @property
    def total(self) -> float:
        return sum(self.seconds)

    def reading(self) -> tuple[tuple[float, int], ...]:
        """(seconds, collections) of each generation so far."""
        return tuple(zip(self.seconds, self.collections, strict=True))

    def __enter__(self) -> GcClock:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        gc.callbacks.remove(self._callback)
