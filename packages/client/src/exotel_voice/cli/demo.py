"""The scenario of ``exotel-voice demo``: two phones on the embedded server, checked.

Starts ``sipadapters.server`` on free loopback ports (wss with a development CA, so TLS
is verified as in production), registers ``alice`` and ``bob``, and has alice call bob.
Each sends its own tone; then every feature is exercised and checked from the other
side: audio both ways (the far end's tone detected in what arrived), the one-way delay
both ways (``sipmedia.measure_one_way_delay``: tone bursts timed from capture to
delivery), DTMF both ways, hold and resume, mute, the call's quality (loss, jitter,
RTT, MOS), hangup and unregistration. Received levels and quality samples are kept for
the plot. A failed check is recorded and the scenario goes on where it still can.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import secrets
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.abc

from exotel_voice.account import Account
from exotel_voice.call import Call
from exotel_voice.cli.quality import milliseconds, stats_fields, stats_summary
from exotel_voice.cli.timeline import Timeline
from exotel_voice.errors import ExotelVoiceError
from exotel_voice.events import DtmfReceived, EndCause, RemoteHoldChanged
from exotel_voice.phone import Phone
from sipadapters import TlsOptions
from sipadapters.server import LocalServerRunner, serve
from sipmedia import (
    CallStats,
    DelayMeasurement,
    MediaError,
    Pcm,
    Tone,
    measure_one_way_delay,
    rms_dbfs,
    tone_ratio,
)

__all__ = [
    "Demo",
    "DemoSettings",
    "DemoResult",
    "Phase",
    "LevelTrace",
    "QualityTrace",
    "run_demo",
]

logger = logging.getLogger(__name__)

DOMAIN = "demo.local"
_TONE_SHARE = 0.8
"""A tone is heard when it carries this share of the received energy."""
_SILENT_DBFS = -50.0
_MIN_MOS = 3.0
"""A "fair" call or better: G.711 without concealment gets here at about 2.5 % loss."""
_MAX_LOSS_PERCENT = 5.0
_SAMPLE_INTERVAL = 0.5


@dataclass(frozen=True, slots=True)
class DemoSettings:
    """How the demo runs."""

    codec: str = "opus"
    dtmf_mode: str = "auto"
    caller_tone: float = 600.0
    callee_tone: float = 1500.0
    caller_digits: str = "159#"
    callee_digits: str = "*07"


@dataclass(slots=True)
class Phase:
    """A stretch of the call worth marking on the plot (hold, mute, DTMF...)."""

    label: str
    start: float
    end: float | None = None


class LevelTrace:
    """The level of every received chunk, timestamped: an ``InboundAudio.on_pcm`` sink.

    Args:
        clock: the timeline's clock (seconds since the demo began).
    """

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self.points: list[tuple[float, float]] = []
        """(seconds, dBFS) per chunk; none arrive while nothing is received (hold)."""

    def __call__(self, pcm: Pcm) -> None:
        self.points.append((self._clock(), rms_dbfs(pcm)))


@dataclass(slots=True)
class QualityTrace:
    """A call's statistics every half second: (seconds since the demo began, stats)."""

    samples: list[tuple[float, CallStats]] = field(default_factory=list)


@dataclass(slots=True)
class DemoResult:
    """Everything the demo found, for the report and the plot."""

    settings: DemoSettings
    timeline: Timeline
    server: dict[str, Any] = field(default_factory=dict)
    audio: dict[str, dict[str, Any]] = field(default_factory=dict)
    delay: dict[str, dict[str, Any]] = field(default_factory=dict)
    dtmf: dict[str, dict[str, Any]] = field(default_factory=dict)
    hold: dict[str, Any] = field(default_factory=lambda: {"verified": False})
    mute: dict[str, Any] = field(default_factory=lambda: {"verified": False})
    hangup: dict[str, Any] = field(default_factory=lambda: {"verified": False})
    quality: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per phone, the whole call (taken just before the hangup)."""
    quality_before_hold: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per phone, from connect to hold: what the quality check judges."""
    levels: dict[str, LevelTrace] = field(default_factory=dict)
    """Per listener (``alice`` hears bob)."""
    samples: dict[str, QualityTrace] = field(default_factory=dict)
    phases: list[Phase] = field(default_factory=list)
    duration: float = 0.0
    interrupted: str | None = None
    """The signal that stopped the demo early, if one did."""

    @property
    def ok(self) -> bool:
        """Whether every check passed (and there was at least one), uninterrupted."""
        return bool(self.timeline.checks) and not self.timeline.failed and not self.interrupted


class CheckFailed(Exception):
    """A check did not pass; the message says what was seen instead."""


class _Abort(Exception):
    """A check whose failure leaves nothing further to try."""


@dataclass(slots=True)
class _Side:
    """One phone of the demo and its end of the call."""

    name: str
    tone: float
    digits: str
    phone: Phone
    call: Call | None = None
    keys: list[DtmfReceived] = field(default_factory=list)
    hold_changes: list[bool] = field(default_factory=list)

    @property
    def active(self) -> Call:
        if self.call is None:
            raise CheckFailed("there is no call")
        return self.call


class Demo:
    """One run of the scenario; ``interrupt`` stops it early, cleanly."""

    def __init__(self, settings: DemoSettings, timeline: Timeline) -> None:
        self.settings = settings
        self.timeline = timeline
        self.result = DemoResult(settings, timeline)
        self._step: anyio.CancelScope | None = None

    # ------------------------------------------------------------------ checks

    async def check(
        self,
        name: str,
        timeout: float | None,
        step: Callable[[], Awaitable[str]],
        *,
        vital: bool = False,
    ) -> bool:
        """Run one check: ``step`` returns the detail, or raises ``CheckFailed``.

        ``timeout`` None: ``step`` bounds itself and cannot be interrupted (it enters a
        context, like a Phone's, that must not live inside a cancel scope that ends
        before it). Once the demo is interrupted no further check runs.

        Raises:
            _Abort: a ``vital`` check failed.
        """
        if self.result.interrupted is not None:
            return False
        entry = self.timeline.begin(name)
        try:
            if timeout is None:
                detail = await step()
            else:
                with anyio.fail_after(timeout), anyio.CancelScope() as scope:
                    self._step = scope
                    detail = await step()
                if scope.cancel_called:
                    raise CheckFailed(f"interrupted ({self.result.interrupted})")
        except TimeoutError:
            self.timeline.finish(entry, False, f"nothing within {timeout:g} s")
        except (CheckFailed, ExotelVoiceError, MediaError, OSError) as exc:
            self.timeline.finish(entry, False, str(exc) or type(exc).__name__)
        except Exception as exc:  # a demo reports every failure as a failed check
            logger.debug("check %r failed", name, exc_info=True)
            self.timeline.finish(entry, False, f"{type(exc).__name__}: {exc}")
        else:
            self.timeline.finish(entry, True, detail)
            return True
        finally:
            self._step = None
        if vital:
            raise _Abort(name)
        return False

    def interrupt(self, reason: str) -> None:
        """Stop the running check and skip the rest; clean-up still runs (hang up,
        unregister, stop the server): nothing is cancelled but the check itself."""
        if self.result.interrupted is None:
            self.result.interrupted = reason
        if self._step is not None:
            self._step.cancel()

    @contextlib.contextmanager
    def phase(self, label: str) -> Iterator[Phase]:
        phase = Phase(label, self.timeline.now())
        self.result.phases.append(phase)
        try:
            yield phase
        finally:
            phase.end = self.timeline.now()

    # ------------------------------------------------------------------ the scenario

    async def run(self) -> DemoResult:
        """The whole scenario; returns what was found (also when interrupted)."""
        users = {"alice": secrets.token_urlsafe(12), "bob": secrets.token_urlsafe(12)}
        async with contextlib.AsyncExitStack() as stack:
            entry = self.timeline.begin("start the embedded SIP server")
            try:
                server = await stack.enter_async_context(
                    serve(users, domain=DOMAIN, transports=("ws", "wss"))
                )
            except (OSError, RuntimeError) as exc:
                self.timeline.finish(entry, False, str(exc))
                return self.result
            self.timeline.finish(entry, True, f"{server.wss_url} (TLS, development CA)")
            self.result.server = {
                "wss_url": server.wss_url,
                "ws_url": server.ws_url,
                "domain": DOMAIN,
            }
            with contextlib.suppress(_Abort):
                await self._with_server(server, users)
        self.result.duration = self.timeline.now()
        return self.result

    def _account(self, server: LocalServerRunner, user: str, password: str) -> Account:
        return Account(
            user=user,
            password=password,
            domain=DOMAIN,
            server=server.wss_url,
            tls=TlsOptions(ca_file=server.ca_file),
            codecs=(self.settings.codec,),
            dtmf_mode=self.settings.dtmf_mode,
        )

    async def _with_server(self, server: LocalServerRunner, users: dict[str, str]) -> None:
        settings = self.settings
        sides: list[_Side] = []
        async with contextlib.AsyncExitStack() as stack:
            for name, tone, digits in (
                ("alice", settings.caller_tone, settings.caller_digits),
                ("bob", settings.callee_tone, settings.callee_digits),
            ):
                phone = Phone(
                    self._account(server, name, users[name]),
                    source=functools.partial(Tone, tone),
                )

                async def register(
                    phone: Phone = phone, stack: contextlib.AsyncExitStack = stack
                ) -> str:
                    await stack.enter_async_context(phone)
                    return f"{phone.account.aor} over wss, TLS verified"

                # (Account.connect_timeout and Phone.register's own timeout bound it)
                await self.check(f"{name} registers", None, register, vital=True)
                sides.append(_Side(name, tone, digits, phone))
            alice, bob = sides
            try:
                async with anyio.create_task_group() as watchers:
                    await self._call(alice, bob, watchers)
                    watchers.cancel_scope.cancel()
            finally:
                for side in sides:
                    if side.call is not None and not side.call.ended:
                        with contextlib.suppress(ExotelVoiceError):
                            await side.call.hangup()
        await self.check("both phones unregister", 5, functools.partial(self._unregistered, server))

    async def _unregistered(self, server: LocalServerRunner) -> str:
        while server.server.bindings():
            await anyio.sleep(0.05)
        return "the server holds no registration"

    # ------------------------------------------------------------------ the call

    async def _call(self, alice: _Side, bob: _Side, watchers: anyio.abc.TaskGroup) -> None:
        incoming = await self._ringing(alice, bob)
        if incoming is None:
            return
        bob.call = incoming
        for side in (alice, bob):
            await watchers.start(self._watch, side)
        connected = await self.check(
            "bob answers: the call is connected", 10, functools.partial(self._answer, alice, bob)
        )
        if not connected:
            return
        for listener in (alice, bob):
            trace = self.result.levels[listener.name] = LevelTrace(self.timeline.now)
            media = listener.active.media
            if media is not None:
                # (the callback runs on the media loop, which is this asyncio loop)
                await listener.phone._media.call(media.inbound.on_pcm, trace)
            samples = self.result.samples[listener.name] = QualityTrace()
            watchers.start_soon(self._sample_quality, listener, samples)

        for talker, listener in ((alice, bob), (bob, alice)):
            await self._audio_check(talker, listener)
        for talker, listener in ((alice, bob), (bob, alice)):
            with self.phase(f"delay {talker.name[0]}->{listener.name[0]}"):
                await self.check(
                    f"one-way delay {talker.name} → {listener.name}",
                    15,
                    functools.partial(self._delay, talker, listener),
                )
        for talker, listener in ((alice, bob), (bob, alice)):
            with self.phase(f"DTMF {talker.name[0]}->{listener.name[0]}"):
                await self.check(
                    f"DTMF {talker.name} → {listener.name} ({talker.digits})",
                    10,
                    functools.partial(self._dtmf, talker, listener),
                )
        # Checked before hold: resuming a held call shows a few packets as lost to the
        # holder (RTP sequence numbers go on while the held side does not send).
        await self.check(
            "call quality both ways (connect to hold)",
            5,
            functools.partial(self._quality, alice, bob),
        )
        await self._hold(alice, bob)
        await self._mute(alice, bob)
        await self._final_quality(alice, bob)
        await self.check(
            "alice hangs up: bob sees the remote hangup",
            10,
            functools.partial(self._hangup, alice, bob),
        )

    async def _ringing(self, alice: _Side, bob: _Side) -> Call | None:
        found: list[Call] = []

        async def ring() -> str:
            async with anyio.create_task_group() as tg:

                async def first_incoming() -> None:
                    async for call in bob.phone.incoming():
                        found.append(call)
                        tg.cancel_scope.cancel()

                tg.start_soon(first_incoming)
                await anyio.sleep(0)
                alice.call = await alice.phone.call("bob")
            return f"INVITE from {found[0].details.remote_uri}"

        await self.check("alice calls bob: bob's phone rings", 10, ring)
        return found[0] if found else None

    async def _watch(
        self, side: _Side, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        call = side.active
        task_status.started()
        async for event in call.events():
            if isinstance(event, DtmfReceived):
                side.keys.append(event)
            elif isinstance(event, RemoteHoldChanged):
                side.hold_changes.append(event.held)

    async def _answer(self, alice: _Side, bob: _Side) -> str:
        started = time.monotonic()
        await bob.active.answer()
        await alice.active.wait_connected()
        await bob.active.wait_connected()
        took = (time.monotonic() - started) * 1000
        media = alice.active.media
        codec = media.codec if media is not None else None
        return f"answered and connected in {took:.0f} ms, codec {codec}"

    async def _sample_quality(self, side: _Side, trace: QualityTrace) -> None:
        call = side.active
        previous: CallStats | None = None
        with contextlib.suppress(ExotelVoiceError):
            while not call.ended:
                await anyio.sleep(_SAMPLE_INTERVAL)
                previous = await call.stats(previous)
                trace.samples.append((self.timeline.now(), previous))

    # ------------------------------------------------------------------ audio

    async def _hears(self, listener: _Side, frequency: float) -> tuple[float, float]:
        """Wait until ``listener`` hears ``frequency``; returns (share, dBFS)."""
        while True:
            pcm = await listener.active.recent_audio(0.3)
            share = tone_ratio(pcm, frequency) if pcm.size else 0.0
            if share >= _TONE_SHARE:
                return share, rms_dbfs(pcm)
            await anyio.sleep(0.05)

    async def _audio_check(self, talker: _Side, listener: _Side) -> bool:
        record = self.result.audio.setdefault(
            f"{talker.name}_to_{listener.name}",
            {"verified": False, "frequency_hz": talker.tone},
        )

        async def heard() -> str:
            share, level = await self._hears(listener, talker.tone)
            record.update(verified=True, tone_ratio=round(share, 4), level_dbfs=round(level, 1))
            return (
                f"{listener.name} hears the {talker.tone:g} Hz tone "
                f"({share:.1%} of the energy, {level:.0f} dBFS)"
            )

        return await self.check(f"audio {talker.name} → {listener.name}", 8, heard)

    async def _delay(self, talker: _Side, listener: _Side) -> str:
        sender, receiver = talker.active.media, listener.active.media
        if sender is None or receiver is None:
            raise CheckFailed("the call has no media")
        # Both sessions live on the same (asyncio) loop: the caller's, i.e. the media loop.
        measured: DelayMeasurement = await talker.phone._media.run(
            functools.partial(measure_one_way_delay, sender, receiver, bursts=5)
        )
        key = f"{talker.name}_to_{listener.name}"
        self.result.delay[key] = {
            "median": milliseconds(measured.median) if measured.samples else None,
            "max": milliseconds(measured.maximum) if measured.samples else None,
            "samples": [milliseconds(s) for s in measured.samples],
            "missed": measured.missed,
            "codec": measured.codec,
        }
        bursts = len(measured.samples) + measured.missed
        if len(measured.samples) * 2 < bursts or not measured.samples:
            raise CheckFailed(f"only {len(measured.samples)} of {bursts} tone bursts arrived")
        return (
            f"median {measured.median * 1000:.0f} ms, max {measured.maximum * 1000:.0f} ms "
            f"({len(measured.samples)}/{bursts} bursts)"
        )

    async def _dtmf(self, talker: _Side, listener: _Side) -> str:
        digits = talker.digits
        record = self.result.dtmf[f"{talker.name}_to_{listener.name}"] = {
            "verified": False,
            "sent": digits,
            "received": "",
            "method": None,
        }
        before = len(listener.keys)
        started = time.monotonic()
        await talker.active.send_dtmf(digits)
        while len(listener.keys) - before < len(digits):
            await anyio.sleep(0.02)
        keys = listener.keys[before:]
        received = "".join(k.digit for k in keys)
        methods = sorted({k.method for k in keys})
        record.update(received=received, method=",".join(methods))
        if received != digits:
            raise CheckFailed(f"sent {digits}, received {received}")
        record["verified"] = True
        return f"{received} received via {', '.join(methods)} in {time.monotonic() - started:.1f} s"

    # ------------------------------------------------------------------ hold, mute

    async def _silent_both_ways(self, alice: _Side, bob: _Side, seconds: float) -> bool:
        counts = [len(self.result.levels[s.name].points) for s in (alice, bob)]
        await anyio.sleep(seconds)
        return counts == [len(self.result.levels[s.name].points) for s in (alice, bob)]

    async def _hold(self, alice: _Side, bob: _Side) -> None:
        hold = self.result.hold
        hold.update(remote_notified=False, silent_while_held=False, audio_after_resume=False)

        async def held() -> str:
            await alice.active.hold()
            while True not in bob.hold_changes:
                await anyio.sleep(0.02)
            hold["remote_notified"] = True
            await anyio.sleep(0.3)  # audio already in flight
            silent = await self._silent_both_ways(alice, bob, 0.6)
            hold["silent_while_held"] = silent
            if not silent:
                raise CheckFailed("audio kept arriving while on hold")
            return "bob was told (re-INVITE a=sendonly); no audio either way for 0.6 s"

        async def resumed() -> str:
            await alice.active.unhold()
            while bob.hold_changes[-1:] != [False]:
                await anyio.sleep(0.02)
            await self._hears(bob, alice.tone)
            await self._hears(alice, bob.tone)
            hold["audio_after_resume"] = True
            return "bob was told (a=sendrecv); both tones are heard again"

        with self.phase("hold"):
            ok = await self.check("alice puts the call on hold", 8, held)
        ok = await self.check("alice resumes the call", 8, resumed) and ok
        hold["verified"] = ok

    async def _mute(self, alice: _Side, bob: _Side) -> None:
        mute = self.result.mute
        mute.update(level_while_muted_dbfs=None, audio_after_unmute=False)

        async def muted() -> str:
            alice.active.mute()
            await anyio.sleep(0.4)
            while True:
                level = rms_dbfs(await bob.active.recent_audio(0.3))
                if level <= _SILENT_DBFS:
                    break
                await anyio.sleep(0.05)
            mute["level_while_muted_dbfs"] = round(level, 1) if math.isfinite(level) else None
            await anyio.sleep(0.4)  # for the plot: a visible stretch of silence
            heard = f"{level:.0f} dBFS" if math.isfinite(level) else "digital silence"
            return f"bob hears {heard} while alice is muted (no signalling)"

        async def unmuted() -> str:
            alice.active.unmute()
            share, _ = await self._hears(bob, alice.tone)
            mute["audio_after_unmute"] = True
            return f"bob hears alice's tone again ({share:.1%})"

        with self.phase("mute"):
            ok = await self.check("alice mutes: bob hears silence", 6, muted)
        ok = await self.check("alice unmutes: her tone is back", 6, unmuted) and ok
        mute["verified"] = ok

    # ------------------------------------------------------------------ the end

    async def _quality(self, alice: _Side, bob: _Side) -> str:
        problems: list[str] = []
        for side in (alice, bob):
            stats = await side.active.stats()
            fields = self.result.quality_before_hold[side.name] = stats_fields(stats)
            if fields["mos"] is None or fields["mos"] < _MIN_MOS:
                problems.append(f"{side.name} MOS {fields['mos']}")
            if fields["loss_percent"] > _MAX_LOSS_PERCENT:
                problems.append(f"{side.name} loss {fields['loss_percent']} %")
        summary = "; ".join(
            f"{name}: MOS {fields['mos']}, loss {fields['loss_percent']:g} %, "
            f"jitter {fields['jitter_ms']} ms"
            for name, fields in self.result.quality_before_hold.items()
        )
        if problems:
            raise CheckFailed(f"{', '.join(problems)} ({summary})")
        return summary

    async def _final_quality(self, alice: _Side, bob: _Side) -> None:
        """The whole call's figures for the report (a note, not a check)."""
        lines = []
        for side in (alice, bob):
            try:
                stats = await side.active.stats()
            except (CheckFailed, ExotelVoiceError):
                continue
            self.result.quality[side.name] = stats_fields(stats)
            lines.append(f"{side.name}: {stats_summary(stats)}")
        if lines:
            self.timeline.note("call quality, whole call", "; ".join(lines))

    async def _hangup(self, alice: _Side, bob: _Side) -> str:
        self.result.hangup["cause_at_callee"] = None
        await alice.active.hangup()
        ended = await bob.active.wait_ended()
        await alice.active.wait_ended()
        self.result.hangup["cause_at_callee"] = ended.cause.value
        if ended.cause is not EndCause.REMOTE_HANGUP:
            raise CheckFailed(f"bob's call ended by {ended.cause.value}")
        self.result.hangup["verified"] = True
        return "BYE answered; both calls ended"


async def run_demo(settings: DemoSettings, timeline: Timeline) -> DemoResult:
    """Run the scenario (on asyncio: media runs on the caller's loop).

    Args:
        settings: codec, DTMF mode, tones and digits.
        timeline: where steps and checks are recorded as they happen.

    Returns:
        What was found; ``ok`` says whether every check passed.
    """
    return await Demo(settings, timeline).run()
