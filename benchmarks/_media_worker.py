"""One worker process of the media benchmark: call pairs on one asyncio loop, measured.

A worker builds ``pairs`` two-way calls on loopback, each endpoint sending a tone, waits
for every worker of the run at a barrier, lets the calls warm up, then counts over a
steady window the frames each endpoint received and the CPU time the whole process
(every thread: aiortc encodes in executor threads and decodes in one thread per
receiver) spent. The pairs stay inside their process, so RTP never crosses processes.

Two kinds of endpoint, measured the same way:

* ``sipmedia``: a pair of ``MediaSession`` (``create_offer``/``create_answer``/
  ``accept_answer``), sending ``Tone``; frames are ``inbound.frames_received``.
* ``aiortc``: a pair of bare ``RTCPeerConnection`` with a minimal ``ToneTrack`` (an
  ``AudioStreamTrack`` making a 48 kHz tone) and a task reading the remote track; what
  a program written straight on aiortc would run.

Runs in processes started with the ``spawn`` method: everything here is importable and
every argument picklable.
"""

from __future__ import annotations

import asyncio
import fractions
import logging
import math
import resource
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol, cast

import av
import numpy as np
from aiortc import RTCPeerConnection, RTCRtpSender
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from sipmedia import MediaConfig, MediaSession, Pcm, Resampler, Tone
from sipmedia.pcm import FRAME_SAMPLES, SAMPLE_RATE

if TYPE_CHECKING:
    from multiprocessing.queues import Queue
    from multiprocessing.synchronize import Barrier

__all__ = [
    "Kind",
    "WorkerJob",
    "WorkerReport",
    "ToneTrack",
    "RawPeer",
    "raw_pair",
    "sipmedia_pair",
    "process_cpu",
    "worker_main",
]

logger = logging.getLogger(__name__)

Kind = Literal["sipmedia", "aiortc"]
"""Which endpoints a worker runs: ours or bare aiortc peers."""

_TIME_BASE = fractions.Fraction(1, SAMPLE_RATE)
_SETUP_BATCH = 10
"""Calls negotiated at once while setting up (all gather ICE candidates)."""
_BARRIER_TIMEOUT = 300.0
"""Longest wait for the other workers to finish setting up."""
_LAG_INTERVAL = 0.02
"""How often the loop-lag probe wakes up (one frame)."""


def process_cpu() -> float:
    """CPU seconds (user + system) this process has used so far, all threads included."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# -- bare aiortc peers -------------------------------------------------------------------


class _Source(Protocol):
    def read(self, samples: int) -> Pcm: ...


class _SineSource:
    """A sine from a table of one second (whole-Hz tones repeat every second)."""

    def __init__(self, frequency: int, level: float = 0.3) -> None:
        t = np.arange(SAMPLE_RATE + FRAME_SAMPLES) / SAMPLE_RATE
        self._table = (np.sin(2 * math.pi * frequency * t) * level * 32767).astype(np.int16)
        self._n = 0

    def read(self, samples: int) -> Pcm:
        start = self._n % SAMPLE_RATE
        self._n += samples
        return self._table[start : start + samples].copy()


class ToneTrack(MediaStreamTrack):
    """A minimal aiortc audio track: 20 ms frames of mono 48 kHz s16 from ``source``.

    Paced on the loop's clock like ``aiortc.AudioStreamTrack`` (absolute schedule, so a
    late frame is followed by a catch-up, never by drift). ``source`` is swappable, which
    lets ``measure_one_way_delay`` play its bursts through it.
    """

    kind = "audio"

    def __init__(self, frequency: int) -> None:
        super().__init__()
        self.source: _Source = _SineSource(frequency)
        self._pts = 0
        self._start: float | None = None

    async def recv(self) -> av.AudioFrame:
        """The next frame, when its time has come."""
        if self.readyState != "live":
            raise MediaStreamError
        loop = asyncio.get_running_loop()
        if self._start is None:
            self._start = loop.time()
        else:
            delay = self._start + self._pts / SAMPLE_RATE - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
        pcm = self.source.read(FRAME_SAMPLES)
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = self._pts
        frame.time_base = _TIME_BASE
        self._pts += FRAME_SAMPLES
        return frame


class _RawInbound:
    """Reads a peer's remote track: counts frames; converts them only for listeners."""

    def __init__(self) -> None:
        self.frames_received = 0
        self._queues: list[asyncio.Queue[Pcm | None]] = []
        self._task: asyncio.Task[None] | None = None

    def attach(self, track: MediaStreamTrack) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(track))

    async def _run(self, track: MediaStreamTrack) -> None:
        resample = Resampler()
        try:
            while True:
                frame = await track.recv()
                self.frames_received += 1
                if self._queues:
                    pcm = resample(cast(av.AudioFrame, frame))
                    for queue in self._queues:
                        queue.put_nowait(pcm)
        except MediaStreamError:
            pass
        finally:
            for queue in self._queues:
                queue.put_nowait(None)

    async def frames(self) -> AsyncIterator[Pcm]:
        """Every frame from now on as mono 48 kHz PCM (what ``InboundAudio.frames`` gives)."""
        queue: asyncio.Queue[Pcm | None] = asyncio.Queue()
        self._queues.append(queue)
        try:
            while (pcm := await queue.get()) is not None:
                yield pcm
        finally:
            self._queues.remove(queue)

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


@dataclass(eq=False)
class RawPeer:
    """One bare aiortc endpoint, shaped like a ``MediaSession`` where
    ``measure_one_way_delay`` looks (``outbound.source``, ``inbound.frames()``,
    ``codec``), so the very same measurement times both kinds."""

    pc: RTCPeerConnection
    outbound: ToneTrack
    inbound: _RawInbound = field(default_factory=_RawInbound)

    @property
    def codec(self) -> str | None:
        """The codec this peer sends with."""
        for transceiver in self.pc.getTransceivers():
            codecs = transceiver._codecs
            if codecs:
                return codecs[0].mimeType.split("/", 1)[1]
        return None

    async def close(self) -> None:
        """Stop reading and close the peer connection."""
        await self.inbound.aclose()
        await self.pc.close()


def _raw_peer(frequency: int, codec: str) -> RawPeer:
    peer = RawPeer(RTCPeerConnection(), ToneTrack(frequency))
    transceiver = peer.pc.addTransceiver(peer.outbound, direction="sendrecv")
    wanted = [
        c
        for c in RTCRtpSender.getCapabilities("audio").codecs
        if c.mimeType.lower() == f"audio/{codec.lower()}"
    ]
    transceiver.setCodecPreferences(wanted)

    def on_track(track: MediaStreamTrack) -> None:
        if track.kind == "audio":
            peer.inbound.attach(track)

    peer.pc.on("track", on_track)
    return peer


async def raw_pair(codec: str = "opus") -> tuple[RawPeer, RawPeer]:
    """Two bare aiortc peers in a call (offer/answer in memory), each sending a tone."""
    a, b = _raw_peer(440, codec), _raw_peer(1000, codec)
    await a.pc.setLocalDescription(await a.pc.createOffer())
    await b.pc.setRemoteDescription(a.pc.localDescription)
    await b.pc.setLocalDescription(await b.pc.createAnswer())
    await a.pc.setRemoteDescription(b.pc.localDescription)
    return a, b


# -- our endpoints -----------------------------------------------------------------------


async def sipmedia_pair(codec: str = "opus") -> tuple[MediaSession, MediaSession]:
    """Two ``MediaSession`` in a call (offer/answer in memory), each sending a tone."""
    config = MediaConfig(codecs=(codec,))
    a, b = MediaSession(config, Tone(440)), MediaSession(config, Tone(1000))
    await a.accept_answer(await b.create_answer(await a.create_offer()))
    return a, b


# -- one worker ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WorkerJob:
    """What one worker runs."""

    kind: Kind
    pairs: int
    """Calls in this process (two endpoints each)."""
    warmup: float
    """Seconds between the start barrier and the measured window."""
    seconds: float
    """The measured window."""
    codec: str = "opus"


@dataclass(frozen=True, slots=True)
class WorkerReport:
    """What one worker measured over its window."""

    frames: tuple[int, ...]
    """Frames each endpoint received during the window."""
    window: float
    """The window's wall-clock length, seconds."""
    cpu: float
    """CPU seconds the process used during the window (all threads)."""
    lag_p99: float
    """99th percentile of how late a 20 ms timer fired during the window, seconds."""
    lag_max: float
    """The latest it fired."""
    setup: float
    """Seconds it took to set up every call."""
    threads: int
    """Threads alive in the process during the window."""
    error: str | None = None
    """Why the worker failed (then nothing else is meaningful)."""


class _Endpoint(Protocol):
    @property
    def inbound(self) -> _Counted: ...

    async def close(self) -> None: ...


class _Counted(Protocol):
    @property
    def frames_received(self) -> int: ...


async def _lag_probe(lags: list[float]) -> None:
    loop = asyncio.get_running_loop()
    due = loop.time() + _LAG_INTERVAL
    while True:
        await asyncio.sleep(due - loop.time())
        now = loop.time()
        lags.append(max(0.0, now - due))
        due = max(due + _LAG_INTERVAL, now)


async def _pair(kind: Kind, codec: str) -> tuple[_Endpoint, _Endpoint]:
    if kind == "sipmedia":
        return await sipmedia_pair(codec)
    return await raw_pair(codec)


async def _setup(job: WorkerJob) -> list[_Endpoint]:
    endpoints: list[_Endpoint] = []
    for first in range(0, job.pairs, _SETUP_BATCH):
        batch = min(_SETUP_BATCH, job.pairs - first)
        for a, b in await asyncio.gather(*(_pair(job.kind, job.codec) for _ in range(batch))):
            endpoints += (a, b)
    return endpoints


async def _run(job: WorkerJob, barrier: Barrier) -> WorkerReport:
    loop = asyncio.get_running_loop()
    started = time.perf_counter()
    endpoints = await _setup(job)
    setup = time.perf_counter() - started
    try:
        await loop.run_in_executor(None, barrier.wait, _BARRIER_TIMEOUT)
        await asyncio.sleep(job.warmup)
        lags: list[float] = []
        probe = loop.create_task(_lag_probe(lags))
        frames_before = [e.inbound.frames_received for e in endpoints]
        cpu_before, wall_before = process_cpu(), loop.time()
        await asyncio.sleep(job.seconds)
        frames_after = [e.inbound.frames_received for e in endpoints]
        cpu_after, wall_after = process_cpu(), loop.time()
        threads = threading.active_count()
        probe.cancel()
        await asyncio.gather(probe, return_exceptions=True)
    finally:
        await asyncio.gather(*(e.close() for e in endpoints), return_exceptions=True)
    ordered = sorted(lags) or [0.0]
    return WorkerReport(
        frames=tuple(
            after - before for before, after in zip(frames_before, frames_after, strict=True)
        ),
        window=wall_after - wall_before,
        cpu=cpu_after - cpu_before,
        lag_p99=ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))],
        lag_max=ordered[-1],
        setup=setup,
        threads=threads,
    )


def worker_main(job: WorkerJob, barrier: Barrier, results: Queue[WorkerReport]) -> None:
    """Entry point of a worker process: run ``job`` and put its report on ``results``.

    A failure is reported (``WorkerReport.error``) rather than raised, and the barrier
    is broken so the other workers of the run stop waiting.
    """
    try:
        report = asyncio.run(_run(job, barrier))
    except Exception as exc:  # the parent must hear about any failure
        logger.exception("media benchmark worker failed")
        barrier.abort()
        report = WorkerReport((), 0.0, 0.0, 0.0, 0.0, 0.0, 0, error=repr(exc))
    results.put(report)
