"""Levels for the mic and speaker tests: units, then real devices on the suite's PulseAudio."""

from __future__ import annotations

import asyncio
import math

import numpy as np
import pytest

from sipmedia.devices import AudioDevices
from sipmedia.meters import FLOOR_DBFS, AudioLevel, LevelMeter, RingTone, SpeakerTest, measure_level
from sipmedia.pcm import SAMPLE_RATE, Pcm, silence
from sipmedia.sources import Tone
from sipmedia.tones import tone_ratio
from tests.media.servers import PulseServer, pulse

__all__ = ["pulse"]  # the fixture, imported for pytest


def test_levels_of_a_sine_and_of_silence() -> None:
    full = (np.sin(2 * np.pi * 1000 * np.arange(4800) / SAMPLE_RATE) * 32767).astype(np.int16)
    level = measure_level(full)
    assert level.rms_dbfs == pytest.approx(-3.01, abs=0.05)
    assert level.peak_dbfs == pytest.approx(0.0, abs=0.01)
    assert level.level == pytest.approx(1 - 3.01 / 60, abs=0.01)
    assert level.samples == 4800

    quiet = measure_level((full // 1000).astype(np.int16))  # -60 dB: the meter's floor
    assert quiet.level == pytest.approx(0.0, abs=0.01)
    nothing = measure_level(silence(4800))
    assert nothing == AudioLevel(float("-inf"), float("-inf"), 0.0, 4800)


def test_the_ring_tone_rings_in_its_cadence() -> None:
    ring = RingTone(on_seconds=0.5, off_seconds=0.25)
    cycle = ring.read(int(0.75 * SAMPLE_RATE))
    on, off = cycle[: SAMPLE_RATE // 2], cycle[SAMPLE_RATE // 2 :]
    assert tone_ratio(on, 440) > 0.4 and tone_ratio(on, 480) > 0.4
    assert np.abs(off).max() == 0
    assert np.array_equal(ring.read(100), cycle[:100])  # the next cycle starts alike
    with pytest.raises(ValueError):
        RingTone(frequencies=())


def test_a_level_meter_reports_one_level_per_block_in_real_time() -> None:
    async def run() -> tuple[list[AudioLevel], float]:
        meter = LevelMeter(Tone(500, level=0.5), block_ms=40)
        levels: list[AudioLevel] = []
        loop = asyncio.get_running_loop()
        start = loop.time()
        async for level in meter.levels():
            levels.append(level)
            if len(levels) == 10:
                meter.stop()
        return levels, loop.time() - start

    levels, elapsed = asyncio.run(run())
    assert len(levels) == 10
    assert 0.35 < elapsed < 1.0  # ten 40 ms blocks, paced (late wake-ups catch up)
    assert all(level.samples == SAMPLE_RATE * 40 // 1000 for level in levels)
    assert all(
        level.rms_dbfs == pytest.approx(20 * math.log10(0.5 / math.sqrt(2)), abs=0.1)
        for level in levels
    )


def test_a_stopped_meter_stays_stopped() -> None:
    meter = LevelMeter(Tone(500), block_ms=20)
    meter.stop()  # before it ever ran, as a UI may do

    async def run() -> list[AudioLevel]:
        return [level async for level in meter.levels()]

    assert asyncio.run(run()) == []
    assert meter.stopped


def _average(levels: list[AudioLevel]) -> float:
    return float(np.mean([lv.level for lv in levels])) if levels else 0.0


def test_mic_meter_follows_what_the_microphone_hears(pulse: PulseServer) -> None:
    """Mic test: a tone played into a sink is metered from its monitor, then silence."""
    pulse.add_sink("mic_room")
    devices = AudioDevices()

    async def run() -> tuple[list[AudioLevel], list[AudioLevel]]:
        with (
            devices.open_output("pulse:sink:mic_room") as speaker,
            devices.open_input("pulse:source:mic_room.monitor") as mic,
        ):
            meter = LevelMeter(mic, block_ms=50)
            player = SpeakerTest(speaker, Tone(800, level=0.5), block_ms=20)
            playing = asyncio.ensure_future(player.run(lambda _level: None))
            loud: list[AudioLevel] = []
            quiet: list[AudioLevel] = []
            phase = loud
            count = 0
            async for level in meter.levels():
                count += 1
                phase.append(level)
                if count == 16:  # 0.8 s of tone: stop it and listen on
                    player.stop()
                    await playing
                    phase = quiet
                if count == 32:
                    meter.stop()
            return loud, quiet

    loud, quiet = asyncio.run(run())
    assert _average(loud[-8:]) > 0.7, loud  # a 0.5 FS sine is -9 dBFS: level 0.85
    assert all(lv.level == 0.0 for lv in quiet[-8:]), quiet
    assert all(lv.rms_dbfs < FLOOR_DBFS for lv in quiet[-8:])


def test_speaker_test_rings_a_real_output_and_reports_its_levels(pulse: PulseServer) -> None:
    """Speaker test: the ring is played to a device; its monitor hears it while it rings."""
    pulse.add_sink("desk_speaker")
    devices = AudioDevices()

    async def run() -> tuple[list[AudioLevel], Pcm, Pcm]:
        with (
            devices.open_output("pulse:sink:desk_speaker") as speaker,
            devices.open_input("pulse:source:desk_speaker.monitor", buffer_seconds=2.0) as mic,
        ):
            test = SpeakerTest(speaker, RingTone(on_seconds=2.0, off_seconds=4.0))
            reported: list[AudioLevel] = []

            def on_level(level: AudioLevel) -> None:
                reported.append(level)
                if len(reported) == 20:  # one second of ringing
                    test.stop()

            await test.run(on_level)
            await asyncio.sleep(0.2)
            ringing = mic.read(int(mic.buffered_seconds * SAMPLE_RATE))
            await asyncio.sleep(0.5)
            after = mic.read(int(mic.buffered_seconds * SAMPLE_RATE))
            return reported, ringing, after

    reported, ringing, after = asyncio.run(run())
    assert len(reported) == 20
    assert all(level.level > 0.7 for level in reported)  # the "speaker" values
    heard = ringing[-SAMPLE_RATE // 2 - 9600 : -9600]  # before the tail that ran out
    assert measure_level(heard).level > 0.7
    assert tone_ratio(heard, 440) > 0.35 and tone_ratio(heard, 480) > 0.35
    assert measure_level(after[-SAMPLE_RATE // 4 :]).level == 0.0  # silent after stop
