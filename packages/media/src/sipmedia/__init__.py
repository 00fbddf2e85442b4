"""WebRTC audio for sipcore calls on aiortc.

Offer/answer with bounded ICE gathering, audio sources (tones, files, devices, program
PCM) and sinks, RFC 4733 and SIP INFO DTMF, quality statistics with a MOS estimate,
device and network probes, and a media loop for programs not on asyncio.
"""

from __future__ import annotations

from sipmedia.devices import (
    AudioDevice,
    AudioDeviceAdded,
    AudioDeviceError,
    AudioDeviceEvent,
    AudioDeviceList,
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
from sipmedia.dtmf import (
    DTMF_DIGITS,
    DtmfError,
    DtmfMode,
    DtmfReceived,
    dtmf_mode,
    dtmf_relay_body,
    parse_dtmf_info,
)
from sipmedia.files import RECORD_CODECS, AudioFileError, FileEnded, FileRecorder, FileSource
from sipmedia.loop import CallerLoop, MediaLoop, MediaRunner, media_runner
from sipmedia.meters import FLOOR_DBFS, AudioLevel, LevelMeter, RingTone, SpeakerTest, measure_level
from sipmedia.pcm import (
    FRAME_SAMPLES,
    SAMPLE_RATE,
    Pcm,
    PcmResampler,
    Resampler,
    frame_samples,
    rms_dbfs,
    silence,
)
from sipmedia.probes import (
    PROBE_KEYS,
    CandidateCheck,
    IceProbeReport,
    classify_candidate,
    probe_ice,
)
from sipmedia.receiver import InboundAudio
from sipmedia.session import IceServer, MediaConfig, MediaError, MediaSession
from sipmedia.sources import (
    AudioSource,
    OutboundTrack,
    PcmWriter,
    Silence,
    Tone,
    WriterClosedError,
)
from sipmedia.stats import (
    CallStats,
    DelayMeasurement,
    QualitySampler,
    measure_one_way_delay,
    mos_from_r,
    r_factor,
)
from sipmedia.tones import detect_tone, dominant_frequency, goertzel_power, tone_ratio

__all__ = [
    # calls
    "MediaSession",
    "MediaConfig",
    "MediaError",
    "IceServer",
    "MediaRunner",
    "CallerLoop",
    "MediaLoop",
    "media_runner",
    # sending and receiving audio
    "AudioSource",
    "Tone",
    "Silence",
    "PcmWriter",
    "WriterClosedError",
    "OutboundTrack",
    "InboundAudio",
    "FileSource",
    "FileRecorder",
    "FileEnded",
    "AudioFileError",
    "RECORD_CODECS",
    "Pcm",
    "SAMPLE_RATE",
    "FRAME_SAMPLES",
    "Resampler",
    "PcmResampler",
    "frame_samples",
    "silence",
    "rms_dbfs",
    # devices
    "AudioDevices",
    "AudioDevice",
    "AudioDeviceList",
    "InputDevice",
    "OutputDevice",
    "DeviceKind",
    "DeviceWatcher",
    "AudioDeviceEvent",
    "AudioDeviceAdded",
    "AudioDeviceRemoved",
    "DefaultAudioDeviceChanged",
    "AudioDeviceError",
    "NoAudioDevice",
    "list_audio_devices",
    # DTMF
    "DTMF_DIGITS",
    "DtmfError",
    "DtmfMode",
    "DtmfReceived",
    "dtmf_mode",
    "dtmf_relay_body",
    "parse_dtmf_info",
    # quality
    "CallStats",
    "QualitySampler",
    "DelayMeasurement",
    "measure_one_way_delay",
    "r_factor",
    "mos_from_r",
    # levels, tones and probes
    "AudioLevel",
    "LevelMeter",
    "RingTone",
    "SpeakerTest",
    "measure_level",
    "FLOOR_DBFS",
    "goertzel_power",
    "tone_ratio",
    "detect_tone",
    "dominant_frequency",
    "probe_ice",
    "IceProbeReport",
    "CandidateCheck",
    "classify_candidate",
    "PROBE_KEYS",
]
