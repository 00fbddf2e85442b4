"""The facade's diagnostics (guide section 5.11) over ``exotel_voice.diagnostics``.

``ExotelWebClient`` delegates here. Callbacks run on the client's loop thread; an
exception in one is logged, not raised. Differences from the JS SDK 2.0.5 (the guide
wins, its bugs are not copied):

- ``"wss"`` really opens a WebSocket to the configured server (2.0.5 reported
  "connected" on every ICE state change without ever connecting).
- ICE gathering is bounded and uses the configured STUN/TURN servers (``iceServers``);
  ``relay`` is reported too.
- ``startNetworkDiagnostics`` sends no REGISTER; ``userReg`` is the real state.
- ``closeDiagnostics`` stops what runs, and nothing crashes afterwards (2.0.5 threw on
  the next report line); ``start*`` after it, or before ``initDiagnostics``, only log.
- Levels (``"speaker"``/``"mic"``) are floats from 0 (silence, -60 dBFS and below) to 1
  (full scale), one per 50 ms block; 2.0.5 sent a 0-255 analyser average.
- ``"speaker error"``/``"mic error"`` (level 0.0) are reported when the device cannot be
  opened or stops working (2.0.5's error path was unreachable).
"""

from __future__ import annotations

import asyncio
import logging
import platform
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from exotel_voice.audio import process_audio_devices
from exotel_voice.diagnostics import (
    DiagnosticResult,
    MicCheck,
    SpeakerCheck,
    TroubleshootingReport,
    device_info,
    run_network_diagnostics,
    runtime_version,
)
from exotel_voice.errors import MediaUnavailable
from sipmedia import AudioLevel, DeviceKind

if TYPE_CHECKING:
    from exotel_voice.webclient.client import ExotelWebClient

__all__ = ["DiagnosticsControl", "REPORT_STATUS"]

logger = logging.getLogger(__name__)

REPORT_STATUS = "troubleShootReport"
"""The first argument of every ``diagnosticsReportCallback`` call (the JS SDK's)."""

ReportCallback = Callable[[str, str], object]
KeyValueCallback = Callable[[str, object, str], object]


class _Test:
    """A running speaker or mic test: its check and the task running it."""

    def __init__(self, check: SpeakerCheck | MicCheck, task: asyncio.Task[None]) -> None:
        self.check = check
        self.task = task


class DiagnosticsControl:
    """One client's diagnostics session: callbacks, report, running tests."""

    def __init__(self, client: ExotelWebClient) -> None:
        self._client = client
        self._on_report: ReportCallback | None = None
        self._on_key_value: KeyValueCallback | None = None
        self.report = TroubleshootingReport(self._report_changed)
        """The troubleshooting log (kept after ``closeDiagnostics``, for saving)."""
        self._speaker: _Test | None = None
        self._mic: _Test | None = None
        self._network: asyncio.Task[None] | None = None

    @property
    def active(self) -> bool:
        """Whether ``initDiagnostics`` was called (and not closed since)."""
        return self._on_key_value is not None

    # ------------------------------------------------------------------ callbacks

    def _report_changed(self, text: str) -> None:
        self._client._safely(self._on_report, REPORT_STATUS, text)

    def _key_value(self, result: DiagnosticResult) -> None:
        self._client._safely(self._on_key_value, result.key, result.status, result.description)

    def _ready(self, what: str) -> bool:
        if self.active:
            return True
        logger.warning("%s: call initDiagnostics(...) first; nothing done", what)
        return False

    # ------------------------------------------------------------------ init / close

    async def init(self, on_report: ReportCallback, on_key_value: KeyValueCallback) -> None:
        """Keep the callbacks, start a new report, report the runtime and the devices."""
        self._on_report, self._on_key_value = on_report, on_key_value
        self.report.clear()
        version = runtime_version()
        self.report.info(f"Browser: {version}, Platform: {platform.platform()}")
        self._key_value(DiagnosticResult("browserVersion", "ready", version))
        listed = await asyncio.to_thread(process_audio_devices().list)
        devices = self._client._devices
        for kind, chosen in (
            (DeviceKind.INPUT, devices.input_device_id),
            (DeviceKind.OUTPUT, devices.output_device_id),
        ):
            info = device_info(listed, kind, chosen)
            label = "audioinput" if kind is DeviceKind.INPUT else "audiooutput"
            if info.status == "no device":
                self.report.warning(f"Device: {label}, {info.description}")
            else:
                device_id = chosen or listed.default(kind)
                self.report.info(f"Device: {label}, label: {info.status}, id:{device_id}")
            self._key_value(info)

    async def close(self) -> None:
        """Stop everything running and forget the callbacks (later calls only log)."""
        await self.stop_speaker(None)
        await self.stop_mic(None)
        await self.stop_network()
        self._on_report = self._on_key_value = None

    # ------------------------------------------------------------------ speaker / mic

    async def start_speaker(self) -> None:
        """Ring the output device, reporting ``("speaker", level, "speaker ok")``."""
        if not self._ready("startSpeakerDiagnosticsTest"):
            return
        await self.stop_speaker(None)
        check = SpeakerCheck(self._client._devices.output_device_id)
        self.report.info("Speaker device testing started")
        self._speaker = _Test(check, asyncio.ensure_future(self._run(check, "speaker")))

    async def stop_speaker(self, response: str | None) -> None:
        """Stop ringing; ``"yes"``/``"no"`` logs PASS/FAIL, anything else nothing."""
        test, self._speaker = self._speaker, None
        await self._stop(test)
        answer = str(response).strip().lower() if response is not None else None
        if answer == "yes":
            self.report.info("Speaker device testing is successful")
            self.report.info("DEVICE EVENT =  SPEAKER_TEST_PASS")
        elif answer == "no":
            self.report.warning("Speaker device testing failed")
            self.report.info("DEVICE EVENT =  SPEAKER_TEST_FAIL")

    async def start_mic(self) -> None:
        """Meter the input device, reporting ``("mic", level, "mic ok")``."""
        if not self._ready("startMicDiagnosticsTest"):
            return
        await self.stop_mic(None)
        check = MicCheck(self._client._devices.input_device_id)
        self.report.info("Microphone device testing started")
        self._mic = _Test(check, asyncio.ensure_future(self._run(check, "mic")))

    async def stop_mic(self, response: str | None) -> None:
        """Stop metering; ``"yes"``/``"no"`` logs PASS/FAIL, anything else nothing."""
        test, self._mic = self._mic, None
        await self._stop(test)
        answer = str(response).strip().lower() if response is not None else None
        if answer == "yes":
            self.report.info("Microphone device testing is successful")
            self.report.info("DEVICE EVENT =  MICROPHONE_TEST_PASS")
        elif answer == "no":
            self.report.warning("Microphone device testing failed")
            self.report.info("DEVICE EVENT =  MICROPHONE_TEST_FAIL")

    async def _run(self, check: SpeakerCheck | MicCheck, key: str) -> None:
        event = "SPEAKER" if key == "speaker" else "MICROPHONE"

        def on_level(level: AudioLevel) -> None:
            self._key_value(DiagnosticResult(key, level.level, f"{key} ok"))

        try:
            await check.run(on_level)
        except MediaUnavailable as exc:
            self._key_value(DiagnosticResult(key, 0.0, f"{key} error"))
            what = "Speaker" if key == "speaker" else "Microphone"
            self.report.warning(f"{what} device testing failed: {exc}")
            self.report.info(f"DEVICE EVENT =  {event}_TEST_FAIL")
        except Exception:
            logger.exception("the %s test failed", key)
            self._key_value(DiagnosticResult(key, 0.0, f"{key} error"))
        else:
            if check.device_name is not None:
                self.report.info(f"{key} test stopped on {check.device_name}")

    @staticmethod
    async def _stop(test: _Test | None) -> None:
        if test is None:
            return
        test.check.stop()
        try:
            await asyncio.wait_for(asyncio.shield(test.task), 2.0)
        except TimeoutError:
            test.task.cancel()
            await asyncio.gather(test.task, return_exceptions=True)

    # ------------------------------------------------------------------ network

    async def start_network(self) -> None:
        """Run the network diagnostics in the background, reporting each key."""
        if not self._ready("startNetworkDiagnostics"):
            return
        await self.stop_network()
        self._network = asyncio.ensure_future(self._run_network())

    async def _run_network(self) -> None:
        client = self._client
        account = client._account
        self.report.info("network diagnostics started")
        if account is None:
            self.report.warning("no server to test: initWebrtc(...) was not called")
            self._key_value(DiagnosticResult("wss", "disconnected", ""))
            self._key_value(DiagnosticResult("userReg", "unregistered", ""))
            return
        try:
            # userReg names the digest user: the guide's userName, as the register
            # callbacks do.
            await run_network_diagnostics(
                account, phone=client._phone, report=self.report, on_result=self._key_value
            )
        except Exception:
            logger.exception("network diagnostics failed")
            self.report.warning("network diagnostics failed")
            return
        self.report.info("network diagnostics complete")

    async def stop_network(self) -> None:
        """Stop the network diagnostics if they still run."""
        task, self._network = self._network, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            self.report.info("network diagnostics stopped")

    def save(self, path: str | Path) -> Path:
        """Write the troubleshooting report to ``path`` (a file, or a directory)."""
        return self.report.save(path)
