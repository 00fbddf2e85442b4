"""Audio files through PyAV: play wav/mp3/ogg/... into a call, record a call to wav/ogg.

``FileSource`` decodes any file FFmpeg reads, resampled to our 48 kHz mono int16, as an
``AudioSource`` (optionally looping; at the end it reads silence, sets ``ended`` and calls
its ``on_ended`` callbacks once with a ``FileEnded``). ``FileRecorder`` is a sink for
``InboundAudio.on_pcm`` writing ``.wav`` (PCM s16) or ``.ogg``/``.opus`` (Opus in Ogg;
PyAV's FFmpeg has no libvorbis and its native Vorbis encoder is experimental) or ``.mp3``.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import av
import numpy as np

from sipmedia.pcm import SAMPLE_RATE, Pcm, Resampler, silence
from sipmedia.session import MediaError

__all__ = ["FileEnded", "FileSource", "FileRecorder", "AudioFileError", "RECORD_CODECS"]

logger = logging.getLogger(__name__)

RECORD_CODECS: dict[str, tuple[str, str]] = {
    ".wav": ("wav", "pcm_s16le"),
    ".ogg": ("ogg", "libopus"),
    ".opus": ("ogg", "libopus"),
    ".mp3": ("mp3", "libmp3lame"),
}
"""File suffix -> (container format, encoder) that ``FileRecorder`` writes."""


class AudioFileError(MediaError):
    """An audio file could not be opened, decoded or written."""


@dataclass(frozen=True, slots=True)
class FileEnded:
    """A ``FileSource`` reached the end of its file (and does not loop)."""

    path: str
    """The file."""
    samples_played: int
    """Samples (48 kHz) read from it before it ended."""


class FileSource:
    """Plays an audio file as an ``AudioSource`` (48 kHz mono int16, any input format).

    Args:
        path: the file (anything FFmpeg decodes: wav, mp3, ogg, opus, flac, m4a...).
        loop: start over at the end instead of ending.

    Raises:
        AudioFileError: the file cannot be opened or has no audio stream.
    """

    def __init__(self, path: str | os.PathLike[str], *, loop: bool = False) -> None:
        self.path = str(path)
        self.loop = loop
        self.ended = False
        """Set once the file ended (never with ``loop``); ``read`` then gives silence."""
        self.samples_played = 0
        self.loops = 0
        """How many times a looping source started over."""
        self._callbacks: list[Callable[[FileEnded], None]] = []
        self._pending: deque[Pcm] = deque()
        self._pending_samples = 0
        self._container: Any = None
        self._frames: Iterator[av.AudioFrame] | None = None
        self._resample = Resampler()
        self._open()

    def _open(self) -> None:
        try:
            container = av.open(self.path)
        except (OSError, av.FFmpegError) as exc:
            raise AudioFileError(f"cannot open audio file {self.path!r}: {exc}") from exc
        if not container.streams.audio:
            container.close()
            raise AudioFileError(f"{self.path!r} has no audio stream")
        self._container = container
        self._frames = container.decode(container.streams.audio[0])
        self._resample = Resampler()

    def on_ended(self, callback: Callable[[FileEnded], None]) -> None:
        """Call ``callback`` once when the file ends (from whoever calls ``read``)."""
        self._callbacks.append(callback)

    def _decode_more(self) -> bool:
        """Decode one more frame into ``_pending``; False at the end of the file."""
        if self._frames is None:
            return False
        try:
            frame = next(self._frames)
        except StopIteration:
            return False
        except av.FFmpegError as exc:
            logger.warning("decoding %s failed, treating it as ended: %s", self.path, exc)
            return False
        frame.pts = None  # resample by sample count, whatever the container's clock says
        pcm = self._resample(frame)
        if pcm.size:
            self._pending.append(pcm)
            self._pending_samples += pcm.size
        return True

    def _restart(self) -> bool:
        self._close_container()
        self._open()
        self.loops += 1
        return True

    def read(self, samples: int) -> Pcm:
        """The next ``samples`` of the file; silence after its end."""
        started_over = False
        while self._pending_samples < samples and not self.ended:
            if self._decode_more():
                started_over = False
                continue
            if self.loop and not started_over:
                started_over = self._restart()  # a file without samples must not spin
                continue
            self._finish()
        out = silence(samples)
        filled = 0
        while filled < samples and self._pending:
            chunk = self._pending[0]
            take = min(samples - filled, chunk.size)
            out[filled : filled + take] = chunk[:take]
            filled += take
            if take == chunk.size:
                self._pending.popleft()
            else:
                self._pending[0] = chunk[take:]
        self._pending_samples -= filled
        self.samples_played += filled
        return out

    def _finish(self) -> None:
        self.ended = True
        self._close_container()
        event = FileEnded(
            path=self.path, samples_played=self.samples_played + self._pending_samples
        )
        logger.debug("file ended: %s", self.path)
        for callback in self._callbacks:
            callback(event)

    def _close_container(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None
            self._frames = None

    def close(self) -> None:
        """Release the file; ``read`` gives silence from now on."""
        self._close_container()
        self._pending.clear()
        self._pending_samples = 0
        self.ended = True

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class FileRecorder:
    """Records 48 kHz mono int16 PCM to a file: a sink for ``InboundAudio.on_pcm``.

    The format follows the suffix (see ``RECORD_CODECS``). ``close()`` flushes the
    encoder and finishes the file; a context manager does it for you.

    Args:
        path: the file to (over)write.
        bitrate: for lossy encoders (Opus, MP3), bits per second.

    Raises:
        AudioFileError: unknown suffix, or the file cannot be created.
    """

    def __init__(self, path: str | os.PathLike[str], *, bitrate: int = 32_000) -> None:
        self.path = str(path)
        suffix = Path(self.path).suffix.lower()
        if suffix not in RECORD_CODECS:
            raise AudioFileError(
                f"cannot record to {suffix or 'a file without suffix'}: "
                f"use one of {', '.join(RECORD_CODECS)}"
            )
        container_format, codec = RECORD_CODECS[suffix]
        try:
            self._container = av.open(self.path, mode="w", format=container_format)
            stream = self._container.add_stream(codec, rate=SAMPLE_RATE, layout="mono")
            if not isinstance(stream, av.AudioStream):  # pragma: no cover - PyAV's contract
                raise AudioFileError(f"{codec} made no audio stream")
            if codec != "pcm_s16le":
                stream.codec_context.bit_rate = bitrate
        except (OSError, av.FFmpegError, ValueError) as exc:
            raise AudioFileError(f"cannot record to {self.path!r}: {exc}") from exc
        self._stream = stream
        self.samples_written = 0
        self.closed = False

    @property
    def seconds_written(self) -> float:
        """Audio recorded so far."""
        return self.samples_written / SAMPLE_RATE

    def write(self, pcm: Pcm) -> None:
        """Append ``pcm`` (48 kHz mono int16).

        Raises:
            AudioFileError: the recorder is closed, or encoding failed.
        """
        if self.closed:
            raise AudioFileError(f"recorder for {self.path!r} is closed")
        data = np.ascontiguousarray(np.asarray(pcm, dtype=np.int16).reshape(1, -1))
        if data.size == 0:
            return
        frame = av.AudioFrame.from_ndarray(data, format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        try:
            for packet in self._stream.encode(frame):
                self._container.mux(packet)
        except av.FFmpegError as exc:
            raise AudioFileError(f"recording to {self.path!r} failed: {exc}") from exc
        self.samples_written += data.size

    def __call__(self, pcm: Pcm) -> None:
        """The same as ``write``: lets the recorder be an ``on_pcm`` callback."""
        self.write(pcm)

    def close(self) -> None:
        """Flush the encoder and finish the file (idempotent)."""
        if self.closed:
            return
        self.closed = True
        try:
            for packet in self._stream.encode(None):
                self._container.mux(packet)
        finally:
            self._container.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
