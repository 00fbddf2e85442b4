"""Call quality: RTP/RTCP counters from aiortc, a MOS estimate, sampling, one-way delay.

``summarize`` turns one ``RTCPeerConnection.getStats()`` report into a ``CallStats``
(packets, bytes, loss, jitter, round-trip time, and a MOS from a simplified ITU-T G.107
E-model); ``QualitySampler`` takes one every few seconds so a caller can plot a call;
``measure_one_way_delay`` times a tone burst from one session's source to the other
session's received audio.
"""

from __future__ import annotations

import asyncio
import logging
import math
import statistics
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Final

import numpy as np
from aiortc.stats import (
    RTCInboundRtpStreamStats,
    RTCOutboundRtpStreamStats,
    RTCRemoteInboundRtpStreamStats,
)

from sipmedia.pcm import FRAME_MS, FRAME_SAMPLES, SAMPLE_RATE, Pcm, silence

if TYPE_CHECKING:
    from sipmedia.session import MediaSession

__all__ = [
    "CodecImpairment",
    "CODEC_IMPAIRMENTS",
    "delay_impairment",
    "effective_equipment_impairment",
    "r_factor",
    "mos_from_r",
    "CallStats",
    "summarize",
    "QualitySampler",
    "DelayMeasurement",
    "measure_one_way_delay",
]

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------
# The E-model, simplified
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CodecImpairment:
    """A codec's E-model factors (ITU-T G.113 Appendix I)."""

    ie: float
    """Equipment impairment factor: what the codec costs without any loss."""
    bpl: float
    """Packet-loss robustness factor: the larger, the better the codec bears loss."""


CODEC_IMPAIRMENTS: Final[Mapping[str, CodecImpairment]] = MappingProxyType(
    {
        # G.113 Appendix I: G.711 has Ie = 0; Bpl = 4.3 without packet loss concealment
        # (25.1 with the PLC of G.711 Appendix I). aiortc decodes the packets that
        # arrive and conceals nothing, so 4.3.
        "pcmu": CodecImpairment(ie=0.0, bpl=4.3),
        "pcma": CodecImpairment(ie=0.0, bpl=4.3),
        # G.722 is wideband; on this narrowband R scale it is no worse than G.711, and
        # its losses are as unconcealed.
        "g722": CodecImpairment(ie=0.0, bpl=4.3),
        # G.113 gives Opus no narrowband Ie. aiortc encodes it at 96 kbit/s fullband
        # (``OpusEncoder.bit_rate``), where Opus is transparent for speech: Ie = 0 on
        # this scale, as for G.711. Opus could bear loss far better (its decoder has
        # PLC and in-band FEC) but aiortc never runs either: a lost packet is a gap,
        # so Bpl is G.711's no-PLC 4.3 until our receive path conceals.
        "opus": CodecImpairment(ie=0.0, bpl=4.3),
    }
)
"""E-model factors per codec name (lower case)."""

_R0_MINUS_IS: Final = 93.2
"""G.107 with its default parameter values: Ro - Is = 93.2 (and advantage A = 0)."""


def delay_impairment(one_way_delay_ms: float) -> float:
    """Id: what one-way (mouth-to-ear) delay costs on the R scale.

    The usual simplification of G.107's Idd/Idte/Idle at default echo values (Cole and
    Rosenbluth, 2001): ``Id = 0.024 d + 0.11 (d - 177.3) H(d - 177.3)``, ``d`` in ms.

    Args:
        one_way_delay_ms: mouth-to-ear delay.

    Returns:
        Id (0 for no delay, about 4.3 at 177 ms, steeper beyond).
    """
    d = max(0.0, one_way_delay_ms)
    return 0.024 * d + (0.11 * (d - 177.3) if d > 177.3 else 0.0)


def effective_equipment_impairment(
    impairment: CodecImpairment, loss_percent: float, burst_ratio: float = 1.0
) -> float:
    """Ie,eff: the codec's impairment under random packet loss.

    As ITU-T G.107 defines it: ``Ie,eff = Ie + (95 - Ie) * Ppl / (Ppl / BurstR + Bpl)``.

    Args:
        impairment: the codec's Ie and Bpl.
        loss_percent: Ppl, packets lost in percent (0-100).
        burst_ratio: BurstR, 1 for random loss, above 1 for bursty loss.

    Returns:
        Ie,eff.
    """
    ppl = min(100.0, max(0.0, loss_percent))
    if ppl == 0.0:
        return impairment.ie
    return impairment.ie + (95.0 - impairment.ie) * ppl / (ppl / burst_ratio + impairment.bpl)


def r_factor(
    codec: str, one_way_delay_ms: float, loss_percent: float, burst_ratio: float = 1.0
) -> float:
    """The transmission rating R = 93.2 - Id - Ie,eff (G.107, defaults, A = 0).

    Args:
        codec: codec name (``opus``, ``PCMU``...); unknown codecs are rated as G.711.
        one_way_delay_ms: mouth-to-ear delay.
        loss_percent: packets lost, percent.
        burst_ratio: BurstR (1: random loss).

    Returns:
        R, 0-93.2.
    """
    impairment = CODEC_IMPAIRMENTS.get(codec.lower(), CODEC_IMPAIRMENTS["pcmu"])
    r = (
        _R0_MINUS_IS
        - delay_impairment(one_way_delay_ms)
        - effective_equipment_impairment(impairment, loss_percent, burst_ratio)
    )
    return max(0.0, r)


def mos_from_r(r: float) -> float:
    """The estimated listening MOS (1-4.5) for a rating R (ITU-T G.107 Annex B).

    ``MOS = 1`` for ``R <= 0``, ``4.5`` for ``R >= 100``, otherwise
    ``1 + 0.035 R + R (R - 60) (100 - R) 7e-6``.
    """
    if r <= 0:
        return 1.0
    if r >= 100:
        return 4.5
    return 1.0 + 0.035 * r + r * (r - 60.0) * (100.0 - r) * 7e-6


# ---------------------------------------------------------------------------------------
# One report
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallStats:
    """One call's media quality at one moment (counters are totals since media began)."""

    time: float
    """When it was taken, on the media loop's clock (``loop.time()``, seconds)."""
    codec: str | None
    """The audio codec we send with."""
    received_codec: str | None
    """The audio codec the peer sends with (what the MOS rates)."""
    packets_sent: int
    bytes_sent: int
    """RTP payload bytes."""
    packets_received: int
    bytes_received: int
    """RTP payload bytes of audio (telephone-events not counted)."""
    packets_lost: int
    """Packets of the peer's stream that never arrived (RFC 3550 §A.3)."""
    jitter: float
    """Interarrival jitter of the peer's stream, seconds (RFC 3550 §6.4.1)."""
    rtt: float | None
    """Round-trip time from RTCP (RFC 3550 §6.4.1 LSR/DLSR), seconds; ``None`` until a
    receiver report answered one of our sender reports."""
    remote_packets_lost: int | None
    """Packets of our stream the peer reports lost (RTCP receiver report)."""
    remote_jitter: float | None
    """Jitter of our stream as the peer measures it, seconds."""
    loss: float
    """Share (0-1) of the peer's packets lost since the previous sample (since media
    began for the first one)."""
    one_way_delay: float
    """The delay the MOS assumes, seconds: RTT/2 + jitter buffer + one packet."""
    r_factor: float | None
    """E-model rating of what we hear; ``None`` if no audio arrived in the interval."""
    mos: float | None
    """MOS estimate (1-4.5) of what we hear; ``None`` if no audio arrived."""


def summarize(
    report: Mapping[str, object],
    *,
    now: float,
    codec: str | None,
    clock_rate: int,
    bytes_received: int,
    received_codec: str | None = None,
    received_clock_rate: int | None = None,
    base_delay: float,
    previous: CallStats | None = None,
) -> CallStats:
    """Read one aiortc stats report (``await pc.getStats()``) into a ``CallStats``.

    Args:
        report: the report.
        now: the time to stamp it with.
        codec: the audio codec we send with.
        clock_rate: its RTP clock rate (aiortc reports jitter in timestamp units).
        bytes_received: audio payload bytes received (aiortc does not count them).
        received_codec: the codec the peer sends with, which the MOS rates (peers may
            send with another codec than ours); ``codec`` if not given.
        received_clock_rate: its clock rate; ``clock_rate`` if not given.
        base_delay: delay before the network, seconds: jitter buffer plus
            packetization (RTT/2 is added to it).
        previous: the previous sample of the same call, for the interval's loss.

    Returns:
        The summary.
    """
    packets_sent = bytes_sent = packets_received = packets_lost = 0
    jitter = 0.0
    rtt: float | None = None
    remote_lost: int | None = None
    remote_jitter: float | None = None
    rate = clock_rate or 8000
    received_rate = received_clock_rate or rate
    heard = received_codec or codec
    for stats in report.values():
        if isinstance(stats, RTCOutboundRtpStreamStats) and stats.kind == "audio":
            packets_sent += stats.packetsSent
            bytes_sent += stats.bytesSent
        elif isinstance(stats, RTCInboundRtpStreamStats) and stats.kind == "audio":
            packets_received += stats.packetsReceived
            packets_lost += max(0, stats.packetsLost)
            jitter = max(jitter, stats.jitter / received_rate)
        elif isinstance(stats, RTCRemoteInboundRtpStreamStats) and stats.kind == "audio":
            rtt = stats.roundTripTime
            remote_lost = stats.packetsLost
            remote_jitter = stats.jitter / rate
    received_before = lost_before = 0
    if previous is not None and previous.packets_received <= packets_received:
        # (a restarted peer connection starts its counters again: then count from 0)
        received_before, lost_before = previous.packets_received, previous.packets_lost
    new_received = packets_received - received_before
    new_lost = max(0, packets_lost - lost_before)
    expected = new_received + new_lost
    loss = new_lost / expected if expected else 0.0
    one_way = base_delay + (rtt or 0.0) / 2
    r: float | None = None
    mos: float | None = None
    if new_received:
        r = r_factor(heard or "pcmu", one_way * 1000, loss * 100)
        mos = mos_from_r(r)
    return CallStats(
        time=now,
        codec=codec,
        received_codec=heard,
        packets_sent=packets_sent,
        bytes_sent=bytes_sent,
        packets_received=packets_received,
        bytes_received=bytes_received,
        packets_lost=packets_lost,
        jitter=jitter,
        rtt=rtt,
        remote_packets_lost=remote_lost,
        remote_jitter=remote_jitter,
        loss=loss,
        one_way_delay=one_way,
        r_factor=r,
        mos=mos,
    )


# ---------------------------------------------------------------------------------------
# Sampling over a call
# ---------------------------------------------------------------------------------------


class QualitySampler:
    """Takes a ``CallStats`` every ``interval`` seconds, keeping the last ``max_samples``.

    ``history`` is the time series: ``[(s.time, s.mos) for s in sampler.history]`` plots
    the call. Runs as a task on the media loop until ``aclose``.

    Args:
        collect: takes one sample, given the previous one (``MediaSession.get_stats``).
        interval: seconds between samples.
        max_samples: how many to keep (the oldest are dropped).

    Raises:
        ValueError: ``interval`` is not positive.
    """

    def __init__(
        self,
        collect: Callable[[CallStats | None], Awaitable[CallStats]],
        interval: float = 2.0,
        max_samples: int = 3600,
    ) -> None:
        if not interval > 0:
            raise ValueError(f"sampling interval must be positive: {interval}")
        self.interval = interval
        self._collect = collect
        self._history: deque[CallStats] = deque(maxlen=max_samples)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start sampling on the running loop (no effect if already started)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    @property
    def history(self) -> tuple[CallStats, ...]:
        """Every sample kept, oldest first."""
        return tuple(self._history)

    @property
    def latest(self) -> CallStats | None:
        """The newest sample, if any."""
        return self._history[-1] if self._history else None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            self._history.append(await self._collect(self.latest))

    async def aclose(self) -> None:
        """Stop sampling (the history stays readable)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


# ---------------------------------------------------------------------------------------
# One-way delay
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DelayMeasurement:
    """One-way audio delays measured with tone bursts, seconds."""

    samples: tuple[float, ...]
    """One delay per burst that arrived."""
    missed: int
    """Bursts never detected at the far end."""
    codec: str | None

    @property
    def median(self) -> float:
        """The median delay (``nan`` if no burst arrived)."""
        return statistics.median(self.samples) if self.samples else math.nan

    @property
    def maximum(self) -> float:
        """The largest delay (``nan`` if no burst arrived)."""
        return max(self.samples) if self.samples else math.nan


class _BurstSource:
    """Silence, and on ``fire`` a tone burst starting exactly at a frame's first sample."""

    def __init__(self, frequency: float, level: float, burst_ms: int) -> None:
        self._frequency = frequency
        self._amplitude = level * 32767
        self._burst_samples = SAMPLE_RATE * burst_ms // 1000
        self._left = 0
        self._phase = 0
        self._armed: asyncio.Future[float] | None = None

    def fire(self) -> asyncio.Future[float]:
        """Start a burst at the next frame; the future gets its onset's capture time."""
        self._armed = asyncio.get_running_loop().create_future()
        return self._armed

    def read(self, samples: int) -> Pcm:
        armed = self._armed
        if armed is not None and not armed.done():
            # The frame is read when it is due to be sent; a live source would have
            # captured its first sample one frame earlier. The burst starts there.
            armed.set_result(asyncio.get_running_loop().time() - samples / SAMPLE_RATE)
            self._armed = None
            self._left = self._burst_samples
            self._phase = 0
        if self._left <= 0:
            return silence(samples)
        t = (np.arange(samples) + self._phase) / SAMPLE_RATE
        wave = np.sin(2 * math.pi * self._frequency * t) * self._amplitude
        take = min(samples, self._left)
        wave[take:] = 0.0
        self._phase += samples
        self._left -= samples
        return wave.astype(np.int16)


def _onset(arrivals: list[tuple[float, Pcm]], start: int, threshold: float) -> float | None:
    for when, pcm in arrivals[start:]:
        loud = np.flatnonzero(np.abs(pcm.astype(np.int32)) > threshold)
        if loud.size:
            return when + float(loud[0]) / SAMPLE_RATE
    return None


async def measure_one_way_delay(
    sender: MediaSession,
    receiver: MediaSession,
    *,
    bursts: int = 5,
    frequency: float = 1000.0,
    level: float = 0.5,
    spacing: float = 0.25,
    timeout: float = 1.0,
) -> DelayMeasurement:
    """Time tone bursts from ``sender``'s source to ``receiver``'s received audio.

    While it runs, ``sender`` sends silence and ``bursts`` bursts of ``frequency`` (its
    source is restored afterwards). For each burst the delay is the instant its first
    sample is delivered at the far end, counted as played from delivery (delivery time
    plus its offset in the delivered chunk), minus the instant it was captured (one
    frame before the frame was due to be sent, as from a live microphone). So it counts
    packetization (one 20 ms frame), encoding, network, jitter buffer, decoding and
    resampling; not the sound devices' own buffers.

    Both sessions must run on the current event loop, connected to each other.

    Args:
        sender: the session whose source plays the bursts.
        receiver: the session whose inbound audio is watched.
        bursts: how many bursts to time.
        frequency: burst tone, Hz.
        level: burst peak, fraction of full scale.
        spacing: seconds of silence around each burst.
        timeout: seconds to wait for a burst before counting it missed.

    Returns:
        The delays.
    """
    loop = asyncio.get_running_loop()
    source = _BurstSource(frequency, level, burst_ms=2 * FRAME_MS)
    threshold = 0.25 * level * 32767
    arrivals: list[tuple[float, Pcm]] = []

    async def watch() -> None:
        async for pcm in receiver.inbound.frames():
            arrivals.append((loop.time(), pcm))

    watcher = loop.create_task(watch())
    original = sender.outbound.source
    sender.outbound.source = source
    samples: list[float] = []
    missed = 0
    try:
        await asyncio.sleep(spacing)
        for _ in range(bursts):
            start = len(arrivals)
            try:
                captured = await asyncio.wait_for(source.fire(), timeout)
            except TimeoutError:
                missed += 1
                continue
            deadline = captured + timeout
            heard = _onset(arrivals, start, threshold)
            while heard is None and loop.time() < deadline:
                await asyncio.sleep(FRAME_SAMPLES / SAMPLE_RATE / 2)
                heard = _onset(arrivals, start, threshold)
            if heard is None:
                missed += 1
            else:
                samples.append(heard - captured)
            await asyncio.sleep(spacing)
    finally:
        sender.outbound.source = original
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
    logger.debug("one-way delay samples: %s", samples)
    return DelayMeasurement(tuple(samples), missed, sender.codec)
