"""A call's ``CallStats`` as JSON fields and as one human line (milliseconds, percent)."""

from __future__ import annotations

from typing import Any

from sipmedia import CallStats

__all__ = ["stats_fields", "stats_summary", "milliseconds"]


def milliseconds(seconds: float | None) -> float | None:
    """Seconds as milliseconds rounded to 0.1 ms (``None`` stays ``None``)."""
    return None if seconds is None else round(seconds * 1000, 1)


def stats_fields(stats: CallStats) -> dict[str, Any]:
    """The statistics as JSON-ready fields (times in ms, loss in percent)."""
    expected = stats.packets_received + stats.packets_lost
    return {
        "codec": stats.codec,
        "received_codec": stats.received_codec,
        "packets_sent": stats.packets_sent,
        "packets_received": stats.packets_received,
        "packets_lost": stats.packets_lost,
        "loss_percent": round(100 * stats.packets_lost / expected, 2) if expected else 0.0,
        "jitter_ms": milliseconds(stats.jitter),
        "rtt_ms": milliseconds(stats.rtt),
        "remote_packets_lost": stats.remote_packets_lost,
        "remote_jitter_ms": milliseconds(stats.remote_jitter),
        "estimated_one_way_delay_ms": milliseconds(stats.one_way_delay),
        "r_factor": None if stats.r_factor is None else round(stats.r_factor, 1),
        "mos": None if stats.mos is None else round(stats.mos, 2),
    }


def _number(value: float | None, unit: str) -> str:
    return "n/a" if value is None else f"{value:g} {unit}".rstrip()


def stats_summary(stats: CallStats) -> str:
    """One line: codec, packets, loss, jitter, RTT and MOS."""
    fields = stats_fields(stats)
    return (
        f"{fields['codec'] or 'no codec'}, {fields['packets_sent']} packets sent, "
        f"{fields['packets_received']} received, loss {fields['loss_percent']:g} %, "
        f"jitter {_number(fields['jitter_ms'], 'ms')}, RTT {_number(fields['rtt_ms'], 'ms')}, "
        f"MOS {_number(fields['mos'], '')}"
    )
