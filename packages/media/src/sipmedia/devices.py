"""Microphones and speakers through PortAudio (``sounddevice``): list, open, switch, watch.

How sound reaches a device on each platform is PortAudio's business; on Linux it is
worth knowing what Debian 12's ``libportaudio2`` (19.6) does:

- It has ALSA, JACK and OSS host APIs and **no native PulseAudio one**. A PulseAudio
  (or PipeWire-pulse) desktop is reached through ALSA's ``pulse`` PCM
  (``libasound2-plugins``), which PortAudio lists as two devices, ``pulse`` and
  ``default``: the individual sinks and sources are invisible to it.
- So when that bridge is present and ``pactl`` (PulseAudio 16+, for its JSON output;
  PipeWire ships a compatible one) can reach the server, this module lists
  PulseAudio's sinks (outputs) and sources (inputs, monitors included) itself, with ids
  ``pulse:sink:<name>`` / ``pulse:source:<name>``, and opens one by opening PortAudio's
  ``pulse`` device with ``PULSE_SINK``/``PULSE_SOURCE`` naming it: libpulse reads those
  variables when the ALSA plugin creates its context, i.e. inside ``Pa_OpenStream``.
  Other PortAudio devices keep ids ``portaudio:<host api>:<device name>``; without
  ``pactl`` the bridge stays listed as ``portaudio:ALSA:pulse``.
- Through the pulse plugin, small buffers work: streams use 20 ms blocks and a 60 ms
  suggested latency by default.

PortAudio has no hot-plug events and only enumerates devices in ``Pa_Initialize``;
re-initialising it (``Pa_Terminate``) closes every open stream of the process. So
``AudioDevices.list`` asks a short-lived child process (a fresh PortAudio) plus
``pactl``, never disturbing a running call, and ``DeviceWatcher`` polls that and reports
what changed. Only when a device is opened that this process's PortAudio has not
enumerated yet does ``AudioDevices`` re-initialise PortAudio in-process, closing and
reopening its own streams around it (streams opened with ``sounddevice`` directly, outside
this module, would be closed by that: keep one ``AudioDevices`` per process).

A machine without any audio device (or without PortAudio at all) lists nothing and
raises ``NoAudioDevice`` on open.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import logging
import os
import shutil
import subprocess
import sys
import threading
import weakref
from collections import deque
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Self

import av
import numpy as np
import numpy.typing as npt

from sipmedia.pcm import SAMPLE_RATE, Pcm, Resampler, silence, take_queued
from sipmedia.session import MediaError

__all__ = [
    "AudioDeviceError",
    "NoAudioDevice",
    "DeviceKind",
    "AudioDevice",
    "AudioDeviceList",
    "AudioDeviceAdded",
    "AudioDeviceRemoved",
    "DefaultAudioDeviceChanged",
    "AudioDeviceEvent",
    "AudioDevices",
    "InputDevice",
    "OutputDevice",
    "DeviceWatcher",
    "list_audio_devices",
]

logger = logging.getLogger(__name__)

_PULSE_PREFIX = "pulse:"
_PORTAUDIO_PREFIX = "portaudio:"
_PULSE_BRIDGE = ("ALSA", "pulse")
"""The PortAudio device (host API, name) that is ALSA's PulseAudio plugin."""

# libpulse reads PULSE_SINK/PULSE_SOURCE from the process environment, which is
# process-wide by nature: opening a routed stream sets, opens, restores under this lock.
_ENVIRONMENT_LOCK = threading.Lock()


class AudioDeviceError(MediaError):
    """An audio device could not be listed, opened or used (a PortAudio error)."""


class NoAudioDevice(AudioDeviceError):
    """There is no such audio device (or none at all, or no PortAudio)."""


class DeviceKind(enum.Enum):
    """Which way audio flows through a device."""

    INPUT = "input"
    OUTPUT = "output"


@dataclass(frozen=True, slots=True)
class AudioDevice:
    """One input or one output, as ``AudioDevices.list`` found it."""

    id: str
    """Stable across runs and re-enumerations (``pulse:sink:<name>``,
    ``portaudio:ALSA:default``...); what ``open_input``/``open_output`` take."""
    name: str
    """Human-readable (PulseAudio's description, or PortAudio's device name)."""
    kind: DeviceKind
    """Input (microphone, monitor) or output (speaker)."""
    host_api: str
    """``PulseAudio``, or the PortAudio host API (``ALSA``, ``CoreAudio``, ``WASAPI``...)."""
    channels: int
    """Channels the device offers in this direction (we use one)."""
    default_samplerate: float
    """The device's native rate; we resample to and from 48 kHz when it differs."""


@dataclass(frozen=True, slots=True)
class AudioDeviceList:
    """Every input and output at one moment, and which of them are the defaults."""

    inputs: tuple[AudioDevice, ...] = ()
    """Microphones (and PulseAudio monitors of outputs)."""
    outputs: tuple[AudioDevice, ...] = ()
    """Speakers and headsets."""
    default_input: str | None = None
    """The id of the system's default input, ``None`` without one."""
    default_output: str | None = None
    """The id of the system's default output, ``None`` without one."""

    def find(self, device_id: str, kind: DeviceKind) -> AudioDevice | None:
        """The device of ``kind`` with ``device_id``, or ``None``."""
        devices = self.inputs if kind is DeviceKind.INPUT else self.outputs
        return next((d for d in devices if d.id == device_id), None)

    def default(self, kind: DeviceKind) -> str | None:
        """The default id of ``kind``."""
        return self.default_input if kind is DeviceKind.INPUT else self.default_output


@dataclass(frozen=True, slots=True)
class AudioDeviceAdded:
    """A device appeared (plugged in, a new PulseAudio sink...)."""

    device: AudioDevice


@dataclass(frozen=True, slots=True)
class AudioDeviceRemoved:
    """A device disappeared."""

    device: AudioDevice


@dataclass(frozen=True, slots=True)
class DefaultAudioDeviceChanged:
    """The system's default input or output is now another device (or none)."""

    kind: DeviceKind
    device_id: str | None
    """The new default's id."""
    previous_id: str | None
    """The default before."""


AudioDeviceEvent = AudioDeviceAdded | AudioDeviceRemoved | DefaultAudioDeviceChanged
"""What ``DeviceWatcher`` reports."""


# --------------------------------------------------------------------------- inventory

_PROBE_SCRIPT = r"""
import json
try:
    import sounddevice as sd
except OSError as exc:
    print(json.dumps({"error": "PortAudio is not available: %s" % exc}))
    raise SystemExit(0)
apis = sd.query_hostapis()
devices = [
    {
        "name": d["name"],
        "host_api": apis[d["hostapi"]]["name"],
        "inputs": d["max_input_channels"],
        "outputs": d["max_output_channels"],
        "rate": d["default_samplerate"],
    }
    for d in sd.query_devices()
]
default_in, default_out = sd.default.device
print(json.dumps({"devices": devices, "default_input": default_in,
                  "default_output": default_out}))
"""
"""Run by a child Python: a fresh PortAudio enumerates and reports as JSON."""


def _portaudio_id(host_api: str, name: str) -> str:
    return f"{_PORTAUDIO_PREFIX}{host_api}:{name}"


def _portaudio_inventory(timeout: float) -> tuple[list[dict[str, Any]], int, int]:
    """PortAudio's devices as a child process sees them (empty if it has none)."""
    try:
        done = subprocess.run(  # noqa: S603 - our own interpreter running our own script
            [sys.executable, "-c", _PROBE_SCRIPT],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        logger.warning("PortAudio device probe failed: %s", exc)
        return [], -1, -1
    try:
        report = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        logger.warning(
            "PortAudio device probe gave no answer (exit %s): %s",
            done.returncode,
            done.stderr[-500:],
        )
        return [], -1, -1
    if "error" in report:
        logger.info("%s", report["error"])
        return [], -1, -1
    return list(report["devices"]), int(report["default_input"]), int(report["default_output"])


@dataclass(frozen=True, slots=True)
class _PulseInventory:
    sinks: tuple[AudioDevice, ...]
    sources: tuple[AudioDevice, ...]
    default_sink: str | None
    default_source: str | None


def _pactl(args: list[str], timeout: float) -> Any:
    pactl = shutil.which("pactl")
    if pactl is None:
        return None
    env = dict(os.environ, LC_ALL="C")
    try:
        done = subprocess.run(  # noqa: S603 - pactl found on PATH, fixed arguments
            [pactl, "-f", "json", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env=env,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        logger.debug("pactl %s failed: %s", args, exc)
        return None
    if done.returncode != 0:
        logger.debug("pactl %s: %s", args, done.stderr.strip())
        return None
    try:
        return json.loads(done.stdout)
    except ValueError:
        logger.debug("pactl %s printed no JSON (PulseAudio older than 16?)", args)
        return None


def _pulse_devices(entries: Any, kind: DeviceKind) -> tuple[AudioDevice, ...]:
    devices = []
    what = "sink" if kind is DeviceKind.OUTPUT else "source"
    for entry in entries if isinstance(entries, list) else []:
        name = str(entry.get("name", ""))
        if not name:
            continue
        spec = str(entry.get("sample_specification", ""))  # "s16le 2ch 48000Hz"
        channels, rate = 2, float(SAMPLE_RATE)
        for word in spec.split():
            if word.endswith("ch") and word[:-2].isdigit():
                channels = int(word[:-2])
            elif word.endswith("Hz") and word[:-2].isdigit():
                rate = float(word[:-2])
        devices.append(
            AudioDevice(
                id=f"{_PULSE_PREFIX}{what}:{name}",
                name=str(entry.get("description") or name),
                kind=kind,
                host_api="PulseAudio",
                channels=channels,
                default_samplerate=rate,
            )
        )
    return tuple(devices)


def _pulse_inventory(timeout: float) -> _PulseInventory | None:
    """PulseAudio's sinks and sources through ``pactl`` (None: no server or no pactl)."""
    info = _pactl(["info"], timeout)
    if not isinstance(info, dict):
        return None
    sinks = _pulse_devices(_pactl(["list", "sinks"], timeout), DeviceKind.OUTPUT)
    sources = _pulse_devices(_pactl(["list", "sources"], timeout), DeviceKind.INPUT)
    default_sink = info.get("default_sink_name") or None
    default_source = info.get("default_source_name") or None
    return _PulseInventory(
        sinks=sinks,
        sources=sources,
        default_sink=f"{_PULSE_PREFIX}sink:{default_sink}" if default_sink else None,
        default_source=f"{_PULSE_PREFIX}source:{default_source}" if default_source else None,
    )


def _snapshot(timeout: float) -> AudioDeviceList:
    raw, default_in, default_out = _portaudio_inventory(timeout)
    bridged = any((e["host_api"], e["name"]) == _PULSE_BRIDGE for e in raw)
    pulse = _pulse_inventory(timeout) if bridged else None
    inputs: list[AudioDevice] = []
    outputs: list[AudioDevice] = []
    default_input = default_output = None
    for index, entry in enumerate(raw):
        host_api, name = str(entry["host_api"]), str(entry["name"])
        if pulse is not None and (host_api, name) == _PULSE_BRIDGE:
            continue  # replaced by the sinks and sources behind it
        device_id = _portaudio_id(host_api, name)
        rate = float(entry["rate"])
        for kind, channels, found, is_default in (
            (DeviceKind.INPUT, int(entry["inputs"]), inputs, index == default_in),
            (DeviceKind.OUTPUT, int(entry["outputs"]), outputs, index == default_out),
        ):
            if channels <= 0:
                continue
            found.append(AudioDevice(device_id, name, kind, host_api, channels, rate))
            if is_default and kind is DeviceKind.INPUT:
                default_input = device_id
            elif is_default:
                default_output = device_id
    if pulse is not None:
        inputs += pulse.sources
        outputs += pulse.sinks
        default_input = pulse.default_source or default_input
        default_output = pulse.default_sink or default_output
    return AudioDeviceList(tuple(inputs), tuple(outputs), default_input, default_output)


def list_audio_devices(timeout: float = 10.0) -> AudioDeviceList:
    """Every audio input and output now, and the defaults (empty lists without any).

    Args:
        timeout: longest wait for the probe (a child process and ``pactl``), seconds.

    Returns:
        A fresh ``AudioDeviceList``; never raises for a machine without audio.
    """
    return _snapshot(timeout)


def _diff(before: AudioDeviceList, after: AudioDeviceList) -> list[AudioDeviceEvent]:
    events: list[AudioDeviceEvent] = []
    for old_devices, new_devices in (
        (before.inputs, after.inputs),
        (before.outputs, after.outputs),
    ):
        old = {d.id: d for d in old_devices}
        new = {d.id: d for d in new_devices}
        events += [AudioDeviceRemoved(d) for i, d in old.items() if i not in new]
        events += [AudioDeviceAdded(d) for i, d in new.items() if i not in old]
    for kind in DeviceKind:
        if before.default(kind) != after.default(kind):
            events.append(
                DefaultAudioDeviceChanged(kind, after.default(kind), before.default(kind))
            )
    return events


# --------------------------------------------------------------------------- opening


@dataclass(frozen=True, slots=True)
class _Target:
    """Where to open a stream in this process's PortAudio."""

    device: AudioDevice
    portaudio: tuple[str, str]
    """(host API, name) of the PortAudio device to open."""
    pulse_name: str | None
    """The PulseAudio sink/source to route to through PULSE_SINK/PULSE_SOURCE."""


class _Stream:
    """What an input and an output share: one PortAudio stream on one device at a time.

    ``AudioDevices`` closes and reopens these around a PortAudio re-initialisation.
    """

    _kind: DeviceKind

    def __init__(self, devices: AudioDevices, latency: float, samplerate: int | None) -> None:
        self._devices = devices
        self._latency = latency
        self._samplerate = samplerate
        self._lock = threading.Lock()
        self._stream: Any = None
        self._target: _Target | None = None
        self.closed = False

    @property
    def device(self) -> AudioDevice:
        """The device in use now.

        Raises:
            AudioDeviceError: never opened.
        """
        if self._target is None:
            raise AudioDeviceError(f"the {self._kind.value} is not open")
        return self._target.device

    @property
    def active(self) -> bool:
        """Whether PortAudio is running the stream (False once closed or if it died)."""
        stream = self._stream
        return stream is not None and bool(stream.active)

    def switch(self, device_id: str | None) -> None:
        """Move to another device from now on (make before break).

        Blocks for one enumeration (about 0.1-0.3 s): from async code, run it with
        ``asyncio.to_thread``.

        Args:
            device_id: the new device's id; ``None`` for the default one.

        Raises:
            NoAudioDevice: no such device; the old one keeps running.
            AudioDeviceError: it could not be opened; the old one keeps running.
        """
        self._start(self._devices._resolve(device_id, self._kind))

    def _start(self, target: _Target) -> None:
        raise NotImplementedError

    def _opened(self, previous: Any) -> None:
        """Bookkeeping once a new stream replaced ``previous`` (closed here)."""
        self._devices._streams.add(self)
        self.closed = False
        _close_quietly(previous)

    def close_stream(self) -> None:
        """Stop the stream (kept closed until ``reopen_stream`` or ``switch``)."""
        with self._lock:
            stream, self._stream = self._stream, None
        _close_quietly(stream)

    def reopen_stream(self) -> None:
        """Open the same device again (after ``close_stream``)."""
        if self._target is not None and not self.closed:
            self._start(self._target)

    def close(self) -> None:
        """Stop and release the device."""
        self.closed = True
        self.close_stream()
        self._devices._streams.discard(self)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AudioDevices:
    """The process's audio devices: list them, open inputs and outputs, watch for changes.

    Args:
        probe_timeout: longest wait for one device enumeration, seconds.
    """

    def __init__(self, probe_timeout: float = 10.0) -> None:
        self.probe_timeout = probe_timeout
        self._streams: weakref.WeakSet[_Stream] = weakref.WeakSet()
        self._lock = threading.RLock()

    def list(self) -> AudioDeviceList:
        """Every input and output now (see ``list_audio_devices``)."""
        return _snapshot(self.probe_timeout)

    def watch(self, interval: float = 1.0) -> DeviceWatcher:
        """A ``DeviceWatcher`` polling every ``interval`` seconds."""
        return DeviceWatcher(interval=interval, probe_timeout=self.probe_timeout)

    def open_input(
        self,
        device_id: str | None = None,
        *,
        latency: float = 0.06,
        buffer_seconds: float = 0.2,
        samplerate: int | None = None,
    ) -> InputDevice:
        """Start capturing from a microphone (or a monitor), as an ``AudioSource``.

        Args:
            device_id: an ``AudioDevice.id`` of an input; ``None`` for the default input.
            latency: PortAudio's suggested latency, seconds.
            buffer_seconds: most captured audio kept unread; older audio is dropped.
            samplerate: the rate to run the device at (resampled to 48 kHz); ``None``:
                48 kHz if the device takes it, else its native rate.

        Returns:
            A started ``InputDevice``; ``read(n)`` gives 48 kHz mono int16.

        Raises:
            NoAudioDevice: no such input, or no input at all.
            AudioDeviceError: PortAudio could not open it.
        """
        device = InputDevice(
            self, latency=latency, buffer_seconds=buffer_seconds, samplerate=samplerate
        )
        device.switch(device_id)
        return device

    def open_output(
        self,
        device_id: str | None = None,
        *,
        latency: float = 0.06,
        buffer_seconds: float = 0.2,
        prefill_seconds: float = 0.04,
        samplerate: int | None = None,
    ) -> OutputDevice:
        """Start a speaker, as a sink: call it (or ``write``) with 48 kHz mono int16.

        Attach it to a call with ``session.inbound.on_pcm(output)``.

        Args:
            device_id: an ``AudioDevice.id`` of an output; ``None`` for the default output.
            latency: PortAudio's suggested latency, seconds.
            buffer_seconds: most audio queued for playing; beyond it the oldest is dropped.
            prefill_seconds: audio queued before playing starts (again after an underrun).
            samplerate: the rate to run the device at (resampled from 48 kHz); ``None``:
                48 kHz if the device takes it, else its native rate.

        Returns:
            A started ``OutputDevice``.

        Raises:
            NoAudioDevice: no such output, or no output at all.
            AudioDeviceError: PortAudio could not open it.
        """
        device = OutputDevice(
            self,
            latency=latency,
            buffer_seconds=buffer_seconds,
            prefill_seconds=prefill_seconds,
            samplerate=samplerate,
        )
        device.switch(device_id)
        return device

    # ----- internals shared by InputDevice and OutputDevice

    def _resolve(self, device_id: str | None, kind: DeviceKind) -> _Target:
        devices = self.list()
        chosen = device_id if device_id is not None else devices.default(kind)
        if chosen is None:
            raise NoAudioDevice(f"this machine has no audio {kind.value} device")
        device = devices.find(chosen, kind)
        if device is None:
            known = ", ".join(d.id for d in (devices.inputs + devices.outputs)) or "none"
            raise NoAudioDevice(f"no audio {kind.value} device {chosen!r} (known: {known})")
        if chosen.startswith(_PULSE_PREFIX):
            return _Target(device, _PULSE_BRIDGE, chosen.split(":", 2)[2])
        return _Target(device, (device.host_api, device.name), None)

    def _portaudio(self) -> ModuleType:
        try:
            import sounddevice  # type: ignore[import-untyped]  # noqa: PLC0415 - optional
        except OSError as exc:  # the wheel is there, libportaudio2 is not
            raise NoAudioDevice(f"PortAudio is not available (libportaudio2): {exc}") from exc
        module: ModuleType = sounddevice
        return module

    def _index(self, target: _Target) -> int:
        """This process's PortAudio index of ``target``, re-initialising it if needed."""
        sd = self._portaudio()
        with self._lock:
            index = self._lookup(sd, target.portaudio)
            if index is None:
                self._reinitialise(sd)
                index = self._lookup(sd, target.portaudio)
            if index is None:
                raise NoAudioDevice(
                    f"PortAudio cannot see {target.portaudio[1]!r} ({target.portaudio[0]})"
                )
            return index

    @staticmethod
    def _lookup(sd: ModuleType, wanted: tuple[str, str]) -> int | None:
        apis = sd.query_hostapis()
        for index, info in enumerate(sd.query_devices()):
            if (apis[info["hostapi"]]["name"], info["name"]) == wanted:
                return index
        return None

    def _reinitialise(self, sd: ModuleType) -> None:
        # Pa_Terminate closes every stream: close ours first, reopen them afterwards.
        streams = list(self._streams)
        logger.info("re-initialising PortAudio to see new devices (%d streams)", len(streams))
        for stream in streams:
            stream.close_stream()
        try:
            sd._terminate()
        finally:
            sd._initialize()
        for stream in streams:
            try:
                stream.reopen_stream()
            except AudioDeviceError:
                logger.exception("could not reopen an audio stream after re-initialising")

    def _open(
        self,
        target: _Target,
        kind: DeviceKind,
        latency: float,
        samplerate: int | None,
        callback: Any,
    ) -> tuple[Any, int, int]:
        """Open and start a PortAudio stream; returns (stream, rate, channels)."""
        sd = self._portaudio()
        index = self._index(target)
        variable = "PULSE_SOURCE" if kind is DeviceKind.INPUT else "PULSE_SINK"
        factory = sd.InputStream if kind is DeviceKind.INPUT else sd.OutputStream
        attempts: list[tuple[int, int]] = []
        rates = (
            (samplerate,) if samplerate else (SAMPLE_RATE, int(target.device.default_samplerate))
        )
        for rate in rates:
            for channels in (1, min(2, max(1, target.device.channels))):
                if (rate, channels) not in attempts:
                    attempts.append((rate, channels))
        last: Exception | None = None
        for rate, channels in attempts:
            try:
                with self._routed(variable, target.pulse_name):
                    stream = factory(
                        device=index,
                        samplerate=rate,
                        channels=channels,
                        dtype="int16",
                        blocksize=rate // 50,  # 20 ms, the WebRTC frame
                        latency=latency,
                        callback=callback,
                    )
                stream.start()
            except (sd.PortAudioError, ValueError) as exc:
                last = exc
                continue
            logger.info(
                "opened %s %s at %d Hz, %d ch", kind.value, target.device.id, rate, channels
            )
            return stream, rate, channels
        raise AudioDeviceError(f"PortAudio could not open {target.device.id!r}: {last}")

    @staticmethod
    @contextlib.contextmanager
    def _routed(variable: str, value: str | None) -> Iterator[None]:
        if value is None:
            yield
            return
        with _ENVIRONMENT_LOCK:
            before = os.environ.get(variable)
            os.environ[variable] = value
            try:
                yield
            finally:
                if before is None:
                    os.environ.pop(variable, None)
                else:
                    os.environ[variable] = before


def _to_frame(pcm: npt.NDArray[np.int16], rate: int) -> av.AudioFrame:
    frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = rate
    return frame


class InputDevice(_Stream):
    """A microphone as an ``AudioSource``: PortAudio fills a ring buffer, ``read`` drains it.

    Made by ``AudioDevices.open_input``. ``switch`` moves it to another device while
    whoever reads it (an ``OutboundTrack``) keeps running.
    """

    _kind = DeviceKind.INPUT

    def __init__(
        self,
        devices: AudioDevices,
        *,
        latency: float,
        buffer_seconds: float,
        samplerate: int | None = None,
    ) -> None:
        super().__init__(devices, latency, samplerate)
        self._max = int(buffer_seconds * SAMPLE_RATE)
        self._chunks: deque[Pcm] = deque()
        self._buffered = 0
        self._rate = SAMPLE_RATE
        self._resample: Resampler | None = None
        self._generation = 0
        self._ready: deque[Pcm] = deque()  # converted to 48 kHz, touched by read() only
        self._ready_samples = 0
        self.dropped_samples = 0
        """Captured samples dropped because nobody read them in time."""

    def _start(self, target: _Target) -> None:
        generation = self._generation + 1
        stream, rate, _channels = self._devices._open(
            target,
            DeviceKind.INPUT,
            self._latency,
            self._samplerate,
            self._callback_for(generation),
        )
        old = self._stream
        with self._lock:
            self._generation = generation
            self._stream, self._target, self._rate = stream, target, rate
            self._resample = None if rate == SAMPLE_RATE else Resampler()
            self._chunks.clear()
            self._buffered = 0
        self._opened(old)

    def _callback_for(self, generation: int) -> Any:
        def callback(indata: npt.NDArray[np.int16], frames: int, _time: Any, status: Any) -> None:
            if status:
                logger.debug("input status: %s", status)
            mono = indata[:, 0] if indata.shape[1] == 1 else indata.mean(axis=1)
            chunk = mono.astype(np.int16, copy=True)
            with self._lock:
                if generation != self._generation:
                    return  # a late block of the stream we switched away from
                self._chunks.append(chunk)
                self._buffered += chunk.size
                limit = self._max * self._rate // SAMPLE_RATE
                while self._buffered > limit and len(self._chunks) > 1:
                    dropped = self._chunks.popleft()
                    self._buffered -= dropped.size
                    self.dropped_samples += dropped.size

        return callback

    @property
    def buffered_seconds(self) -> float:
        """Captured audio not read yet."""
        with self._lock:
            return self._buffered / self._rate

    def read(self, samples: int) -> Pcm:
        """The oldest ``samples`` captured, as 48 kHz mono int16, padded with silence.

        Never blocks: what has not been captured yet reads as silence.
        """
        while self._ready_samples < samples:
            with self._lock:
                if not self._chunks:
                    break
                chunk = self._chunks.popleft()
                self._buffered -= chunk.size
                rate, resample = self._rate, self._resample
            pcm = chunk if resample is None else resample(_to_frame(chunk, rate))
            self._ready.append(pcm)
            self._ready_samples += pcm.size
        out = silence(samples)
        filled = 0
        while filled < samples and self._ready:
            pcm = self._ready[0]
            take = min(samples - filled, pcm.size)
            out[filled : filled + take] = pcm[:take]
            filled += take
            if take == pcm.size:
                self._ready.popleft()
            else:
                self._ready[0] = pcm[take:]
        self._ready_samples -= filled
        return out


class OutputDevice(_Stream):
    """A speaker as a sink: ``write(pcm)`` (or call it) queues 48 kHz mono int16 to play.

    Made by ``AudioDevices.open_output``; attach it with ``inbound.on_pcm(output)``.
    A small buffer absorbs jitter: playing starts once ``prefill_seconds`` are queued,
    an underrun plays silence, and beyond ``buffer_seconds`` the oldest audio is dropped.
    """

    _kind = DeviceKind.OUTPUT

    def __init__(
        self,
        devices: AudioDevices,
        *,
        latency: float,
        buffer_seconds: float,
        prefill_seconds: float,
        samplerate: int | None = None,
    ) -> None:
        super().__init__(devices, latency, samplerate)
        self._buffer_seconds = buffer_seconds
        self._prefill_seconds = prefill_seconds
        self._chunks: deque[npt.NDArray[np.int16]] = deque()
        self._buffered = 0
        self._primed = False
        self._rate = SAMPLE_RATE
        self._resample: Resampler | None = None
        self.underruns = 0
        """Device callbacks that found too little queued audio and played silence."""
        self.dropped_samples = 0
        """Queued samples dropped because more arrived than the device played."""
        self.played_samples = 0
        """Samples handed to the device (at its rate), silence excluded."""

    def _start(self, target: _Target) -> None:
        stream, rate, _channels = self._devices._open(
            target, DeviceKind.OUTPUT, self._latency, self._samplerate, self._callback
        )
        old = self._stream
        with self._lock:
            self._stream, self._target = stream, target
            self._rate = rate
            self._resample = None if rate == SAMPLE_RATE else Resampler(rate)
            self._chunks.clear()
            self._buffered = 0
            self._primed = False
        self._opened(old)

    def write(self, pcm: Pcm) -> None:
        """Queue ``pcm`` (48 kHz mono int16) for playing."""
        data = np.asarray(pcm, dtype=np.int16).reshape(-1)
        if data.size == 0 or self.closed:
            return
        with self._lock:
            rate, resample = self._rate, self._resample
        if resample is not None:
            data = resample(_to_frame(data, SAMPLE_RATE))
        with self._lock:
            if rate != self._rate:
                return  # switched to a device of another rate meanwhile
            self._chunks.append(data)
            self._buffered += data.size
            limit = int(self._buffer_seconds * self._rate)
            while self._buffered > limit and len(self._chunks) > 1:
                dropped = self._chunks.popleft()
                self._buffered -= dropped.size
                self.dropped_samples += dropped.size

    def __call__(self, pcm: Pcm) -> None:
        """The same as ``write``: lets the device be an ``on_pcm`` callback."""
        self.write(pcm)

    @property
    def buffered_seconds(self) -> float:
        """Audio queued and not played yet."""
        with self._lock:
            return self._buffered / self._rate

    def _callback(
        self, outdata: npt.NDArray[np.int16], frames: int, _time: Any, status: Any
    ) -> None:
        if status:
            logger.debug("output status: %s", status)
        block = np.zeros(frames, dtype=np.int16)
        with self._lock:
            if not self._primed and self._buffered >= int(self._prefill_seconds * self._rate):
                self._primed = True
            filled = 0
            if self._primed:
                filled = take_queued(self._chunks, block)
                self._buffered -= filled
                if filled < frames:
                    self.underruns += 1
                    self._primed = False
            self.played_samples += filled
        outdata[:] = block.reshape(-1, 1)


def _close_quietly(stream: Any) -> None:
    if stream is None:
        return
    try:
        stream.stop()
        stream.close()
    except Exception:  # a vanished device may fail to stop; it is gone either way
        logger.debug("closing an audio stream failed", exc_info=True)


# --------------------------------------------------------------------------- watching


class DeviceWatcher:
    """Notices devices that appear or disappear and changes of the defaults, by polling.

    PortAudio has no hot-plug events, so every ``interval`` seconds a fresh enumeration
    (a child process and ``pactl``, see the module docstring) is compared with the last.

    Args:
        interval: seconds between two enumerations.
        probe_timeout: longest wait for one enumeration.
    """

    def __init__(self, interval: float = 1.0, probe_timeout: float = 10.0) -> None:
        self.interval = interval
        self.probe_timeout = probe_timeout
        self.devices: AudioDeviceList | None = None
        """The last enumeration (``None`` before the first)."""

    def poll(self) -> list[AudioDeviceEvent]:
        """Enumerate now; what changed since the last ``poll`` (nothing on the first).

        Returns:
            Removals, then additions, then default changes; updates ``devices``.
        """
        current = _snapshot(self.probe_timeout)
        before, self.devices = self.devices, current
        return [] if before is None else _diff(before, current)

    async def events(self) -> AsyncIterator[AudioDeviceEvent]:
        """Every change from now on, as it is noticed (runs until the consumer stops).

        The first enumeration is the baseline; the probes run in a worker thread.
        """
        if self.devices is None:
            await asyncio.to_thread(self.poll)
        while True:
            await asyncio.sleep(self.interval)
            for event in await asyncio.to_thread(self.poll):
                yield event
