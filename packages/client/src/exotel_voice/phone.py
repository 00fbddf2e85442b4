"""A Phone: one account registered on one server, placing and taking calls.

It composes the layers: a sipcore ``UserAgent`` (the SIP state), a sipadapters driver
(the connection, keepalives and reconnection), and sipmedia sessions (the audio of each
call). Async, typed, on asyncio or trio::

    async with Phone(account) as phone:          # connects and registers
        async for call in phone.incoming():
            await call.answer()
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

import anyio
import anyio.abc
import anyio.from_thread
import anyio.lowlevel
import anyio.to_thread

from exotel_voice._broadcast import Broadcast, Subscription
from exotel_voice.account import Account
from exotel_voice.audio import AudioConfig, CallAudio, open_call_audio
from exotel_voice.call import Call, CallDirection
from exotel_voice.errors import (
    CallStateError,
    ConfigurationError,
    ConnectionFailed,
    MediaUnavailable,
    RegistrationError,
)
from exotel_voice.events import (
    CallEvent,
    Connected,
    Disconnected,
    IncomingCall,
    PhoneEvent,
    ReconnectScheduled,
    Registered,
    RegisterSent,
    RegistrationFailed,
    Unregistered,
)
from sipadapters import (
    AnyEvent,
    ConnectError,
    ReconnectPolicy,
    UserAgentDriver,
    open_transport,
)
from sipadapters import Connected as DriverConnected
from sipadapters import ConnectionLost as DriverConnectionLost
from sipadapters import ReconnectScheduled as DriverReconnectScheduled
from sipadapters.transport import MessageTransport
from sipcore import events as sip
from sipcore.config import UserAgentConfig
from sipcore.errors import LocalProtocolError
from sipcore.registration import RegistrationState
from sipcore.user_agent import UserAgent
from sipmedia import AudioSource, MediaConfig, Silence
from sipmedia.loop import CallerLoop, MediaRunner, media_runner
from sipmedia.warmup import warm_up

__all__ = ["Phone"]


@dataclass(slots=True)
class _Outcome:
    """A registration round waiting for Registered, Unregistered or RegistrationFailed."""

    done: anyio.Event = field(default_factory=anyio.Event)
    event: PhoneEvent | None = None


logger = logging.getLogger(__name__)

Action = Callable[[UserAgent, float], object]


class Phone:
    """A SIP phone for one account.

    Args:
        account: who we are and which server.
        source: what calls send unless told otherwise (default: silence, so no
            microphone is ever required).
        audio: what calls send and where their received audio goes, devices included
            (``AudioConfig``; instead of ``source``). ``AudioConfig()`` uses the
            microphone and speaker when this machine has them, else silence.
        reconnect: backoff policy after a lost connection.

    Raises:
        ConfigurationError: both ``source`` and ``audio`` were given.
    """

    def __init__(
        self,
        account: Account,
        *,
        source: Callable[[], AudioSource] | None = None,
        audio: AudioConfig | None = None,
        reconnect: ReconnectPolicy | None = None,
    ) -> None:
        if source is not None and audio is not None:
            raise ConfigurationError("audio", "give either source or audio, not both")
        self.account = account
        self._source_factory = source or Silence
        self.audio = audio
        """The calls' audio choices (None: ``source`` and no sink); changes apply to
        calls started afterwards (``call.audio`` switches a running call's devices)."""
        self._reconnect = reconnect or ReconnectPolicy()
        self._media_config = MediaConfig(
            codecs=account.codecs,
            ice_servers=account.ice_servers,
            ice_gathering_timeout=account.ice_gathering_timeout,
        )
        self._events: Broadcast[PhoneEvent] = Broadcast()
        self._incoming: Broadcast[Call] = Broadcast()
        self._calls: dict[str, Call] = {}
        self._driver: UserAgentDriver | None = None
        self._task_group: anyio.abc.TaskGroup | None = None
        self._media: MediaRunner
        self._registration_waiters: list[_Outcome] = []
        self.ua = UserAgent(self._ua_config())
        """The sipcore user agent underneath (for inspection and advanced use)."""

    def _ua_config(self) -> UserAgentConfig:
        account = self.account
        return UserAgentConfig.for_account(
            account.aor,
            account.password,
            username=account.auth_user or account.user,
            display_name=account.display_name,
            transport=account.transport,
            register_expires=account.register_expires,
            max_calls=account.max_calls,
            busy_status=account.busy_status,
        )

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def start(self, *, register: bool = True) -> None:
        """Connect to the server and (by default) register.

        Raises:
            ConnectionFailed: the server cannot be reached within the connect timeout.
            RegistrationError: the server refused the registration.
        """
        self._media = media_runner()
        self._token = anyio.lowlevel.current_token()
        account = self.account

        async def connect() -> MessageTransport:
            return await open_transport(
                account.server, tls=account.tls, timeout=account.connect_timeout
            )

        driver = UserAgentDriver(
            self.ua,
            connect,
            url=account.server,
            reconnect=self._reconnect,
            keepalive_interval=account.keepalive_interval,
        )
        try:
            # Once per process, off the loop: the first answer is then as quick as any
            # later one (sipmedia.warmup says why).
            await anyio.to_thread.run_sync(warm_up)
            await driver.start()
        except BaseException as exc:
            with anyio.CancelScope(shield=True):
                await self.aclose()  # the media runner, and subscribers are told the end
            if isinstance(exc, ConnectError):
                raise ConnectionFailed(str(exc)) from exc
            raise
        self._driver = driver
        self._task_group = anyio.create_task_group()
        await self._task_group.__aenter__()
        self._task_group.start_soon(self._dispatch, driver)
        if register:
            try:
                await self.register()
            except BaseException:
                await self.aclose()  # leave nothing running behind a failed start
                raise

    async def aclose(self, grace: float = 3.0) -> None:
        """Hang up every call, unregister, disconnect (waits ``grace`` seconds at most).

        Calls end and the registration is removed while the phone still listens, so
        every ``Ended`` and the final ``Unregistered`` reach its subscribers.
        """
        if self._driver is not None and self._task_group is not None:
            with anyio.move_on_after(grace):
                for call in self.calls:
                    with contextlib.suppress(CallStateError):
                        await call.hangup()
                for call in self.calls:
                    await call.wait_ended()
                with contextlib.suppress(RegistrationError):
                    await self.unregister(timeout=grace)
        # Task groups close in the reverse order of start(): ours, then the driver's.
        if self._task_group is not None:
            self._task_group.cancel_scope.cancel()
            await self._task_group.__aexit__(None, None, None)
            self._task_group = None
        driver, self._driver = self._driver, None
        if driver is not None:
            await driver.aclose()  # whatever is left: BYE and un-REGISTER before the socket goes
        for call in list(self._calls.values()):
            await call._on_ended(sip.EndReason.LOCAL_HANGUP, None, None)
        self._calls.clear()
        if hasattr(self, "_media"):
            await self._media.aclose()
        self._events.close()
        self._incoming.close()

    # ------------------------------------------------------------------ state

    @property
    def registered(self) -> bool:
        """Whether our registration is in force right now."""
        return self.ua.registration_state is RegistrationState.REGISTERED

    @property
    def connected(self) -> bool:
        """Whether the connection to the server is up."""
        return self._driver is not None and self._driver.connected

    @property
    def calls(self) -> list[Call]:
        """Calls not yet ended."""
        return [c for c in self._calls.values() if not c.ended]

    def events(self) -> Subscription[PhoneEvent]:
        """Phone events (registration, connection, incoming calls) from this moment on.

        It listens from the call of this method, not from the first iteration.
        """
        return self._events.subscribe()

    def incoming(self) -> Subscription[Call]:
        """Incoming calls from this moment on, as they start ringing (``async for``)."""
        return self._incoming.subscribe()

    # ------------------------------------------------------------------ actions

    async def register(self, timeout: float = 15.0) -> None:
        """Register (or refresh now) and wait for the outcome.

        Raises:
            RegistrationError: refused (``auth_rejected`` for bad credentials), or no
                answer within ``timeout``.
        """
        outcome = await self._registration_round(lambda ua, now: ua.register(now), timeout)
        if isinstance(outcome, RegistrationFailed):
            raise RegistrationError(
                f"registration failed: {outcome.status_code} {outcome.reason}",
                status_code=outcome.status_code,
                auth_rejected=outcome.auth_rejected,
            )

    async def unregister(self, timeout: float = 10.0) -> None:
        """Remove our registration and wait for the outcome (or ``timeout``)."""
        if self.ua.registration_state is RegistrationState.UNREGISTERED:
            return
        await self._registration_round(lambda ua, now: ua.unregister(now), timeout)

    async def _registration_round(self, action: Action, timeout: float) -> PhoneEvent:
        waiter = _Outcome()
        self._registration_waiters.append(waiter)
        try:
            await self._act(action)
            with anyio.move_on_after(timeout):
                await waiter.done.wait()
        finally:
            self._registration_waiters.remove(waiter)
        outcome = waiter.event
        if outcome is None:
            raise RegistrationError(
                f"no answer from the registrar within {timeout} s", status_code=408
            )
        return outcome

    async def call(
        self,
        target: str,
        *,
        source: AudioSource | None = None,
        headers: dict[str, str] | None = None,
    ) -> Call:
        """Place a call to ``target`` (``sip:bob@example.com`` or just ``bob``).

        Returns as soon as the INVITE is out; use ``call.wait_connected()`` or
        ``call.events()`` to follow it.

        Raises:
            CallStateError: too many calls up, or the target is not a SIP address.
            MediaUnavailable: ``audio`` asks for a device that cannot be opened (nothing
                was sent).
        """
        driver = self._require_driver()
        audio = await self._open_call_audio(None, source)
        call_source = audio or source or self._default_source()
        placeholder = Call(self, "", CallDirection.OUTGOING, target=target)
        placeholder._source = call_source
        placeholder.audio = audio
        try:
            media = await self._media.run(placeholder._new_media)
            offer = await self._media.run(media.create_offer)
            try:
                call_id = self.ua.invite(
                    target, driver.now(), body=offer.encode(), headers=list((headers or {}).items())
                )
            except LocalProtocolError as exc:
                await self._media.run(media.close)
                raise CallStateError(str(exc)) from exc
        except BaseException:
            if audio is not None:
                with anyio.CancelScope(shield=True):  # also when cancelled: release devices
                    await anyio.to_thread.run_sync(audio.close)
            raise
        if audio is not None:
            try:
                await anyio.to_thread.run_sync(audio.attach, call_id)
            except MediaUnavailable as exc:  # the INVITE is out: the call goes on unrecorded
                logger.error("call %s is not recorded: %s", call_id, exc)
        placeholder.id = call_id
        placeholder.details.call_id = call_id
        placeholder.media = media
        self._calls[call_id] = placeholder
        await driver.transmit()
        return placeholder

    # ------------------------------------------------------------------ internals

    def _from_media(self, fn: Callable[[], object]) -> None:
        """Run ``fn`` on the phone's event loop; called by media callbacks, which run on
        the media loop (the same thread on asyncio, the media thread on trio)."""
        if isinstance(self._media, CallerLoop):
            fn()
        else:
            anyio.from_thread.run_sync(fn, token=self._token)

    def _default_source(self) -> AudioSource:
        return self._source_factory()

    async def _open_call_audio(
        self, call_id: str | None, source: AudioSource | None
    ) -> CallAudio | None:
        """A call's audio as ``self.audio`` says (None without an ``AudioConfig``).

        Devices open in a worker thread (enumerating them takes a few tenths of a second).

        Raises:
            MediaUnavailable: a device was asked for and cannot be opened.
        """
        config = self.audio
        if config is None:
            return None
        opener = functools.partial(open_call_audio, config, source=source, call_id=call_id)
        return await anyio.to_thread.run_sync(opener)

    async def _answer_without_media(self, call: Call, error: MediaUnavailable) -> bool:
        """Hook for the facade: answering ``call`` found no audio device (``error``).

        Returns:
            True if handled here (the facade rejects the call); False: ``answer`` raises.
        """
        return False

    def _require_driver(self) -> UserAgentDriver:
        if self._driver is None:
            raise CallStateError("the phone is not started")
        return self._driver

    async def _act(self, action: Action) -> None:
        """Run a UA action with the loop's time, then transmit.

        Raises:
            CallStateError: the action is not allowed now (nothing was sent).
        """
        driver = self._require_driver()
        try:
            action(self.ua, driver.now())
        except LocalProtocolError as exc:
            raise CallStateError(str(exc)) from exc
        await driver.transmit()

    def _publish(self, event: PhoneEvent) -> None:
        if isinstance(event, Registered | Unregistered | RegistrationFailed):
            for waiter in self._registration_waiters:
                waiter.event = event
                waiter.done.set()
        self._events.publish(event)

    def _call_event(self, call: Call, event: CallEvent) -> None:
        """Hook for subclasses and the facade: every call event passes here."""

    async def _dispatch(self, driver: UserAgentDriver) -> None:
        async for event in driver.events():
            try:
                await self._handle(event)
            except Exception:
                logger.exception("error handling %r", event)

    async def _handle(self, event: AnyEvent) -> None:
        if isinstance(event, DriverConnected):
            self._publish(Connected(event.url, event.attempt > 0))
        elif isinstance(event, DriverConnectionLost):
            self._publish(Disconnected(event.error))
        elif isinstance(event, DriverReconnectScheduled):
            self._publish(ReconnectScheduled(event.attempt, event.delay))
        elif isinstance(event, sip.RegistrationSent):
            self._publish(RegisterSent(event.expires))
        elif isinstance(event, sip.Registered):
            self._publish(Registered(event.expires))
        elif isinstance(event, sip.Unregistered):
            self._publish(Unregistered())
        elif isinstance(event, sip.RegistrationFailed):
            self._publish(RegistrationFailed(event.status_code, event.reason, event.auth_rejected))
        elif isinstance(event, sip.IncomingCall):
            call = Call(self, event.call_id, CallDirection.INCOMING, invite=event.request)
            self._calls[event.call_id] = call
            self._publish(IncomingCall(call))
            self._incoming.publish(call)
        else:
            await self._handle_call_event(event)

    async def _handle_call_event(self, event: AnyEvent) -> None:
        call_id = getattr(event, "call_id", None)
        call = self._calls.get(call_id) if isinstance(call_id, str) else None
        if call is None:
            return
        if isinstance(event, sip.CallProgressed):
            await call._on_progress(event.response)
        elif isinstance(event, sip.CallAnswered):
            await call._on_answered(event.response)
        elif isinstance(event, sip.CallConfirmed):
            call._on_confirmed()
        elif isinstance(event, sip.CallEnded):
            reason_text = getattr(event.message, "reason", None)
            await call._on_ended(event.reason, event.status_code, reason_text)
            self._calls.pop(call.id, None)
        elif isinstance(event, sip.ReinviteReceived):
            await call._on_reinvite(event.request)
        elif isinstance(event, sip.ReinviteAnswered):
            call._on_reinvite_result(event.response)
        elif isinstance(event, sip.ReinviteFailed):
            call._on_reinvite_result(None)
        elif isinstance(event, sip.InfoReceived):
            await call._on_info(event.request)
