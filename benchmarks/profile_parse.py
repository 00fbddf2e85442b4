"""Where sipcore's parse time goes: a stage breakdown, then cProfile.

Not run by default (``python -m benchmarks profile``). First, without a profiler, the
cost in microseconds of each stage: ``parse_message`` alone, then what each core
accessor adds on top of it (over the mix), and parse / ``validate()`` / SDP for the
INVITE. Then cProfile over the same work: the functions with the most own and
cumulative time, with the raw profiles written to ``benchmarks/results/parse-core.prof``
and ``parse-full.prof`` (for ``snakeviz`` or ``python -m pstats``). The profiler inflates
the cost of every Python call, so read its shares, not its times.
"""

from __future__ import annotations

import cProfile
import pstats
from collections.abc import Callable
from pathlib import Path

from benchmarks._timing import Settings, Workload, measure
from benchmarks.messages import INVITE, MIX
from benchmarks.parse import sipcore_core, sipcore_full
from sipcore import Message, SessionDescription, parse_message

__all__ = ["run"]

RESULTS = Path(__file__).parent / "results"

_ROWS = 25


def _profile(name: str, fn: Callable[[bytes], object], datas: list[bytes], passes: int) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(passes):
        for data in datas:
            fn(data)
    profiler.disable()
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"parse-{name}.prof"
    profiler.dump_stats(path)
    print(f"\n=== {name}: {passes} passes over {len(datas)} message(s); raw profile: {path}")
    stats = pstats.Stats(profiler)
    stats.strip_dirs()
    print("--- by own time")
    stats.sort_stats(pstats.SortKey.TIME).print_stats(_ROWS)
    print("--- by cumulative time")
    stats.sort_stats(pstats.SortKey.CUMULATIVE).print_stats(_ROWS)


def _with(read: Callable[[Message], object]) -> Callable[[bytes], object]:
    def work(data: bytes) -> object:
        return read(parse_message(data))

    return work


def _validated(data: bytes) -> None:
    parse_message(data).validate()


def _stages(settings: Settings) -> None:
    datas = [sample.data for sample in MIX]
    core = measure(
        [
            Workload("parse_message", parse_message, datas),
            Workload("+ call_id", _with(lambda m: m.call_id), datas),
            Workload("+ cseq", _with(lambda m: m.cseq), datas),
            Workload("+ via (all, [0].branch)", _with(lambda m: m.via[0].branch), datas),
            Workload("+ from_.tag", _with(lambda m: m.from_.tag), datas),
            Workload("+ to.tag", _with(lambda m: m.to.tag), datas),
            Workload("all core fields", sipcore_core, datas),
        ],
        settings,
    )
    print("\n=== stages, core fields over the mix (microseconds per message, best run)")
    base = 1e6 / core["parse_message"].best
    for name, m in core.items():
        cost = 1e6 / m.best
        extra = f"  (+{cost - base:.2f})" if name.startswith("+") else ""
        print(f"  {name:<28}{cost:>8.2f}{extra}")
    body = parse_message(INVITE.data).body
    full = measure(
        [
            Workload("parse_message", parse_message, [INVITE.data]),
            Workload("parse + validate()", _validated, [INVITE.data]),
            Workload("SessionDescription.parse", SessionDescription.parse, [body]),
            Workload("all (the full benchmark)", sipcore_full, [INVITE.data]),
        ],
        settings,
    )
    print("\n=== stages, full parse of the INVITE (microseconds, best run)")
    for name, m in full.items():
        print(f"  {name:<28}{1e6 / m.best:>8.2f}")


def run(settings: Settings) -> None:
    """Profile the core-fields mix and the full parse of the INVITE.

    Args:
        settings: ``seconds`` scales the number of passes (about 20000 messages per
            0.3 s; the profiler is slow).
    """
    _stages(Settings(repeats=3, seconds=settings.seconds / 3))
    passes = max(1, round(3000 * settings.seconds / 0.3))
    _profile("core", sipcore_core, [sample.data for sample in MIX], passes)
    _profile("full", sipcore_full, [INVITE.data], passes * 2)
