"""``--play SOURCE``: what a call sends, parsed once from the command line.

``SOURCE`` is ``tone:FREQ`` (a sine of FREQ Hz), ``silence``, ``echo`` (send back what is
received) or the path of an audio file (anything FFmpeg decodes; played once, then
silence).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from sipmedia import AudioFileError, AudioSource, FileSource, Silence, Tone

__all__ = ["PlaySpec", "parse_play"]

_MIN_TONE, _MAX_TONE = 20.0, 24_000.0


@dataclass(frozen=True, slots=True)
class PlaySpec:
    """A parsed ``--play`` value."""

    kind: str
    """``tone``, ``silence``, ``echo`` or ``file``."""
    frequency: float | None = None
    """Hz, for ``tone``."""
    path: str | None = None
    """For ``file``."""

    def source(self) -> AudioSource:
        """A fresh source for one call (``echo`` starts silent: ``Call.echo`` takes over
        once the call has media).

        Raises:
            AudioFileError: the file cannot be opened any more.
        """
        if self.kind == "tone":
            assert self.frequency is not None
            return Tone(self.frequency)
        if self.kind == "file":
            assert self.path is not None
            return FileSource(self.path)
        return Silence()

    def describe(self) -> str:
        """For status lines: ``a 440 Hz tone``, ``silence``, ``echo``, ``prompt.wav``."""
        if self.kind == "tone":
            return f"a {self.frequency:g} Hz tone"
        if self.kind == "file":
            return str(self.path)
        return self.kind


def parse_play(value: str) -> PlaySpec:
    """Read a ``--play`` value.

    Args:
        value: ``tone:FREQ``, ``silence``, ``echo`` or a file path.

    Returns:
        The spec; a file is opened once here, so a bad one fails before anything starts.

    Raises:
        ValueError: a malformed tone, or a file that does not exist or has no audio
            (the message says which).
    """
    text = value.strip()
    lowered = text.lower()
    if lowered in ("silence", "echo"):
        return PlaySpec(lowered)
    if lowered.startswith("tone:"):
        number = text[5:].strip().lower().removesuffix("hz").strip()
        try:
            frequency = float(number)
        except ValueError:
            raise ValueError(
                f"{value!r}: the tone needs a frequency in Hz, e.g. tone:440"
            ) from None
        if not math.isfinite(frequency) or not _MIN_TONE <= frequency <= _MAX_TONE:
            raise ValueError(
                f"{value!r}: the tone frequency must be {_MIN_TONE:g}-{_MAX_TONE:g} Hz"
            )
        return PlaySpec("tone", frequency=frequency)
    path = Path(text).expanduser()
    if not text or not path.is_file():
        raise ValueError(
            f"{value!r} is neither tone:FREQ, silence, echo nor an existing audio file"
        )
    try:
        FileSource(path).close()
    except AudioFileError as exc:
        raise ValueError(str(exc)) from None
    return PlaySpec("file", path=str(path))
