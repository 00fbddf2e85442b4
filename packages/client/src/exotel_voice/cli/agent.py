"""The phone agent behind ``exotel-voice phone``: one registered Phone that takes or
places calls, plays, records, sends DTMF and reports every event.

Every registration and call event becomes a report: a JSON object per line with
``--json`` (``{"time": ..., "event": "registered", ...}``), else a timestamped line.
The first Ctrl-C or SIGTERM hangs up the calls (their ``ended`` and ``call_stats`` are
still reported), unregisters and exits 0; a second one stops at once.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import anyio.abc

from exotel_voice.account import Account
from exotel_voice.call import Call
from exotel_voice.cli.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, CommandError
from exotel_voice.cli.output import Output
from exotel_voice.cli.play import PlaySpec
from exotel_voice.cli.quality import stats_fields, stats_summary
from exotel_voice.cli.recording import recording_path
from exotel_voice.cli.shutdown import Shutdown
from exotel_voice.errors import CallStateError, ConnectionFailed, RegistrationError
from exotel_voice.events import (
    Connected,
    Disconnected,
    DtmfReceived,
    Ended,
    IncomingCall,
    PhoneEvent,
    ReconnectScheduled,
    Registered,
    RegisterSent,
    RegistrationFailed,
    RemoteHoldChanged,
    Ringing,
    Unregistered,
)
from exotel_voice.phone import Phone
from sipmedia import MediaError

__all__ = ["AgentSettings", "PhoneAgent"]

_MEDIA_WAIT = 5.0
"""Longest wait for the first received audio before DTMF is sent anyway, seconds."""
_HANGUP_GRACE = 3.0


@dataclass(frozen=True, slots=True)
class AgentSettings:
    """What ``exotel-voice phone`` was asked to do."""

    account: Account
    play: PlaySpec
    record: Path | None = None
    """Record each call's received audio here (the 2nd call to ``name-2.ext``...)."""
    call: str | None = None
    """Place one call to this target instead of waiting for calls."""
    dtmf: str | None = None
    """Digits to send once each call is connected."""
    duration: float | None = None
    """Hang up each call this many seconds after it connected."""
    auto_answer: bool = False
    once: bool = False
    """Waiting for calls: exit after the first call ended."""


def _human(event: str, fields: dict[str, Any]) -> str | None:
    """The human line for a report (``None``: shown as status only)."""
    match event:
        case "connected":
            return f"connected to {fields['url']}"
        case "disconnected":
            return f"connection lost: {fields['error']}"
        case "reconnect_scheduled":
            return f"reconnecting in {fields['delay']:.1f} s (attempt {fields['attempt']})"
        case "registered":
            return f"registered as {fields['aor']} (expires {fields['expires']} s)"
        case "unregistered":
            return "unregistered"
        case "registration_failed":
            return f"registration failed: {fields['status_code']} {fields['reason']}"
        case "incoming_call":
            return f"incoming call from {fields['from']}"
        case "calling":
            return f"calling {fields['target']}"
        case "ringing":
            return f"ringing ({fields['status_code']})"
        case "answered":
            return f"connected with {fields['remote']}"
        case "not_answering":
            return "not answering (no --auto-answer): it rings until the caller gives up"
        case "playing":
            return f"playing {fields['source']}"
        case "recording":
            return f"recording to {fields['path']}"
        case "dtmf_sent":
            return f"sent DTMF {fields['digits']}"
        case "dtmf_received":
            return f"received DTMF {fields['digit']} ({fields['method']})"
        case "remote_hold_changed":
            return "the far end put the call on hold" if fields["held"] else "the far end resumed"
        case "hangup":
            return f"hanging up ({fields['reason']})"
        case "ended":
            status = f", {fields['status_code']} {fields['reason'] or ''}".rstrip()
            length = fields.get("duration_s")
            after = f" after {length:.1f} s" if length is not None else ""
            return f"call ended{after}: {fields['cause']}{status if fields['status_code'] else ''}"
        case "call_stats":
            return f"call stats: {fields['summary']}"
        case "error":
            return f"error: {fields['message']}"
        case "stopping":
            return f"{fields['signal']}: hanging up and unregistering"
    return None


class PhoneAgent:
    """Runs one ``exotel-voice phone`` session.

    Args:
        settings: what to do.
        output: where reports go.
    """

    def __init__(self, settings: AgentSettings, output: Output) -> None:
        self.settings = settings
        self.out = output
        self._calls_taken = 0
        self._problems: list[str] = []
        self._first_call_done = anyio.Event()
        self._outgoing_connected = False
        self._outgoing_failure: str | None = None
        self._endings: dict[str, Ended] = {}
        self._registered = anyio.Event()
        self._following: set[str] = set()
        """Calls whose follower task has not finished reporting yet."""
        """Each call's ``Ended`` event (it carries the status and reason), until reported."""

    # ------------------------------------------------------------------ reports

    def report(self, event: str, call: Call | None = None, **fields: Any) -> None:
        """Report one event (a JSON line, or a timestamped human line)."""
        now = time.time()
        item: dict[str, Any] = {"time": round(now, 3), "event": event}
        if call is not None:
            item["call_id"] = call.id
        item.update(fields)
        if self.out.json_mode:
            self.out.record(item)
            return
        text = _human(event, fields)
        if text is not None:
            stamp = time.strftime("%H:%M:%S", time.localtime(now))
            self.out.line(f"{stamp} {text}")

    def _problem(self, message: str, call: Call | None = None) -> None:
        self._problems.append(message)
        self.report("error", call, message=message)

    # ------------------------------------------------------------------ the session

    async def run(self) -> int:
        """Connect, register, do the work, clean up.

        Returns:
            The exit status: 0 when everything asked for worked (or a signal stopped a
            healthy session), 1 when something failed, 130 when a second signal cut
            the clean-up short.

        Raises:
            CommandError: the server cannot be reached, or refused the registration, or
                the call placed with ``--call`` was not connected.
        """
        shutdown = Shutdown()
        account = self.settings.account
        phone = Phone(account, source=self.settings.play.source)
        try:
            with shutdown.force, self.out.progress(f"connecting to {account.server}"):
                async with anyio.create_task_group() as outer:
                    await outer.start(shutdown.watch)
                    await outer.start(self._report_phone_events, phone)
                    # Not under ``shutdown.work``: the phone's task group, entered here,
                    # must close in the same scope (a signal now cancels ``force``).
                    await self._start(phone)
                    shutdown.started = True
                    try:
                        await self._work(phone, shutdown)
                    finally:
                        self.out.status("unregistering and disconnecting")
                        await phone.aclose(grace=_HANGUP_GRACE)
                        outer.cancel_scope.cancel()
        except Exception:
            if shutdown.forced:  # whatever the cut-short clean-up left behind
                return EXIT_INTERRUPTED
            raise
        if shutdown.forced:
            return EXIT_INTERRUPTED
        if self._outgoing_failure is not None and shutdown.requested is None:
            raise CommandError(self._outgoing_failure)
        return EXIT_FAILED if self._problems else EXIT_OK

    async def _start(self, phone: Phone) -> None:
        account = self.settings.account
        try:
            await phone.start()
        except ConnectionFailed as exc:
            text = str(exc)
            if account.server not in text:
                text = f"cannot connect to {account.server}: {text}"
            raise CommandError(text) from None
        except RegistrationError as exc:
            hint = " (wrong user or password?)" if exc.auth_rejected else ""
            raise CommandError(f"{account.aor}: {exc}{hint}") from None
        # Let the event reporter print "registered" before anything else happens.
        with anyio.move_on_after(1.0):
            await self._registered.wait()

    async def _work(self, phone: Phone, shutdown: Shutdown) -> None:
        async with anyio.create_task_group() as calls:
            with shutdown.work:
                if self.settings.call is not None:
                    await self._place(phone, self.settings.call, calls)
                else:
                    await self._take_calls(phone, calls)
            if shutdown.requested is not None:
                self.report("stopping", signal=shutdown.requested)
            for call in phone.calls:
                with contextlib.suppress(CallStateError):
                    self.report("hangup", call, reason="stopping")
                    await call.hangup()
            # A far end that never answers our BYE must not hold the exit for long.
            with anyio.move_on_after(_HANGUP_GRACE):
                while self._following:
                    await anyio.sleep(0.02)
            calls.cancel_scope.cancel()

    async def _place(self, phone: Phone, target: str, calls: anyio.abc.TaskGroup) -> None:
        self.out.status(f"calling {target}")
        self.report("calling", target=target)
        try:
            call = await phone.call(target)
        except CallStateError as exc:
            raise CommandError(f"cannot call {target!r}: {exc}") from None
        calls.start_soon(self._follow, call, True)
        await self._first_call_done.wait()

    async def _take_calls(self, phone: Phone, calls: anyio.abc.TaskGroup) -> None:
        self.out.status(self._waiting_status())
        async with anyio.create_task_group() as waiting:
            if self.settings.once:

                async def stop_after_first() -> None:
                    await self._first_call_done.wait()
                    waiting.cancel_scope.cancel()

                waiting.start_soon(stop_after_first)
            async for call in phone.incoming():
                calls.start_soon(self._follow, call, False)

    def _waiting_status(self) -> str:
        return f"registered as {self.settings.account.aor}: waiting for calls (Ctrl-C to stop)"

    # ------------------------------------------------------------------ one call

    async def _follow(self, call: Call, outgoing: bool) -> None:
        """Everything about one call, from ringing to its final statistics."""
        self._calls_taken += 1
        number = self._calls_taken
        self._following.add(call.id)
        try:
            # The reporter ends by itself with the call's event stream, after ``Ended``.
            async with anyio.create_task_group() as reporter:
                await reporter.start(self._report_call_events, call)
                async with anyio.create_task_group() as tasks:
                    await self._connect(call, outgoing, number, tasks)
                    await call.wait_ended()
                    tasks.cancel_scope.cancel()
        finally:
            self._following.discard(call.id)
            self._report_end(call, outgoing)
            self._first_call_done.set()
            if not outgoing:
                self.out.status(self._waiting_status())

    async def _connect(
        self, call: Call, outgoing: bool, number: int, tasks: anyio.abc.TaskGroup
    ) -> None:
        if not outgoing:
            self.report(
                "incoming_call",
                call,
                **{"from": call.details.remote_uri},
                display_name=call.details.remote_display_name,
            )
            if not self.settings.auto_answer:
                self.report("not_answering", call)
                return
            self.out.status(f"answering {call.details.remote_uri}")
            with contextlib.suppress(CallStateError):  # the caller gave up meanwhile
                await call.answer(self.settings.play.source())
        await self._prepare_media(call, number)
        try:
            await call.wait_connected()
        except CallStateError:
            return
        if outgoing:
            self._outgoing_connected = True
        self.report("answered", call, remote=call.details.remote_uri)
        self.out.status(f"in a call with {call.details.remote_uri}")
        if self.settings.dtmf:
            tasks.start_soon(self._send_dtmf, call, self.settings.dtmf)
        if self.settings.duration is not None:
            tasks.start_soon(self._hang_up_after, call, self.settings.duration)

    async def _prepare_media(self, call: Call, number: int) -> None:
        if call.ended or call.media is None:
            return
        play = self.settings.play
        try:
            if play.kind == "echo":
                await call.echo()
            self.report("playing", call, source=play.describe())
            if self.settings.record is not None:
                path = recording_path(self.settings.record, number)
                await call.record(path)
                self.report("recording", call, path=str(path))
        except (MediaError, CallStateError) as exc:
            self._problem(f"cannot record or play: {exc}", call)

    async def _send_dtmf(self, call: Call, digits: str) -> None:
        # RFC 4733 tones travel inside the audio stream: wait until it flows.
        with anyio.move_on_after(_MEDIA_WAIT), contextlib.suppress(CallStateError):
            while not call.ended and (await call.recent_audio(0.02)).size == 0:
                await anyio.sleep(0.05)
        try:
            await call.send_dtmf(digits)
        except (CallStateError, MediaError) as exc:
            if not call.ended:
                self._problem(f"cannot send DTMF {digits}: {exc}", call)
            return
        self.report("dtmf_sent", call, digits=digits)

    async def _hang_up_after(self, call: Call, seconds: float) -> None:
        await anyio.sleep(seconds)
        with contextlib.suppress(CallStateError):
            self.report("hangup", call, reason=f"--duration {seconds:g} s")
            await call.hangup()

    def _report_end(self, call: Call, outgoing: bool) -> None:
        ended = self._endings.pop(call.id, None)
        cause = ended.cause if ended is not None else call.details.end_cause
        status = ended.status_code if ended is not None else None
        reason = ended.reason if ended is not None else None
        self.report(
            "ended",
            call,
            cause=cause.value if cause is not None else "unknown",
            by_remote=cause.by_remote if cause is not None else False,
            status_code=status,
            reason=reason,
            duration_s=None if call.details.duration is None else round(call.details.duration, 2),
        )
        if call.final_stats is not None:
            self.report(
                "call_stats",
                call,
                **stats_fields(call.final_stats),
                summary=stats_summary(call.final_stats),
            )
        if outgoing and not self._outgoing_connected:
            status_text = f" ({status} {reason or ''}".rstrip() + ")" if status else ""
            self._outgoing_failure = (
                f"the call to {call.details.remote_uri} was not connected: "
                f"{cause.value if cause is not None else 'it failed'}{status_text}"
            )

    # ------------------------------------------------------------------ event streams

    async def _report_phone_events(
        self, phone: Phone, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        account = phone.account
        # The subscription starts at the first step of the iteration, before the parent
        # resumes: nothing published by phone.start() is missed.
        task_status.started()
        async for event in phone.events():
            self._report_phone_event(account, event)

    def _report_phone_event(self, account: Account, event: PhoneEvent) -> None:
        if isinstance(event, Connected):
            self.report("connected", url=event.url, reconnection=event.reconnection)
            self.out.status(f"registering as {account.aor}")
        elif isinstance(event, Disconnected):
            self.report("disconnected", error=event.error)
            self.out.status("connection lost: reconnecting")
        elif isinstance(event, ReconnectScheduled):
            self.report("reconnect_scheduled", attempt=event.attempt, delay=event.delay)
        elif isinstance(event, RegisterSent):
            self.report("register_sent", expires=event.expires)
        elif isinstance(event, Registered):
            self.report("registered", aor=account.aor, expires=event.expires)
            self._registered.set()
        elif isinstance(event, Unregistered):
            self.report("unregistered", aor=account.aor)
        elif isinstance(event, RegistrationFailed):
            self.report(
                "registration_failed",
                status_code=event.status_code,
                reason=event.reason,
                auth_rejected=event.auth_rejected,
            )
        elif isinstance(event, IncomingCall):
            pass  # reported by the call's own follower, with its details

    async def _report_call_events(
        self, call: Call, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        task_status.started()
        async for event in call.events():
            if isinstance(event, Ringing):
                self.report("ringing", call, status_code=event.status_code)
                self.out.status(f"ringing {call.details.remote_uri}")
            elif isinstance(event, DtmfReceived):
                self.report(
                    "dtmf_received",
                    call,
                    digit=event.digit,
                    method=event.method,
                    duration_ms=event.duration_ms,
                )
            elif isinstance(event, RemoteHoldChanged):
                self.report("remote_hold_changed", call, held=event.held)
            elif isinstance(event, Ended):
                self._endings[call.id] = event
