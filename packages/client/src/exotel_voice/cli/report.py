"""The demo's report: a JSON document, rich tables, and the chart of the call.

The chart has three panels over the demo's time: the level each phone received (the
far end's tone, gaps while on hold, the dip while muted, the delay bursts and DTMF),
the MOS estimate of each direction, and jitter and round-trip time; hold, mute, DTMF
and the delay measurements are shaded.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from exotel_voice.cli.demo import DemoResult, LevelTrace, QualityTrace
from exotel_voice.cli.plot import Band, Chart, Panel, Series
from exotel_voice.cli.timeline import EntryState

__all__ = [
    "demo_document",
    "demo_tables",
    "demo_verdict",
    "demo_chart",
    "level_series",
]

_ALICE = (31, 119, 180)
_BOB = (214, 39, 40)
_ALICE_LIGHT = (120, 170, 220)
_BOB_LIGHT = (240, 140, 120)
_BANDS = {
    "delay": (148, 103, 189),
    "DTMF": (44, 160, 44),
    "hold": (127, 127, 127),
    "mute": (255, 127, 14),
}
_FLOOR_DBFS = -80.0
_LEVEL_BIN = 0.1


def demo_document(result: DemoResult, plot: Path | None) -> dict[str, Any]:
    """Everything the demo found as JSON-ready data (``ok`` first)."""
    checks = result.timeline.checks
    return {
        "ok": result.ok,
        "interrupted": result.interrupted,
        "checks_passed": sum(1 for e in checks if e.state is EntryState.PASSED),
        "checks_failed": len(result.timeline.failed),
        "duration_s": round(result.duration, 2),
        "server": result.server,
        "codec": result.settings.codec,
        "dtmf_mode": result.settings.dtmf_mode,
        "audio": result.audio,
        "dtmf": result.dtmf,
        "hold": result.hold,
        "mute": result.mute,
        "hangup": result.hangup,
        "one_way_delay_ms": result.delay,
        "quality": result.quality,
        "quality_before_hold": result.quality_before_hold,
        "checks": [
            {
                "name": e.name,
                "ok": e.state is EntryState.PASSED,
                "detail": e.detail,
                "t": round(e.at, 2),
                "took_s": None if e.took is None else round(e.took, 2),
            }
            for e in checks
        ],
        "plot": str(plot.resolve()) if plot is not None else None,
    }


def _value(value: object, unit: str = "") -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:g}{unit}"
    return f"{value}{unit}"


def demo_tables(result: DemoResult, *, with_checks: bool) -> RenderableType:
    """The checks (optional: they were shown live) and the call-quality table."""
    parts: list[RenderableType] = []
    if with_checks:
        checks = Table(title="Checks", title_justify="left")
        checks.add_column("")
        checks.add_column("check")
        checks.add_column("detail")
        for entry in result.timeline.checks:
            passed = entry.state is EntryState.PASSED
            checks.add_row(
                Text("ok" if passed else "FAIL", style="green" if passed else "bold red"),
                entry.name,
                entry.detail,
            )
        parts.append(checks)
    if result.quality or result.delay:
        quality = Table(
            title="Call quality, whole call (as each phone received it)", title_justify="left"
        )
        quality.add_column("")
        quality.add_column("alice (hears bob)", justify="right")
        quality.add_column("bob (hears alice)", justify="right")
        alice, bob = result.quality.get("alice", {}), result.quality.get("bob", {})
        for label, key, unit in (
            ("codec", "received_codec", ""),
            ("packets received", "packets_received", ""),
            ("packets lost", "packets_lost", ""),
            ("loss", "loss_percent", " %"),
            ("jitter", "jitter_ms", " ms"),
            ("round-trip time", "rtt_ms", " ms"),
            ("MOS (estimate)", "mos", ""),
        ):
            quality.add_row(label, _value(alice.get(key), unit), _value(bob.get(key), unit))
        heard_by_alice = result.delay.get("bob_to_alice", {})
        heard_by_bob = result.delay.get("alice_to_bob", {})
        for label, key in (("one-way delay, median", "median"), ("one-way delay, max", "max")):
            quality.add_row(
                label,
                _value(heard_by_alice.get(key), " ms"),
                _value(heard_by_bob.get(key), " ms"),
            )
        parts.append(quality)
    return Group(*parts)


def demo_verdict(result: DemoResult) -> Text:
    """The last line: passed, or which checks failed."""
    checks = result.timeline.checks
    failed = result.timeline.failed
    if result.interrupted is not None:
        return Text(
            f"demo interrupted ({result.interrupted}) after {len(checks)} checks",
            style="bold yellow",
        )
    if result.ok:
        return Text(
            f"demo passed: {len(checks)} checks in {result.duration:.1f} s", style="bold green"
        )
    names = ", ".join(e.name for e in failed) or "no check ran"
    return Text(
        f"demo FAILED: {len(failed)} of {len(checks)} checks failed ({names})", style="bold red"
    )


def level_series(trace: LevelTrace, bin_seconds: float = _LEVEL_BIN) -> list[tuple[float, float]]:
    """Chunk levels averaged (as power) into bins; silence sits at the floor."""
    bins: dict[int, list[float]] = {}
    for at, dbfs in trace.points:
        power = 10 ** (dbfs / 10) if math.isfinite(dbfs) else 0.0
        bins.setdefault(int(at / bin_seconds), []).append(power)
    points = []
    for index in sorted(bins):
        mean = sum(bins[index]) / len(bins[index])
        level = 10 * math.log10(mean) if mean > 0 else _FLOOR_DBFS
        points.append(((index + 0.5) * bin_seconds, max(_FLOOR_DBFS, level)))
    return points


def _quality_points(trace: QualityTrace | None, field: str) -> list[tuple[float, float | None]]:
    if trace is None:
        return []
    points: list[tuple[float, float | None]] = []
    for at, stats in trace.samples:
        value = getattr(stats, field)
        if value is not None and field in ("jitter", "rtt"):
            value *= 1000
        points.append((at, value))
    return points


def demo_chart(result: DemoResult) -> Chart:
    """The chart of the call: received levels, MOS, jitter and RTT over time."""
    levels = [
        Series("alice hears", _ALICE, level_series(trace), max_gap=0.35)
        for name, trace in result.levels.items()
        if name == "alice"
    ] + [
        Series("bob hears", _BOB, level_series(trace), max_gap=0.35)
        for name, trace in result.levels.items()
        if name == "bob"
    ]
    alice, bob = result.samples.get("alice"), result.samples.get("bob")
    gap = 1.6
    mos = [
        Series("alice hears", _ALICE, _quality_points(alice, "mos"), max_gap=gap),
        Series("bob hears", _BOB, _quality_points(bob, "mos"), max_gap=gap),
    ]
    timing = [
        Series("jitter at alice", _ALICE, _quality_points(alice, "jitter"), max_gap=gap),
        Series("jitter at bob", _BOB, _quality_points(bob, "jitter"), max_gap=gap),
        Series("RTT at alice", _ALICE_LIGHT, _quality_points(alice, "rtt"), max_gap=gap),
        Series("RTT at bob", _BOB_LIGHT, _quality_points(bob, "rtt"), max_gap=gap),
    ]
    bands = [
        Band(
            p.label,
            p.start,
            p.end if p.end is not None else result.duration,
            _BANDS[p.label.split()[0]],
        )
        for p in result.phases
        if p.label.split()[0] in _BANDS
    ]
    delays = [
        f"{key.replace('_to_', '->')} {value['median']:g} ms"
        for key, value in result.delay.items()
        if value.get("median") is not None
    ]
    mos_values = [
        f"{name} {fields['mos']:g}"
        for name, fields in result.quality.items()
        if fields.get("mos") is not None
    ]
    subtitle = " · ".join(
        part
        for part in (
            f"codec {result.settings.codec}",
            "one-way delay " + ", ".join(delays) if delays else "",
            "MOS " + ", ".join(mos_values) if mos_values else "",
            "all checks passed" if result.ok else f"{len(result.timeline.failed)} checks FAILED",
        )
        if part
    )
    return Chart(
        title=(
            f"exotel-voice demo: alice ({result.settings.caller_tone:g} Hz) <-> "
            f"bob ({result.settings.callee_tone:g} Hz) through the embedded server"
        ),
        subtitle=subtitle,
        panels=[
            Panel("received level, dBFS", levels, y_min=_FLOOR_DBFS, y_max=0.0),
            Panel("MOS estimate (ITU-T G.107 E-model)", mos, y_min=1.0, y_max=4.5),
            Panel("jitter and round-trip time, ms", timing, y_min=0.0),
        ],
        x_max=max(1.0, math.ceil(result.duration)),
        x_label="seconds since the demo started",
        bands=bands,
    )
