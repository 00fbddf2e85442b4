"""Audio devices through a real PortAudio, against the suite's own PulseAudio.

Null sinks are the speakers, their monitors the microphones: audio written to a sink
through PortAudio (ALSA's pulse plugin) comes back from its monitor through PortAudio.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import numpy as np
import pytest

from sipmedia.devices import (
    AudioDeviceAdded,
    AudioDeviceEvent,
    AudioDeviceRemoved,
    AudioDevices,
    DefaultAudioDeviceChanged,
    DeviceKind,
    DeviceWatcher,
    InputDevice,
    NoAudioDevice,
    OutputDevice,
    list_audio_devices,
)
from sipmedia.pcm import FRAME_SAMPLES, SAMPLE_RATE, Pcm
from sipmedia.session import MediaConfig, MediaSession
from sipmedia.sources import OutboundTrack, Tone
from sipmedia.tones import dominant_frequency, tone_ratio
from tests.media.servers import PulseServer, pulse

__all__ = ["pulse"]  # the fixture, imported for pytest


def without_gaps(pcm: Pcm, min_gap: int = 48) -> Pcm:
    """``pcm`` without underrun gaps: runs of at least ``min_gap`` exact zeros (1 ms).

    A loaded machine makes the device layer pad with silence. Single zero samples of
    the tone itself (at its zero crossings) are kept: cutting those would bend the tone.
    """
    zero = np.concatenate(([False], pcm == 0, [False]))
    edges = np.flatnonzero(np.diff(zero.astype(np.int8)))
    keep = np.ones(pcm.size, dtype=bool)
    for start, stop in zip(edges[::2], edges[1::2], strict=True):
        if stop - start >= min_gap:
            keep[start:stop] = False
    return pcm[keep]


def tone_report(pcm: Pcm, frequency: float) -> str:
    sound = without_gaps(pcm)
    return (
        f"sound {sound.size}/{pcm.size}, ratio {tone_ratio(sound, frequency):.2f}, "
        f"dominant {dominant_frequency(sound):.0f} Hz"
    )


def heard_tone(pcm: Pcm, frequency: float) -> bool:
    """Whether ``pcm`` captured from a device carries ``frequency``.

    Underrun gaps are cut out first (see ``without_gaps``), so a loaded CI machine
    measures the tone, not the gaps; at least 40 % of the window must be sound, so
    silence still fails.
    """
    sound = without_gaps(pcm)
    if sound.size < 0.4 * pcm.size:
        return False
    return tone_ratio(sound, frequency) > 0.8 and abs(dominant_frequency(sound) - frequency) < 25


def _pump(seconds: float, playing: list[tuple[OutputDevice, Tone]], mic: InputDevice | None) -> Pcm:
    """Write 20 ms of each tone to its speaker every 20 ms; what ``mic`` captured."""
    got: list[Pcm] = []
    start = time.monotonic()
    for index in range(int(seconds * 50)):
        for speaker, tone in playing:
            speaker.write(tone.read(FRAME_SAMPLES))
        delay = start + (index + 1) * 0.02 - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        if mic is not None:
            got.append(mic.read(FRAME_SAMPLES))
    return np.concatenate(got) if got else np.zeros(0, np.int16)


def _captured(mic: InputDevice) -> Pcm:
    """Everything ``mic`` captured and nobody read yet."""
    return mic.read(int(mic.buffered_seconds * SAMPLE_RATE))


def test_lists_pulse_sinks_and_monitors_by_name(pulse: PulseServer) -> None:
    pulse.add_sink("sipmedia_a", "Speaker_A")
    pulse.add_sink("sipmedia_b", "Speaker_B")
    pulse.set_default_sink("sipmedia_b")

    devices = list_audio_devices()

    outputs = {d.id: d for d in devices.outputs}
    inputs = {d.id: d for d in devices.inputs}
    assert outputs["pulse:sink:sipmedia_a"].name == "Speaker_A"
    assert outputs["pulse:sink:sipmedia_b"].name == "Speaker_B"
    assert outputs["pulse:sink:sipmedia_a"].kind is DeviceKind.OUTPUT
    assert outputs["pulse:sink:sipmedia_a"].host_api == "PulseAudio"
    assert "pulse:source:sipmedia_a.monitor" in inputs
    assert inputs["pulse:source:sipmedia_b.monitor"].kind is DeviceKind.INPUT
    # the PortAudio devices are listed too, minus the ALSA bridge the pulse ones replace
    assert "portaudio:ALSA:default" in outputs
    assert "portaudio:ALSA:pulse" not in outputs
    assert devices.default_output == "pulse:sink:sipmedia_b"
    assert devices.default_input == "pulse:source:sipmedia_b.monitor"


def test_tone_loops_from_speaker_to_monitor_through_portaudio(pulse: PulseServer) -> None:
    pulse.add_sink("loop_a")
    pulse.add_sink("loop_b")
    devices = AudioDevices()
    with (
        devices.open_output("pulse:sink:loop_a") as speaker,
        devices.open_input("pulse:source:loop_a.monitor") as mic,
        devices.open_input("pulse:source:loop_b.monitor") as other,
    ):
        assert speaker.device.id == "pulse:sink:loop_a"
        heard = _pump(1.0, [(speaker, Tone(1000))], mic)
        elsewhere = other.read(SAMPLE_RATE // 2)
        running = [speaker.active, mic.active, other.active]
    assert running == [True, True, True]
    assert (speaker.active, speaker.closed) == (False, True)

    tail = heard[-SAMPLE_RATE // 4 :]
    assert heard_tone(tail, 1000), tone_report(tail, 1000)
    assert np.abs(elsewhere).max() == 0  # the other sink heard nothing
    assert speaker.underruns <= 2  # at most around the start


@pytest.mark.parametrize("rate", [44_100, 16_000])
def test_devices_running_at_other_rates_are_resampled(pulse: PulseServer, rate: int) -> None:
    pulse.add_sink("resampled")
    devices = AudioDevices()
    with (
        devices.open_output("pulse:sink:resampled", samplerate=rate) as speaker,
        devices.open_input("pulse:source:resampled.monitor", samplerate=rate) as mic,
    ):
        heard = _pump(0.8, [(speaker, Tone(1000))], mic)
    assert heard.size == int(0.8 * SAMPLE_RATE)  # read() always gives 48 kHz samples
    tail = heard[-SAMPLE_RATE // 4 :]
    assert heard_tone(tail, 1000), tone_report(tail, 1000)


def test_default_devices_are_opened_when_no_id_is_given(pulse: PulseServer) -> None:
    pulse.add_sink("first")
    pulse.add_sink("second")
    pulse.set_default_sink("second")
    pulse.set_default_source("second.monitor")
    devices = AudioDevices()
    with devices.open_output() as speaker, devices.open_input() as mic:
        assert speaker.device.id == "pulse:sink:second"
        assert mic.device.id == "pulse:source:second.monitor"
        heard = _pump(0.8, [(speaker, Tone(700))], mic)
    tail = heard[-SAMPLE_RATE // 4 :]
    assert heard_tone(tail, 700), tone_report(tail, 700)


def test_switching_the_input_mid_call_changes_what_the_track_sends(
    pulse: PulseServer,
) -> None:
    pulse.add_sink("room_a")
    pulse.add_sink("room_b")
    devices = AudioDevices()

    async def run() -> tuple[Pcm, Pcm]:
        with (
            devices.open_output("pulse:sink:room_a") as speaker_a,
            devices.open_output("pulse:sink:room_b") as speaker_b,
            devices.open_input("pulse:source:room_a.monitor") as mic,
        ):
            track = OutboundTrack(mic)  # aiortc's track, paced in real time
            tones = [(speaker_a, Tone(600)), (speaker_b, Tone(1400))]

            async def frames(count: int) -> Pcm:
                got = []
                for _ in range(count):
                    for speaker, tone in tones:
                        speaker.write(tone.read(FRAME_SAMPLES))
                    frame = await track.recv()
                    got.append(frame.to_ndarray().reshape(-1))
                return np.concatenate(got)

            before = await frames(40)
            # the device changes under the running track: no new track, no renegotiation
            await asyncio.to_thread(mic.switch, "pulse:source:room_b.monitor")
            assert mic.device.id == "pulse:source:room_b.monitor"
            after = await frames(40)
            track.stop()
            return before, after

    before, after = asyncio.run(run())
    assert heard_tone(before[-SAMPLE_RATE // 4 :], 600), tone_report(
        before[-SAMPLE_RATE // 4 :], 600
    )
    assert heard_tone(after[-SAMPLE_RATE // 4 :], 1400), tone_report(
        after[-SAMPLE_RATE // 4 :], 1400
    )


def test_switching_the_output_moves_the_sound(pulse: PulseServer) -> None:
    pulse.add_sink("out_a")
    pulse.add_sink("out_b")
    devices = AudioDevices()
    with (
        devices.open_output("pulse:sink:out_a") as speaker,
        devices.open_input("pulse:source:out_a.monitor", buffer_seconds=1.0) as mic_a,
        devices.open_input("pulse:source:out_b.monitor", buffer_seconds=1.0) as mic_b,
    ):
        tone = Tone(900)
        _pump(0.6, [(speaker, tone)], None)
        on_a = _captured(mic_a)[-SAMPLE_RATE // 4 :]
        _captured(mic_b)
        speaker.switch("pulse:sink:out_b")
        _pump(0.6, [(speaker, tone)], None)
        on_b = _captured(mic_b)[-SAMPLE_RATE // 4 :]
        a_after = _captured(mic_a)[-SAMPLE_RATE // 4 :]
    assert heard_tone(on_a, 900), tone_report(on_a, 900)
    assert heard_tone(on_b, 900), tone_report(on_b, 900)
    assert np.abs(a_after).max() == 0


def test_a_call_plays_on_a_speaker_that_moves_mid_call(pulse: PulseServer) -> None:
    """``inbound.on_pcm(speaker)`` on a real call (two sessions, Opus), then a switch."""
    pulse.add_sink("headset")
    pulse.add_sink("desk")
    devices = AudioDevices()

    async def run() -> tuple[Pcm, Pcm]:
        caller = MediaSession(MediaConfig(codecs=("opus",)), Tone(800))
        callee = MediaSession(MediaConfig(codecs=("opus",)))
        with (
            devices.open_output("pulse:sink:headset") as speaker,
            devices.open_input("pulse:source:headset.monitor", buffer_seconds=1.0) as headset,
            devices.open_input("pulse:source:desk.monitor", buffer_seconds=1.0) as desk,
        ):
            callee.inbound.on_pcm(speaker)
            try:
                offer = await caller.create_offer()
                await caller.accept_answer(await callee.create_answer(offer))
                await asyncio.sleep(1.0)
                on_headset = _captured(headset)
                _captured(desk)
                await asyncio.to_thread(speaker.switch, "pulse:sink:desk")
                await asyncio.sleep(0.8)
                on_desk = _captured(desk)
            finally:
                await caller.close()
                await callee.close()
        return on_headset, on_desk

    on_headset, on_desk = asyncio.run(run())
    for heard in (on_headset, on_desk):
        tail = heard[-SAMPLE_RATE // 4 :]
        assert heard_tone(tail, 800), tone_report(tail, 800)


def test_watcher_reports_added_removed_and_new_defaults(pulse: PulseServer) -> None:
    pulse.add_sink("base")
    pulse.set_default_sink("base")

    async def run() -> list[AudioDeviceEvent]:
        watcher = DeviceWatcher(interval=0.2)
        assert watcher.poll() == []  # the baseline
        assert watcher.devices is not None
        assert watcher.devices.default_output == "pulse:sink:base"
        events = watcher.events()
        seen: list[AudioDeviceEvent] = []

        async def until(expected: AudioDeviceEvent) -> None:
            async with asyncio.timeout(10):
                async for event in events:
                    seen.append(event)
                    if event == expected:
                        return

        await asyncio.to_thread(pulse.add_sink, "plugged", "Headset")
        new_sink = next(d for d in list_audio_devices().outputs if d.id == "pulse:sink:plugged")
        assert new_sink.name == "Headset"
        await until(AudioDeviceAdded(new_sink))

        await asyncio.to_thread(pulse.set_default_sink, "plugged")
        await until(
            DefaultAudioDeviceChanged(DeviceKind.OUTPUT, "pulse:sink:plugged", "pulse:sink:base")
        )

        await asyncio.to_thread(pulse.remove_sink, "plugged")
        await until(AudioDeviceRemoved(new_sink))
        # the default went away with it: PulseAudio falls back, and that is reported too
        await until(
            DefaultAudioDeviceChanged(DeviceKind.OUTPUT, "pulse:sink:base", "pulse:sink:plugged")
        )
        return seen

    seen = asyncio.run(run())
    added = [e.device.id for e in seen if isinstance(e, AudioDeviceAdded)]
    removed = [e.device.id for e in seen if isinstance(e, AudioDeviceRemoved)]
    assert sorted(added) == ["pulse:sink:plugged", "pulse:source:plugged.monitor"]
    assert sorted(removed) == ["pulse:sink:plugged", "pulse:source:plugged.monitor"]


def test_poll_reports_each_change_once(pulse: PulseServer) -> None:
    pulse.add_sink("one")
    pulse.add_sink("two")
    pulse.set_default_source("one.monitor")
    watcher = DeviceWatcher()
    assert watcher.poll() == []  # the baseline
    assert watcher.poll() == []
    pulse.set_default_source("two.monitor")
    assert watcher.poll() == [
        DefaultAudioDeviceChanged(
            DeviceKind.INPUT, "pulse:source:two.monitor", "pulse:source:one.monitor"
        )
    ]
    assert watcher.poll() == []


def test_reinitialising_portaudio_keeps_our_open_streams(
    pulse: PulseServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # after the fixture: it installs libportaudio2 if missing
    import sounddevice as sd  # type: ignore[import-untyped]  # noqa: PLC0415

    pulse.add_sink("early")
    devices = AudioDevices()
    speaker = devices.open_output("pulse:sink:early")
    mic = devices.open_input("pulse:source:early.monitor")
    try:
        # make this process's PortAudio blind to the bridge, as if the sound server had
        # come up after PortAudio was initialised
        server = pulse.server
        monkeypatch.setenv("PULSE_SERVER", "unix:/nonexistent/socket")
        speaker.close_stream()
        mic.close_stream()
        sd._terminate()
        sd._initialize()
        assert not any(d["name"] == "pulse" for d in sd.query_devices())
        monkeypatch.setenv("PULSE_SERVER", server)
        speaker.reopen_stream()  # finds "pulse" missing: re-initialises, then opens
        mic.reopen_stream()
        pulse.add_sink("late")
        late = devices.open_input("pulse:source:late.monitor")
        late.close()
        heard = _pump(0.8, [(speaker, Tone(1100))], mic)
    finally:
        speaker.close()
        mic.close()
    assert heard_tone(heard[-SAMPLE_RATE // 4 :], 1100), tone_report(
        heard[-SAMPLE_RATE // 4 :], 1100
    )


def test_a_machine_without_audio_lists_nothing_and_refuses_to_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # no sound server (and, on CI, no sound card): ALSA's pulse plugin finds nothing
    monkeypatch.setenv("PULSE_SERVER", f"unix:{tmp_path / 'no-server'}")
    devices = AudioDevices()
    listed = devices.list()
    assert not [d for d in listed.inputs + listed.outputs if d.host_api == "PulseAudio"]
    with pytest.raises(NoAudioDevice, match="pulse:sink:gone"):
        devices.open_output("pulse:sink:gone")
    with pytest.raises(NoAudioDevice):
        devices.open_input("pulse:source:gone.monitor")
    if _sound_cards():
        return  # a machine with sound cards lists them: checked above that nothing else is
    assert listed.inputs == () and listed.outputs == ()
    assert listed.default_input is None and listed.default_output is None
    with pytest.raises(NoAudioDevice, match="no audio input"):
        devices.open_input()
    with pytest.raises(NoAudioDevice, match="no audio output"):
        devices.open_output()


def _sound_cards() -> bool:
    try:
        cards = Path("/proc/asound/cards").read_text()
    except OSError:
        return False
    return "no soundcards" not in cards and bool(cards.strip())
