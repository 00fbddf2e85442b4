"""Device and network diagnostics (guide 5.11): the Pythonic functions and the guide's
``ExotelWebClient`` methods, against real devices on the suite's PulseAudio, the suite's
coturn (STUN/TURN) and the suite's Kamailio (a real WebSocket and registration)."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from exotel_voice import ExotelWebClient, IceServer, Phone
from exotel_voice.audio import process_audio_devices
from exotel_voice.diagnostics import (
    NETWORK_KEYS,
    DiagnosticResult,
    TroubleshootingReport,
    run_network_diagnostics,
    runtime_version,
)
from sipmedia import SAMPLE_RATE, measure_level, tone_ratio
from tests.client.accounts import account
from tests.client.test_audio import Feeder
from tests.client.test_webclient import sip_account_info, wait_until
from tests.kamailio.server import KamailioServer
from tests.media.servers import PulseServer, TurnServer, pulse, turn

__all__ = ["pulse", "turn"]  # the fixtures, imported for pytest

DIAGNOSED_USER = "erin"


class Diagnostics:
    """The two diagnostics callbacks of the guide, recording what they get and where."""

    def __init__(self) -> None:
        self.values: list[tuple[str, Any, str]] = []
        self.report = ""
        self.report_calls = 0
        self.threads: set[str] = set()
        self._lock = threading.Lock()

    def on_report(self, status: str, text: str) -> None:
        assert status == "troubleShootReport"
        with self._lock:
            self.report = text
            self.report_calls += 1

    def on_key_value(self, key: str, status: Any, description: str) -> None:
        with self._lock:
            self.values.append((key, status, description))
            self.threads.add(threading.current_thread().name)

    def of(self, key: str) -> list[tuple[Any, str]]:
        with self._lock:
            return [(s, d) for k, s, d in self.values if k == key]

    def has_all(self, keys: tuple[str, ...]) -> bool:
        return all(self.of(key) for key in keys)


def closed_port() -> int:
    """A loopback TCP port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rings(pcm: Any) -> int:
    """How many 100 ms blocks of ``pcm`` are mostly the ring (440 + 480 Hz)."""
    size = SAMPLE_RATE // 10
    blocks = [pcm[i : i + size] for i in range(0, pcm.size - size + 1, size)]
    return sum(
        1
        for block in blocks
        if measure_level(block).level > 0.5
        and tone_ratio(block, 440) > 0.3
        and tone_ratio(block, 480) > 0.3
    )


def no_audio_server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PULSE_SERVER", f"unix:{tmp_path / 'no-server'}")


# --------------------------------------------------------------------------- the report


def test_the_report_has_the_js_sdk_line_format_and_is_saved(tmp_path: Path) -> None:
    texts: list[str] = []
    stamps = iter(datetime.datetime(2024, 5, 6, 7, 8, s) for s in range(10))
    report = TroubleshootingReport(texts.append, clock=lambda: next(stamps))
    report.info("NETWORK EVENT =  UDP_TEST_STARTING")
    report.warning("Speaker device testing failed")
    expected = (
        "[2024-05-06 07:08:00] [INFO] TROUBLESHOOTER_FSM_REPORT: "
        "NETWORK EVENT =  UDP_TEST_STARTING\n"
        "[2024-05-06 07:08:01] [WARNING] TROUBLESHOOTER_FSM_REPORT: "
        "Speaker device testing failed\n"
    )
    assert report.text == expected
    assert texts == [expected.splitlines(keepends=True)[0], expected]  # the whole text each time
    assert report.save(tmp_path / "report.txt").read_text() == expected
    saved = report.save(tmp_path)
    assert saved.parent == tmp_path and saved.name.startswith("troubleshooting_report_")
    assert saved.read_text() == expected
    report.clear()
    assert report.text == ""
    assert runtime_version().startswith("CPython/3.") and " exotel-voice/" in runtime_version()


# --------------------------------------------------------------------------- network


@pytest.mark.kamailio
def test_network_diagnostics_open_a_websocket_and_gather_real_candidates(
    kamailio: KamailioServer, turn: TurnServer
) -> None:
    servers = (
        IceServer(turn.stun_url),
        IceServer(turn.turn_url("udp"), turn.username, turn.password),
    )
    reachable = account(kamailio, DIAGNOSED_USER, ice_servers=servers)
    unreachable = dataclasses.replace(
        reachable, server=f"ws://127.0.0.1:{closed_port()}/ws", ice_servers=()
    )

    async def run() -> tuple[Any, Any, Any, list[DiagnosticResult], str]:
        seen: list[DiagnosticResult] = []
        report = TroubleshootingReport()
        alone = await run_network_diagnostics(reachable, report=report, on_result=seen.append)
        async with Phone(reachable) as phone:
            registered = await run_network_diagnostics(reachable, phone=phone)
        down = await run_network_diagnostics(unreachable, timeout=2)
        return alone, registered, down, seen, report.text

    alone, registered, down, seen, text = asyncio.run(run())

    assert alone.result("wss") == DiagnosticResult("wss", "connected", reachable.server)
    assert alone.result("userReg") == DiagnosticResult("userReg", "unregistered", "erin")
    assert registered.result("userReg") == DiagnosticResult("userReg", "registered", "erin")
    assert alone.result("udp").status == "connected"
    for key in ("host", "srflx", "relay"):
        result = alone.result(key)
        assert result.status == "connected", (key, alone.ice)
        assert result.description.startswith("candidate:") and f" typ {key}" in result.description
    assert alone.result("tcp") == DiagnosticResult("tcp", "disconnected", "")  # no ICE-TCP
    assert [r.key for r in seen] == list(NETWORK_KEYS)  # reported as they came, in order
    assert "TROUBLESHOOTER_FSM_REPORT: NETWORK EVENT =  WSS_TEST_COMPLETE connected" in text
    assert "NETWORK EVENT =  REFLEX_CON_TEST_COMPLETE connected" in text
    assert "Gathered candidate candidate:" in text

    assert down.result("wss") == DiagnosticResult("wss", "disconnected", unreachable.server)
    assert down.result("srflx").status == "disconnected"  # no STUN server configured
    assert down.result("host").status == "connected"


@pytest.mark.kamailio
def test_facade_network_diagnostics_and_a_safe_close(
    kamailio: KamailioServer, turn: TurnServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    no_audio_server(monkeypatch, tmp_path)
    got = Diagnostics()
    client = ExotelWebClient()
    down = ExotelWebClient()
    registered: list[str] = []
    try:
        client.initWebrtc(
            sip_account_info(kamailio, DIAGNOSED_USER, iceServers=[turn.stun_url]),
            lambda state, _phone: registered.append(state),
            print,
        )
        client.initDiagnostics(got.on_report, got.on_key_value)
        assert got.of("browserVersion") == [("ready", runtime_version())]
        assert got.of("micInfo") == [("no device", "this machine has no audio input device")]
        assert got.of("speakerInfo") == [("no device", "this machine has no audio output device")]
        client.startMicDiagnosticsTest()  # no microphone: reported, nothing raised
        wait_until(lambda: got.of("mic") == [(0.0, "mic error")])
        assert "DEVICE EVENT =  MICROPHONE_TEST_FAIL" in got.report

        client.DoRegister()
        wait_until(lambda: "registered" in registered)
        client.startNetworkDiagnostics()
        wait_until(lambda: got.has_all(NETWORK_KEYS))
        url = f"wss://127.0.0.1:{kamailio.wss_port}/wss"
        assert got.of("wss") == [("connected", url)]
        assert got.of("userReg") == [("registered", "erin")]
        assert got.of("srflx")[0][0] == "connected" and "typ srflx" in got.of("srflx")[0][1]
        assert got.of("host")[0][0] == "connected"
        assert got.of("tcp") == [("disconnected", "")]
        assert got.of("relay") == [("disconnected", "")]  # no TURN server configured
        assert got.threads == {"exotel-voice"}  # the client's loop thread
        assert "NETWORK EVENT =  WSS_TEST_COMPLETE connected" in got.report
        saved = client.saveDiagnosticsReport(tmp_path / "report.txt")
        assert saved.read_text() == got.report

        # an unreachable server: "disconnected", and not registered
        other = Diagnostics()
        down.initWebrtc(
            sip_account_info(kamailio, DIAGNOSED_USER, domain=f"127.0.0.1:{closed_port()}"),
            print,
            print,
        )
        down.initDiagnostics(other.on_report, other.on_key_value)
        down.startNetworkDiagnostics()
        wait_until(lambda: other.has_all(NETWORK_KEYS))
        assert other.of("wss")[0][0] == "disconnected"
        assert other.of("userReg") == [("unregistered", "erin")]

        # closeDiagnostics is safe: later calls only log (the JS SDK threw)
        client.closeDiagnostics()
        calls = (len(got.values), got.report_calls)
        client.startNetworkDiagnostics()
        client.startSpeakerDiagnosticsTest()
        client.stopSpeakerDiagnosticsTest("yes")
        client.stopNetworkDiagnostics()
        time.sleep(0.2)
        assert (len(got.values), got.report_calls) == calls
    finally:
        client.close()
        down.close()


# --------------------------------------------------------------------------- devices


def test_facade_speaker_and_mic_tests_on_real_devices(pulse: PulseServer) -> None:
    pulse.add_sink("desk_speaker", "Desk_Speaker")
    pulse.add_sink("room", "Room")
    pulse.set_default_sink("desk_speaker")
    pulse.set_default_source("room.monitor")
    devices = process_audio_devices()
    got = Diagnostics()
    client = ExotelWebClient()  # devices need no account
    try:
        with (
            devices.open_input("pulse:source:desk_speaker.monitor", buffer_seconds=1.0) as ear,
            devices.open_output("pulse:sink:room") as room,
        ):
            client.initDiagnostics(got.on_report, got.on_key_value)
            assert got.of("speakerInfo") == [("Desk_Speaker", "speakerInfo")]
            assert got.of("micInfo") == [("Monitor of Room", "micInfo")]
            assert "Device: audiooutput, label: Desk_Speaker, id:pulse:sink:desk_speaker" in (
                got.report
            )

            # the speaker test rings the default output: its monitor hears the ring
            client.startSpeakerDiagnosticsTest()
            wait_until(lambda: len(got.of("speaker")) >= 12)
            heard = ear.read(int(ear.buffered_seconds * SAMPLE_RATE))  # the last second
            client.stopSpeakerDiagnosticsTest("yes")
            levels = got.of("speaker")
            assert {d for _, d in levels} == {"speaker ok"}
            assert all(isinstance(v, float) and 0.0 <= v <= 1.0 for v, _ in levels)
            assert min(v for v, _ in levels[2:]) > 0.6  # the ring's first 2 s ring
            assert rings(heard) >= 3, "the speaker's monitor did not hear the ring"
            count = len(got.of("speaker"))
            time.sleep(0.2)
            assert len(got.of("speaker")) == count  # stopped
            assert "DEVICE EVENT =  SPEAKER_TEST_PASS" in got.report

            # the mic test meters the default input: a tone played into the room
            with Feeder((room, 800)):
                client.startMicDiagnosticsTest()
                wait_until(lambda: len([v for v, _ in got.of("mic") if v > 0.7]) >= 5)
                client.stopMicDiagnosticsTest("no")
            assert {d for _, d in got.of("mic")} == {"mic ok"}
            assert "DEVICE EVENT =  MICROPHONE_TEST_FAIL" in got.report
            client.startMicDiagnosticsTest()
            client.stopMicDiagnosticsTest()  # no answer: no PASS or FAIL
            assert "MICROPHONE_TEST_PASS" not in got.report
            assert got.report.count("MICROPHONE_TEST_FAIL") == 1

            # a chosen output that is not there: "speaker error", FAIL in the report
            client.setAudioSink("pulse:sink:gone")
            client.startSpeakerDiagnosticsTest()
            wait_until(lambda: (0.0, "speaker error") in got.of("speaker"))
            assert got.report.count("SPEAKER_TEST_FAIL") == 1
    finally:
        client.close()
