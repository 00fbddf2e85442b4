"""One fleet of phones in a process of its own: ``python -m benchmarks._fleet_main ...``.

``benchmarks.registration`` starts one of these per kind of phone, so that each kind's
memory is measured from a fresh interpreter (memory freed by an earlier run stays in
the process and would make a later one look smaller) and no kind pays for another's
garbage. It prints one progress line per phase and writes the ``FleetResult`` as JSON.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import anyio

from benchmarks._driven import DrivenPhones
from benchmarks._fleet import FleetPlan, Phones, run_fleet
from benchmarks._fleet_profile import CpuProfile, MemoryProfile
from benchmarks._kamailio import phone_users
from benchmarks._lean import LeanPhones
from benchmarks._proc import Usage, group_usage, raise_open_files_limit
from sipadapters import KEEPALIVE_INTERVAL

__all__ = ["KINDS", "main"]

KINDS = ("lean", "driver", "driver-frozen")
"""``lean``: ``benchmarks._lean``; ``driver``: ``benchmarks._driven``; ``driver-frozen``: the
same, with ``gc.freeze()`` once the phones are connected (``FleetPlan.freeze_after_connect``)."""


def _phones(kind: str, plan: FleetPlan) -> Phones:
    if kind.startswith("driver"):
        return DrivenPhones()
    return LeanPhones(keepalive_interval=plan.keepalive_interval)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one fleet against a server that is already up; write its result to ``--out``."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks._fleet_main")
    parser.add_argument("--kind", choices=KINDS, required=True)
    parser.add_argument("--url", required=True, help="the server's ws:// URL")
    parser.add_argument("--domain", required=True)
    parser.add_argument("--phones", type=int, required=True)
    parser.add_argument("--expires", type=int, required=True)
    parser.add_argument("--in-flight", type=int, required=True)
    parser.add_argument("--connect-in-flight", type=int, required=True)
    parser.add_argument(
        "--keepalive", type=float, default=KEEPALIVE_INTERVAL, help="0: no keepalive"
    )
    parser.add_argument("--server-pgid", type=int, help="the server's process group")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--profile", choices=("memory", "cpu"), help="profile (rates then mean nothing)"
    )
    args = parser.parse_args(argv)

    soft, _hard = raise_open_files_limit()
    if soft < args.phones + 256:
        print(f"  warning: {soft} open files allowed for {args.phones} phones", flush=True)
    users = list(phone_users(args.phones).items())
    plan = FleetPlan(
        url=args.url,
        domain=args.domain,
        users=users,
        expires=args.expires,
        in_flight=args.in_flight,
        connect_in_flight=args.connect_in_flight,
        keepalive_interval=args.keepalive or None,
        freeze_after_connect=args.kind.endswith("-frozen"),
    )
    if args.profile:
        # Profilers slow every step several times over: wait that much longer, and do
        # not hold (refreshes and keepalives would come too late and the server would
        # drop the phones; what is profiled is the registration).
        plan = dataclasses.replace(
            plan,
            connect_timeout=10 * plan.connect_timeout,
            transaction_timeout=10 * plan.transaction_timeout,
            hold=False,
            keepalive_interval=None,
        )
    pgid: int | None = args.server_pgid

    def server() -> Usage:
        assert pgid is not None
        return group_usage(pgid)

    def progress(line: str) -> None:
        print(f"  {args.kind}: {line}", flush=True)

    profile: MemoryProfile | CpuProfile | None = None
    if args.profile == "memory":
        profile = MemoryProfile(args.phones)
    elif args.profile == "cpu":
        profile = CpuProfile(args.out.with_suffix(".prof"))
    result = anyio.run(
        run_fleet,
        _phones(args.kind, plan),
        plan,
        progress,
        server if pgid else None,
        None if profile is None else profile.on_phase,
    )
    report = result.as_json()
    if profile is not None:
        text = profile.text()
        print(f"\n=== {args.kind}: {args.profile} profile, {args.phones} phones\n{text}")
        report["profile"] = {"kind": args.profile, "text": text}
        if isinstance(profile, MemoryProfile):
            report["profile"]["memory"] = profile.report
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
