"""``python -m benchmarks [names...] [--repeats N] [--seconds S]``.

With no names, runs every default benchmark. ``nox -s bench -- profile`` passes names
through.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

from benchmarks import parse, profile_parse
from benchmarks._timing import Settings

__all__ = ["BENCHMARKS", "DEFAULT", "main"]

BENCHMARKS: dict[str, Callable[[Settings], object]] = {
    "parse": parse.run,
    "profile": profile_parse.run,
}
"""Benchmark name -> its entry point."""

DEFAULT = ("parse",)
"""What runs when no name is given (profiling is on demand)."""


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run the named benchmarks in order.

    Returns:
        The exit status: 0, or 2 for an unknown benchmark name.
    """
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=f"Benchmarks against peers in one run. Known: {', '.join(BENCHMARKS)}.",
    )
    parser.add_argument("names", nargs="*", help=f"default: {' '.join(DEFAULT)}")
    defaults = Settings()
    parser.add_argument("--repeats", type=int, default=defaults.repeats, help="timed runs")
    parser.add_argument(
        "--seconds", type=float, default=defaults.seconds, help="target seconds per timed run"
    )
    args = parser.parse_args(argv)
    names: list[str] = args.names or list(DEFAULT)
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    if args.repeats < 1 or args.seconds <= 0:
        parser.error("--repeats must be at least 1 and --seconds positive")
    settings = Settings(repeats=args.repeats, seconds=args.seconds)
    for name in names:
        BENCHMARKS[name](settings)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
