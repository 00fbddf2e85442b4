"""The Pythonic API end to end on asyncio: two Phones through the suite's Kamailio."""

from __future__ import annotations

import asyncio
import dataclasses
import socket

import pytest

from exotel_voice import (
    Account,
    Answered,
    Call,
    CallStateError,
    CallStatus,
    ConnectionFailed,
    DtmfReceived,
    EndCause,
    Ended,
    Phone,
    RegistrationError,
    Tone,
)
from sipmedia import rms_dbfs, tone_ratio
from tests.client.accounts import account
from tests.kamailio.server import KamailioServer

pytestmark = [pytest.mark.kamailio]


async def first_incoming(phone: Phone) -> object:
    async for call in phone.incoming():
        return call
    raise AssertionError("no incoming call")


async def heard(call: Call, tone: float, timeout: float = 5.0) -> None:
    """Until ``call`` receives the tone ``tone`` (the last 0.3 s of it), or fail."""

    async def poll() -> None:
        while tone_ratio(await call.recent_audio(0.3), tone) < 0.8:
            await asyncio.sleep(0.1)

    await asyncio.wait_for(poll(), timeout)


@pytest.mark.parametrize(("dtmf_mode", "method"), [("auto", "rfc4733"), ("info", "info")])
def test_call_answer_audio_hold_mute_dtmf_hangup(
    kamailio: KamailioServer, dtmf_mode: str, method: str
) -> None:
    async def run() -> None:
        async with (
            Phone(
                account(kamailio, "alice", dtmf_mode=dtmf_mode), source=lambda: Tone(600)
            ) as alice,
            Phone(account(kamailio, "bob"), source=lambda: Tone(1500)) as bob,
        ):
            assert alice.registered and bob.registered
            waiting = asyncio.create_task(first_incoming(bob))
            await asyncio.sleep(0)
            call_out = await alice.call("bob")
            call_in = await asyncio.wait_for(waiting, 5)
            assert call_in.details.remote_uri.startswith("sip:alice@")  # type: ignore[attr-defined]
            assert call_in.status is CallStatus.INCOMING  # type: ignore[attr-defined]
            await call_in.answer()  # type: ignore[attr-defined]
            await asyncio.wait_for(call_out.wait_connected(), 5)
            await asyncio.wait_for(call_in.wait_connected(), 5)  # type: ignore[attr-defined]
            await asyncio.sleep(1.0)
            assert tone_ratio(await call_out.recent_audio(0.4), 1500) > 0.8
            assert tone_ratio(await call_in.recent_audio(0.4), 600) > 0.8  # type: ignore[attr-defined]

            # Mute: the far end hears silence, the call stays connected.
            call_out.mute()
            await asyncio.sleep(0.6)
            assert rms_dbfs(await call_in.recent_audio(0.3)) < -60  # type: ignore[attr-defined]
            call_out.unmute()
            await asyncio.sleep(0.6)
            assert tone_ratio(await call_in.recent_audio(0.3), 600) > 0.8  # type: ignore[attr-defined]

            # Hold twice stays held; neither side hears the other while held.
            await call_out.hold()
            await call_out.hold()
            assert (call_out.on_hold, call_out.muted) == (True, False)
            await asyncio.sleep(0.3)
            frames_in = call_in.media.inbound.frames_received  # type: ignore[attr-defined]
            frames_out = call_out.media.inbound.frames_received  # type: ignore[union-attr]
            await asyncio.sleep(0.8)
            assert call_in.media.inbound.frames_received == frames_in  # type: ignore[attr-defined]
            assert call_out.media.inbound.frames_received == frames_out  # type: ignore[union-attr]
            await call_out.unhold()
            assert not call_out.on_hold
            await asyncio.sleep(0.8)
            assert tone_ratio(await call_in.recent_audio(0.3), 600) > 0.8  # type: ignore[attr-defined]

            # DTMF (SIP INFO): digits arrive in order.
            digits: list[str] = []

            async def collect() -> None:
                async for event in call_in.events():  # type: ignore[attr-defined]
                    if isinstance(event, DtmfReceived):
                        assert event.method == method
                        digits.append(event.digit)
                        if len(digits) == 4:
                            return

            collector = asyncio.create_task(collect())
            await asyncio.sleep(0)
            await call_out.send_dtmf("12#A")
            await asyncio.wait_for(collector, 5)
            assert digits == ["1", "2", "#", "A"]
            with pytest.raises(ValueError, match="DTMF"):
                await call_out.send_dtmf("1x")

            # Mute and hold belong to the call: end this one muted and held...
            call_out.mute()
            await call_out.hold()
            assert (call_out.muted, call_out.on_hold) == (True, True)
            ended_in = asyncio.create_task(call_in.wait_ended())  # type: ignore[attr-defined]
            await call_out.hangup()
            await asyncio.wait_for(call_out.wait_ended(), 5)
            await asyncio.wait_for(ended_in, 5)
            assert call_out.details.end_cause is EndCause.LOCAL_HANGUP
            assert call_in.details.end_cause is EndCause.REMOTE_HANGUP  # type: ignore[attr-defined]
            with pytest.raises(CallStateError):
                await call_out.hangup()

            # ... and the next call on the same phones starts clean: heard, not held.
            waiting = asyncio.create_task(first_incoming(bob))
            await asyncio.sleep(0)
            next_out = await alice.call("bob")
            next_in = await asyncio.wait_for(waiting, 5)
            assert isinstance(next_in, Call)
            await next_in.answer()
            await asyncio.wait_for(next_out.wait_connected(), 5)
            assert (next_out.muted, next_out.on_hold) == (False, False)
            assert next_in.remote_on_hold is False
            await heard(next_in, 600)
            await heard(next_out, 1500)
            await next_out.hangup()
            await asyncio.wait_for(next_in.wait_ended(), 5)

    asyncio.run(run())


def test_rfc4733_dtmf_crosses_both_ways_after_the_callee_holds_twice(
    kamailio: KamailioServer,
) -> None:
    # The re-INVITEs go out at once, while ICE and DTLS may still be coming up: aiortc
    # can then start a receiver in the middle of a renegotiation, which once made the
    # telephone-event packets of the call vanish (see tests/media/test_dtmf.py).
    async def run() -> None:
        async with (
            Phone(
                account(kamailio, "alice", dtmf_mode="rfc4733"), source=lambda: Tone(600)
            ) as alice,
            Phone(account(kamailio, "bob", dtmf_mode="rfc4733"), source=lambda: Tone(1500)) as bob,
        ):
            waiting = asyncio.create_task(first_incoming(alice))
            await asyncio.sleep(0)
            call_out = await bob.call("alice")
            call_in = await asyncio.wait_for(waiting, 5)
            assert isinstance(call_in, Call)
            await call_in.answer()
            await asyncio.wait_for(call_out.wait_connected(), 5)
            await asyncio.wait_for(call_in.wait_connected(), 5)

            for _ in range(2):
                await call_in.hold()
                assert call_in.on_hold
                await call_in.unhold()
                assert not call_in.on_hold
            assert not call_out.remote_on_hold

            await asyncio.gather(heard(call_out, 600), heard(call_in, 1500))

            async def keys(call: Call, count: int) -> list[tuple[str, str]]:
                got: list[tuple[str, str]] = []
                async for event in call.events():
                    if isinstance(event, DtmfReceived):
                        got.append((event.digit, event.method))
                        if len(got) == count:
                            break
                return got

            at_caller = asyncio.create_task(keys(call_out, 2))
            at_callee = asyncio.create_task(keys(call_in, 3))
            await asyncio.sleep(0)
            await call_in.send_dtmf("5#")
            assert await asyncio.wait_for(at_caller, 5) == [("5", "rfc4733"), ("#", "rfc4733")]
            await call_out.send_dtmf("19*")
            assert await asyncio.wait_for(at_callee, 5) == [
                ("1", "rfc4733"),
                ("9", "rfc4733"),
                ("*", "rfc4733"),
            ]
            await call_out.hangup()
            await asyncio.wait_for(call_in.wait_ended(), 5)

    asyncio.run(run())


def test_wrong_password_raises_registration_error(kamailio: KamailioServer) -> None:
    async def run() -> None:
        bad = dataclasses.replace(account(kamailio, "carol"), password="nope")
        with pytest.raises(RegistrationError) as info:
            async with Phone(bad):
                pass
        assert info.value.auth_rejected

    asyncio.run(run())


def test_an_unreachable_server_fails_start_and_ends_event_subscriptions() -> None:
    async def run() -> None:
        with socket.socket() as sock:  # a port nobody listens on
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        phone = Phone(
            Account(
                user="amy",
                password="x",
                domain="example.test",
                server=f"ws://127.0.0.1:{port}",
                connect_timeout=1.0,
            )
        )
        events = phone.events()
        with pytest.raises(ConnectionFailed, match=r"127\.0\.0\.1"):
            await phone.start()
        # Subscribers are told it is over: the iterator ends instead of waiting forever.
        async with asyncio.timeout(2):
            assert [event async for event in events] == []

    asyncio.run(run())


def test_reject_incoming_call(kamailio: KamailioServer) -> None:
    async def run() -> None:
        async with (
            Phone(account(kamailio, "dave")) as dave,
            Phone(account(kamailio, "erin")) as erin,
        ):
            waiting = asyncio.create_task(first_incoming(erin))
            await asyncio.sleep(0)
            call_out = await dave.call("erin")
            call_in = await asyncio.wait_for(waiting, 5)
            events: list[object] = []

            async def watch() -> None:
                async for event in call_out.events():
                    events.append(event)

            watcher = asyncio.create_task(watch())
            await asyncio.sleep(0)
            await call_in.reject()  # type: ignore[attr-defined]
            await asyncio.wait_for(call_out.wait_ended(), 5)
            await asyncio.wait_for(watcher, 5)
            ended = [e for e in events if isinstance(e, Ended)]
            assert (
                ended and ended[0].cause is EndCause.REMOTE_REJECT and ended[0].status_code == 486
            )
            assert not any(isinstance(e, Answered) for e in events)

    asyncio.run(run())
