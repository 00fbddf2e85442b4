"""Audio files through PyAV: real files written and read by FFmpeg, tones detected."""

from __future__ import annotations

import asyncio
from pathlib import Path

import av
import numpy as np
import pytest

from sipmedia.files import AudioFileError, FileEnded, FileRecorder, FileSource
from sipmedia.pcm import FRAME_SAMPLES, SAMPLE_RATE, Pcm, Resampler
from sipmedia.session import MediaConfig, MediaSession
from sipmedia.sources import Tone
from sipmedia.tones import dominant_frequency, tone_ratio

# (suffix, container, encoder, encoder rate, layout): what the tests write files with
FORMATS = {
    "wav": ("wav", "pcm_s16le", 44_100, "stereo"),
    "mp3": ("mp3", "libmp3lame", 44_100, "stereo"),
    "ogg": ("ogg", "libopus", 48_000, "stereo"),
}


def write_tone_file(path: Path, frequency: float, seconds: float) -> None:
    """A tone file written with PyAV directly (not with the code under test)."""
    container_format, codec, rate, layout = FORMATS[path.suffix[1:]]
    with av.open(str(path), mode="w", format=container_format) as container:
        stream = container.add_stream(codec, rate=rate, layout=layout)
        assert isinstance(stream, av.AudioStream)
        total = int(seconds * rate)
        t = np.arange(total) / rate
        wave = (np.sin(2 * np.pi * frequency * t) * 0.4 * 32767).astype(np.int16)
        stereo = np.repeat(wave, 2).reshape(1, -1)  # packed s16: L R L R ...
        for start in range(0, total, 1024):
            chunk = np.ascontiguousarray(stereo[:, start * 2 : (start + 1024) * 2])
            frame = av.AudioFrame.from_ndarray(chunk, format="s16", layout=layout)
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def read_back(path: Path) -> tuple[Pcm, float]:
    """All of ``path`` decoded by PyAV as 48 kHz mono, and the container's duration."""
    resample = Resampler()
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        chunks = []
        for frame in container.decode(stream):
            frame.pts = None
            chunks.append(resample(frame))
        duration = float(container.duration or 0) / av.time_base
    return np.concatenate(chunks), duration


def read_all(source: FileSource, seconds: float) -> Pcm:
    return np.concatenate(
        [source.read(FRAME_SAMPLES) for _ in range(int(seconds * SAMPLE_RATE / FRAME_SAMPLES))]
    )


@pytest.mark.parametrize("suffix", sorted(FORMATS))
def test_a_tone_file_plays_as_48k_mono_and_ends_once(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"tone.{suffix}"
    write_tone_file(path, 1000, 1.0)
    source = FileSource(path)
    ended: list[FileEnded] = []
    source.on_ended(ended.append)

    played = read_all(source, 1.5)

    middle = played[SAMPLE_RATE // 4 : SAMPLE_RATE // 4 + SAMPLE_RATE // 2]
    assert tone_ratio(middle, 1000) > 0.95, dominant_frequency(middle)
    assert source.ended
    assert len(ended) == 1 and ended[0].path == str(path)
    # about one second of audio came out (encoders pad a few ms), then silence
    assert abs(ended[0].samples_played - SAMPLE_RATE) < SAMPLE_RATE * 0.06, ended
    assert np.abs(played[int(SAMPLE_RATE * 1.1) :]).max() == 0
    assert np.abs(source.read(FRAME_SAMPLES)).max() == 0
    assert len(ended) == 1


def test_a_looping_file_never_ends(tmp_path: Path) -> None:
    path = tmp_path / "short.wav"
    write_tone_file(path, 750, 0.5)
    source = FileSource(path, loop=True)
    ended: list[FileEnded] = []
    source.on_ended(ended.append)

    played = read_all(source, 2.2)

    assert not source.ended and not ended
    assert source.loops >= 4
    for second in (0.2, 0.7, 1.2, 1.7):  # inside each pass, away from the joins
        window = played[int(second * SAMPLE_RATE) : int(second * SAMPLE_RATE) + 9600]
        assert tone_ratio(window, 750) > 0.95, (second, dominant_frequency(window))


@pytest.mark.parametrize("suffix", ["wav", "ogg", "opus", "mp3"])
def test_recording_writes_a_file_pyav_reads_back(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"call.{suffix}"
    tone = Tone(600)
    with FileRecorder(path) as recorder:
        for _ in range(100):  # 2 s in 20 ms frames, as on_pcm delivers them
            recorder(tone.read(FRAME_SAMPLES))
        assert recorder.seconds_written == pytest.approx(2.0)

    pcm, duration = read_back(path)
    assert duration == pytest.approx(2.0, abs=0.06)
    assert pcm.size == pytest.approx(2 * SAMPLE_RATE, abs=0.06 * SAMPLE_RATE)
    middle = pcm[SAMPLE_RATE // 2 : SAMPLE_RATE]
    assert tone_ratio(middle, 600) > 0.95, dominant_frequency(middle)


def test_recording_what_a_call_receives(tmp_path: Path) -> None:
    """A recorder on ``inbound.on_pcm`` of a real call (two sessions, Opus in between)."""
    path = tmp_path / "received.wav"

    async def run() -> None:
        caller = MediaSession(MediaConfig(codecs=("opus",)), Tone(1000))
        callee = MediaSession(MediaConfig(codecs=("opus",)))
        recorder = FileRecorder(path)
        callee.inbound.on_pcm(recorder)
        try:
            await caller.accept_answer(await callee.create_answer(await caller.create_offer()))
            await asyncio.sleep(1.5)
        finally:
            await caller.close()
            await callee.close()
            recorder.close()
        assert recorder.seconds_written > 0.8

    asyncio.run(run())
    pcm, duration = read_back(path)
    assert duration > 0.8
    tail = pcm[-SAMPLE_RATE // 2 :]
    assert tone_ratio(tail, 1000) > 0.8, dominant_frequency(tail)


def test_a_closed_recorder_refuses_more_audio(tmp_path: Path) -> None:
    recorder = FileRecorder(tmp_path / "x.wav")
    recorder.close()
    recorder.close()  # idempotent
    with pytest.raises(AudioFileError, match="closed"):
        recorder.write(np.zeros(FRAME_SAMPLES, np.int16))


def test_unusable_files_raise_audio_file_errors(tmp_path: Path) -> None:
    with pytest.raises(AudioFileError, match="cannot open"):
        FileSource(tmp_path / "missing.wav")
    not_audio = tmp_path / "notes.wav"
    not_audio.write_text("not a wav file at all\n" * 10)
    with pytest.raises(AudioFileError):
        FileSource(not_audio)
    with pytest.raises(AudioFileError, match="use one of"):
        FileRecorder(tmp_path / "call.xyz")
