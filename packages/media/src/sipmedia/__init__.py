"""WebRTC audio for sipcore calls on aiortc: offer/answer, sources, sinks, tone detection."""

from __future__ import annotations

from sipmedia.pcm import FRAME_SAMPLES, SAMPLE_RATE, Pcm, Resampler, rms_dbfs, silence
from sipmedia.receiver import InboundAudio
from sipmedia.session import IceServer, MediaConfig, MediaError, MediaSession
from sipmedia.sources import AudioSource, OutboundTrack, PcmWriter, Silence, Tone
from sipmedia.tones import detect_tone, dominant_frequency, goertzel_power, tone_ratio

__all__ = [
    "MediaSession",
    "MediaConfig",
    "MediaError",
    "IceServer",
    "AudioSource",
    "Tone",
    "Silence",
    "PcmWriter",
    "OutboundTrack",
    "InboundAudio",
    "Pcm",
    "SAMPLE_RATE",
    "FRAME_SAMPLES",
    "Resampler",
    "silence",
    "rms_dbfs",
    "goertzel_power",
    "tone_ratio",
    "detect_tone",
    "dominant_frequency",
]
