"""Device and network diagnostics (guide section 5.11) for any asyncio program.

The guide's ``ExotelWebClient`` diagnostics wrap these (one implementation):

- ``SpeakerCheck`` rings the output device (``sipmedia.RingTone``) and reports the level
  of every block it plays; ``MicCheck`` reports the level of every block the input
  device captures. Levels are ``sipmedia.AudioLevel`` (``level`` 0..1 for a meter).
- ``check_server`` really opens a connection to the account's server (a WebSocket for
  ``ws://``/``wss://``), unlike the JS SDK 2.0.5, whose ``"wss"`` result never did.
- ``run_network_diagnostics`` adds the registration state and real ICE gathering against
  the account's STUN/TURN servers (``sipmedia.probe_ice``): one ``NetworkReport``.
- ``TroubleshootingReport`` is the troubleshooting log, line by line in the JS SDK's
  format (``[YYYY-MM-DD HH:MM:SS] [INFO] TROUBLESHOOTER_FSM_REPORT: ...``), which can be
  saved to a file.

Statuses and keys are the guide's: ``wss`` connected/disconnected + the URL, ``userReg``
registered/unregistered + the user name, and ``udp``, ``tcp``, ``ipv6``, ``host``,
``srflx``, ``relay`` connected/disconnected + a candidate line (or ``""``).
"""

from __future__ import annotations

import datetime
import logging
import platform
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import anyio
import anyio.to_thread

from exotel_voice.account import Account
from exotel_voice.audio import audio_device_lock, process_audio_devices
from exotel_voice.errors import MediaUnavailable
from sipadapters import ConnectError, WebSocketStream, open_transport
from sipadapters.transport import MessageTransport
from sipmedia import (
    PROBE_KEYS,
    AudioDeviceError,
    AudioDeviceList,
    AudioDevices,
    AudioLevel,
    AudioSource,
    DeviceKind,
    IceProbeReport,
    LevelMeter,
    RingTone,
    SpeakerTest,
    probe_ice,
)
from sipmedia.devices import InputDevice, OutputDevice
from sipmedia.loop import media_runner

if TYPE_CHECKING:
    from exotel_voice.phone import Phone

__all__ = [
    "DiagnosticResult",
    "NetworkReport",
    "TroubleshootingReport",
    "SpeakerCheck",
    "MicCheck",
    "check_server",
    "registration_result",
    "run_network_diagnostics",
    "runtime_version",
    "device_info",
    "NETWORK_KEYS",
]

logger = logging.getLogger(__name__)

_T = TypeVar("_T")

CONNECTED = "connected"
DISCONNECTED = "disconnected"
NETWORK_KEYS = ("wss", "userReg", *PROBE_KEYS)
"""Every key a network diagnostic reports, in the order they are reported."""

_EVENT_NAMES = {
    "wss": "WSS",
    "userReg": "USER_REG",
    "udp": "UDP",
    "tcp": "TCP",
    "ipv6": "IPV6",
    "host": "HOST_CON",
    "srflx": "REFLEX_CON",
    "relay": "RELAY_CON",
}
"""Key -> the JS SDK's ``NETWORK EVENT =  <NAME>_TEST_...`` report names (RELAY is ours)."""


@dataclass(frozen=True, slots=True)
class DiagnosticResult:
    """One answer of a diagnostic, as the guide's ``keyValueSetCallback`` gets it."""

    key: str
    """``wss``, ``userReg``, ``udp``, ``tcp``, ``ipv6``, ``host``, ``srflx``, ``relay``,
    ``micInfo``, ``speakerInfo``, ``browserVersion``, ``speaker`` or ``mic``."""
    status: str | float
    """``connected``/``disconnected``, ``registered``/``unregistered``, a level..."""
    description: str
    """The URL, the user name, a candidate line, ``"speaker ok"``..."""


@dataclass(frozen=True, slots=True)
class NetworkReport:
    """What ``run_network_diagnostics`` found."""

    server: DiagnosticResult
    """``wss``: a connection to the account's server opened, or not."""
    registration: DiagnosticResult
    """``userReg``: whether the phone is registered."""
    ice: IceProbeReport
    """The ICE gathering, every candidate line included."""

    def results(self) -> tuple[DiagnosticResult, ...]:
        """Every result, in ``NETWORK_KEYS`` order."""
        return (self.server, self.registration, *(_ice_result(self.ice, k) for k in PROBE_KEYS))

    def result(self, key: str) -> DiagnosticResult:
        """The result for ``key`` (one of ``NETWORK_KEYS``).

        Raises:
            KeyError: not one of ``NETWORK_KEYS``.
        """
        for result in self.results():
            if result.key == key:
                return result
        raise KeyError(key)


def _ice_result(report: IceProbeReport, key: str) -> DiagnosticResult:
    check = report.check(key)
    return DiagnosticResult(key, check.status, check.description)


# --------------------------------------------------------------------------- the report


class TroubleshootingReport:
    """The troubleshooting log: one line per step, in the JS SDK's format.

    Thread-safe. ``on_change`` gets the whole text after every line (what the guide's
    ``diagnosticsReportCallback("troubleShootReport", text)`` receives).

    Args:
        on_change: called with the whole report after each line.
        clock: local wall-clock time for the line stamps.
    """

    def __init__(
        self,
        on_change: Callable[[str], object] | None = None,
        *,
        clock: Callable[[], datetime.datetime] = datetime.datetime.now,
    ) -> None:
        self.on_change = on_change
        self._clock = clock
        self._lines: list[str] = []
        self._lock = threading.Lock()

    def info(self, message: str) -> None:
        """Append an ``[INFO]`` line."""
        self._append("INFO", message)

    def warning(self, message: str) -> None:
        """Append a ``[WARNING]`` line."""
        self._append("WARNING", message)

    def _append(self, level: str, message: str) -> None:
        stamp = self._clock().strftime("%Y-%m-%d %H:%M:%S")
        line = f"[{stamp}] [{level}] TROUBLESHOOTER_FSM_REPORT: {message}\n"
        with self._lock:
            self._lines.append(line)
            text = "".join(self._lines)
        logger.debug("report: %s", message)
        if self.on_change is not None:
            self.on_change(text)

    @property
    def text(self) -> str:
        """The whole report."""
        with self._lock:
            return "".join(self._lines)

    def clear(self) -> None:
        """Start a new report (nothing is called)."""
        with self._lock:
            self._lines.clear()

    def save(self, path: str | Path) -> Path:
        """Write the report to ``path`` (a directory: ``troubleshooting_report_<date>.txt``
        in it).

        Returns:
            The file written.
        """
        target = Path(path)
        if target.is_dir():
            target /= f"troubleshooting_report_{self._clock():%Y-%m-%d_%H%M%S}.txt"
        target.write_text(self.text, encoding="utf-8")
        return target


# --------------------------------------------------------------------------- environment


def runtime_version() -> str:
    """What stands for the browser: ``"CPython/3.11.7 exotel-voice/0.1.0"``."""
    from exotel_voice import __version__  # noqa: PLC0415 - the package imports this module

    return (
        f"{platform.python_implementation()}/{platform.python_version()} exotel-voice/{__version__}"
    )


def device_info(
    listed: AudioDeviceList, kind: DeviceKind, device_id: str | None = None
) -> DiagnosticResult:
    """``micInfo``/``speakerInfo``: the name of the device calls use (``device_id``, or
    the default), as ``(key, <name>, key)`` like the JS SDK 2.0.5 passes it, or
    ``(key, "no device", <why>)``."""
    key = "micInfo" if kind is DeviceKind.INPUT else "speakerInfo"
    chosen = device_id or listed.default(kind)
    device = listed.find(chosen, kind) if chosen is not None else None
    if device is None:
        why = (
            f"no audio {kind.value} device {chosen!r}"
            if chosen is not None
            else f"this machine has no audio {kind.value} device"
        )
        return DiagnosticResult(key, "no device", why)
    return DiagnosticResult(key, device.name, key)


# --------------------------------------------------------------------------- device checks


class _DeviceCheck:
    """Open a device in a worker thread, report one level per block until ``stop()``."""

    _kind: DeviceKind

    def __init__(self, device_id: str | None, devices: AudioDevices | None, block_ms: int) -> None:
        self.device_id = device_id
        self.block_ms = block_ms
        self._devices = devices or process_audio_devices()
        self._stopped = anyio.Event()
        self.device_name: str | None = None
        """The device's name once opened."""

    def stop(self) -> None:
        """End ``run`` after the block in progress (also before it started). From the
        check's event loop thread."""
        self._stopped.set()

    @property
    def stopped(self) -> bool:
        """Whether ``stop()`` was called."""
        return self._stopped.is_set()

    def _open(self) -> InputDevice | OutputDevice:
        raise NotImplementedError

    async def run(self, on_level: Callable[[AudioLevel], object]) -> None:
        """Open the device, report each block's level to ``on_level`` until ``stop()``,
        close the device.

        Raises:
            MediaUnavailable: the device could not be opened, or stopped working
                (unplugged) during the check.
        """
        if self.stopped:
            return
        try:
            device = await anyio.to_thread.run_sync(self._locked, self._open)
        except AudioDeviceError as exc:
            raise MediaUnavailable(f"cannot open the {self._kind.value} device: {exc}") from exc
        self.device_name = device.device.name
        try:
            await self._measure(device, on_level)
        finally:
            await anyio.to_thread.run_sync(self._locked, device.close)

    @staticmethod
    def _locked(action: Callable[[], _T]) -> _T:
        with audio_device_lock():
            return action()

    async def _measure(
        self, device: InputDevice | OutputDevice, on_level: Callable[[AudioLevel], object]
    ) -> None:
        meter = self._meter(device)

        async def stop_meter_when_asked() -> None:
            await self._stopped.wait()
            meter.stop()

        async with anyio.create_task_group() as tg:
            tg.start_soon(stop_meter_when_asked)
            async for level in meter.levels():
                if not device.active:
                    raise MediaUnavailable(f"the {self._kind.value} device stopped working")
                on_level(level)
            tg.cancel_scope.cancel()

    def _meter(self, device: InputDevice | OutputDevice) -> LevelMeter | SpeakerTest:
        raise NotImplementedError


class SpeakerCheck(_DeviceCheck):
    """The speaker test: rings the output device, reporting the level of each block played.

    Args:
        device_id: the output (None: the default output).
        devices: the process's devices (default: ``process_audio_devices()``).
        sound: what to play (default: ``RingTone()``, 440 + 480 Hz, 2 s on, 4 s off).
        block_ms: block length, also the reporting interval.
    """

    _kind = DeviceKind.OUTPUT

    def __init__(
        self,
        device_id: str | None = None,
        *,
        devices: AudioDevices | None = None,
        sound: AudioSource | None = None,
        block_ms: int = 50,
    ) -> None:
        super().__init__(device_id, devices, block_ms)
        self.sound: AudioSource = sound if sound is not None else RingTone()

    def _open(self) -> OutputDevice:
        return self._devices.open_output(self.device_id)

    def _meter(self, device: InputDevice | OutputDevice) -> SpeakerTest:
        assert isinstance(device, OutputDevice)
        return SpeakerTest(device, self.sound, block_ms=self.block_ms)


class MicCheck(_DeviceCheck):
    """The mic test: reports the level of each block the input device captures.

    Args:
        device_id: the input (None: the default input).
        devices: the process's devices (default: ``process_audio_devices()``).
        block_ms: block length, also the reporting interval.
    """

    _kind = DeviceKind.INPUT

    def __init__(
        self,
        device_id: str | None = None,
        *,
        devices: AudioDevices | None = None,
        block_ms: int = 50,
    ) -> None:
        super().__init__(device_id, devices, block_ms)

    def _open(self) -> InputDevice:
        return self._devices.open_input(self.device_id)

    def _meter(self, device: InputDevice | OutputDevice) -> LevelMeter:
        assert isinstance(device, InputDevice)
        return LevelMeter(device, block_ms=self.block_ms)


# --------------------------------------------------------------------------- network


def _note(report: TroubleshootingReport | None, message: str, *, warning: bool = False) -> None:
    if report is None:
        return
    if warning:
        report.warning(message)
    else:
        report.info(message)


async def check_server(
    account: Account, *, timeout: float = 5.0, report: TroubleshootingReport | None = None
) -> DiagnosticResult:
    """``wss``: open a connection to ``account.server`` (a WebSocket with subprotocol
    ``sip`` for ``ws://``/``wss://``, with the account's TLS checks), then close it.

    Args:
        account: whose server.
        timeout: seconds for connecting and handshaking.
        report: where to log the steps.

    Returns:
        ``("wss", "connected" | "disconnected", <server URL>)``; never raises for an
        unreachable server.
    """
    url = account.server
    _note(report, "NETWORK EVENT =  WSS_TEST_STARTING")
    transport: MessageTransport
    try:
        if url.startswith(("ws://", "wss://")):
            transport = await WebSocketStream.connect(url, tls=account.tls, timeout=timeout)
        else:
            transport = await open_transport(url, tls=account.tls, timeout=timeout)
    except ConnectError as exc:
        _note(report, f"websocket connection to {url} failed: {exc}", warning=True)
        _note(report, f"NETWORK EVENT =  WSS_TEST_COMPLETE {DISCONNECTED}")
        return DiagnosticResult("wss", DISCONNECTED, url)
    await transport.aclose()
    _note(report, f"websocket connection to {url} opened")
    _note(report, f"NETWORK EVENT =  WSS_TEST_COMPLETE {CONNECTED}")
    return DiagnosticResult("wss", CONNECTED, url)


def registration_result(account: Account, registered: bool) -> DiagnosticResult:
    """``userReg``: ``("userReg", "registered" | "unregistered", <user name>)``; the user
    name is the digest user (the guide's ``userName``)."""
    status = "registered" if registered else "unregistered"
    return DiagnosticResult("userReg", status, account.auth_user or account.user)


async def run_network_diagnostics(
    account: Account,
    *,
    phone: Phone | None = None,
    timeout: float = 5.0,
    ice_timeout: float = 2.0,
    report: TroubleshootingReport | None = None,
    on_result: Callable[[DiagnosticResult], object] | None = None,
) -> NetworkReport:
    """Check the server connection, the registration and ICE gathering.

    The server check and ICE gathering run at the same time; results are reported to
    ``on_result`` as they are known, in ``NETWORK_KEYS`` order. No REGISTER is sent for
    the diagnostic (the guide: "no explicit registration requests").

    Args:
        account: the server and the STUN/TURN servers (``ice_servers``; none: only host
            candidates, so ``srflx`` and ``relay`` are ``disconnected``).
        phone: the account's phone, whose registration ``userReg`` reports (None:
            ``unregistered``).
        timeout: bound for the server connection, seconds.
        ice_timeout: bound for each STUN/TURN server, seconds.
        report: where to log the steps.
        on_result: called with each result as it is known.

    Returns:
        The ``NetworkReport``.
    """
    gathered: list[IceProbeReport] = []

    async def gather() -> None:
        # aioice is asyncio-only: run it where the media runs (the phone's media loop, or
        # a media runner of our own, which is a loop thread under trio).
        runner = phone._media if phone is not None else media_runner()
        try:
            gathered.append(await runner.run(probe_ice, account.ice_servers, ice_timeout))
        finally:
            if phone is None:
                await runner.aclose()

    async with anyio.create_task_group() as tg:
        tg.start_soon(gather)  # at the same time as the server check
        server = await check_server(account, timeout=timeout, report=report)
        _deliver(on_result, server)
        registration = registration_result(account, phone is not None and phone.registered)
        _note(report, f"user registration: {registration.status} ({registration.description})")
        _deliver(on_result, registration)
        for key in PROBE_KEYS:
            _note(report, f"NETWORK EVENT =  {_EVENT_NAMES[key]}_TEST_STARTING")
    ice = gathered[0]
    for line in ice.candidates:
        _note(report, f"Gathered candidate {line}")
    for url in ice.unanswered:
        _note(report, f"ICE server {url} gave no candidate within {ice_timeout} s", warning=True)
    for url in ice.unsupported:
        _note(report, f"ICE server {url} is not supported", warning=True)
    _note(report, "ice gathering state: complete")
    result = NetworkReport(server, registration, ice)
    for key in PROBE_KEYS:
        outcome = result.result(key)
        _note(report, f"NETWORK EVENT =  {_EVENT_NAMES[key]}_TEST_COMPLETE {outcome.status}")
        _deliver(on_result, outcome)
    return result


def _deliver(
    on_result: Callable[[DiagnosticResult], object] | None, result: DiagnosticResult
) -> None:
    if on_result is not None:
        on_result(result)
