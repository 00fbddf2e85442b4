"""The guide's audio devices (5.14) and readiness (5.13) on ``ExotelWebClient``: real
devices on the suite's PulseAudio, calls through the suite's Kamailio, and a machine
without any audio device."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from exotel_voice import (
    Call,
    CallEvent,
    ConfigurationError,
    EndCause,
    Ended,
    ExotelWebClient,
    Phone,
    Tone,
)
from exotel_voice.audio import process_audio_devices
from exotel_voice.webclient.loop_thread import LoopThread
from sipmedia import (
    SAMPLE_RATE,
    AudioDeviceEvent,
    DefaultAudioDeviceChanged,
    DeviceKind,
    InputDevice,
    rms_dbfs,
    tone_ratio,
)
from tests.client.accounts import account
from tests.client.test_audio import Feeder
from tests.client.test_webclient import sip_account_info, wait_until
from tests.kamailio.server import KamailioServer
from tests.media.servers import PulseServer, pulse

__all__ = ["pulse"]  # the fixture, imported for pytest

pytestmark = [pytest.mark.kamailio]

FACADE_USER = "erin"
CALLER_USER = "frank"


class Caller:
    """frank's async Phone on a loop thread of its own, sending a 900 Hz tone."""

    def __init__(self, kamailio: KamailioServer) -> None:
        self.kamailio = kamailio
        self.thread = LoopThread("caller")
        self.phone = Phone(account(kamailio, CALLER_USER), source=lambda: Tone(900, level=0.5))
        self.call: Call | None = None
        self.events: list[CallEvent] = []
        self._tasks: list[asyncio.Future[None]] = []
        self._stop: asyncio.Event | None = None
        ready = threading.Event()

        async def main() -> None:
            # The phone is opened and closed in this one task (anyio's task groups).
            self._stop = asyncio.Event()
            async with self.phone:
                ready.set()
                await self._stop.wait()

        self._tasks.append(self.thread.submit(main()))  # type: ignore[arg-type]
        assert ready.wait(10), "frank did not register"

    def dial(self) -> Call:
        async def dial() -> Call:
            call = await self.phone.call(self.kamailio.aor(FACADE_USER))

            async def record() -> None:
                async for event in call.events():
                    self.events.append(event)

            self._tasks.append(asyncio.ensure_future(record()))
            return call

        self.events = []
        self.call = self.thread.run(dial(), timeout=10)
        return self.call

    def hears(self, seconds: float = 0.3) -> Any:
        assert self.call is not None
        return self.thread.run(self.call.recent_audio(seconds), timeout=5)

    def ended(self) -> Ended:
        """How the call ended (with the status code of a rejection)."""
        assert self.call is not None
        self.thread.run(self.call.wait_ended(), timeout=5)
        wait_until(lambda: any(isinstance(e, Ended) for e in self.events))
        return next(e for e in self.events if isinstance(e, Ended))

    def close(self) -> None:
        stop = self._stop
        if stop is not None:
            self.thread.call_soon(stop.set)
        try:
            self._tasks[0].result(10)  # type: ignore[call-arg]
        finally:
            self.thread.stop()


class Facade:
    """An ExotelWebClient for erin, registered, recording its callbacks."""

    def __init__(self, kamailio: KamailioServer, **extra: Any) -> None:
        self.client = ExotelWebClient()
        self.register: list[str] = []
        self.calls: list[str] = []
        self.sessions: list[str] = []
        self.client.initWebrtc(
            sip_account_info(kamailio, FACADE_USER, **extra),
            lambda state, _phone: self.register.append(state),
            lambda _call, event, _phone: self.calls.append(event),
            lambda state, _phone: self.sessions.append(state),
        )

    def start(self) -> None:
        self.client.DoRegister()
        wait_until(lambda: "registered" in self.register)

    def answer_incoming(self, caller: Caller) -> None:
        caller.dial()
        wait_until(lambda: "incoming" in self.calls)
        self.client.getCall().Answer()

    def status(self) -> str:
        got: list[str] = []
        self.client.checkClientStatus(got.append)
        return got[0]


class Outcome:
    """onSuccess / onError of a change*Device call, and the thread they ran on."""

    def __init__(self) -> None:
        self.results: list[str] = []
        self.threads: list[str] = []

    def ok(self) -> None:
        self.results.append("ok")
        self.threads.append(threading.current_thread().name)

    def error(self, message: str) -> None:
        self.results.append(f"error:{message}")
        self.threads.append(threading.current_thread().name)


def captured(mic: InputDevice) -> Any:
    return mic.read(int(mic.buffered_seconds * SAMPLE_RATE))[-SAMPLE_RATE // 4 :]


def heard_tone(sample: Any, frequency: float) -> bool:
    return tone_ratio(sample, frequency) > 0.8


def eventually(check: Callable[[], bool], timeout: float = 6.0) -> None:
    """``check()`` becomes true (audio takes a moment to flow)."""
    wait_until(check, timeout)


@pytest.fixture
def rooms(pulse: PulseServer) -> Iterator[dict[str, InputDevice]]:
    """Two rooms with a tone each (600 Hz, 1400 Hz) whose monitors are microphones, and
    two speakers (desk, headset) whose monitors are opened to hear what they play."""
    for sink in ("room_a", "room_b", "desk", "headset"):
        pulse.add_sink(sink)
    pulse.set_default_source("room_a.monitor")
    pulse.set_default_sink("desk")
    devices = process_audio_devices()
    with (
        devices.open_output("pulse:sink:room_a") as room_a,
        devices.open_output("pulse:sink:room_b") as room_b,
        devices.open_input("pulse:source:desk.monitor", buffer_seconds=1.0) as desk,
        devices.open_input("pulse:source:headset.monitor", buffer_seconds=1.0) as headset,
        Feeder((room_a, 600), (room_b, 1400)),
    ):
        yield {"desk": desk, "headset": headset}


def test_change_devices_before_and_during_a_call(
    kamailio: KamailioServer, rooms: dict[str, InputDevice]
) -> None:
    facade = Facade(kamailio)
    client = facade.client
    caller: Caller | None = None
    try:
        unknown = Outcome()
        client.changeAudioInputDevice("pulse:source:nowhere", unknown.ok, unknown.error)
        client.changeAudioOutputDevice("pulse:source:room_a.monitor", unknown.ok, unknown.error)
        assert unknown.results == ["error:deviceIdNotFound", "error:deviceIdNotFound"]

        # before any call: remembered for the next call
        before = Outcome()
        client.changeAudioInputDevice("pulse:source:room_b.monitor", before.ok, before.error)
        client.changeAudioOutputDevice("pulse:sink:headset", before.ok, before.error)
        assert before.results == ["ok", "ok"]
        assert set(before.threads) == {"exotel-voice"}  # the client's loop thread
        assert facade.status() == "unregistered"  # the chosen devices exist

        facade.start()
        caller = Caller(kamailio)
        facade.answer_incoming(caller)
        wait_until(lambda: "connected" in facade.calls)
        eventually(lambda: heard_tone(caller.hears(), 1400))  # room_b's microphone
        eventually(lambda: heard_tone(captured(rooms["headset"]), 900))  # on the headset

        # during the call: switched now, no renegotiation
        during = Outcome()

        def raising_success() -> None:
            during.ok()
            raise RuntimeError("an app bug")  # logged, not raised into the SDK

        client.changeAudioInputDevice("pulse:source:room_a.monitor", raising_success)
        client.changeAudioOutputDevice("pulse:sink:desk", during.ok, during.error)
        same = Outcome()
        client.changeAudioOutputDevice("pulse:sink:desk", same.ok, same.error)  # no-op
        client.changeAudioOutputDevice("pulse:sink:desk", same.ok, same.error, True)  # reopen
        assert during.results == ["ok", "ok"] and same.results == ["ok", "ok"]
        eventually(lambda: heard_tone(caller.hears(), 600))
        captured(rooms["desk"])
        eventually(lambda: heard_tone(captured(rooms["desk"]), 900))
        time.sleep(0.2)
        captured(rooms["headset"])
        time.sleep(0.3)
        assert rms_dbfs(captured(rooms["headset"])) < -60  # not on the headset any more
        assert facade.status() == "registered"

        client.getCall().Hangup()
        wait_until(lambda: "callEnded" in facade.calls)
    finally:
        client.close()
        if caller is not None:
            caller.close()


def test_default_device_changes_are_followed_unless_the_app_handles_them(
    kamailio: KamailioServer, pulse: PulseServer, rooms: dict[str, InputDevice]
) -> None:
    facade = Facade(kamailio)
    client = facade.client
    inputs: list[str] = []
    outputs: list[str] = []
    events: list[AudioDeviceEvent] = []
    caller: Caller | None = None
    try:
        client.registerAudioDeviceChangeCallback(inputs.append, outputs.append, interval=0.2)
        watcher = client._devices._watcher
        facade.start()
        client.DoRegister()  # again: still one watcher (the JS SDK added one per DoRegister)
        client.registerAudioDeviceChangeCallback(inputs.append, outputs.append, interval=0.2)
        assert client._devices._watcher is watcher and client._devices.watching

        caller = Caller(kamailio)
        facade.answer_incoming(caller)
        wait_until(lambda: "connected" in facade.calls)
        eventually(lambda: heard_tone(caller.hears(), 600))  # "auto": the default mic
        eventually(lambda: heard_tone(captured(rooms["desk"]), 900))  # and speaker

        # the system's defaults change: the call follows, the app is told the new ids
        pulse.set_default_source("room_b.monitor")
        pulse.set_default_sink("headset")
        wait_until(lambda: inputs == ["pulse:source:room_b.monitor"])
        wait_until(lambda: outputs == ["pulse:sink:headset"])
        eventually(lambda: heard_tone(caller.hears(), 1400))
        eventually(lambda: heard_tone(captured(rooms["headset"]), 900))
        devices = client._devices
        assert devices.input_device_id == "pulse:source:room_b.monitor"  # the SDK moved
        assert devices.output_device_id == "pulse:sink:headset"

        # with onDeviceChangeCallback the app decides: events reach it, the SDK switches
        # nothing (PulseAudio itself may move a stream that was on the old default: the
        # guide's "OS may have changed the default device at OS level")
        client.registerAudioDeviceChangeCallback(inputs.append, outputs.append, events.append)
        pulse.set_default_source("room_a.monitor")
        wait_until(lambda: any(isinstance(e, DefaultAudioDeviceChanged) for e in events))
        assert events == [
            DefaultAudioDeviceChanged(
                DeviceKind.INPUT, "pulse:source:room_a.monitor", "pulse:source:room_b.monitor"
            )
        ]
        time.sleep(0.6)
        assert devices.input_device_id == "pulse:source:room_b.monitor"
        assert inputs == ["pulse:source:room_b.monitor"]

        client.unregisterAudioDeviceChangeCallback()
        assert not client._devices.watching
    finally:
        client.close()
        if caller is not None:
            caller.close()


def test_without_audio_devices_calls_use_silence_and_required_devices_are_denied(
    kamailio: KamailioServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PULSE_SERVER", f"unix:{tmp_path / 'no-server'}")  # no sound server
    with (
        ExotelWebClient() as refused,
        pytest.raises(ConfigurationError, match=r"sipAccountInfo\['audioSource'\]"),
    ):
        refused.initWebrtc(
            sip_account_info(kamailio, FACADE_USER, audioSource="tone:5"), print, print
        )
    facade = Facade(kamailio)
    client = facade.client
    caller: Caller | None = None
    try:
        with pytest.raises(ConfigurationError, match="sink"):
            client.setAudioSink(42)
        listed = client.getAudioDevices()
        assert [d for d in listed["inputs"] if d["deviceId"].startswith("pulse:")] == []
        assert facade.status() == "unregistered"  # "auto" needs no device
        facade.start()

        # the default ("auto") answers with silence
        caller = Caller(kamailio)
        facade.answer_incoming(caller)
        wait_until(lambda: "connected" in facade.calls)
        time.sleep(0.6)
        assert caller.hears().size > 0 and rms_dbfs(caller.hears()) < -60
        client.getCall().Hangup()
        wait_until(lambda: "callEnded" in facade.calls)
        caller.ended()

        # a configuration that needs a microphone: not ready, and a call is rejected
        client.setAudioSource("pulse:source:gone.monitor")
        assert facade.status() == "media_permission_denied"
        facade.calls.clear()
        facade.answer_incoming(caller)
        wait_until(lambda: "callEnded" in facade.calls)
        assert facade.sessions == ["media_permission_denied"]
        ended = caller.ended()
        assert ended.cause is EndCause.REMOTE_REJECT and ended.status_code == 480
        assert "connected" not in facade.calls

        client.setAudioSource("silence")
        assert facade.status() == "registered"
    finally:
        client.close()
        if caller is not None:
            caller.close()
