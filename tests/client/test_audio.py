"""Audio choices (``AudioConfig``, ``CallAudio``): files, tones, program streams and real
devices on the suite's PulseAudio, calls through the suite's Kamailio, and a machine
without any audio device (calls still work, with silence)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
import pytest

from exotel_voice import Account, Call, CallStatus, ConfigurationError, MediaUnavailable, Phone
from exotel_voice.audio import (
    AudioConfig,
    CallAudio,
    missing_audio_device,
    open_call_audio,
    process_audio_devices,
)
from sipmedia import (
    FRAME_SAMPLES,
    SAMPLE_RATE,
    FileRecorder,
    FileSource,
    InputDevice,
    OutputDevice,
    Pcm,
    PcmWriter,
    Tone,
    dominant_frequency,
    rms_dbfs,
    tone_ratio,
)
from tests.client.accounts import account
from tests.kamailio.server import KamailioServer
from tests.media.servers import PulseServer, pulse

__all__ = ["pulse"]  # the fixture, imported for pytest


class Feeder:
    """Plays a tone into each speaker in real time (20 ms blocks) from a thread."""

    def __init__(self, *playing: tuple[OutputDevice, float]) -> None:
        self._playing = [(speaker, Tone(freq, level=0.5)) for speaker, freq in playing]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        start = time.monotonic()
        index = 0
        while not self._stop.is_set():
            for speaker, tone in self._playing:
                speaker.write(tone.read(FRAME_SAMPLES))
            index += 1
            delay = start + index * 0.02 - time.monotonic()
            if delay > 0:
                time.sleep(delay)

    def __enter__(self) -> Feeder:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(2)


def no_audio_server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """This process (and its children) see no sound server."""
    monkeypatch.setenv("PULSE_SERVER", f"unix:{tmp_path / 'no-server'}")


def has_sound_cards() -> bool:
    try:
        cards = Path("/proc/asound/cards").read_text()
    except OSError:
        return False
    return "no soundcards" not in cards and bool(cards.strip())


def tail(pcm: Pcm, seconds: float = 0.25) -> Pcm:
    return pcm[-int(seconds * SAMPLE_RATE) :]


def drain(mic: InputDevice) -> Pcm:
    """Everything ``mic`` captured and nobody read yet."""
    return mic.read(int(mic.buffered_seconds * SAMPLE_RATE))


async def hears(
    listen: Callable[[], Awaitable[Pcm]], frequency: float, timeout: float = 6.0
) -> None:
    """``listen()`` eventually gives mostly ``frequency`` (audio takes a moment to flow,
    more on a loaded machine)."""
    deadline = time.monotonic() + timeout
    while True:
        sample = await listen()
        if sample.size and tone_ratio(sample, frequency) > 0.8:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"no {frequency} Hz; dominant: {dominant_frequency(sample)} Hz")
        await asyncio.sleep(0.1)


def from_monitor(mic: InputDevice) -> Callable[[], Awaitable[Pcm]]:
    """What ``mic`` captured in the last 0.25 s (older audio is dropped)."""

    async def listen() -> Pcm:
        return tail(drain(mic), 0.25)

    return listen


@pytest.fixture
def recording(tmp_path: Path) -> Path:
    """A 700 Hz wav file, 1 s."""
    path = tmp_path / "prompt.wav"
    with FileRecorder(path) as recorder:
        recorder.write(Tone(700).read(SAMPLE_RATE))
    return path


# --------------------------------------------------------------------------- choices


def test_choices_are_checked_when_made_and_errors_name_the_field(
    tmp_path: Path, recording: Path
) -> None:
    default = AudioConfig()
    assert (default.source, default.sink) == ("auto", "auto")
    assert default.uses_input_device and default.uses_output_device
    assert not (default.needs_input_device or default.needs_output_device)

    device = AudioConfig(source="device", sink="pulse:sink:desk")
    assert device.needs_input_device and device.input_device_id is None
    assert device.needs_output_device and device.output_device_id == "pulse:sink:desk"
    assert AudioConfig(source="portaudio:ALSA:default").input_device_id == "portaudio:ALSA:default"

    program = AudioConfig(source=PcmWriter(), sink=print)
    assert not (program.uses_input_device or program.uses_output_device)
    assert not AudioConfig(source="tone:440", sink=None).uses_output_device
    assert not AudioConfig(source=str(recording), sink=tmp_path / "x.ogg").uses_input_device

    cases: list[tuple[dict[str, object], str, str]] = [
        ({"source": "tone:5"}, "source", "tone"),
        ({"source": "tone:abc"}, "source", "tone"),
        ({"source": "default"}, "source", "no such audio file 'default'"),
        ({"source": tmp_path / "missing.wav"}, "source", "no such audio file"),
        ({"source": 42}, "source", "not an audio source"),
        ({"sink": "out.xyz"}, "sink", "cannot record"),
        ({"sink": str(tmp_path / "no" / "dir.wav")}, "sink", "no directory"),
        ({"sink": 42}, "sink", "not an audio sink"),
        ({"sink": FileRecorder}, "sink", "not an audio sink"),
    ]
    for kwargs, field, message in cases:
        with pytest.raises(ConfigurationError, match=message) as info:
            AudioConfig(**kwargs)  # type: ignore[arg-type]
        assert info.value.field == field, kwargs

    with pytest.raises(ConfigurationError) as named:
        AudioConfig.parse("tone:1", "auto", names=("sipAccountInfo['audioSource']", "x"))
    assert named.value.field == "sipAccountInfo['audioSource']"

    moved = default.with_input_device("pulse:source:a").with_output_device(None)
    assert (moved.source, moved.sink) == ("pulse:source:a", "device")
    assert moved == AudioConfig("pulse:source:a", "device")
    with pytest.raises(ConfigurationError, match="not both"):
        Phone(
            Account(user="u", password="p", domain="example.test", server="ws://127.0.0.1:9/"),
            source=lambda: Tone(440),
            audio=AudioConfig(),
        )


def test_files_tones_program_streams_and_callbacks_need_no_device(
    tmp_path: Path, recording: Path
) -> None:
    # a file is played from its start in every call; {call_id} names each recording
    config = AudioConfig(source=recording, sink=str(tmp_path / "call-{call_id}.wav"))
    for call_id in ("first@host", "second/../x"):
        audio = open_call_audio(config, call_id=call_id)
        played = audio.read(SAMPLE_RATE // 4)
        assert tone_ratio(played, 700) > 0.9, dominant_frequency(played)
        for _ in range(10):
            audio(Tone(500).read(FRAME_SAMPLES))
        audio.close()
        audio.close()  # idempotent
        assert audio.read(100).max() == 0  # closed: silence
    first = FileSource(tmp_path / "call-first@host.wav")
    assert tone_ratio(first.read(FRAME_SAMPLES * 10), 500) > 0.9
    assert (tmp_path / "call-second_.._x.wav").is_file()  # no path tricks from a Call-ID

    # without a call id yet (an outgoing call), the recording starts at attach()
    late = open_call_audio(config)
    late(Tone(500).read(FRAME_SAMPLES))  # before attach: nowhere
    late.attach("late")
    late(Tone(500).read(FRAME_SAMPLES))
    late.close()
    recorded = FileSource(tmp_path / "call-late.wav").read(FRAME_SAMPLES * 2)
    assert recorded[:FRAME_SAMPLES].any() and not recorded[FRAME_SAMPLES:].any()  # one chunk

    # a program stream is shared; a factory makes one source per call; a sink that
    # raises is logged, not raised
    writer = PcmWriter()
    got: list[Pcm] = []
    shared = open_call_audio(AudioConfig(source=writer, sink=got.append))
    writer.write(Tone(900).read(FRAME_SAMPLES))
    assert tone_ratio(shared.read(FRAME_SAMPLES), 900) > 0.9
    shared(Tone(300).read(FRAME_SAMPLES))
    assert len(got) == 1
    made: list[Tone] = []

    def factory() -> Tone:
        made.append(Tone(1200))
        return made[-1]

    def broken(pcm: Pcm) -> None:
        raise RuntimeError("disk full")

    for _ in range(2):
        per_call = open_call_audio(AudioConfig(source=factory, sink=broken))
        assert tone_ratio(per_call.read(FRAME_SAMPLES), 1200) > 0.9
        per_call(Tone(300).read(FRAME_SAMPLES))  # logged once, the call goes on
        per_call.close()
    assert len(made) == 2 and made[0] is not made[1]

    # an explicit source replaces the configured one; the sink still follows the config
    tone = open_call_audio(AudioConfig(source="tone:440", sink=None), source=writer)
    writer.write(Tone(1000).read(FRAME_SAMPLES))
    assert tone_ratio(tone.read(FRAME_SAMPLES), 1000) > 0.9
    tone.use_source(Tone(440))
    assert tone_ratio(tone.read(FRAME_SAMPLES * 5), 440) > 0.9
    assert (tone.input_device_id, tone.output_device_id) == (None, None)
    tone.close()


def test_without_any_audio_device_auto_is_silence_and_device_is_unavailable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    no_audio_server(monkeypatch, tmp_path)
    gone = AudioConfig(source="pulse:source:gone.monitor", sink=None)
    assert missing_audio_device(gone) == "no audio input device 'pulse:source:gone.monitor'"
    with pytest.raises(MediaUnavailable, match=r"gone\.monitor"):
        open_call_audio(gone)
    with pytest.raises(MediaUnavailable, match="pulse:sink:gone"):
        open_call_audio(AudioConfig(source="silence", sink="pulse:sink:gone"))
    assert missing_audio_device(AudioConfig()) is None  # auto never needs a device
    if has_sound_cards():
        return  # a machine with sound cards has defaults: checked above that ids still fail
    assert missing_audio_device(AudioConfig(source="device")) == (
        "this machine has no audio input device"
    )
    assert missing_audio_device(AudioConfig(source="silence", sink="device")) == (
        "this machine has no audio output device"
    )
    audio = open_call_audio(AudioConfig())
    assert (audio.input_device_id, audio.output_device_id) == (None, None)
    assert rms_dbfs(audio.read(FRAME_SAMPLES)) == float("-inf")
    audio(Tone(300).read(FRAME_SAMPLES))  # received audio goes nowhere, quietly
    audio.close()
    with pytest.raises(MediaUnavailable, match="no audio input"):
        open_call_audio(AudioConfig(source="device"))


# --------------------------------------------------------------------------- calls


async def answered(caller: Phone, callee: Phone, target: str) -> tuple[Call, Call]:
    """``caller`` calls ``callee``, which answers."""
    incoming = callee.incoming()
    waiting = asyncio.ensure_future(anext(incoming))
    await asyncio.sleep(0)
    call_out = await caller.call(target)
    call_in = await asyncio.wait_for(waiting, 5)
    await call_in.answer()
    await asyncio.wait_for(call_out.wait_connected(), 5)
    await asyncio.wait_for(call_in.wait_connected(), 5)
    return call_out, call_in


@pytest.mark.kamailio
def test_a_call_sends_from_and_plays_to_devices_and_switches_without_renegotiation(
    kamailio: KamailioServer, pulse: PulseServer
) -> None:
    for sink in ("room_a", "room_b", "frank_speaker", "frank_headset"):
        pulse.add_sink(sink)
    pulse.set_default_source("room_a.monitor")
    pulse.set_default_sink("frank_speaker")
    devices = process_audio_devices()

    async def run() -> None:
        with (
            devices.open_output("pulse:sink:room_a") as room_a,
            devices.open_output("pulse:sink:room_b") as room_b,
            devices.open_input("pulse:source:frank_speaker.monitor", buffer_seconds=1) as spk,
            devices.open_input("pulse:source:frank_headset.monitor", buffer_seconds=1) as hs,
            Feeder((room_a, 600), (room_b, 1400)),
        ):
            async with (
                Phone(account(kamailio, "erin"), audio=AudioConfig("device", None)) as erin,
                Phone(account(kamailio, "frank"), audio=AudioConfig("silence", "device")) as frank,
            ):
                call_out, call_in = await answered(erin, frank, "frank")
                assert call_out.audio is not None and call_in.audio is not None
                # "device": the defaults
                assert call_out.audio.input_device_id == "pulse:source:room_a.monitor"
                assert call_in.audio.output_device_id == "pulse:sink:frank_speaker"
                assert (call_out.audio.output_device_id, call_in.audio.input_device_id) == (
                    None,
                    None,
                )
                media = call_out.media
                assert media is not None
                track = media.outbound
                await hears(lambda: call_in.recent_audio(0.25), 600)
                await hears(from_monitor(spk), 600)  # frank's speaker plays what erin sends

                # mid-call: erin's microphone and frank's speaker change; nothing is
                # renegotiated: the same session and track go on
                await anyio.to_thread.run_sync(
                    call_out.audio.use_input_device, "pulse:source:room_b.monitor"
                )
                await anyio.to_thread.run_sync(
                    call_in.audio.use_output_device, "pulse:sink:frank_headset"
                )
                await hears(lambda: call_in.recent_audio(0.25), 1400)
                await hears(from_monitor(hs), 1400)
                assert call_out.media is media and media.outbound is track
                assert call_in.audio.output_device_id == "pulse:sink:frank_headset"
                with pytest.raises(MediaUnavailable, match="nowhere"):
                    await anyio.to_thread.run_sync(
                        call_out.audio.use_input_device, "pulse:source:nowhere"
                    )
                assert call_out.audio.input_device_id == "pulse:source:room_b.monitor"  # kept
                devices_of_call = (call_out.audio.input, call_in.audio.output)
                await call_out.hangup()
                await asyncio.wait_for(call_in.wait_ended(), 5)
                await asyncio.wait_for(call_out.wait_ended(), 5)
            assert all(d is not None and d.closed for d in devices_of_call)  # released

    asyncio.run(run())


@pytest.mark.kamailio
def test_without_audio_devices_calls_work_with_silence_and_required_devices_raise(
    kamailio: KamailioServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    no_audio_server(monkeypatch, tmp_path)

    async def run() -> None:
        async with (
            Phone(account(kamailio, "erin"), audio=AudioConfig()) as erin,
            Phone(account(kamailio, "frank"), audio=AudioConfig(source="device")) as frank,
        ):
            # placing a call that needs a microphone fails before anything is sent
            with pytest.raises(MediaUnavailable):
                await frank.call("erin")
            assert frank.calls == []

            incoming = frank.incoming()
            waiting = asyncio.ensure_future(anext(incoming))
            await asyncio.sleep(0)
            call_out = await erin.call("frank")
            call_in = await asyncio.wait_for(waiting, 5)
            with pytest.raises(MediaUnavailable):
                await call_in.answer()
            assert call_in.status is CallStatus.INCOMING  # nothing sent: still ringing
            await call_in.answer(source=Tone(1000))  # with something else to send
            await asyncio.wait_for(call_out.wait_connected(), 5)
            assert isinstance(call_out.audio, CallAudio)
            if not has_sound_cards():
                assert call_out.audio.input_device_id is None  # "auto": silence
            await hears(lambda: call_out.recent_audio(0.25), 1000)
            if not has_sound_cards():
                assert rms_dbfs(await call_in.recent_audio(0.3)) < -60
            await call_in.hangup()
            await asyncio.wait_for(call_out.wait_ended(), 5)

    asyncio.run(run())
