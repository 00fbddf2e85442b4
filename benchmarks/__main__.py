"""``python -m benchmarks [names...] [--repeats N] [--seconds S] [media options]``.

With no names, runs every default benchmark. ``nox -s bench -- profile`` passes names
through; ``python -m benchmarks registration --phones 500`` is a quick registration run.
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable, Sequence

from benchmarks import answer, media, parse, profile_parse, registration
from benchmarks._timing import Settings

__all__ = ["BENCHMARKS", "DEFAULT", "main"]

BENCHMARKS: dict[str, Callable[[Settings], object]] = {
    "parse": parse.run,
    "profile": profile_parse.run,
    "media": media.run,
    "registration": registration.run,
    "answer": answer.run,
}
"""Benchmark name -> its entry point."""

DEFAULT = ("parse", "media", "registration", "answer")
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
        "--seconds",
        type=float,
        default=None,
        help=f"target seconds per timed run (default {defaults.seconds:g}); media: the "
        f"measured window per step (default {media.MediaOptions().seconds:g})",
    )
    media.add_arguments(parser)
    registration.add_arguments(parser)
    answer.add_arguments(parser)
    args = parser.parse_args(argv)
    names: list[str] = args.names or list(DEFAULT)
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    if args.repeats < 1 or (args.seconds is not None and args.seconds <= 0):
        parser.error("--repeats must be at least 1 and --seconds positive")
    try:
        media_options = media.options_from(args)
        registration_options = registration.options_from(args)
        answer_options = answer.options_from(args)
    except ValueError as exc:
        parser.error(str(exc))
    settings = Settings(repeats=args.repeats, seconds=args.seconds or defaults.seconds)
    runners: dict[str, Callable[[Settings], object]] = {
        **BENCHMARKS,
        "media": functools.partial(media.run, options=media_options),
        "registration": functools.partial(registration.run, options=registration_options),
        "answer": functools.partial(answer.run, options=answer_options),
    }
    for name in names:
        runners[name](settings)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
