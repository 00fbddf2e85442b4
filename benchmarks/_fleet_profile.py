"""Where a fleet's memory and CPU go: tracemalloc per phone, cProfile of the burst.

Used by ``python -m benchmarks registration --profile memory|cpu`` (through
``benchmarks._fleet_main``). Profilers slow everything down, so a profiled run's rates
mean nothing; read its shares.

- ``memory``: tracemalloc from before the first phone until every phone has registered.
  Each allocation still alive then is charged twice: to the package that allocated it
  (``anyio``, ``asyncio``, ``sipcore``...) and to the innermost line of the project's
  own code on its stack (the ``owner``: which line of sipcore, sipadapters or the
  benchmark caused it), both per phone.
- ``cpu``: cProfile over the registration burst, raw profile written for ``pstats``.
  The garbage collector's time lands in whatever function was allocating when it ran.
"""

from __future__ import annotations

import cProfile
import gc
import io
import linecache
import pstats
import tracemalloc
from collections import defaultdict
from pathlib import Path
from typing import Any

__all__ = ["MemoryProfile", "CpuProfile", "package_of"]

_ROWS = 25
_OWNERS = ("/sipcore/", "/sipadapters/", "/benchmarks/")
_PACKAGES = (
    "sipcore",
    "sipadapters",
    "benchmarks",
    "anyio",
    "wsproto",
    "h11",
    "asyncio",
    "sniffio",
)


def package_of(filename: str) -> str:
    """The package a source file belongs to (``stdlib/other`` for the rest)."""
    parts = filename.replace("\\", "/").split("/")
    for package in _PACKAGES:
        if package in parts:
            return package
    return "stdlib/other"


def _where(frame: tracemalloc.Frame) -> str:
    name = frame.filename.replace("\\", "/")
    for marker in ("/site-packages/", "/src/", "/lib/python3"):
        if marker in name:
            name = name.split(marker, 1)[1]
            break
    else:
        name = "/".join(name.rsplit("/", 2)[-2:])
    line = linecache.getline(frame.filename, frame.lineno).strip()
    return f"{name}:{frame.lineno}  {line[:60]}"


def _owner(traceback: tracemalloc.Traceback) -> tracemalloc.Frame:
    # A traceback runs from the oldest frame to the most recent (the allocation).
    for frame in reversed(traceback):
        if any(marker in frame.filename.replace("\\", "/") for marker in _OWNERS):
            return frame
    return traceback[-1]


class MemoryProfile:
    """tracemalloc between the ``start`` and ``registered`` phase boundaries."""

    def __init__(self, phones: int, frames: int = 16) -> None:
        self._phones = phones
        self._frames = frames
        self._base: tracemalloc.Snapshot | None = None
        self.report: dict[str, Any] = {}

    def on_phase(self, name: str) -> None:
        if name == "start":
            tracemalloc.start(self._frames)
            self._base = tracemalloc.take_snapshot()
        elif name == "registered" and self._base is not None:
            gc.collect()  # what is alive, not what the collector has not reached yet
            snapshot = tracemalloc.take_snapshot()
            tracemalloc.stop()
            self._summarise(snapshot.compare_to(self._base, "traceback"))
            self._base = None

    def _summarise(self, diffs: list[tracemalloc.StatisticDiff]) -> None:
        n = self._phones
        by_package: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        by_owner: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        by_line: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for diff in diffs:
            if diff.size_diff == 0:
                continue
            frames = diff.traceback
            for table, key in (
                (by_package, package_of(frames[-1].filename)),
                (by_owner, _where(_owner(frames))),
                (by_line, _where(frames[-1])),
            ):
                table[key][0] += diff.size_diff
                table[key][1] += diff.count_diff

        def rows(table: dict[str, list[int]]) -> list[dict[str, Any]]:
            ordered = sorted(table.items(), key=lambda item: -item[1][0])[:_ROWS]
            return [
                {"where": key, "bytes_per_phone": round(size / n), "objects_per_phone": count / n}
                for key, (size, count) in ordered
            ]

        total = sum(d.size_diff for d in diffs)
        self.report = {
            "traced_bytes_per_phone": round(total / n),
            "by_package": rows(by_package),
            "by_owner": rows(by_owner),
            "by_allocating_line": rows(by_line),
        }

    def text(self) -> str:
        if not self.report:
            return "no memory profile (the run did not reach 'registered')"
        out = [f"traced: {self.report['traced_bytes_per_phone']:,} B per registered phone"]
        for title, key in (
            ("by allocating package", "by_package"),
            ("by the project's line that caused it", "by_owner"),
            ("by allocating line", "by_allocating_line"),
        ):
            out.append(f"--- {title} (bytes, objects per phone)")
            out.extend(
                f"  {row['bytes_per_phone']:>7,} B {row['objects_per_phone']:>6.1f}  {row['where']}"
                for row in self.report[key]
            )
        return "\n".join(out)


class CpuProfile:
    """cProfile between the ``register`` and ``registered`` phase boundaries."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._profiler = cProfile.Profile()
        self._ran = False

    def on_phase(self, name: str) -> None:
        if name == "register":
            self._profiler.enable()
        elif name == "registered":
            self._profiler.disable()
            self._ran = True
            self._path.parent.mkdir(parents=True, exist_ok=True)
            self._profiler.dump_stats(self._path)

    def text(self) -> str:
        if not self._ran:
            return "no CPU profile (the run did not reach 'registered')"
        out = io.StringIO()
        out.write(f"raw profile: {self._path}\n")
        stats = pstats.Stats(self._profiler, stream=out)
        stats.strip_dirs()
        out.write("--- by own time\n")
        stats.sort_stats(pstats.SortKey.TIME).print_stats(_ROWS)
        out.write("--- by cumulative time\n")
        stats.sort_stats(pstats.SortKey.CUMULATIVE).print_stats(_ROWS)
        return out.getvalue()
