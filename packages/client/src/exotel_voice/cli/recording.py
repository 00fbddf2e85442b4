"""``--record FILE``: where each call's received audio is written."""

from __future__ import annotations

from pathlib import Path

from sipmedia import RECORD_CODECS

__all__ = ["check_record_path", "recording_path"]


def check_record_path(value: str) -> Path:
    """Check a ``--record`` value before anything starts.

    Raises:
        ValueError: the suffix is not a format we record, or the folder does not exist.
    """
    path = Path(value).expanduser()
    if path.suffix.lower() not in RECORD_CODECS:
        raise ValueError(f"{value!r}: record to a file ending in {', '.join(RECORD_CODECS)}")
    if not path.parent.is_dir():
        raise ValueError(f"{value!r}: the folder {str(path.parent)!r} does not exist")
    return path


def recording_path(base: Path, number: int) -> Path:
    """The file for the ``number``-th call (1-based): ``base`` itself for the first one,
    then ``name-2.wav``, ``name-3.wav``..."""
    if number <= 1:
        return base
    return base.with_name(f"{base.stem}-{number}{base.suffix}")
