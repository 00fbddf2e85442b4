"""What a phone's calls send, and where the audio they receive goes: ``AudioConfig``.

Audio is configuration, never a requirement: a server, a CI job or a container without
any sound card places and answers calls, sending silence. A microphone or speaker is
used when one is asked for (``"device"`` or a device id), or, with the default
``"auto"``, when this machine has one::

    Phone(account, audio=AudioConfig())                  # devices if any, else silence
    Phone(account, audio=AudioConfig(source="device"))   # the microphone, or MediaUnavailable
    Phone(account, audio=AudioConfig(source="prompt.wav", sink="calls/{call_id}.wav"))
    Phone(account, audio=AudioConfig(source=writer, sink=on_pcm))   # a bot: PCM in and out

``source`` (what calls send):

=========================  ================================================================
``"auto"`` (default)       the default input device if there is one, else silence
``"device"``               the default input device; ``MediaUnavailable`` if none opens
a device id                that input (``pulse:source:<name>``, ``portaudio:<api>:<name>``;
                           see ``sipmedia.list_audio_devices``); ``MediaUnavailable`` if not
``"silence"``              nothing
``"tone:<Hz>"``            a sine tone (a new ``Tone`` per call)
a file path                the file, from its start in every call (wav, mp3, ogg...)
an ``AudioSource``         that object (``Tone``, ``PcmWriter``...), shared by every call
a zero-argument factory    called once per call for a fresh ``AudioSource``
=========================  ================================================================

``sink`` (where received audio goes):

=========================  ================================================================
``"auto"`` (default)       the default output device if there is one, else nowhere
``"device"``               the default output device; ``MediaUnavailable`` if none opens
a device id                that output (``pulse:sink:<name>``...)
a file path                recorded, one file per call (``.wav``, ``.ogg``, ``.opus``,
                           ``.mp3``); ``{call_id}`` in the path becomes the SIP Call-ID
a callable                 called with every received 20 ms chunk (48 kHz mono int16), on
                           the media loop's thread; it must return quickly
``None`` / ``"none"``      nowhere (``call.recent_audio`` still works)
=========================  ================================================================

Each call gets a ``CallAudio`` (``call.audio``) opened from the config: the call's
``AudioSource`` and ``on_pcm`` sink in one object, whose devices can be switched while the
call runs, without renegotiation (``use_input_device``, ``use_output_device``).
"""

from __future__ import annotations

import enum
import functools
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeAlias

from exotel_voice.errors import ConfigurationError, MediaUnavailable
from sipmedia import (
    RECORD_CODECS,
    AudioDeviceError,
    AudioDeviceList,
    AudioDevices,
    AudioFileError,
    AudioSource,
    DeviceKind,
    FileRecorder,
    FileSource,
    InputDevice,
    OutputDevice,
    Pcm,
    Silence,
    Tone,
)

__all__ = [
    "AudioConfig",
    "AudioSourceChoice",
    "AudioSinkChoice",
    "CallAudio",
    "DEVICE_ID_PREFIXES",
    "open_call_audio",
    "missing_audio_device",
    "process_audio_devices",
    "audio_device_lock",
]

logger = logging.getLogger(__name__)

DEVICE_ID_PREFIXES = ("pulse:", "portaudio:")
"""How every ``sipmedia`` device id starts; any other string is a keyword or a file path."""

AudioSourceChoice: TypeAlias = str | os.PathLike[str] | AudioSource | Callable[[], AudioSource]
"""What ``AudioConfig.source`` takes (see the module docstring)."""
AudioSinkChoice: TypeAlias = str | os.PathLike[str] | Callable[[Pcm], object] | None
"""What ``AudioConfig.sink`` takes (see the module docstring)."""


class _Kind(enum.Enum):
    AUTO = "auto"
    DEVICE = "device"
    NONE = "none"
    FILE = "file"
    TONE = "tone"
    OBJECT = "object"
    FACTORY = "factory"
    CALLBACK = "callback"


@dataclass(frozen=True, slots=True)
class _Choice:
    """A parsed source or sink choice."""

    kind: _Kind
    device_id: str | None = None
    """For ``DEVICE``: the id, or None for the default device."""
    path: str | None = None
    frequency: float = 0.0
    value: object = None
    """For ``OBJECT``/``FACTORY``/``CALLBACK``: the object."""

    @property
    def follows_devices(self) -> bool:
        """Whether the choice is a device (``auto`` included)."""
        return self.kind in (_Kind.AUTO, _Kind.DEVICE)

    @property
    def requires_device(self) -> bool:
        """Whether a device must open (``device`` or an id; ``auto`` never requires one)."""
        return self.kind is _Kind.DEVICE


def _keyword_or_device(text: str) -> _Choice | None:
    word = text.strip()
    lowered = word.lower()
    if lowered == "auto":
        return _Choice(_Kind.AUTO)
    if lowered == "device":
        return _Choice(_Kind.DEVICE)
    if word.startswith(DEVICE_ID_PREFIXES):
        return _Choice(_Kind.DEVICE, device_id=word)
    return None


def _parse_source(value: object, name: str) -> _Choice:
    if isinstance(value, str):
        choice = _keyword_or_device(value)
        if choice is not None:
            return choice
        lowered = value.strip().lower()
        if lowered in ("silence", "none"):
            return _Choice(_Kind.NONE)
        if lowered.startswith("tone:"):
            try:
                frequency = float(lowered[5:])
                Tone(frequency)
            except ValueError:
                raise ConfigurationError(
                    name, f"{value!r} is not a tone: use 'tone:<Hz>', 20 to 24000 Hz"
                ) from None
            return _Choice(_Kind.TONE, frequency=frequency)
    if isinstance(value, str | os.PathLike):
        path = os.fspath(value)
        if not Path(path).is_file():
            raise ConfigurationError(
                name,
                f"no such audio file {path!r} (a source is 'auto', 'device', a device id "
                f"starting with {' or '.join(DEVICE_ID_PREFIXES)}, 'silence', 'tone:<Hz>', "
                "a file, an AudioSource or a factory of one)",
            )
        return _Choice(_Kind.FILE, path=path)
    if isinstance(value, type):
        return _Choice(_Kind.FACTORY, value=value)  # a class: Silence, a Tone subclass...
    if callable(getattr(value, "read", None)):
        return _Choice(_Kind.OBJECT, value=value)
    if callable(value):
        return _Choice(_Kind.FACTORY, value=value)
    raise ConfigurationError(name, f"not an audio source: {value!r}")


def _parse_sink(value: object, name: str) -> _Choice:
    if value is None:
        return _Choice(_Kind.NONE)
    if isinstance(value, str):
        choice = _keyword_or_device(value)
        if choice is not None:
            return choice
        if value.strip().lower() == "none":
            return _Choice(_Kind.NONE)
    if isinstance(value, str | os.PathLike):
        path = os.fspath(value)
        suffix = Path(path).suffix.lower()
        if suffix not in RECORD_CODECS:
            raise ConfigurationError(
                name,
                f"cannot record to {path!r}: use a {', '.join(RECORD_CODECS)} file, 'auto', "
                f"'device', a device id starting with {' or '.join(DEVICE_ID_PREFIXES)}, "
                "'none' or a callable",
            )
        parent = Path(path).parent
        if not parent.is_dir():
            raise ConfigurationError(name, f"cannot record to {path!r}: no directory {parent}")
        return _Choice(_Kind.FILE, path=path)
    if isinstance(value, type) or not callable(value):
        raise ConfigurationError(name, f"not an audio sink: {value!r}")
    return _Choice(_Kind.CALLBACK, value=value)


@dataclass(frozen=True, slots=True)
class AudioConfig:
    """What calls send (``source``) and where received audio goes (``sink``).

    See the module docstring for every choice. Checked at construction.

    Raises:
        ConfigurationError: naming ``source`` or ``sink`` (a missing file, an unknown
            keyword, a sink file of a format we cannot write...).
    """

    source: AudioSourceChoice = "auto"
    """What calls send; ``"auto"``: the default microphone if any, else silence."""
    sink: AudioSinkChoice = "auto"
    """Where received audio goes; ``"auto"``: the default speaker if any, else nowhere."""
    _source: _Choice = field(init=False, repr=False, compare=False)
    _sink: _Choice = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_source", _parse_source(self.source, "source"))
        object.__setattr__(self, "_sink", _parse_sink(self.sink, "sink"))

    @classmethod
    def parse(
        cls, source: object = "auto", sink: object = "auto", *, names: tuple[str, str]
    ) -> AudioConfig:
        """Like the constructor, with ``names`` for the fields in error messages.

        Raises:
            ConfigurationError: naming ``names[0]`` or ``names[1]``.
        """
        _parse_source(source, names[0])
        _parse_sink(sink, names[1])
        return cls(source, sink)  # type: ignore[arg-type]  # checked just above

    # ------------------------------------------------------------------ inspection

    @property
    def needs_input_device(self) -> bool:
        """Whether calls need an input device (``"device"`` or an id; never ``"auto"``)."""
        return self._source.requires_device

    @property
    def needs_output_device(self) -> bool:
        """Whether calls need an output device (``"device"`` or an id)."""
        return self._sink.requires_device

    @property
    def uses_input_device(self) -> bool:
        """Whether the source is a device choice (``"auto"`` included)."""
        return self._source.follows_devices

    @property
    def uses_output_device(self) -> bool:
        """Whether the sink is a device choice (``"auto"`` included)."""
        return self._sink.follows_devices

    @property
    def input_device_id(self) -> str | None:
        """The input device id chosen, or None (the default device, or not a device)."""
        return self._source.device_id

    @property
    def output_device_id(self) -> str | None:
        """The output device id chosen, or None (the default device, or not a device)."""
        return self._sink.device_id

    # ------------------------------------------------------------------ derived configs

    def with_input_device(self, device_id: str | None) -> AudioConfig:
        """The same config sending from input ``device_id`` (None: the default input)."""
        return replace(self, source=device_id or "device")

    def with_output_device(self, device_id: str | None) -> AudioConfig:
        """The same config playing to output ``device_id`` (None: the default output)."""
        return replace(self, sink=device_id or "device")


@functools.cache
def process_audio_devices() -> AudioDevices:
    """The process's ``AudioDevices``, shared by every phone and call.

    PortAudio is process-wide state: re-initialising it (which ``AudioDevices`` does to
    see a device plugged in later) closes every stream of the process, so sipmedia
    wants one ``AudioDevices`` per process, which reopens its own streams around it.
    """
    return AudioDevices()


@functools.cache
def audio_device_lock() -> threading.RLock:
    """Held while this package opens, switches or closes a device stream.

    PortAudio streams opened from two threads at once do not reliably start (seen with
    ALSA's pulse plugin: a capture stream that runs but never delivers a block), so a
    call's devices, another call's and a diagnostic's open one after the other.
    """
    return threading.RLock()


def missing_audio_device(config: AudioConfig, devices: AudioDevices | None = None) -> str | None:
    """Why ``config`` cannot be honoured on this machine now, or None if it can.

    Only configs that need a device (``"device"`` or an id) can fail; the check lists
    the devices and opens none (so no microphone is left open, or even touched).

    Returns:
        A sentence naming the missing device, or None.
    """
    if not (config.needs_input_device or config.needs_output_device):
        return None
    listed = (devices or process_audio_devices()).list()
    for needed, wanted, kind in (
        (config.needs_input_device, config.input_device_id, DeviceKind.INPUT),
        (config.needs_output_device, config.output_device_id, DeviceKind.OUTPUT),
    ):
        if needed:
            problem = _absent(listed, wanted, kind)
            if problem is not None:
                return problem
    return None


def _absent(listed: AudioDeviceList, device_id: str | None, kind: DeviceKind) -> str | None:
    chosen = device_id or listed.default(kind)
    if chosen is None:
        return f"this machine has no audio {kind.value} device"
    if listed.find(chosen, kind) is None:
        return f"no audio {kind.value} device {chosen!r}"
    return None


def _unavailable(what: str, exc: Exception) -> MediaUnavailable:
    return MediaUnavailable(f"{what}: {exc}")


class CallAudio:
    """The audio of one call: an ``AudioSource`` (what it sends) and an ``on_pcm`` sink
    (where what it receives goes), with devices that can change while the call runs.

    Made by ``open_call_audio``; a call keeps its own as ``call.audio``. ``read`` runs on
    the media loop (the call's outbound track), ``__call__`` too (its inbound audio); the
    ``use_*`` methods may run in any thread and block while a device opens (about 0.5 s:
    run them with ``asyncio.to_thread``/``anyio.to_thread.run_sync`` from async code).

    Args:
        devices: the process's devices (``process_audio_devices()``).
    """

    def __init__(self, devices: AudioDevices) -> None:
        self._devices = devices
        self._lock = threading.Lock()
        self._source: AudioSource = Silence()
        self._sink: Callable[[Pcm], object] | None = None
        self._input: InputDevice | None = None
        self._output: OutputDevice | None = None
        self._file: FileSource | None = None
        self._recorder: FileRecorder | None = None
        self._recording: str | None = None
        self._sink_failed = False
        self.closed = False
        """Set by ``close``: reads give silence, received audio goes nowhere."""

    def __repr__(self) -> str:
        return (
            f"<CallAudio input={self.input_device_id!r} output={self.output_device_id!r}"
            f"{' closed' if self.closed else ''}>"
        )

    # ------------------------------------------------------------------ the call's side

    def read(self, samples: int) -> Pcm:
        """The next ``samples`` of the current source (an ``AudioSource``)."""
        with self._lock:
            if self.closed:
                return Silence().read(samples)
            return self._source.read(samples)

    def __call__(self, pcm: Pcm) -> None:
        """Hand received audio to the current sink (an ``on_pcm`` callback).

        A sink that raises is logged (once) and skipped: the call's audio keeps flowing.
        """
        with self._lock:
            sink = None if self.closed else self._sink
            if sink is None:
                return
            try:
                sink(pcm)
            except Exception:
                if not self._sink_failed:
                    self._sink_failed = True
                    logger.exception("the audio sink %r raised; later failures not logged", sink)

    # ------------------------------------------------------------------ inspection

    @property
    def input_device_id(self) -> str | None:
        """The input device the call sends from, or None (it sends something else)."""
        device = self._input
        if device is None or device.closed or self._source is not device:
            return None
        return device.device.id

    @property
    def output_device_id(self) -> str | None:
        """The output device the call plays to, or None (its audio goes elsewhere)."""
        device = self._output
        if device is None or device.closed or self._sink is not device:
            return None
        return device.device.id

    @property
    def input(self) -> InputDevice | None:
        """The open input device (whether or not it is the current source)."""
        return self._input

    @property
    def output(self) -> OutputDevice | None:
        """The open output device (whether or not it is the current sink)."""
        return self._output

    # ------------------------------------------------------------------ switching

    def use_input_device(self, device_id: str | None) -> None:
        """Send from input ``device_id`` (None: the default input) from now on.

        An open input moves to the new device (make before break: the old one keeps
        running if the new one fails); otherwise one is opened and replaces the source.
        No renegotiation: the call's track keeps running. Blocks while the device opens.

        Raises:
            MediaUnavailable: no such input, or it could not be opened (nothing changed).
        """
        device = self._input
        try:
            with audio_device_lock():
                if device is not None and not device.closed:
                    device.switch(device_id)
                else:
                    device = self._devices.open_input(device_id)
        except AudioDeviceError as exc:
            raise _unavailable("cannot use the input device", exc) from exc
        self._input = device
        self._replace_source(device)

    def use_output_device(self, device_id: str | None) -> None:
        """Play received audio on output ``device_id`` (None: the default) from now on.

        Blocks while the device opens.

        Raises:
            MediaUnavailable: no such output, or it could not be opened (nothing changed).
        """
        device = self._output
        try:
            with audio_device_lock():
                if device is not None and not device.closed:
                    device.switch(device_id)
                else:
                    device = self._devices.open_output(device_id)
        except AudioDeviceError as exc:
            raise _unavailable("cannot use the output device", exc) from exc
        self._output = device
        self._replace_sink(device)

    def use_source(self, source: AudioSource) -> None:
        """Send ``source`` from now on (an input device or file opened here is closed)."""
        self._replace_source(source)

    def use_sink(self, sink: Callable[[Pcm], object] | None) -> None:
        """Hand received audio to ``sink`` from now on (None: nowhere)."""
        self._replace_sink(sink)

    def _replace_source(self, source: AudioSource) -> None:
        with self._lock:
            previous, self._source = self._source, source
        if previous is source:
            return
        if previous is self._input and self._input is not None:
            with audio_device_lock():
                self._input.close()
            self._input = None
        elif previous is self._file and self._file is not None:
            self._file.close()
            self._file = None

    def _replace_sink(self, sink: Callable[[Pcm], object] | None) -> None:
        with self._lock:
            previous, self._sink = self._sink, sink
            self._sink_failed = False
        if previous is sink:
            return
        if previous is self._output and self._output is not None:
            with audio_device_lock():
                self._output.close()
            self._output = None
        elif previous is self._recorder and self._recorder is not None:
            self._recorder.close()
            self._recorder = None

    # ------------------------------------------------------------------ opening, closing

    def _open_source(self, choice: _Choice) -> None:
        kind = choice.kind
        if kind is _Kind.AUTO:
            try:
                self.use_input_device(None)
            except MediaUnavailable as exc:
                logger.info("no usable input device, the call sends silence (%s)", exc)
        elif kind is _Kind.DEVICE:
            self.use_input_device(choice.device_id)
        elif kind is _Kind.FILE:
            assert choice.path is not None
            try:
                self._file = FileSource(choice.path)
            except AudioFileError as exc:
                raise _unavailable("cannot play the source file", exc) from exc
            self._replace_source(self._file)
        elif kind is _Kind.TONE:
            self._replace_source(Tone(choice.frequency))
        elif kind is _Kind.OBJECT:
            self._replace_source(choice.value)  # type: ignore[arg-type]  # parsed: has read()
        elif kind is _Kind.FACTORY:
            factory: Callable[[], AudioSource] = choice.value  # type: ignore[assignment]
            self._replace_source(factory())

    def _open_sink(self, choice: _Choice, call_id: str | None) -> None:
        kind = choice.kind
        if kind is _Kind.AUTO:
            try:
                self.use_output_device(None)
            except MediaUnavailable as exc:
                logger.info("no usable output device, received audio goes nowhere (%s)", exc)
        elif kind is _Kind.DEVICE:
            self.use_output_device(choice.device_id)
        elif kind is _Kind.FILE:
            self._recording = choice.path
            if call_id is not None:
                self.attach(call_id)
        elif kind is _Kind.CALLBACK:
            self._replace_sink(choice.value)  # type: ignore[arg-type]  # parsed: callable

    def attach(self, call_id: str) -> None:
        """Start what needed the call's id: a recording (``{call_id}`` in its path).

        Raises:
            MediaUnavailable: the recording file could not be created.
        """
        template, self._recording = self._recording, None
        if template is None or self.closed:
            return
        path = template.replace("{call_id}", _safe_file_name(call_id))
        try:
            recorder = FileRecorder(path)
        except AudioFileError as exc:
            raise _unavailable("cannot record the call", exc) from exc
        self._recorder = recorder
        self._replace_sink(recorder)

    def close(self) -> None:
        """Release the devices and finish the recording (idempotent)."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
            self._source, self._sink = Silence(), None
        for resource in (self._input, self._output, self._file, self._recorder):
            if resource is not None:
                try:
                    with audio_device_lock():
                        resource.close()
                except Exception:  # a vanished device or a full disk: closing goes on
                    logger.exception("closing %r failed", resource)
        self._input = self._output = None
        self._file = self._recorder = None


def _safe_file_name(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_.@" else "_" for c in text)


def open_call_audio(
    config: AudioConfig,
    *,
    devices: AudioDevices | None = None,
    source: AudioSource | None = None,
    call_id: str | None = None,
) -> CallAudio:
    """Open what ``config`` asks for, for one call. Blocks while devices open.

    Opening a device lists the devices first (about 0.4 s: PortAudio enumerates in a
    child process). The input and output open one after the other: PortAudio streams
    opened concurrently from two threads do not reliably start.

    Args:
        config: the choices.
        devices: the process's devices (default: ``process_audio_devices()``).
        source: send this instead of ``config.source`` (the sink still follows ``config``).
        call_id: the SIP Call-ID, for a recording path with ``{call_id}``; without it,
            the recording starts at ``CallAudio.attach(call_id)``.

    Returns:
        The call's ``CallAudio``.

    Raises:
        MediaUnavailable: a device was asked for (``"device"`` or an id) and could not
            be opened, or a file could not be opened; nothing is left open.
    """
    audio = CallAudio(devices or process_audio_devices())
    sink_choice = config._sink
    try:
        if source is not None:
            audio.use_source(source)
            audio._open_sink(sink_choice, call_id)
        else:
            audio._open_source(config._source)
            audio._open_sink(sink_choice, call_id)
    except BaseException:
        audio.close()
        raise
    return audio
