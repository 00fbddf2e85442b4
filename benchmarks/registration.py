"""Phones held and REGISTER-with-digest rate from one process, beside SIPp, in one run.

``python -m benchmarks registration [--phones N]`` starts a private Kamailio (the suite's
harness, ``tests/kamailio``, sized by ``benchmarks._kamailio`` with one subscriber per
phone) and, against it:

1. **our phones**, each a sipcore ``UserAgent`` with its own WebSocket, all in one
   process (``benchmarks._fleet_main``, a fresh interpreter per kind): connect, register
   (REGISTER, 401, REGISTER with digest, 200; ``--in-flight`` at once), hold until every
   phone has refreshed once, unregister. Two kinds of phone:

   - ``lean``: one task per phone and one shared timer loop on ``WebSocketStream``
     (``benchmarks._lean``);
   - ``driver``: a ``UserAgentDriver`` per phone, as an application writes it
     (``benchmarks._driven``);
   - ``driver-frozen``: the same, calling ``gc.freeze()`` once every phone is connected
     (what docs/registration-performance.md advises a process holding thousands);

2. **SIPp** (Debian's ``sip-tester``) registering the same subscribers with digest over
   TCP with the same bound on registrations in progress, before and after our phones:
   ``tn`` (a connection per registration) and ``t1`` (one connection for all).

Measured: phones registered and held, the registration burst's wall time and rate (200s
to authenticated REGISTERs over the burst), CPU per registration (ours, in the garbage
collector, Kamailio's), RSS per idle phone ((RSS once all registered - RSS before the
first phone) / N, after a collection), refreshes and phones lost during the hold, and
SIPp's rate and CPU. The machine's load average is recorded beside them: on a shared
machine the wall-clock rates move with it, the CPU costs much less.

Results are printed and written to ``benchmarks/results/registration.json``.
Needs Kamailio (``scripts/install-kamailio.sh``) and SIPp (``scripts/install-bench-deps.sh``;
installed on the fly when running as root).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks._fleet_main import KINDS
from benchmarks._kamailio import scale_settings
from benchmarks._proc import Usage, group_usage, raise_open_files_limit
from benchmarks._sipp import SippResult, run_sipp, sipp_binary
from benchmarks._source import REPO_ROOT, source_state
from benchmarks._timing import Settings
from sipadapters import KEEPALIVE_INTERVAL
from tests.kamailio.server import KamailioError, KamailioServer

__all__ = [
    "Options",
    "add_arguments",
    "options_from",
    "run",
    "TARGET_PHONES",
    "TARGET_RATE",
    "TARGET_RSS_PER_PHONE",
]

RESULTS = Path(__file__).parent / "results" / "registration.json"
INSTALL_SCRIPT = REPO_ROOT / "scripts" / "install-bench-deps.sh"

TARGET_PHONES = 10_000
"""The issue's target: phones registered and held (with refreshes) by one process."""
TARGET_RSS_PER_PHONE = 30 * 1024
"""... at most this many bytes of RSS per idle phone."""
TARGET_RATE = 1000.0
"""... and at least this many REGISTER-with-digest transactions per second."""

SIPP_MODES = ("tn", "t1")
QUICK_PHONES = 500
"""Phones of a smoke run (``--quick``)."""


@dataclass(frozen=True, slots=True)
class Options:
    """The registration benchmark's own settings (from the command line)."""

    phones: int = TARGET_PHONES
    expires: int | None = None
    """Registration expiry; None: 60 s above 2,000 phones (so the refreshes come after
    the registration burst), else 20 s (a quick run)."""
    in_flight: int = 200
    """Registrations in progress at once, ours and SIPp's (``-l``)."""
    connect_in_flight: int = 200
    """Our WebSocket handshakes in progress at once."""
    kinds: tuple[str, ...] = KINDS
    sipp_modes: tuple[str, ...] = SIPP_MODES
    keepalive: float = KEEPALIVE_INTERVAL
    """Our phones' WebSocket keepalive interval (0: none); the SDK's default."""
    profile: str | None = None
    """``memory`` or ``cpu``: profile our phones instead of measuring (no SIPp)."""

    @property
    def registration_expires(self) -> int:
        if self.expires is not None:
            return self.expires
        return 60 if self.phones > 2000 else 20


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the registration benchmark's options to the command line."""
    defaults = Options()
    group = parser.add_argument_group("registration")
    group.add_argument(
        "--phones",
        type=int,
        help=f"phones to register and hold (default {defaults.phones:,}; "
        f"{QUICK_PHONES} with --quick)",
    )
    group.add_argument("--expires", type=int, help="registration expiry (default: 60 or 20 s)")
    group.add_argument(
        "--in-flight",
        type=int,
        default=defaults.in_flight,
        help="registrations in progress at once (ours and SIPp's)",
    )
    group.add_argument(
        "--kinds",
        default=",".join(defaults.kinds),
        help=f"our kinds of phone, comma-separated ({', '.join(KINDS)})",
    )
    group.add_argument(
        "--sipp-modes",
        default=",".join(defaults.sipp_modes),
        help="SIPp transports, comma-separated (tn, t1; empty: no SIPp)",
    )
    group.add_argument(
        "--profile",
        choices=("memory", "cpu"),
        help="profile our phones (tracemalloc per phone, or cProfile of the burst) "
        "instead of measuring them; no SIPp",
    )


def options_from(args: argparse.Namespace) -> Options:
    """The options parsed by a parser that ``add_arguments`` set up.

    ``--quick`` (the framework's smoke-run switch, where one is defined) means
    ``QUICK_PHONES`` phones unless ``--phones`` says otherwise.

    Raises:
        ValueError: an unusable value.
    """
    kinds = tuple(k for k in str(args.kinds).split(",") if k)
    modes = tuple(m for m in str(args.sipp_modes).split(",") if m)
    if unknown := [k for k in kinds if k not in KINDS]:
        raise ValueError(f"unknown kind(s) of phone {unknown}; known: {', '.join(KINDS)}")
    if unknown := [m for m in modes if m not in SIPP_MODES]:
        raise ValueError(f"unknown SIPp mode(s) {unknown}; known: {', '.join(SIPP_MODES)}")
    phones: int = args.phones or (
        QUICK_PHONES if getattr(args, "quick", False) else Options().phones
    )
    if phones < 1 or args.in_flight < 1:
        raise ValueError("--phones and --in-flight must be at least 1")
    if args.expires is not None and args.expires < 10:
        raise ValueError("--expires must be at least 10 s")
    return Options(
        phones=phones,
        expires=args.expires,
        in_flight=args.in_flight,
        kinds=kinds,
        sipp_modes=modes,
        profile=args.profile,
    )


# --------------------------------------------------------------------------- running


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def _server_pgid(server: KamailioServer) -> int:
    """Kamailio's process group: its main process leads one (``start_new_session``)."""
    pid = server.pid
    if pid is None:
        raise KamailioError("Kamailio is not running")
    return pid


def _ensure_sipp() -> str | None:
    """SIPp's binary; installs ``sip-tester`` first if it is missing and we are root."""
    binary = sipp_binary()
    if binary is None and os.geteuid() == 0 and INSTALL_SCRIPT.is_file():
        print(f"SIPp not found: running {INSTALL_SCRIPT}")
        subprocess.run(["bash", str(INSTALL_SCRIPT)], check=False, stdin=subprocess.DEVNULL)
        binary = sipp_binary()
    return binary


def _run_fleet(
    kind: str, server: KamailioServer, options: Options, workdir: Path
) -> dict[str, Any]:
    """Run one kind of phone in a fresh interpreter; its result, or why it failed."""
    out = workdir / f"fleet-{kind}.json"
    out.unlink(missing_ok=True)
    expires = options.registration_expires
    command = [
        sys.executable,
        "-m",
        "benchmarks._fleet_main",
        "--kind",
        kind,
        "--url",
        server.ws_url,
        "--domain",
        server.domain,
        "--phones",
        str(options.phones),
        "--expires",
        str(expires),
        "--in-flight",
        str(options.in_flight),
        "--connect-in-flight",
        str(options.connect_in_flight),
        "--keepalive",
        str(options.keepalive),
        "--server-pgid",
        str(_server_pgid(server)),
        "--out",
        str(out),
    ]
    if options.profile:
        command += ["--profile", options.profile]
    # Four phases of at most ~(N/50 + 40) s each, and the hold's wait for the refresh.
    timeout = 4 * (options.phones / 50 + 60) + 2 * expires + 60
    if options.profile:
        timeout *= 4
    load_before = _load()
    try:
        # cwd: the repository root, so that `benchmarks` and `tests` are ours.
        completed = subprocess.run(
            command, cwd=REPO_ROOT, stdin=subprocess.DEVNULL, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return {"kind": kind, "error": f"did not finish within {timeout:.0f} s"}
    if completed.returncode != 0 or not out.exists():
        return {"kind": kind, "error": f"exited with status {completed.returncode}"}
    result: dict[str, Any] = json.loads(out.read_text())
    result["load_average"] = {"before": load_before, "after": _load()}
    return result


def _run_sipp(
    binary: str, mode: str, server: KamailioServer, options: Options, workdir: Path
) -> dict[str, Any]:
    load_before = _load()
    before = group_usage(_server_pgid(server))
    result: SippResult = run_sipp(
        binary=binary,
        host=server.host,
        port=server.tcp_port,
        users=server.users,
        domain=server.domain,
        expires=options.registration_expires,
        mode=mode,
        in_flight=options.in_flight,
        workdir=workdir / "sipp",
        timeout=options.phones / 50 + 120,
    )
    spent: Usage = group_usage(_server_pgid(server)) - before
    report = result.as_json()
    report["server_cpu_seconds"] = round(spent.cpu, 3)
    report["load_average"] = {"before": load_before, "after": _load()}
    return report


# --------------------------------------------------------------------------- reporting


def _kb(value: float | None) -> str:
    return "-" if value is None else f"{value / 1024:,.1f} KB"


def _num(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _per_registration_ms(seconds: float | None, count: int) -> float | None:
    return None if seconds is None or count <= 0 else 1000 * seconds / count


def _fleet_column(fleet: dict[str, Any]) -> dict[str, str]:
    if "error" in fleet:
        return {"phones registered": f"failed: {fleet['error']}"}
    phases = fleet["phases"]
    register, connect, hold = phases["register"], phases["connect"], phases["hold"]
    n = fleet["phones"]
    latency = fleet["register_latency_s"]
    per_phone = fleet["rss_per_phone_bytes"]
    return {
        "phones registered": f"{register['ok']:,}/{n:,}",
        "connect all (s)": _num(connect["seconds"], 1),
        "register all (s)": _num(register["seconds"], 1),
        "REGISTER+digest /s": _num(register["per_second"]),
        "connect+register /s": _num(fleet["connect_and_register_per_second"]),
        "client CPU ms/reg": _num(register["cpu_ms_per_phone"], 3),
        "  of which GC ms/reg": _num(
            _per_registration_ms(register["gc_seconds"], register["ok"]), 3
        ),
        "client regs per CPU-s": _num(
            1000 / register["cpu_ms_per_phone"] if register["cpu_ms_per_phone"] else None
        ),
        "Kamailio CPU ms/reg": _num(
            _per_registration_ms(register["server_cpu_seconds"], register["ok"]), 3
        ),
        "latency p50/p99 (ms)": (
            f"{1000 * latency['p50']:,.0f}/{1000 * latency['p99']:,.0f}" if latency else "-"
        ),
        "RSS/phone registered": _kb(per_phone["registered"]),
        "RSS/phone held": _kb(per_phone["held"]),
        "refreshed (lost)": f"{hold['ok']:,}/{n:,} ({fleet['lost']})",
        "hold CPU s (wall s)": f"{hold['cpu_seconds']:.1f} ({hold['seconds']:.0f})",
        "unregistered": f"{phases['unregister']['ok']:,}/{n:,}",
        "load avg (1 min)": f"{fleet['load_average']['before']:.1f}",
    }


def _sipp_column(sipp: dict[str, Any]) -> dict[str, str]:
    ok = sipp["succeeded"]
    cpu = _per_registration_ms(sipp["cpu_seconds"], ok)
    return {
        "phones registered": f"{ok:,}/{sipp['attempted']:,}",
        "register all (s)": _num(sipp["sipp_seconds"] or sipp["wall_seconds"], 1),
        "REGISTER+digest /s": _num(sipp["per_second"]),
        "client CPU ms/reg": _num(cpu, 3),
        "client regs per CPU-s": _num(None if not cpu else 1000 / cpu),
        "Kamailio CPU ms/reg": _num(_per_registration_ms(sipp["server_cpu_seconds"], ok), 3),
        "load avg (1 min)": f"{sipp['load_average']['before']:.1f}",
    }


def _print_table(columns: dict[str, dict[str, str]]) -> None:
    rows: list[str] = []
    for column in columns.values():
        rows.extend(r for r in column if r not in rows)
    width = max(len(r) for r in rows) + 2
    cell = max(14, *(len(v) + 2 for c in columns.values() for v in c.values()))
    cell = min(cell, 26)
    print(f"  {'':<{width}}" + "".join(f"{name:>{cell}}" for name in columns))
    for row in rows:
        print(
            f"  {row:<{width}}"
            + "".join(f"{column.get(row, ''):>{cell}}" for column in columns.values())
        )


def _best_sipp(sipps: Sequence[dict[str, Any]], mode: str) -> dict[str, Any] | None:
    runs = [s for s in sipps if s["mode"] == mode and s["succeeded"]]
    return max(runs, key=lambda s: float(s["per_second"]), default=None)


def _ratios(fleets: dict[str, dict[str, Any]], sipps: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Ours over SIPp's best run: burst rates (persistent connections vs t1, connect and
    register vs tn) and registrations per client CPU-second."""
    ratios: dict[str, Any] = {}
    t1, tn = _best_sipp(sipps, "t1"), _best_sipp(sipps, "tn")
    for kind, fleet in fleets.items():
        if "error" in fleet:
            continue
        register = fleet["phases"]["register"]
        mine: dict[str, float] = {}
        if t1 is not None:
            mine["register_vs_sipp_t1"] = round(register["per_second"] / t1["per_second"], 3)
            if register["cpu_ms_per_phone"] and t1["cpu_seconds"]:
                sipp_ms = 1000 * t1["cpu_seconds"] / t1["succeeded"]
                mine["cpu_efficiency_vs_sipp_t1"] = round(sipp_ms / register["cpu_ms_per_phone"], 3)
        if tn is not None:
            mine["connect_and_register_vs_sipp_tn"] = round(
                fleet["connect_and_register_per_second"] / tn["per_second"], 3
            )
            mine["register_vs_sipp_tn"] = round(register["per_second"] / tn["per_second"], 3)
        ratios[kind] = mine
    return ratios


def _verdicts(fleets: dict[str, dict[str, Any]], phones: int) -> dict[str, Any]:
    verdicts: dict[str, Any] = {}
    for kind, fleet in fleets.items():
        if "error" in fleet:
            verdicts[kind] = {"error": fleet["error"]}
            continue
        register = fleet["phases"]["register"]
        held = register["ok"] == phones and fleet["phases"]["hold"]["ok"] == phones
        verdicts[kind] = {
            "phones_met": held and phones >= TARGET_PHONES and fleet["lost"] == 0,
            "rss_met": fleet["rss_per_phone_bytes"]["registered"] <= TARGET_RSS_PER_PHONE,
            "rate_met": register["per_second"] >= TARGET_RATE,
            "rate_met_per_cpu_second": bool(register["cpu_ms_per_phone"])
            and 1000 / register["cpu_ms_per_phone"] >= TARGET_RATE,
        }
    return verdicts


def _environment(server: KamailioServer | None) -> dict[str, Any]:
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "source": source_state(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average": _load(),
        "kamailio": None
        if server is None
        else {
            "shm_mb": server.settings.shm_mb,
            "tcp_children": server.settings.tcp_children,
            "tcp_max_connections": server.settings.tcp_max_connections,
            "open_files": server.settings.open_files,
        },
    }


# --------------------------------------------------------------------------- entry point


def _profile(options: Options) -> dict[str, Any]:
    """Profile each kind of phone (in its own process); write the profiles, no table."""
    # Long enough that no registration runs out while the profiled fleet crawls.
    options = dataclasses.replace(options, expires=3600)
    expires = options.registration_expires
    raise_open_files_limit()
    print(
        f"\nRegistration profile ({options.profile}): {options.phones:,} phones, "
        f"expires {expires} s; profilers slow everything, read shares, not rates"
    )
    workdir = Path(tempfile.mkdtemp(prefix="bench-registration-profile-"))
    server = KamailioServer(workdir / "kamailio", scale_settings(options.phones, expires=expires))
    try:
        server.start()
    except KamailioError as exc:
        print(f"  skipped: the suite's Kamailio could not start: {exc}")
        return {"skipped": str(exc)}
    try:
        fleets = {kind: _run_fleet(kind, server, options, workdir) for kind in options.kinds}
    finally:
        server.stop()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    for kind in fleets:
        prof = workdir / f"fleet-{kind}.prof"
        if prof.exists():
            target = RESULTS.parent / f"registration-{kind}.prof"
            target.write_bytes(prof.read_bytes())
            print(f"  {kind}: raw CPU profile {target}")
    path = RESULTS.parent / f"registration-profile-{options.profile}.json"
    path.write_text(json.dumps(fleets, indent=2) + "\n")
    print(f"\nwritten: {path}")
    return fleets


def run(settings: Settings, options: Options | None = None) -> dict[str, Any]:
    """Run the benchmark, print the table and write ``benchmarks/results/registration.json``.

    Args:
        settings: the framework's timing settings (unused: this benchmark is one long run).
        options: phones, expiry, bound on registrations in progress, what to compare.

    Returns:
        What was written to the JSON file (or why nothing was measured).
    """
    del settings
    options = options or Options()
    if options.profile:
        return _profile(options)
    expires = options.registration_expires
    soft, hard = raise_open_files_limit()
    print(
        f"\nRegistration: {options.phones:,} phones in one process against the suite's "
        f"Kamailio (ws, digest), expires {expires} s, {options.in_flight} in flight; "
        f"{os.cpu_count()} CPUs, load {_load()}; open files {soft}/{hard}"
    )
    binary = _ensure_sipp() if options.sipp_modes else None
    if options.sipp_modes and binary is None:
        print(f"  SIPp is not installed (run {INSTALL_SCRIPT} as root): no reference rate")
    workdir = Path(tempfile.mkdtemp(prefix="bench-registration-"))
    settings_for_kamailio = scale_settings(options.phones, expires=expires)
    fleets: dict[str, dict[str, Any]] = {}
    sipps: list[dict[str, Any]] = []
    server = KamailioServer(workdir / "kamailio", settings_for_kamailio)
    try:
        began = time.monotonic()
        server.start()
    except KamailioError as exc:
        print(f"  skipped: the suite's Kamailio could not start: {exc}")
        return {"skipped": str(exc)}
    try:
        print(
            f"  Kamailio up in {time.monotonic() - began:.1f} s "
            f"(shm {settings_for_kamailio.shm_mb} MB, "
            f"{settings_for_kamailio.tcp_max_connections} TCP connections, "
            f"{settings_for_kamailio.open_files} files); work dir {workdir}"
        )
        server_before = group_usage(_server_pgid(server))
        sipp_runs: list[Callable[[], None]] = []
        if binary is not None:
            for mode in options.sipp_modes:

                def one(mode: str = mode, binary: str = binary) -> None:
                    report = _run_sipp(binary, mode, server, options, workdir)
                    sipps.append(report)
                    print(
                        f"  SIPp {mode}: {report['succeeded']:,}/{report['attempted']:,} "
                        f"registered, {report['per_second']:,.0f}/s"
                    )

                sipp_runs.append(one)
        # SIPp before and after our phones: a change of load on a shared machine shows.
        for sipp_run in sipp_runs:
            sipp_run()
        for kind in options.kinds:
            fleets[kind] = _run_fleet(kind, server, options, workdir)
        for sipp_run in sipp_runs:
            sipp_run()
        server_after = group_usage(_server_pgid(server))
        environment = _environment(server)
    finally:
        server.stop()

    columns = {kind: _fleet_column(fleet) for kind, fleet in fleets.items()}
    for mode in options.sipp_modes:
        best = _best_sipp(sipps, mode)
        if best is not None:
            columns[f"SIPp tcp {mode}"] = _sipp_column(best)
    print(f"\nRegistration, {options.phones:,} phones (SIPp: best of its runs)")
    _print_table(columns)
    print(
        "  register all: ours over WebSockets already open, SIPp tn opening a TCP connection"
        " per registration, t1 over one connection;\n"
        "  CPU per registration over the burst (ours: keepalives of idle phones included);"
        " RSS per phone = (RSS registered - RSS before) / N"
    )

    ratios = _ratios(fleets, sipps)
    verdicts = _verdicts(fleets, options.phones)
    print("\nRatios (ours / SIPp's best run)")
    for kind, mine in ratios.items():
        shown = ", ".join(f"{name} {value:.2f}x" for name, value in mine.items())
        print(f"  {kind}: {shown or 'no SIPp run to compare with'}")
    print(
        f"\nTargets: {TARGET_PHONES:,} phones held with refreshes, "
        f"<= {TARGET_RSS_PER_PHONE // 1024} KB RSS per idle phone, "
        f">= {TARGET_RATE:,.0f} REGISTER+digest/s"
    )
    for kind, verdict in verdicts.items():
        if "error" in verdict:
            print(f"  {kind}: not measured ({verdict['error']})")
            continue
        print(
            f"  {kind}: "
            + ", ".join(
                f"{name.removesuffix('_met')} {'met' if met else 'NOT met'}"
                for name, met in verdict.items()
            )
        )

    report: dict[str, Any] = {
        "environment": environment,
        "options": {
            "phones": options.phones,
            "expires": expires,
            "in_flight": options.in_flight,
            "connect_in_flight": options.connect_in_flight,
            "keepalive_interval": options.keepalive,
        },
        "fleets": fleets,
        "sipp": sipps,
        "kamailio": {
            "cpu_seconds": round(server_after.cpu - server_before.cpu, 3),
            "pss_bytes_at_end": server_after.memory,
        },
        "ratios": ratios,
        "targets": {
            "phones": TARGET_PHONES,
            "rss_per_phone_bytes": TARGET_RSS_PER_PHONE,
            "register_per_second": TARGET_RATE,
            "met": verdicts,
        },
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwritten: {RESULTS}")
    return report
