"""The facade's audio choices and device callbacks (guide sections 5.13 and 5.14).

``ExotelWebClient`` delegates here. Where the JS SDK 2.0.5 differs from the guide, the
guide wins, and the JS bugs are not copied:

- ``onDeviceChangeCallback`` given: it gets every device event and the SDK does *not*
  switch devices (the guide's rule; 2.0.5 switched anyway).
- One device watcher, running while callbacks are registered (2.0.5 added a
  ``devicechange`` listener on every ``DoRegister``).
- ``changeAudioInputDevice``/``changeAudioOutputDevice`` work before a call too: the choice
  is remembered for the next calls (2.0.5 failed with "no call active" and forgot it).
- No device is ever required unless the configuration asks for one: by default
  (``"auto"``) calls use the default microphone and speaker when the machine has them,
  and silence otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from exotel_voice.audio import AudioConfig, CallAudio, missing_audio_device, process_audio_devices
from exotel_voice.errors import CallStateError, MediaUnavailable
from sipmedia import (
    AudioDeviceEvent,
    DefaultAudioDeviceChanged,
    DeviceKind,
    DeviceWatcher,
)

if TYPE_CHECKING:
    from exotel_voice.call import Call
    from exotel_voice.webclient.client import ExotelWebClient

__all__ = ["DeviceControl", "AUDIO_SOURCE_KEY", "AUDIO_SINK_KEY", "DEVICE_NOT_FOUND"]

logger = logging.getLogger(__name__)

AUDIO_SOURCE_KEY = "audioSource"
"""The optional ``sipAccountInfo`` key for what calls send (``AudioConfig.source``)."""
AUDIO_SINK_KEY = "audioSink"
"""The optional ``sipAccountInfo`` key for where received audio goes (``AudioConfig.sink``)."""
DEVICE_NOT_FOUND = "deviceIdNotFound"
"""The ``onError`` argument for an unknown device id (the JS SDK's string)."""

DeviceIdCallback = Callable[[str], object]
DeviceEventCallback = Callable[[AudioDeviceEvent], object]


class DeviceControl:
    """Audio configuration, device changes and the device watcher of one facade client.

    Everything asynchronous here runs on the client's loop thread, and every callback is
    called there through ``ExotelWebClient._safely`` (exceptions logged, not raised).
    """

    def __init__(self, client: ExotelWebClient) -> None:
        self._client = client
        self.config = AudioConfig()
        """What calls send and where received audio goes (``"auto"``/``"auto"`` by default)."""
        self._on_input: DeviceIdCallback | None = None
        self._on_output: DeviceIdCallback | None = None
        self._on_change: DeviceEventCallback | None = None
        self._watcher: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ configuration

    def configure(self, info: Mapping[str, Any]) -> None:
        """Take ``audioSource``/``audioSink`` from ``sipAccountInfo`` (both optional).

        Raises:
            ConfigurationError: naming the key.
        """
        if AUDIO_SOURCE_KEY not in info and AUDIO_SINK_KEY not in info:
            return
        self._set(
            AudioConfig.parse(
                info.get(AUDIO_SOURCE_KEY, self.config.source),
                info.get(AUDIO_SINK_KEY, self.config.sink),
                names=(
                    f"sipAccountInfo['{AUDIO_SOURCE_KEY}']",
                    f"sipAccountInfo['{AUDIO_SINK_KEY}']",
                ),
            )
        )

    def set_source(self, source: object) -> None:
        """Choose what later calls send.

        Raises:
            ConfigurationError: not a source choice.
        """
        self._set(AudioConfig.parse(source, self.config.sink, names=("source", "sink")))

    def set_sink(self, sink: object) -> None:
        """Choose where the received audio of later calls goes.

        Raises:
            ConfigurationError: not a sink choice.
        """
        self._set(AudioConfig.parse(self.config.source, sink, names=("source", "sink")))

    def _set(self, config: AudioConfig) -> None:
        self.config = config
        phone = self._client._phone
        if phone is not None:
            phone.audio = config

    def media_status(self) -> str | None:
        """``"media_permission_denied"`` if the configuration needs a device this machine
        does not have now (checked by listing; nothing is opened), else None."""
        problem = missing_audio_device(self.config)
        if problem is None:
            return None
        logger.info("media_permission_denied: %s", problem)
        return "media_permission_denied"

    @property
    def input_device_id(self) -> str | None:
        """The input device the SDK uses: the active call's, else the chosen one (None:
        the default)."""
        audio = self._call_audio()
        if audio is not None and audio.input_device_id is not None:
            return audio.input_device_id
        return self.config.input_device_id

    @property
    def output_device_id(self) -> str | None:
        """The output device the SDK uses: the active call's, else the chosen one (None:
        the default)."""
        audio = self._call_audio()
        if audio is not None and audio.output_device_id is not None:
            return audio.output_device_id
        return self.config.output_device_id

    def _active_call(self) -> Call | None:
        return self._client._current_call()

    def _call_audio(self) -> CallAudio | None:
        call = self._active_call()
        audio = call.audio if call is not None else None
        return audio if audio is not None and not audio.closed else None

    # ------------------------------------------------------------------ 5.13 / 5.5

    async def reject_without_media(self, call: Call, error: MediaUnavailable) -> bool:
        """The phone's hook when answering finds no device: reject as the JS SDK does.

        SIP.js answers a failed ``getUserMedia`` with 480; the app gets ``callEnded``
        (from the rejection) and the session callback ``media_permission_denied``.
        """
        logger.warning("cannot answer %s: %s; rejecting it", call.id, error)
        client = self._client
        client._safely(client._session_cb, "media_permission_denied", client._user_name)
        with contextlib.suppress(CallStateError):  # it may have ended meanwhile
            await call.reject(480, "Temporarily Unavailable")
        return True

    # ------------------------------------------------------------------ 5.14 manual

    async def change_device(
        self,
        kind: DeviceKind,
        device_id: str,
        on_success: Callable[[], object] | None,
        on_error: Callable[[str], object] | None,
        force: bool,
    ) -> None:
        """Use ``device_id`` for ``kind`` now (active call) and for later calls.

        Calls ``on_success()`` or ``on_error(message)``: ``"deviceIdNotFound"`` for an
        id the machine does not have. The active call keeps its old device if the new
        one fails. Choosing the device in use again does nothing unless ``force`` (which
        reopens it, e.g. after a glitch).
        """
        safely = self._client._safely
        device_id = str(device_id)
        listed = await asyncio.to_thread(process_audio_devices().list)
        if listed.find(device_id, kind) is None:
            logger.warning("no %s device %r", kind.value, device_id)
            safely(on_error, DEVICE_NOT_FOUND)
            return
        try:
            await self._switch_call(kind, device_id, force=force)
        except MediaUnavailable as exc:
            safely(on_error, str(exc))
            return
        self._remember(kind, device_id)
        safely(on_success)

    async def _switch_call(self, kind: DeviceKind, device_id: str, *, force: bool) -> bool:
        """Move the active call to ``device_id``; False if there is no call to move.

        Raises:
            MediaUnavailable: the device could not be opened (the call keeps its old one).
        """
        call = self._active_call()
        audio = self._call_audio()
        if call is None or audio is None:
            return False
        if kind is DeviceKind.INPUT:
            if audio.input_device_id != device_id or force:
                await asyncio.to_thread(audio.use_input_device, device_id)
            # make the call send it, even if something else was played meanwhile
            await call._phone._media.call(call.play, audio)
        elif audio.output_device_id != device_id or force:
            await asyncio.to_thread(audio.use_output_device, device_id)
        return True

    def _remember(self, kind: DeviceKind, device_id: str) -> None:
        if kind is DeviceKind.INPUT:
            self._set(self.config.with_input_device(device_id))
        else:
            self._set(self.config.with_output_device(device_id))

    # ------------------------------------------------------------------ 5.14 automatic

    def register(
        self,
        on_input: DeviceIdCallback,
        on_output: DeviceIdCallback,
        on_change: DeviceEventCallback | None,
    ) -> None:
        """Keep the callbacks (replacing earlier ones); ``watch`` starts the watcher.

        Raises:
            TypeError: a callback is not callable.
        """
        for name, cb in (
            ("audioInputDeviceChangeCallback", on_input),
            ("audioOutputDeviceChangeCallback", on_output),
        ):
            if not callable(cb):
                raise TypeError(f"{name} must be callable")
        if on_change is not None and not callable(on_change):
            raise TypeError("onDeviceChangeCallback must be callable")
        self._on_input, self._on_output, self._on_change = on_input, on_output, on_change

    async def watch(self, interval: float) -> None:
        """Run the device watcher unless it runs already (one per client).

        Returns once its first enumeration (the baseline) is done, so a change made
        after this returns is reported.
        """
        if self._watcher is not None and not self._watcher.done():
            return
        watcher = DeviceWatcher(interval=interval)
        await asyncio.to_thread(watcher.poll)  # the baseline
        self._watcher = asyncio.ensure_future(self._watch(watcher))

    @property
    def watching(self) -> bool:
        """Whether the device watcher runs."""
        return self._watcher is not None and not self._watcher.done()

    async def _watch(self, watcher: DeviceWatcher) -> None:
        try:
            async for event in watcher.events():
                try:
                    await self._on_event(event)
                except Exception:
                    logger.exception("handling %r failed", event)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("the audio device watcher stopped")

    async def _on_event(self, event: AudioDeviceEvent) -> None:
        logger.info("audio device event: %s", event)
        if self._on_change is not None:
            # The guide (5.14): with onDeviceChangeCallback the SDK does not switch.
            self._client._safely(self._on_change, event)
            return
        if not isinstance(event, DefaultAudioDeviceChanged) or event.device_id is None:
            return
        kind, device_id = event.kind, event.device_id
        follows = (
            self.config.uses_input_device
            if kind is DeviceKind.INPUT
            else self.config.uses_output_device
        )
        if follows:
            try:
                await self._switch_call(kind, device_id, force=False)
            except MediaUnavailable as exc:
                logger.warning("could not follow the new default %s: %s", kind.value, exc)
                return
            if (
                self.config.input_device_id
                if kind is DeviceKind.INPUT
                else self.config.output_device_id
            ) is not None:
                self._remember(kind, device_id)  # a chosen device moves with the default
        callback = self._on_input if kind is DeviceKind.INPUT else self._on_output
        self._client._safely(callback, device_id)

    async def aclose(self) -> None:
        """Forget the callbacks, stop the watcher and wait for it."""
        self._on_input = self._on_output = self._on_change = None
        task, self._watcher = self._watcher, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(task, return_exceptions=True)
