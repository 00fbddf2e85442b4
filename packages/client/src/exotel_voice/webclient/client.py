"""``ExotelWebClient``: the integration guide's API, synchronous, with callbacks.

A plain script uses it exactly like the guide's snippets. It runs the async SDK on its
own event-loop thread; callbacks are plain callables, called on that thread. Names and
callback strings are the guide's (section numbers in each docstring). Where the JS SDK
2.0.5 differs from the guide, the guide wins, and the JS SDK's bugs are not copied:
wrong credentials end in ``"terminated"`` (no endless retry), ``Hold``/``UnHold`` are
idempotent, mute and hold belong to one call, ``LegSid`` is captured, and the logger
gets real levels.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import secrets
from collections.abc import Callable, Coroutine, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from exotel_voice.account import Account
from exotel_voice.call import Call
from exotel_voice.errors import (
    ConfigurationError,
    ConnectionFailed,
    ExotelVoiceError,
    RegistrationError,
)
from exotel_voice.events import (
    Answered,
    CallEvent,
    Connected,
    Disconnected,
    Ended,
    IncomingCall,
    PhoneEvent,
    Registered,
    RegisterSent,
    RegistrationFailed,
    Unregistered,
)
from exotel_voice.phone import Phone
from exotel_voice.webclient.account_info import account_from_sip_account_info
from exotel_voice.webclient.devices import DeviceControl
from exotel_voice.webclient.diagnostics import DiagnosticsControl
from exotel_voice.webclient.logs import LoggerCallback, SdkLogHandler
from exotel_voice.webclient.loop_thread import LoopThread
from exotel_voice.webclient.web_call import WebCall
from sipadapters import ReconnectPolicy
from sipmedia import AudioDeviceEvent, DeviceKind

if TYPE_CHECKING:
    from exotel_voice.webclient.sessions import SessionCoordinator

__all__ = ["ExotelWebClient", "NotInitialized", "CLIENT_STATUSES"]

logger = logging.getLogger(__name__)

RegisterEventCallback = Callable[[str, str], object]
CallListenerCallback = Callable[[WebCall, str, str], object]
SessionCallback = Callable[[str, str], object]

CLIENT_STATUSES = (  # in the guide's order
    "media_permission_denied",
    "not_initialized",
    "websocket_connection_failed",
    "unregistered",
    "terminated",
    "initial",
    "registered",
    "unknown",
    "disconnected",
    "connecting",
)
"""Every value ``checkClientStatus`` can report (section 5.13)."""

_SUPPORTED_CODECS = ("opus", "pcmu", "pcma", "g722")


class NotInitialized(ExotelVoiceError):
    """``initWebrtc`` has not been called yet."""


class ExotelWebClient:
    """The guide's web client. Create one per account (several may coexist)."""

    def __init__(self) -> None:
        self._thread = LoopThread()
        self._random: Callable[[], float] = _jitter
        """Random fractions in [0, 1) for the backoff's jitter (tests may replace it)."""
        self._account: Account | None = None
        self._user_name = ""
        self._register_cb: RegisterEventCallback | None = None
        self._call_cb: CallListenerCallback | None = None
        self._session_cb: SessionCallback | None = None
        self._phone: Phone | None = None
        self._calls: list[Call] = []
        self._want_registered = False
        self._stop: asyncio.Event | None = None
        self._runner: asyncio.Future[None] | None = None
        self._status = "not_initialized"
        self._codecs: tuple[str, ...] | None = None
        self._sessions: SessionCoordinator | None = None
        self._logs = SdkLogHandler()
        self._logs.attach()
        self._closed = False
        self._devices = DeviceControl(self)
        self._diagnostics = DiagnosticsControl(self)

    # ================================================================= 5.1 init

    def initWebrtc(
        self,
        sipAccountInfo: Mapping[str, Any],
        RegisterEventCallBack: RegisterEventCallback,
        CallListenerCallback: CallListenerCallback,
        SessionCallback: SessionCallback | None = None,
    ) -> bool:
        """Validate the account and keep the callbacks (section 5.1). Sends nothing.

        Optional keys of this SDK choose the calls' audio (see ``setAudioSource``):
        ``audioSource`` (what calls send, default ``"auto"``: the default microphone if
        the machine has one, else silence) and ``audioSink`` (where received audio goes,
        default ``"auto"``: the default speaker if any, else nowhere).

        Raises:
            ConfigurationError: a key of ``sipAccountInfo`` is missing or malformed
                (the message names it; the password never appears).
            TypeError: a callback is not callable.
        """
        for name, cb in (
            ("RegisterEventCallBack", RegisterEventCallBack),
            ("CallListenerCallback", CallListenerCallback),
        ):
            if not callable(cb):
                raise TypeError(f"{name} must be callable")
        if SessionCallback is not None and not callable(SessionCallback):
            raise TypeError("SessionCallback must be callable")
        account = account_from_sip_account_info(sipAccountInfo)
        self._devices.configure(sipAccountInfo)
        if self._codecs is not None:
            account = _with_codecs(account, self._codecs)
        self._account = account
        self._user_name = str(sipAccountInfo.get("userName", account.user))
        self._register_cb = RegisterEventCallBack
        self._call_cb = CallListenerCallback
        self._session_cb = SessionCallback
        if self._status == "not_initialized":
            self._status = "unregistered"  # ready; "initial" is for a registration in progress
        logger.info("initialised for %s on %s", account.aor, account.server)
        return True

    # ================================================================= 5.2 / 5.3 / 5.12

    def DoRegister(self) -> bool:
        """Connect and register (section 5.2). Returns False if already registered or
        registering (the guide's manual reconnect pattern then does no harm).

        Reconnection is automatic (section 5.12): exponential backoff with jitter after
        a lost connection; a refused password ends in ``"terminated"`` and stops.

        Raises:
            NotInitialized: ``initWebrtc`` was not called.
        """
        account = self._require_account()
        if self._want_registered:
            return False  # registered, registering or reconnecting already
        self._want_registered = True
        self._status = "connecting"

        def start() -> None:
            self._stop = asyncio.Event()
            self._runner = asyncio.ensure_future(self._run_phone(account, self._stop))

        self._thread.call_soon(start)
        return True

    def UnRegister(self) -> None:
        """Unregister and disconnect (section 5.3); stops automatic reconnection.

        Raises:
            NotInitialized: ``initWebrtc`` was not called.
        """
        self._require_account()
        self._want_registered = False
        self._perform(self._stop_phone())
        self._status = "unregistered"

    def unregister(self) -> None:
        """``UnRegister()`` by the name the guide's own 5.12 snippet uses
        (``exWebClient.unregister()``).

        Raises:
            NotInitialized: ``initWebrtc`` was not called.
        """
        self.UnRegister()

    async def _close_extras(self) -> None:
        await self._diagnostics.close()
        await self._devices.aclose()

    async def _stop_phone(self) -> None:
        runner = self._runner
        if self._stop is not None:
            self._stop.set()
        if runner is not None:
            if self._phone is None:
                # Still connecting, registering or waiting to retry: give up now rather
                # than after the registration's timeout.
                runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)

    async def _run_phone(self, account: Account, stop: asyncio.Event) -> None:
        """Own the Phone for as long as we want to be registered (structured: the phone
        is opened and closed in this one task)."""
        policy = ReconnectPolicy()
        attempt = 0
        while self._want_registered and not stop.is_set():
            phone = Phone(account, reconnect=policy, audio=self._devices.config)
            phone._call_event = self._on_call_event  # type: ignore[method-assign]
            phone._answer_without_media = self._devices.reject_without_media  # type: ignore[method-assign]
            listener = asyncio.ensure_future(self._watch(phone))
            await asyncio.sleep(0)
            try:
                async with phone:
                    self._phone = phone
                    attempt = 0
                    await stop.wait()
            except asyncio.CancelledError:
                await phone.aclose()  # cancelled while starting: release what it opened
                raise
            except ConnectionFailed as exc:
                # (Phone.start closed the phone, ending its event stream: the listener is
                # done before the wait below.)
                self._status = "websocket_connection_failed"
                attempt += 1
                # Jittered, so that many clients cut off together do not all come back
                # in the same instant.
                delay = policy.delay(attempt, self._random())
                logger.warning("cannot connect: %s; retry %d in %.3f s", exc, attempt, delay)
                self._register_event("unregistered")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
            except RegistrationError as exc:
                self._status = "terminated"
                logger.warning("registration refused: %s", exc)
                self._want_registered = False
            finally:
                self._phone = None
                # The phone closed its event stream: let the listener deliver what is
                # queued (e.g. "terminated") before it ends.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(listener), 2.0)
                listener.cancel()

    async def _watch(self, phone: Phone) -> None:
        async for event in phone.events():
            self._on_phone_event(event)

    def _on_phone_event(self, event: PhoneEvent) -> None:
        if isinstance(event, RegisterSent):
            if self._status != "registered":
                self._status = "initial"  # the guide's "sdk registration is in progress"
            self._register_event("sent_request")
        elif isinstance(event, Registered):
            self._status = "registered"
            self._register_event("registered")
        elif isinstance(event, Unregistered):
            if self._status != "terminated":
                self._status = "unregistered"
            self._register_event("unregistered")
        elif isinstance(event, RegistrationFailed):
            self._status = "terminated"
            self._register_event("terminated")
        elif isinstance(event, Disconnected):
            self._status = "disconnected" if self._want_registered else "unregistered"
        elif isinstance(event, Connected):
            if self._status != "terminated":
                self._status = "initial"  # connected: the REGISTER goes out next
        elif isinstance(event, IncomingCall):
            self._calls.append(event.call)
            self._call_event(event.call, "incoming")
            self._broadcast("incoming")

    def _on_call_event(self, call: Call, event: CallEvent) -> None:
        if isinstance(event, Answered):
            self._call_event(call, "connected")
            self._broadcast("connected")
        elif isinstance(event, Ended):
            self._broadcast("callEnded")
            # "callEnded": ended locally; "terminated": ended by the far end (5.4-5.6).
            self._call_event(call, "terminated" if event.cause.by_remote else "callEnded")
            if call in self._calls:
                self._calls.remove(call)

    # ================================================================= 5.4 - 5.9

    def getCall(self) -> WebCall:
        """The current call (section 5.5); its methods raise if there is none."""
        return WebCall(self)

    def _current_call(self) -> Call | None:
        live = [c for c in self._calls if not c.ended]
        return live[-1] if live else None

    # ================================================================= 5.10

    def SessionListener(self, autoRegister: bool = False) -> bool:
        """Coordinate with other instances of this account on this host (section 5.10).

        Exactly one instance (the parent) registers; the others (children) get
        ``SessionCallback("incoming" | "connected" | "callEnded", phone)`` as the parent's
        calls progress. When the parent exits or dies, one child gets ``"re-register"``
        within 2 s; with ``autoRegister`` it also registers by itself. Local IPC only.

        Returns:
            True if this instance is the parent.

        Raises:
            NotInitialized: ``initWebrtc`` was not called.
        """
        account = self._require_account()
        if self._sessions is not None:
            return self._sessions.is_parent
        # fcntl is POSIX-only: imported here so the rest of the SDK works everywhere.
        from exotel_voice.webclient.sessions import SessionCoordinator  # noqa: PLC0415

        def on_session_event(state: str, phone: str) -> None:
            self._thread.call_soon(lambda: self._safely(self._session_cb, state, phone))

        self._sessions = SessionCoordinator(
            account.aor,
            on_session_event,
            auto_reregister=autoRegister,
            on_become_parent=self.DoRegister if autoRegister else None,
            phone=self._user_name,
        )
        return self._sessions.start()

    def _broadcast(self, state: str) -> None:
        if self._sessions is not None and self._sessions.is_parent:
            self._sessions.broadcast(state, self._user_name)

    # ================================================================= 5.13

    def checkClientStatus(self, callback: Callable[[str], object]) -> None:
        """Report readiness (section 5.13) as one of ``CLIENT_STATUSES``.

        Computed from real state; nothing is opened to find out (no device is left open).
        First ``media_permission_denied`` if the audio configuration needs a device
        (``audioSource``/``audioSink`` ``"device"`` or a device id) that this machine
        does not have now (the default ``"auto"`` never needs one), then the connection
        and registration states: ``not_initialized`` before ``initWebrtc``;
        ``unregistered`` after it (and after ``UnRegister``); ``connecting`` while the
        WebSocket opens; ``initial`` once it is open and the registration is in progress;
        ``registered``; ``disconnected`` when the connection is lost (reconnection under
        way); ``websocket_connection_failed`` when it cannot be opened (retrying);
        ``terminated`` when the server refused the credentials; ``unknown`` if the check
        itself failed (e.g. the audio devices could not be listed).
        """
        try:
            status = self._devices.media_status() or self._compute_status()
        except Exception:
            logger.exception("status check failed")
            status = "unknown"
        callback(status)

    def _compute_status(self) -> str:
        if self._account is None:
            return "not_initialized"
        phone = self._phone
        if phone is not None:
            if not phone.connected:
                return "disconnected" if self._want_registered else "unregistered"
            if phone.registered:
                return "registered"
            if self._want_registered and self._status != "terminated":
                return "initial"  # reconnected, registering again
        return self._status

    # ================================================================= 5.11 diagnostics

    def initDiagnostics(
        self,
        diagnosticsReportCallback: Callable[[str, str], object],
        keyValueSetCallback: Callable[[str, Any, str], object],
    ) -> None:
        """Start a diagnostics session (section 5.11).

        ``keyValueSetCallback(key, status, description)`` gets at once
        ``("browserVersion", "ready", "CPython/3.11.7 exotel-voice/0.1.0")``, then
        ``("micInfo", <name>, "micInfo")`` and ``("speakerInfo", <name>, "speakerInfo")``
        for the devices calls use (``("micInfo", "no device", <why>)`` without one).
        ``diagnosticsReportCallback("troubleShootReport", <whole report>)`` gets the
        troubleshooting log after every line; ``saveDiagnosticsReport`` writes it.

        Raises:
            TypeError: a callback is not callable.
        """
        for name, cb in (
            ("diagnosticsReportCallback", diagnosticsReportCallback),
            ("keyValueSetCallback", keyValueSetCallback),
        ):
            if not callable(cb):
                raise TypeError(f"{name} must be callable")
        self._perform(self._diagnostics.init(diagnosticsReportCallback, keyValueSetCallback))

    def closeDiagnostics(self) -> None:
        """Stop the running tests and forget the diagnostics callbacks. Safe: later
        diagnostics calls only log a warning (the JS SDK threw)."""
        self._perform(self._diagnostics.close())

    def startSpeakerDiagnosticsTest(self) -> None:
        """Ring the output device; ``("speaker", <level 0..1>, "speaker ok")`` per 50 ms
        block, ``("speaker", 0.0, "speaker error")`` if the device fails (section 5.11)."""
        self._perform(self._diagnostics.start_speaker())

    def stopSpeakerDiagnosticsTest(self, speakerTestResponse: str | None = None) -> None:
        """Stop the speaker test; ``"yes"``/``"no"`` (the user heard it, or not) adds
        ``SPEAKER_TEST_PASS``/``SPEAKER_TEST_FAIL`` to the report; otherwise nothing."""
        self._perform(self._diagnostics.stop_speaker(speakerTestResponse))

    def startMicDiagnosticsTest(self) -> None:
        """Meter the input device; ``("mic", <level 0..1>, "mic ok")`` per 50 ms block,
        ``("mic", 0.0, "mic error")`` if the device fails (section 5.11)."""
        self._perform(self._diagnostics.start_mic())

    def stopMicDiagnosticsTest(self, micTestResponse: str | None = None) -> None:
        """Stop the mic test; ``"yes"``/``"no"`` adds ``MICROPHONE_TEST_PASS``/``_FAIL``
        to the report; otherwise nothing."""
        self._perform(self._diagnostics.stop_mic(micTestResponse))

    def startNetworkDiagnostics(self) -> None:
        """Test the network in the background (section 5.11); each result goes to
        ``keyValueSetCallback``: ``"wss"`` (a WebSocket really opened to the server:
        connected/disconnected + URL), ``"userReg"`` (registered/unregistered +
        userName, the real state; no REGISTER is sent), then ``"udp"``, ``"tcp"``,
        ``"ipv6"``, ``"host"``, ``"srflx"``, ``"relay"`` (connected/disconnected + a
        candidate line or ``""``) from ICE gathering against ``iceServers``. Within
        about 5 s."""
        self._perform(self._diagnostics.start_network())

    def stopNetworkDiagnostics(self) -> None:
        """Stop the network diagnostics if they still run."""
        self._perform(self._diagnostics.stop_network())

    def saveDiagnosticsReport(self, path: str | Path = ".") -> Path:
        """Write the troubleshooting report to ``path`` (a file, or a directory for
        ``troubleshooting_report_<date>.txt``); returns the file written."""
        return self._diagnostics.save(path)

    # ================================================================= 5.14 audio devices

    def registerAudioDeviceChangeCallback(
        self,
        audioInputDeviceChangeCallback: Callable[[str], object],
        audioOutputDeviceChangeCallback: Callable[[str], object],
        onDeviceChangeCallback: Callable[[AudioDeviceEvent], object] | None = None,
        *,
        interval: float = 1.0,
    ) -> None:
        """Follow the system's default devices (section 5.14).

        One device watcher runs (polling every ``interval`` s) while callbacks are
        registered; registering again replaces the callbacks. When the default input
        (output) changes, the active call moves to it, as do later calls, and
        ``audioInputDeviceChangeCallback(deviceId)`` (output) is called. With
        ``onDeviceChangeCallback``, it gets every event instead (``AudioDeviceAdded``,
        ``AudioDeviceRemoved``, ``DefaultAudioDeviceChanged``) and nothing is switched.
        A configuration that sends no device audio (a file, a tone, silence) is not
        switched either; the callbacks still report the new default.

        Raises:
            TypeError: a callback is not callable.
        """
        self._devices.register(
            audioInputDeviceChangeCallback,
            audioOutputDeviceChangeCallback,
            onDeviceChangeCallback,
        )
        self._perform(self._devices.watch(interval))

    def unregisterAudioDeviceChangeCallback(self) -> None:
        """Forget the device callbacks and stop the device watcher."""
        self._perform(self._devices.aclose())

    def changeAudioInputDevice(
        self,
        deviceId: str,
        onSuccess: Callable[[], object] | None = None,
        onError: Callable[[str], object] | None = None,
        forceDeviceChange: bool = False,
    ) -> None:
        """Send from input ``deviceId`` now (active call, no renegotiation) and in later
        calls (section 5.14). ``onSuccess()``, or ``onError("deviceIdNotFound")`` for an
        unknown id, ``onError(<why>)`` if it cannot be opened (the call keeps its old
        device). ``forceDeviceChange`` reopens the device even if it is the current one.
        Ids: ``getAudioDevices()``."""
        self._perform(
            self._devices.change_device(
                DeviceKind.INPUT, deviceId, onSuccess, onError, forceDeviceChange
            )
        )

    def changeAudioOutputDevice(
        self,
        deviceId: str,
        onSuccess: Callable[[], object] | None = None,
        onError: Callable[[str], object] | None = None,
        forceDeviceChange: bool = False,
    ) -> None:
        """Play received audio on output ``deviceId`` now and in later calls (section
        5.14); callbacks as ``changeAudioInputDevice``."""
        self._perform(
            self._devices.change_device(
                DeviceKind.OUTPUT, deviceId, onSuccess, onError, forceDeviceChange
            )
        )

    def getAudioDevices(self) -> dict[str, Any]:
        """The machine's audio devices, like a browser's ``enumerateDevices``:
        ``{"inputs": [{"deviceId", "label"}...], "outputs": [...], "defaultInput",
        "defaultOutput"}`` (ids for ``changeAudio*Device``). Lists, opens nothing."""
        from exotel_voice.audio import process_audio_devices  # noqa: PLC0415

        listed = process_audio_devices().list()
        return {
            "inputs": [{"deviceId": d.id, "label": d.name} for d in listed.inputs],
            "outputs": [{"deviceId": d.id, "label": d.name} for d in listed.outputs],
            "defaultInput": listed.default_input,
            "defaultOutput": listed.default_output,
        }

    def setAudioSource(self, source: object) -> None:
        """Choose what later calls send (``exotel_voice.AudioConfig.source``):
        ``"auto"`` (default), ``"device"`` (the default microphone, required), a device
        id, ``"silence"``, ``"tone:<Hz>"``, a file path, an ``AudioSource`` (``Tone``,
        ``PcmWriter``...) or a factory of one. Also ``sipAccountInfo["audioSource"]``.

        Raises:
            ConfigurationError: not a source choice.
        """
        self._devices.set_source(source)

    def setAudioSink(self, sink: object) -> None:
        """Choose where the received audio of later calls goes
        (``exotel_voice.AudioConfig.sink``): ``"auto"`` (default), ``"device"``, a
        device id, a file path to record (``{call_id}`` is replaced), a callable taking
        PCM chunks, or ``None``. Also ``sipAccountInfo["audioSink"]``.

        Raises:
            ConfigurationError: not a sink choice.
        """
        self._devices.set_sink(sink)

    # ================================================================= 5.15 and extras

    def registerLoggerCallback(self, callback: LoggerCallback) -> None:
        """Receive every SDK log line as ``callback(type, message, args)`` (section 5.15).

        ``type`` is the real level: ``"log"`` (debug), ``"info"``, ``"warn"`` or
        ``"error"``; ``message`` has digest responses and passwords replaced by ``***``;
        ``args`` is ``[logger name]``. Debug lines come too, without the application's
        own logging printing them (see ``exotel_voice.webclient.logs``). Replaces the
        previous callback.

        Raises:
            TypeError: ``callback`` is not callable.
        """
        if not callable(callback):
            raise TypeError("the logger callback must be callable")
        self._logs.callback = callback

    def downloadLogs(self, directory: str | Path = ".") -> Path:
        """Save the SDK's last 1000 log lines (debug included, secrets redacted) to
        ``webrtc_sdk_logs_YYYY-MM-DD.txt`` (UTC date, the JS SDK's name) in ``directory``.

        Returns:
            The file written.
        """
        return self._logs.save(directory)

    def setPreferredCodec(self, codecName: str) -> None:
        """Prefer ``codecName`` (opus, PCMU, PCMA, G722) for new calls.

        Raises:
            ConfigurationError: an unsupported codec name.
        """
        name = str(codecName).lower()
        if name not in _SUPPORTED_CODECS:
            raise ConfigurationError("codecName", f"unsupported codec {codecName!r}")
        order = (name, *(c for c in ("opus", "pcmu", "pcma") if c != name))
        self._codecs = tuple(
            {"pcmu": "PCMU", "pcma": "PCMA", "g722": "G722"}.get(c, c) for c in order
        )
        if self._account is not None:
            self._account = _with_codecs(self._account, self._codecs)

    # ================================================================= lifecycle

    def close(self) -> None:
        """Hang up, unregister, and stop the client's thread."""
        if self._closed:
            return
        self._closed = True
        self._want_registered = False

        try:
            self._thread.run(self._close_extras(), timeout=10)
            self._thread.run(self._stop_phone(), timeout=10)
        finally:
            # Unregister first, then hand the parent role over (else two instances
            # would be registered for a moment).
            if self._sessions is not None:
                self._sessions.close()
            self._logs.detach()
            self._thread.stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ================================================================= internals

    def _require_account(self) -> Account:
        if self._account is None:
            raise NotInitialized("call initWebrtc(sipAccountInfo, ...) first")
        return self._account

    def _perform(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run an SDK coroutine: wait for it from a plain thread, schedule it from a callback."""
        if self._thread.in_loop_thread:
            task = asyncio.ensure_future(coro)
            task.add_done_callback(_log_failure)
            return
        self._thread.run(coro, timeout=30)

    def _register_event(self, state: str) -> None:
        self._safely(self._register_cb, state, self._user_name)

    def _call_event(self, call: Call, kind: str) -> None:
        self._safely(self._call_cb, WebCall(self, call), kind, self._user_name)

    @staticmethod
    def _safely(callback: Callable[..., object] | None, *args: object) -> None:
        if callback is None:
            return
        try:
            callback(*args)
        except Exception:
            logger.exception("a callback raised")


def _jitter() -> float:
    return secrets.randbits(32) / 2**32


def _with_codecs(account: Account, codecs: tuple[str, ...]) -> Account:
    return dataclasses.replace(account, codecs=codecs)


def _log_failure(task: asyncio.Future[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("action failed: %s", task.exception())
