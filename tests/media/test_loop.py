"""Where media runs: our asyncio loop thread under trio, the caller's loop under asyncio."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
import trio

from sipmedia import MediaConfig, Tone, dominant_frequency, tone_ratio
from sipmedia.loop import CallerLoop, MediaLoop, media_runner


def _threads() -> set[threading.Thread]:
    return set(threading.enumerate())


def test_trio_program_talks_through_the_media_loop_and_shuts_it_down() -> None:
    before = _threads()

    async def main() -> MediaLoop:
        runner = media_runner()
        assert isinstance(runner, MediaLoop)
        async with runner as media:
            config = MediaConfig(codecs=("opus",))
            a = await media.create_session(config, Tone(440))
            b = await media.create_session(config, Tone(1000))
            offer = await media.run(a.create_offer)
            answer = await media.run(b.create_answer, offer)
            await media.run(a.accept_answer, answer)
            keys: list[str] = []
            await media.call(b.on_dtmf, lambda event: keys.append(event.digit))
            # The trio loop keeps running while media works on its own thread.
            ticks = 0
            deadline = trio.current_time() + 1.2
            while trio.current_time() < deadline:
                await trio.sleep(0.05)
                ticks += 1
            assert ticks >= 15
            await media.run(a.send_dtmf, "7#")
            heard_by_a = await media.call(a.inbound.recent, 0.5)
            heard_by_b = await media.call(b.inbound.recent, 0.5)
            assert tone_ratio(heard_by_a, 1000) > 0.8, dominant_frequency(heard_by_a)
            assert tone_ratio(heard_by_b, 440) > 0.8, dominant_frequency(heard_by_b)
            await trio.sleep(0.1)
            assert await media.call(list, keys) == ["7", "#"]
            # Cancelling on the trio side cancels the coroutine on the media loop.
            started = time.monotonic()
            with trio.move_on_after(0.1):
                await media.run(asyncio.sleep, 30)
            assert time.monotonic() - started < 1.0
            assert media.thread.is_alive()
        assert a.closed and b.closed  # the loop has stopped: safe to read here
        return media

    media = trio.run(main)
    assert not media.thread.is_alive() and media.loop.is_closed()
    # Every thread the media started (loop, decoders, encoder executor) is gone.
    assert _threads() - before == set()
    with pytest.raises(RuntimeError):
        media.submit(asyncio.sleep, 0)


def test_asyncio_program_runs_media_in_its_own_loop() -> None:
    async def main() -> None:
        before = _threads()
        runner = media_runner()
        assert isinstance(runner, CallerLoop)
        async with runner as media:
            a = await media.create_session(MediaConfig(codecs=("PCMU",)), Tone(440))
            b = await media.create_session(MediaConfig(codecs=("PCMU",)), Tone(1000))
            answer = await media.run(b.create_answer, await a.create_offer())
            await media.run(a.accept_answer, answer)
            await asyncio.sleep(1.0)
            heard = await media.call(b.inbound.recent, 0.5)
            assert tone_ratio(heard, 440) > 0.8, dominant_frequency(heard)
            assert not any(t.name == "sipmedia-loop" for t in _threads() - before)
        assert a.closed and b.closed

    asyncio.run(main())


def test_media_loop_is_usable_from_another_asyncio_loop_and_from_sync_code() -> None:
    media = MediaLoop(name="sipmedia-test")
    try:
        assert media.run_blocking(_loop_of) is media.loop

        async def from_asyncio() -> None:
            assert await media.run(_loop_of) is media.loop
            assert await media.call(sum, [1, 2, 3]) == 6
            session = await media.create_session()
            assert await media.run(session.create_offer)

        asyncio.run(from_asyncio())
    finally:
        media.close()
    assert not media.thread.is_alive()
    media.close()  # idempotent


async def _loop_of() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()
