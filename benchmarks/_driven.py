"""One phone the way an application writes it: a ``UserAgent`` run by a ``UserAgentDriver``.

Each phone has its own WebSocket (``open_transport``) and its own driver (reader, writer
and timer tasks, WebSocket keepalives); the benchmark's task per phone reads the
driver's events, as an application would. Reconnection is off: a connection lost during
the run is a phone lost, not something to paper over.
"""

from __future__ import annotations

import anyio

from benchmarks._fleet import Fleet, Stage, phone_config
from sipadapters import (
    ConnectionLost,
    MessageTransport,
    ReconnectPolicy,
    TransportError,
    UserAgentDriver,
    open_transport,
)
from sipcore.events import FlowFailed, Registered, RegistrationFailed, Unregistered
from sipcore.registration import RegistrationState
from sipcore.user_agent import UserAgent

__all__ = ["DrivenPhones"]

_NO_RECONNECT = ReconnectPolicy(enabled=False)


async def _settle(driver: UserAgentDriver, timeout: float) -> str | None:
    """Wait for the end of a REGISTER exchange: None if it succeeded, else why not."""
    with anyio.move_on_after(timeout):
        while True:
            event = await driver.next_event()
            if isinstance(event, Registered | Unregistered):
                return None
            if isinstance(event, RegistrationFailed):
                return f"REGISTER answered {event.status_code}"
            if isinstance(event, ConnectionLost):
                return "connection lost"
    return "REGISTER timed out"


class DrivenPhones:
    """Phones run by ``UserAgentDriver``: nothing shared between them but the event loop."""

    name = "driver"

    async def serve(self, fleet: Fleet) -> None:
        """Nothing: every driver runs its own timer."""

    async def phone(self, index: int, user: str, password: str, fleet: Fleet) -> None:
        """Connect, register, hold and unregister one phone, reporting to ``fleet``."""
        await _driven_phone(index, user, password, fleet)


async def _driven_phone(index: int, user: str, password: str, fleet: Fleet) -> None:
    plan = fleet.plan

    async def connect() -> MessageTransport:
        async with fleet.connecting:
            return await open_transport(plan.url, timeout=plan.connect_timeout)

    stage: Stage | None = Stage.CONNECTED
    try:
        ua = UserAgent(phone_config(user, password, plan))
        driver = UserAgentDriver(
            ua,
            connect,
            url=plan.url,
            reconnect=_NO_RECONNECT,
            keepalive_interval=plan.keepalive_interval,
        )
        async with driver:
            fleet.connected.add()
            stage = Stage.REGISTERED
            with fleet.hold_scope():
                await fleet.register_now.wait()
                async with fleet.in_flight:
                    sent = driver.now()
                    ua.register(sent)
                    await driver.transmit()
                    failure = await _settle(driver, plan.transaction_timeout)
                if failure is not None:
                    fleet.give_up(stage, failure)
                    stage = None
                    return
                fleet.latencies[index] = driver.now() - sent
                fleet.registered.add()
                stage = Stage.REFRESHED
                async for event in driver.events():
                    if isinstance(event, Registered):
                        fleet.refreshes += 1
                        if stage is Stage.REFRESHED:
                            fleet.refreshed.add()
                            stage = Stage.UNREGISTERED
                    elif isinstance(
                        event, RegistrationFailed | Unregistered | ConnectionLost | FlowFailed
                    ):
                        fleet.lost += 1
                        fleet.give_up(stage, f"lost while held: {type(event).__name__}")
                        stage = None
                        return
                    # Hold nothing while idle: the loop variable would keep the last event
                    # (a whole 200 OK, ~6 KB) alive until the next one, which the lean
                    # phones never do.
                    del event
            # The hold is over (or the run gave up waiting for this phone).
            if stage is None:
                return
            if ua.registration_state is not RegistrationState.REGISTERED:
                fleet.give_up(stage, "not registered at the end of the hold")
                stage = None
                return
            if stage is Stage.REFRESHED:
                fleet.refreshed.add(ok=False)
                stage = Stage.UNREGISTERED
            async with fleet.in_flight:
                ua.unregister(driver.now())
                await driver.transmit()
                failure = await _settle(driver, plan.transaction_timeout)
            stage = None
            fleet.unregistered.add(ok=failure is None)
    except TransportError as exc:
        if stage is not None:
            fleet.give_up(stage, type(exc).__name__)
    except Exception as exc:  # noqa: BLE001 (one broken phone must not end the run)
        if stage is not None:
            fleet.give_up(stage, f"{type(exc).__name__}: {exc}")
