"""Read a recording back as our PCM (48 kHz mono int16), whatever its format."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from sipmedia import Pcm


def read_audio(path: Path) -> Pcm:
    """Decode ``path`` (wav, ogg/opus, mp3...) to 48 kHz mono int16."""
    resampler = av.AudioResampler(format="s16", layout="mono", rate=48_000)
    chunks = []
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
    chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    return np.concatenate(chunks).astype(np.int16)
