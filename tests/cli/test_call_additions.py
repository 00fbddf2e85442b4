"""What the CLI added to ``Call``: ``stats``, ``final_stats``, ``record``/``stop_recording``
and ``echo``; two Phones through the embedded server, on asyncio."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from exotel_voice import Account, Call, CallStateError, Phone, TlsOptions, Tone
from sipadapters.server import LocalServerRunner, serve
from sipmedia import CallStats, tone_ratio
from tests.cli.audio import read_audio

USERS = {"alice": "alice-pw", "bob": "bob-pw"}


def account(server: LocalServerRunner, user: str) -> Account:
    return Account(
        user=user,
        password=USERS[user],
        domain=server.domain,
        server=server.ws_url,
        tls=TlsOptions(),
    )


async def heard(call: Call, frequency: float) -> None:
    while tone_ratio(await call.recent_audio(0.3), frequency) < 0.8:
        await asyncio.sleep(0.05)


def test_stats_recording_echo_and_final_stats(tmp_path: Path) -> None:
    async def run() -> None:
        async with (
            serve(USERS, domain="local.test", transports=("ws",)) as server,
            Phone(account(server, "alice"), source=lambda: Tone(600)) as alice,
            Phone(account(server, "bob"), source=lambda: Tone(1500)) as bob,
        ):
            incoming: asyncio.Future[Call] = asyncio.get_running_loop().create_future()

            async def first_incoming() -> None:
                async for call in bob.incoming():
                    incoming.set_result(call)
                    return

            waiter = asyncio.create_task(first_incoming())
            await asyncio.sleep(0)
            out = await alice.call("bob")
            into = await asyncio.wait_for(incoming, 5)
            await waiter
            with pytest.raises(CallStateError, match="no media"):
                await into.stats()  # not answered yet
            await into.answer()
            await asyncio.wait_for(out.wait_connected(), 5)
            await asyncio.wait_for(heard(into, 600), 5)

            # Recording what bob receives: alice's tone.
            recording = tmp_path / "bob.wav"
            await into.record(recording)
            with pytest.raises(CallStateError, match="already being recorded"):
                await into.record(tmp_path / "again.wav")
            await asyncio.sleep(1.0)
            assert await into.stop_recording() == str(recording)
            assert await into.stop_recording() is None
            audio = read_audio(recording)
            assert 0.7 * 48_000 < audio.size < 1.3 * 48_000
            assert tone_ratio(audio, 600) > 0.8

            # Statistics now, and since an earlier sample.
            first = await out.stats()
            await asyncio.sleep(0.5)
            later = await out.stats(first)
            assert isinstance(later, CallStats)
            assert later.packets_received > first.packets_received > 0
            assert later.codec == "opus" and later.mos is not None

            # Echo: alice hears her own tone coming back from bob.
            await into.echo()
            await asyncio.wait_for(heard(out, 600), 5)
            into.play(Tone(1500))  # playing something else ends the echo
            await asyncio.wait_for(heard(out, 1500), 5)

            # A recording still running is finished when the call ends.
            at_alice = tmp_path / "alice.ogg"
            await out.record(at_alice)
            await asyncio.sleep(0.5)
            assert out.final_stats is None
            await out.hangup()
            await asyncio.wait_for(into.wait_ended(), 5)
            await out.wait_ended()
            for call in (out, into):
                assert call.final_stats is not None
                assert call.final_stats.packets_received > 50
                with pytest.raises(CallStateError):
                    await call.stats()
            heard_at_alice = read_audio(at_alice)
            assert heard_at_alice.size > 0.3 * 48_000
            assert tone_ratio(heard_at_alice[4800:-4800], 1500) > 0.8  # (Opus edges aside)

    asyncio.run(run())
