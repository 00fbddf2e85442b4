"""SIPp (Debian's ``sip-tester``) registering with digest over TCP: the reference rate.

Each SIPp "call" is one registration: REGISTER, 401 with a challenge, REGISTER with
``[authentication]``, 200. The accounts come from an injection file (one line per call,
read in order), so SIPp registers the same subscribers as our phones. ``-l`` bounds the
registrations in progress the way ``in_flight`` bounds ours, and the call rate is set
far above what either side can do so that the bound, not SIPp's pacing, is the limit.

Transport modes (``-t``): ``tn`` opens one TCP connection per registration (like our
phones, one connection each, though SIPp closes it when the registration is done);
``t1`` sends every registration over a single connection, SIPp's fastest mode.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks._proc import Usage, process_usage

__all__ = ["SippResult", "sipp_binary", "run_sipp", "SCENARIO"]

SCENARIO = """\
<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="REGISTER with digest">
  <send retrans="500">
    <![CDATA[

      REGISTER sip:[field1] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      Max-Forwards: 70
      From: <sip:[field0]@[field1]>;tag=[pid]SIPpTag[call_number]
      To: <sip:[field0]@[field1]>
      Call-ID: [call_id]
      CSeq: 1 REGISTER
      Contact: <sip:[field0]@[local_ip]:[local_port];transport=[transport]>
      Expires: {expires}
      User-Agent: SIPp
      Content-Length: 0

    ]]>
  </send>

  <recv response="100" optional="true" />
  <recv response="401" auth="true" />

  <send retrans="500">
    <![CDATA[

      REGISTER sip:[field1] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      Max-Forwards: 70
      From: <sip:[field0]@[field1]>;tag=[pid]SIPpTag[call_number]
      To: <sip:[field0]@[field1]>
      Call-ID: [call_id]
      CSeq: 2 REGISTER
      Contact: <sip:[field0]@[local_ip]:[local_port];transport=[transport]>
      [field2]
      Expires: {expires}
      User-Agent: SIPp
      Content-Length: 0

    ]]>
  </send>

  <recv response="100" optional="true" />
  <recv response="200" />
</scenario>
"""
"""The scenario; ``{expires}`` is filled in."""


@dataclass(frozen=True, slots=True)
class SippResult:
    """One SIPp run."""

    mode: str
    """``tn`` or ``t1``."""
    attempted: int
    succeeded: int
    failed: int
    seconds: float
    """Wall time of the run (from SIPp's start to its exit)."""
    sipp_seconds: float | None
    """SIPp's own elapsed time (from its statistics), if it reported one."""
    usage: Usage
    """SIPp's peak RSS and CPU seconds."""
    exit_code: int
    command: tuple[str, ...]

    @property
    def rate(self) -> float:
        """Registrations completed per second of SIPp's run."""
        seconds = self.sipp_seconds or self.seconds
        return self.succeeded / seconds if seconds > 0 else 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "attempted": self.attempted,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "wall_seconds": round(self.seconds, 3),
            "sipp_seconds": None if self.sipp_seconds is None else round(self.sipp_seconds, 3),
            "per_second": round(self.rate, 1),
            "cpu_seconds": round(self.usage.cpu, 3),
            "rss_bytes": self.usage.memory,
            "exit_code": self.exit_code,
            "command": " ".join(self.command),
        }


def sipp_binary() -> str | None:
    """The ``sipp`` executable, if SIPp is installed."""
    return shutil.which("sipp")


def _write_inputs(
    workdir: Path, users: Mapping[str, str], domain: str, expires: int
) -> tuple[Path, Path]:
    scenario = workdir / "register.xml"
    scenario.write_text(SCENARIO.format(expires=expires))
    injection = workdir / "users.csv"
    with injection.open("w") as out:
        out.write("SEQUENTIAL\n")
        for user, password in users.items():
            out.write(f"{user};{domain};[authentication username={user} password={password}]\n")
    return scenario, injection


def _epoch(stamp: str) -> float:
    """The epoch seconds of a SIPp time stamp (``date<TAB>time<TAB>epoch``)."""
    return float(stamp.rsplit("\t", maxsplit=1)[-1])


def _elapsed(row: Mapping[str, str]) -> float | None:
    """Seconds from SIPp's start to its last statistics row (its ``ElapsedTime`` is
    rounded to whole seconds)."""
    try:
        return _epoch(row["CurrentTime"]) - _epoch(row["StartTime"])
    except (KeyError, ValueError):
        return None


def _read_stats(path: Path) -> dict[str, str]:
    """The last row of SIPp's ``-trace_stat`` file (semicolon-separated, header first)."""
    with path.open(newline="") as stats:
        rows = list(csv.reader(stats, delimiter=";"))
    if len(rows) < 2:
        return {}
    return dict(zip(rows[0], rows[-1], strict=False))


def run_sipp(
    *,
    binary: str,
    host: str,
    port: int,
    users: Mapping[str, str],
    domain: str,
    expires: int,
    mode: str,
    in_flight: int,
    workdir: Path,
    timeout: float,
) -> SippResult:
    """Register every account of ``users`` once with SIPp; return what it managed.

    Args:
        binary: the ``sipp`` executable.
        host: the server's address; port: its TCP port.
        users: user -> password, registered in this order.
        domain: the SIP domain (Request-URI, To and From).
        expires: the expiry asked for.
        mode: ``tn`` (a connection per registration) or ``t1`` (one for all).
        in_flight: registrations in progress at once (SIPp's ``-l``).
        workdir: where the scenario, injection file, statistics and logs go.
        timeout: seconds SIPp may run before it is stopped.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    scenario, injection = _write_inputs(workdir, users, domain, expires)
    stats = workdir / f"stats-{mode}.csv"
    stats.unlink(missing_ok=True)
    count = len(users)
    command = (
        binary,
        f"{host}:{port}",
        "-sf",
        str(scenario),
        "-inf",
        str(injection),
        "-t",
        mode,
        "-i",
        host,
        "-m",
        str(count),
        "-l",
        str(in_flight),
        # Far above either side's capacity: -l is what paces the run.
        "-r",
        str(max(10 * in_flight, 50_000)),
        "-rp",
        "1000",
        "-max_socket",
        str(in_flight + 1024),
        "-timeout",
        f"{int(timeout)}s",
        "-nostdin",
        "-trace_stat",
        "-stf",
        str(stats),
        "-fd",
        "1",
        "-trace_err",
        "-error_file",
        str(workdir / f"errors-{mode}.log"),
    )
    began = time.monotonic()
    with (workdir / f"screen-{mode}.log").open("wb") as screen:
        process = subprocess.Popen(  # the benchmark's own SIPp, with our arguments
            command,
            stdin=subprocess.DEVNULL,
            stdout=screen,
            stderr=subprocess.STDOUT,
            cwd=workdir,
        )
        usage = Usage(0, 0.0)
        while process.poll() is None:
            try:
                now = process_usage(process.pid)
                usage = Usage(max(usage.memory, now.memory), now.cpu)
            except (OSError, ValueError, LookupError):
                pass  # exiting
            if time.monotonic() - began > timeout + 10:
                process.kill()
            time.sleep(0.05)
        exit_code = process.wait()
    seconds = time.monotonic() - began
    row = _read_stats(stats) if stats.exists() else {}
    succeeded = int(row.get("SuccessfulCall(C)", 0) or 0)
    failed = int(row.get("FailedCall(C)", 0) or 0)
    return SippResult(
        mode=mode,
        attempted=count,
        succeeded=succeeded,
        failed=failed,
        seconds=seconds,
        sipp_seconds=_elapsed(row),
        usage=usage,
        exit_code=exit_code,
        command=command,
    )
