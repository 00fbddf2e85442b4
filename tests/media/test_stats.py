"""Call quality: the E-model arithmetic, and statistics of real calls on loopback with and
without packet loss injected in the receive path."""

from __future__ import annotations

import asyncio
import datetime

import pytest
from aiortc.stats import (
    RTCInboundRtpStreamStats,
    RTCOutboundRtpStreamStats,
    RTCRemoteInboundRtpStreamStats,
)

from sipmedia import MediaConfig, MediaSession, Tone
from sipmedia.stats import (
    CODEC_IMPAIRMENTS,
    CallStats,
    delay_impairment,
    effective_equipment_impairment,
    mos_from_r,
    r_factor,
    summarize,
)

# ------------------------------------------------------------------------- E-model


def test_r_and_mos_follow_g107() -> None:
    assert r_factor("PCMU", 0, 0) == pytest.approx(93.2)
    assert mos_from_r(93.2) == pytest.approx(4.41, abs=0.01)
    assert mos_from_r(0) == 1.0 and mos_from_r(-5) == 1.0 and mos_from_r(120) == 4.5
    assert mos_from_r(50) == pytest.approx(1 + 1.75 + 50 * -10 * 50 * 7e-6)
    # Id: linear to 177.3 ms, steeper after.
    assert delay_impairment(100) == pytest.approx(2.4)
    assert delay_impairment(277.3) == pytest.approx(0.024 * 277.3 + 11.0)
    # Ie,eff for G.711 without PLC at 5 % random loss: 95 * 5 / (5 + 4.3).
    assert effective_equipment_impairment(CODEC_IMPAIRMENTS["pcmu"], 5) == pytest.approx(
        95 * 5 / 9.3
    )
    assert effective_equipment_impairment(CODEC_IMPAIRMENTS["pcmu"], 0) == 0


def test_mos_falls_with_loss_and_delay() -> None:
    by_loss = [mos_from_r(r_factor("opus", 40, loss)) for loss in (0, 1, 3, 10, 30)]
    assert by_loss == sorted(by_loss, reverse=True) and by_loss[0] > 4.3 > by_loss[1]
    by_delay = [mos_from_r(r_factor("PCMU", d, 0)) for d in (20, 150, 300, 500)]
    assert by_delay == sorted(by_delay, reverse=True) and by_delay[-1] < 3.6


def _report(received: int, lost: int, rtt: float | None) -> dict[str, object]:
    now = datetime.datetime.now(datetime.UTC)
    report: dict[str, object] = {
        "out": RTCOutboundRtpStreamStats(
            timestamp=now,
            type="outbound-rtp",
            id="out",
            ssrc=1,
            kind="audio",
            transportId="t",
            packetsSent=500,
            bytesSent=80_000,
            trackId="x",
        ),
        "in": RTCInboundRtpStreamStats(
            timestamp=now,
            type="inbound-rtp",
            id="in",
            ssrc=2,
            kind="audio",
            transportId="t",
            packetsReceived=received,
            packetsLost=lost,
            jitter=80,
        ),
    }
    if rtt is not None:
        report["remote"] = RTCRemoteInboundRtpStreamStats(
            timestamp=now,
            type="remote-inbound-rtp",
            id="remote",
            ssrc=1,
            kind="audio",
            transportId="t",
            packetsReceived=490,
            packetsLost=10,
            jitter=160,
            roundTripTime=rtt,
            fractionLost=5,
        )
    return report


def test_summary_reads_aiortc_reports_and_rates_each_interval() -> None:
    first = summarize(
        _report(received=1000, lost=0, rtt=None),
        now=10.0,
        codec="PCMU",
        clock_rate=8000,
        bytes_received=160_000,
        base_delay=0.02,
    )
    assert (first.packets_sent, first.bytes_sent, first.packets_received) == (500, 80_000, 1000)
    assert first.jitter == pytest.approx(0.01)  # 80 timestamp units at 8 kHz
    assert first.rtt is None and first.loss == 0 and first.one_way_delay == pytest.approx(0.02)
    assert first.mos is not None and first.mos > 4.3
    second = summarize(
        _report(received=1090, lost=10, rtt=0.1),
        now=12.0,
        codec="PCMU",
        clock_rate=8000,
        bytes_received=174_400,
        base_delay=0.02,
        previous=first,
    )
    assert second.loss == pytest.approx(0.1)  # 10 of the 100 expected since ``first``
    assert second.rtt == 0.1 and second.one_way_delay == pytest.approx(0.07)
    assert second.remote_packets_lost == 10
    assert second.remote_jitter == pytest.approx(0.02)
    assert second.mos is not None and second.mos < 2.0
    silent = summarize(
        _report(received=1090, lost=10, rtt=0.1),
        now=14.0,
        codec="PCMU",
        clock_rate=8000,
        bytes_received=174_400,
        base_delay=0.02,
        previous=second,
    )
    assert silent.mos is None and silent.loss == 0  # nothing arrived: nothing to rate


# ------------------------------------------------------------------------- real calls


async def _sampled_call(
    codec: str, loss: float
) -> tuple[tuple[CallStats, ...], CallStats, CallStats]:
    """(b's samples, a's stats, b's whole-call stats) of a 2.7 s call."""
    a = MediaSession(MediaConfig(codecs=(codec,)), Tone(440))
    b = MediaSession(MediaConfig(codecs=(codec,)), Tone(1000))
    try:
        await a.accept_answer(await b.create_answer(await a.create_offer()))
        b.simulate_inbound_loss(loss, seed=7)
        b.start_quality_sampling(interval=0.5)
        await asyncio.sleep(2.7)
        return b.stats_history, await a.get_stats(), await b.get_stats()
    finally:
        await a.close()
        await b.close()


def test_stats_of_clean_and_lossy_calls() -> None:
    async def run() -> None:
        results = await asyncio.gather(
            _sampled_call("opus", 0.0), _sampled_call("PCMU", 0.0), _sampled_call("PCMU", 0.15)
        )
        for (history, sender, _), codec in zip(results[:2], ("opus", "PCMU"), strict=True):
            assert len(history) >= 4
            assert [s.time for s in history] == sorted(s.time for s in history)
            rated = history[1:]  # the first interval includes connection setup
            received = [s.packets_received for s in rated]
            assert received == sorted(received) and received[-1] - received[0] >= 40
            assert all(s.codec == s.received_codec == codec for s in rated)
            assert all(s.packets_lost == 0 and s.loss == 0 for s in rated)
            assert all(s.mos is not None and s.mos > 4 for s in rated), rated
            assert rated[-1].bytes_received > 0 and rated[-1].jitter < 0.02
            assert sender.packets_sent >= received[-1] and sender.bytes_sent > 0
            # RTCP receiver reports came back (RFC 3550 §6.4.1: LSR/DLSR give the RTT).
            assert sender.rtt is not None and 0 <= sender.rtt < 0.1, sender
        lossy, _, whole_call = results[2]
        assert lossy[-1].packets_lost > 0 and any(s.loss > 0 for s in lossy)
        # Over the whole call (about 130 packets), close to the 15 % dropped.
        assert 0.05 < whole_call.loss < 0.3 and whole_call.packets_lost > 5
        assert whole_call.mos is not None and whole_call.mos < 3.0
        clean = results[1][2]
        assert clean.loss == 0 and clean.mos is not None and clean.mos > 4
        assert whole_call.mos < clean.mos - 1

    asyncio.run(run())
