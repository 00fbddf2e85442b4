"""Concurrent two-way Opus calls at real time, ours against bare aiortc peers; one-way delay.

The issue's figure: how many call endpoints one machine keeps at real time, and what
each costs in CPU, side by side with a program written straight on aiortc, in one run.

* **Capacity.** A step runs ``endpoints / 2`` calls on loopback, each endpoint sending an
  Opus tone both ways, spread over ``processes`` worker processes (``spawn``, one asyncio
  loop each, both ends of a call in the same process). After a warm-up it counts, over a
  steady window, the frames each endpoint received and the CPU time of every worker
  (all threads, ``getrusage``). A step is *real time* when every receiver got at least
  ``REAL_TIME_FPS`` of the 50 frames per second. The endpoint count climbs a ladder per
  implementation and process count until a step is not real time, then one step between
  the last pass and the first failure refines the answer.
* **One-way delay.** ``sipmedia.measure_one_way_delay`` (tone bursts, capture to
  delivery) between two of our endpoints for Opus and PCMU, and the very same
  measurement between two bare aiortc peers (its default 4-packet jitter buffer).

The machine is shared: the load average and the CPU that other processes used during each
window are recorded beside each step (``others``, in cores), so a failure caused by a
neighbour shows as one. Results are printed and written to ``benchmarks/results/media.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import json
import math
import multiprocessing
import os
import platform
import queue
import statistics
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from benchmarks._media_worker import (
    Kind,
    RawPeer,
    WorkerJob,
    WorkerReport,
    raw_pair,
    sipmedia_pair,
    worker_main,
)
from benchmarks._timing import Settings
from sipmedia import DelayMeasurement, MediaSession, measure_one_way_delay

if TYPE_CHECKING:
    from multiprocessing.process import BaseProcess
    from multiprocessing.queues import Queue

__all__ = [
    "MediaOptions",
    "Step",
    "Latency",
    "REAL_TIME_FPS",
    "TARGET_ENDPOINTS",
    "CONTENDED_CORES",
    "add_arguments",
    "options_from",
    "run_step",
    "max_real_time",
    "measure_latency",
    "run",
]

RESULTS = Path(__file__).parent / "results" / "media.json"

FRAMES_PER_SECOND = 50
"""What a real-time receiver gets: one 20 ms frame every 20 ms."""
REAL_TIME_FPS = 49.5
"""The issue's bar: every receiver gets at least this many frames per second."""
TARGET_ENDPOINTS = 100
"""The issue's target on this 2-core machine."""
KINDS: tuple[Kind, ...] = ("sipmedia", "aiortc")
COST_MIN_ENDPOINTS = 20
"""Steps this large or larger give the summary's cost (a process's own overhead, shared
by few endpoints, would inflate the smaller ones)."""
CONTENDED_CORES = 0.25
"""A step that failed while other processes used this many cores is run once more."""
_STEP_TIMEOUT = 600.0
"""Longest a step may take from spawn to the last report (setup included)."""


@dataclass(frozen=True, slots=True)
class MediaOptions:
    """How the media benchmark runs (from the command line)."""

    max_endpoints: int = 120
    """The top of the ladder."""
    processes: int = field(default_factory=lambda: os.cpu_count() or 1)
    """Worker processes of the multi-process runs (the one-process runs always run too)."""
    seconds: float = 10.0
    """The measured steady window of each step."""
    warmup: float = 3.0
    """Seconds of calls before the window opens."""
    ladder_step: int = 20
    """Endpoints added per rung of the ladder."""
    bursts: int = 10
    """Tone bursts per one-way delay measurement."""
    quick: bool = False
    """A smoke run: short windows, a coarse ladder, no refinement."""

    @classmethod
    def quick_mode(cls, **overrides: Any) -> MediaOptions:
        """Options for ``--quick``: about a minute instead of ten."""
        values: dict[str, Any] = {
            "seconds": 3.0,
            "warmup": 1.5,
            "ladder_step": 40,
            "bursts": 5,
            "quick": True,
        }
        values.update(overrides)
        return cls(**values)


@dataclass(frozen=True, slots=True)
class Step:
    """One measured configuration: ``endpoints`` endpoints of ``kind`` in ``processes``."""

    kind: Kind
    processes: int
    endpoints: int
    fps: tuple[float, ...]
    """Frames per second each endpoint received over the window."""
    cpu: float
    """CPU seconds all workers used during the window."""
    window: float
    """The window's length (the longest of the workers'), seconds."""
    lag_p99: float
    """The worst worker's 99th percentile of event-loop lateness, seconds."""
    others: float | None
    """Cores busy with other processes of the machine during the window."""
    load: float
    """The 1-minute load average at the end of the step."""
    setup: float
    """Seconds the slowest worker took to set its calls up."""
    threads: int
    """Threads per worker process during the window (the largest)."""
    error: str | None = None

    @property
    def fps_min(self) -> float:
        """The slowest receiver's frames per second."""
        return min(self.fps) if self.fps else 0.0

    @property
    def fps_median(self) -> float:
        """The median receiver's frames per second."""
        return statistics.median(self.fps) if self.fps else 0.0

    @property
    def cpu_per_endpoint_second(self) -> float:
        """CPU seconds one endpoint costs per second of call."""
        if not self.fps or self.window <= 0:
            return float("nan")
        return self.cpu / (len(self.fps) * self.window)

    @property
    def cpu_per_endpoint_second_at_50fps(self) -> float:
        """CPU seconds per endpoint-second of real-time audio: CPU per frame received,
        times 50. Equal to ``cpu_per_endpoint_second`` at real time; below it, the cost
        of the work actually done (an overloaded step does less per second)."""
        frames = sum(self.fps) * self.window
        return self.cpu / frames * FRAMES_PER_SECOND if frames > 0 else float("nan")

    @property
    def real_time(self) -> bool:
        """Every receiver got at least ``REAL_TIME_FPS`` frames per second."""
        return self.error is None and bool(self.fps) and self.fps_min >= REAL_TIME_FPS

    def as_json(self) -> dict[str, Any]:
        """The step as plain JSON values."""
        return {
            "kind": self.kind,
            "processes": self.processes,
            "endpoints": self.endpoints,
            "real_time": self.real_time,
            "fps_min": round(self.fps_min, 2),
            "fps_median": round(self.fps_median, 2),
            "cpu_per_endpoint_second": round(self.cpu_per_endpoint_second, 5),
            "cpu_per_endpoint_second_at_50fps": round(self.cpu_per_endpoint_second_at_50fps, 5),
            "cpu_s": round(self.cpu, 3),
            "window_s": round(self.window, 3),
            "loop_lag_p99_ms": round(self.lag_p99 * 1000, 1),
            "other_processes_cores": None if self.others is None else round(self.others, 2),
            "load_average_1m": round(self.load, 2),
            "setup_s": round(self.setup, 2),
            "threads_per_process": self.threads,
            "error": self.error,
        }


@dataclass(frozen=True, slots=True)
class Latency:
    """One-way delay of one implementation and codec."""

    kind: Kind
    codec: str
    measured: DelayMeasurement

    def as_json(self) -> dict[str, Any]:
        """The measurement as plain JSON values (milliseconds)."""
        m = self.measured
        return {
            "kind": self.kind,
            "codec": self.codec,
            "median_ms": round(m.median * 1000, 1),
            "max_ms": round(m.maximum * 1000, 1),
            "samples_ms": [round(s * 1000, 1) for s in m.samples],
            "missed": m.missed,
        }


# -- command line --------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the media benchmark's options (``--seconds`` is shared and added elsewhere)."""
    group = parser.add_argument_group("media")
    defaults = MediaOptions()
    group.add_argument(
        "--max-endpoints",
        type=int,
        default=defaults.max_endpoints,
        help=f"media: top of the endpoint ladder (default {defaults.max_endpoints})",
    )
    group.add_argument(
        "--processes",
        type=int,
        default=defaults.processes,
        help=f"media: worker processes of the multi-process runs (default {defaults.processes})",
    )
    group.add_argument(
        "--quick",
        action="store_true",
        help="smoke runs (media: short windows, coarse ladder, ~2 min)",
    )


def options_from(args: argparse.Namespace) -> MediaOptions:
    """The media options given on the command line (``args.seconds``: the window, if set).

    Raises:
        ValueError: a value out of range.
    """
    overrides: dict[str, Any] = {
        "max_endpoints": args.max_endpoints,
        "processes": args.processes,
    }
    if args.seconds is not None:
        overrides["seconds"] = args.seconds
    options = MediaOptions.quick_mode(**overrides) if args.quick else MediaOptions(**overrides)
    if options.max_endpoints < 2 or options.processes < 1 or options.seconds <= 0:
        raise ValueError("--max-endpoints must be at least 2, --processes at least 1")
    return options


# -- one step -------------------------------------------------------------------------------


def _busy_jiffies() -> tuple[int, int] | None:
    """(busy, total) jiffies of the whole machine since boot, from ``/proc/stat``."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(v) for v in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


def _machine_cores_busy(before: tuple[int, int] | None, after: tuple[int, int] | None) -> float:
    if before is None or after is None or after[1] == before[1]:
        return float("nan")
    cores = os.cpu_count() or 1
    return (after[0] - before[0]) / (after[1] - before[1]) * cores


def _split(endpoints: int, processes: int) -> list[int]:
    """Calls per process: ``endpoints / 2`` calls spread as evenly as possible."""
    pairs = endpoints // 2
    return [pairs // processes + (1 if i < pairs % processes else 0) for i in range(processes)]


def _collect(results: Queue[WorkerReport], workers: Sequence[BaseProcess]) -> list[WorkerReport]:
    """Every worker's report; a worker that died without one is reported as failed."""
    reports: list[WorkerReport] = []
    deadline = time.monotonic() + _STEP_TIMEOUT
    while len(reports) < len(workers):
        try:
            reports.append(results.get(timeout=1.0))
        except queue.Empty:
            dead = [w for w in workers if w.exitcode not in (None, 0)]
            if dead or time.monotonic() > deadline:
                why = f"worker exit codes {[w.exitcode for w in workers]}" if dead else "timeout"
                missing = len(workers) - len(reports)
                reports += [WorkerReport((), 0.0, 0.0, 0.0, 0.0, 0.0, 0, error=why)] * missing
    return reports


def run_step(
    kind: Kind, endpoints: int, processes: int, options: MediaOptions, codec: str = "opus"
) -> Step:
    """Measure ``endpoints`` endpoints of ``kind`` in ``processes`` worker processes.

    The parent joins the workers' start barrier, then samples the machine's CPU over the
    same window the workers measure, to tell how much of the machine others used.
    """
    context = multiprocessing.get_context("spawn")
    split = [p for p in _split(endpoints, processes) if p > 0]
    barrier = context.Barrier(len(split) + 1)
    results: Queue[WorkerReport] = context.Queue()
    workers = [
        context.Process(
            target=worker_main,
            args=(WorkerJob(kind, pairs, options.warmup, options.seconds, codec), barrier, results),
            daemon=True,
        )
        for pairs in split
    ]
    for worker in workers:
        worker.start()
    busy = float("nan")
    try:
        barrier.wait(_STEP_TIMEOUT)
        time.sleep(options.warmup)
        before = _busy_jiffies()
        time.sleep(options.seconds)
        busy = _machine_cores_busy(before, _busy_jiffies())
    except threading.BrokenBarrierError:
        pass  # a worker failed: its report says why
    reports = _collect(results, workers)
    for worker in workers:
        worker.join(timeout=30)
        if worker.is_alive():
            worker.kill()
    errors = [r.error for r in reports if r.error is not None]
    fps = tuple(f / r.window for r in reports if r.window > 0 for f in r.frames)
    cpu = sum(r.cpu for r in reports)
    window = max((r.window for r in reports), default=0.0)
    ours = cpu / window if window > 0 else 0.0
    return Step(
        kind=kind,
        processes=processes,
        endpoints=endpoints,
        fps=fps,
        cpu=cpu,
        window=window,
        lag_p99=max((r.lag_p99 for r in reports), default=0.0),
        others=None if math.isnan(busy) else max(0.0, busy - ours),
        load=os.getloadavg()[0],
        setup=max((r.setup for r in reports), default=0.0),
        threads=max((r.threads for r in reports), default=0),
        error="; ".join(errors) or None,
    )


# -- the ladder -------------------------------------------------------------------------------


def _rung(endpoints: int, processes: int) -> int:
    """``endpoints`` rounded down to whole calls in every process (at least one each)."""
    unit = 2 * processes
    return max(unit, endpoints // unit * unit)


def _ladder(options: MediaOptions, processes: int) -> list[int]:
    counts = {
        _rung(n, processes)
        for n in range(options.ladder_step, options.max_endpoints + 1, options.ladder_step)
    }
    return sorted(n for n in counts if n <= options.max_endpoints)


def _print_step(step: Step, baseline: Step | None) -> None:
    ratio = ""
    if baseline is not None and step is not baseline:
        mine, theirs = (
            step.cpu_per_endpoint_second_at_50fps,
            baseline.cpu_per_endpoint_second_at_50fps,
        )
        ratio = f"{mine / theirs:.2f}x"
    others = "?" if step.others is None else f"{step.others:.2f}"
    verdict = "yes" if step.real_time else "NO"
    if step.error:
        verdict = f"error: {step.error[:60]}"
    print(
        f"  {step.kind:<9}{step.processes:>6}{step.endpoints:>10}{step.fps_min:>9.1f}"
        f"{step.fps_median:>9.1f}{step.cpu_per_endpoint_second:>12.4f}"
        f"{step.cpu_per_endpoint_second_at_50fps:>9.4f}{ratio:>11}"
        f"{step.lag_p99 * 1000:>9.0f}{others:>8}{step.load:>7.2f}  {verdict}",
        flush=True,
    )


_HEADER = (
    f"  {'impl':<9}{'procs':>6}{'endpoints':>10}{'fps min':>9}{'fps med':>9}"
    f"{'CPU-s/ep-s':>12}{'@50fps':>9}{'vs aiortc':>11}{'lag p99':>9}{'others':>8}{'load':>7}"
    "  real time"
)
_UNITS = (
    "  (fps: frames/s per receiver, 50 is real time, bar 49.5; CPU-s/ep-s: CPU seconds per "
    "endpoint-second, all workers' threads; @50fps: the same per frame received, times 50 "
    "(the cost of real-time audio, also where a step fell behind); vs aiortc: @50fps over "
    "aiortc's at the same rung; lag p99: event-loop lateness, ms; others: cores used by "
    "other processes during the window; load: 1-minute load average)"
)


def _measured(
    steps: list[Step],
    kind: Kind,
    endpoints: int,
    processes: int,
    options: MediaOptions,
    *,
    baseline: Step | None,
) -> Step:
    """Run a step (appended to ``steps`` and printed); a failure while other processes
    kept at least ``CONTENDED_CORES`` busy is tried once more, and the better one returned."""
    step = run_step(kind, endpoints, processes, options)
    steps.append(step)
    _print_step(step, baseline)
    if not step.real_time and step.error is None and (step.others or 0.0) >= CONTENDED_CORES:
        print(f"  {'':<25}(others were busy: once more)", flush=True)
        again = run_step(kind, endpoints, processes, options)
        steps.append(again)
        _print_step(again, baseline)
        step = max(step, again, key=lambda s: (s.real_time, s.fps_min))
    return step


def _climb(options: MediaOptions, processes: int) -> list[Step]:
    """Climb the ladder for both kinds at ``processes``, interleaved rung by rung."""
    steps: list[Step] = []
    passed: dict[Kind, int] = {}
    failed: dict[Kind, int] = {}
    print(f"\n{processes} worker process(es)\n{_HEADER}", flush=True)
    for endpoints in _ladder(options, processes):
        at_rung: dict[Kind, Step] = {}
        for kind in ("aiortc", "sipmedia"):  # the baseline first: its ratio is then printed
            if kind in failed:
                continue
            step = _measured(
                steps, kind, endpoints, processes, options, baseline=at_rung.get("aiortc")
            )
            at_rung[kind] = step
            if step.real_time:
                passed[kind] = endpoints
            else:
                failed[kind] = endpoints
        if len(failed) == len(KINDS):
            break
    if not options.quick:
        for kind, top in failed.items():
            low = passed.get(kind, 0)
            middle = _rung((low + top) // 2, processes)
            if low < middle < top:
                _measured(steps, kind, middle, processes, options, baseline=None)
    return steps


def max_real_time(steps: list[Step], kind: Kind, processes: int) -> int:
    """The most endpoints of ``kind`` kept at real time in ``processes`` processes (0: none).

    A count passes if any of its attempts did; it counts only if every smaller count
    measured passed too, so a lucky step above a failure is not reported as capacity.
    """
    passed: dict[int, bool] = {}
    for step in steps:
        if step.kind == kind and step.processes == processes:
            passed[step.endpoints] = passed.get(step.endpoints, False) or step.real_time
    best = 0
    for endpoints in sorted(passed):
        if not passed[endpoints]:
            break
        best = endpoints
    return best


# -- one-way delay --------------------------------------------------------------------------


async def _latency(kind: Kind, codec: str, bursts: int) -> DelayMeasurement:
    pair: tuple[MediaSession, MediaSession] | tuple[RawPeer, RawPeer]
    pair = await sipmedia_pair(codec) if kind == "sipmedia" else await raw_pair(codec)
    try:
        await asyncio.sleep(1.0)
        # A ``RawPeer`` offers what ``measure_one_way_delay`` reads of a session, so both
        # kinds are timed by the very same code.
        sender, receiver = (cast(MediaSession, endpoint) for endpoint in pair)
        return await measure_one_way_delay(sender, receiver, bursts=bursts)
    finally:
        for endpoint in pair:
            await endpoint.close()


def measure_latency(options: MediaOptions) -> list[Latency]:
    """One-way delay, ours and bare aiortc, Opus and PCMU, one call at a time."""
    measured: list[Latency] = []
    for kind in KINDS:
        for codec in ("opus", "PCMU"):
            delay = asyncio.run(_latency(kind, codec, options.bursts))
            measured.append(Latency(kind, codec, delay))
    return measured


def _print_latency(latencies: list[Latency]) -> None:
    print("\nOne-way delay on loopback (tone burst capture to delivery; one call, idle otherwise)")
    print(f"  {'impl':<10}{'codec':<7}{'median ms':>10}{'max ms':>9}{'missed':>8}")
    for lat in latencies:
        m = lat.measured
        print(
            f"  {lat.kind:<10}{lat.codec:<7}{m.median * 1000:>10.1f}{m.maximum * 1000:>9.1f}"
            f"{m.missed:>8}"
        )


# -- the run --------------------------------------------------------------------------------


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _environment() -> dict[str, Any]:
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average": [round(v, 2) for v in os.getloadavg()],
        "versions": {name: _version(name) for name in ("sipmedia", "aiortc", "av", "pylibsrtp")},
    }


def _summary(steps: list[Step], options: MediaOptions) -> dict[str, Any]:
    process_counts = sorted({1, options.processes})
    capacity = {
        kind: {str(n): max_real_time(steps, kind, n) for n in process_counts} for kind in KINDS
    }
    cost: dict[str, dict[str, float | bool]] = {}
    for kind in KINDS:
        large = [
            s
            for s in steps
            if s.kind == kind and s.error is None and s.endpoints >= COST_MIN_ENDPOINTS
        ]
        # Real-time steps first: a step that fell behind did less per frame (bigger
        # batches per loop turn), so its cost is optimistic.
        chosen = [s for s in large if s.real_time] or large
        values = [s.cpu_per_endpoint_second_at_50fps for s in chosen]
        if values:
            cost[kind] = {
                "median": round(statistics.median(values), 5),
                "min": round(min(values), 5),
                "max": round(max(values), 5),
                "steps": len(values),
                "from_real_time_steps": chosen[0].real_time,
            }
    ratio = None
    if "sipmedia" in cost and "aiortc" in cost:
        ratio = round(cost["sipmedia"]["median"] / cost["aiortc"]["median"], 3)
    cores = os.cpu_count() or 1
    return {
        "max_real_time_endpoints": capacity,
        "cpu_per_endpoint_second_at_50fps": cost,
        "sipmedia_over_aiortc_cpu": ratio,
        "idle_machine_projection": {
            kind: round(cores / c["median"]) for kind, c in cost.items() if c["median"] > 0
        },
        "target_endpoints": TARGET_ENDPOINTS,
        "target_met": capacity["sipmedia"].get(str(options.processes), 0) >= TARGET_ENDPOINTS,
    }


def _print_summary(summary: dict[str, Any], options: MediaOptions) -> None:
    print("\nSummary")
    for kind, by_processes in summary["max_real_time_endpoints"].items():
        parts = ", ".join(f"{n} process(es): {count}" for n, count in by_processes.items())
        print(f"  {kind:<9} most endpoints at real time: {parts}")
    for kind, cost in summary["cpu_per_endpoint_second_at_50fps"].items():
        print(
            f"  {kind:<9} CPU-s per endpoint-second of real-time audio (steps of at least "
            f"{COST_MIN_ENDPOINTS} endpoints): median {cost['median']:.4f} "
            f"(min {cost['min']:.4f}, max {cost['max']:.4f}, {cost['steps']:.0f} "
            f"{'real-time' if cost['from_real_time_steps'] else 'behind, so optimistic,'} steps)"
        )
    if summary["sipmedia_over_aiortc_cpu"] is not None:
        print(f"  sipmedia/aiortc CPU per endpoint-second: {summary['sipmedia_over_aiortc_cpu']}x")
    for kind, endpoints in summary["idle_machine_projection"].items():
        print(
            f"  {kind:<9} projection for {os.cpu_count()} idle cores at that cost: "
            f"~{endpoints} endpoints (cores / median cost; not measured)"
        )
    met = "met" if summary["target_met"] else "NOT met"
    print(f"  target {TARGET_ENDPOINTS} endpoints in {options.processes} processes: {met}")


def run(settings: Settings, options: MediaOptions | None = None) -> dict[str, Any]:
    """Measure latency, then climb the capacity ladders; print, and write the JSON.

    Args:
        settings: the shared benchmark settings (unused: the media benchmark is timed
            by its own window, ``options.seconds``).
        options: ladder, processes, window; ``MediaOptions()`` if not given.

    Returns:
        What was written to ``benchmarks/results/media.json``.
    """
    del settings
    options = options or MediaOptions()
    environment = _environment()
    print(
        f"media: {os.cpu_count()} CPUs, load average {environment['load_average']}; "
        f"window {options.seconds:g} s after {options.warmup:g} s warm-up; "
        f"ladder step {options.ladder_step} up to {options.max_endpoints} endpoints; "
        f"1 and {options.processes} worker processes",
        flush=True,
    )
    latencies = measure_latency(options)
    _print_latency(latencies)
    steps: list[Step] = []
    print(f"\nConcurrent two-way Opus endpoints (tone both ways, loopback)\n{_UNITS}")
    for processes in sorted({1, options.processes}):
        steps += _climb(options, processes)
    summary = _summary(steps, options)
    _print_summary(summary, options)
    report: dict[str, Any] = {
        "environment": environment,
        "load_average_after": [round(v, 2) for v in os.getloadavg()],
        "options": asdict(options),
        "real_time_fps": REAL_TIME_FPS,
        "latency": [lat.as_json() for lat in latencies],
        "steps": [step.as_json() for step in steps],
        "summary": summary,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {RESULTS}")
    return report
