"""Audio for programs through the suite's Kamailio: a bot streams speech out at its own
rate (``call.pcm_writer``) and takes the other side's in as 20 ms frames at 16 kHz
(``call.audio_frames``), on asyncio and on trio."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable

import anyio
import numpy as np
import pytest
import trio

from exotel_voice import Call, Phone
from sipmedia import Pcm, WriterClosedError, dominant_frequency, tone_ratio
from tests.client.accounts import account
from tests.kamailio.server import KamailioServer

pytestmark = [pytest.mark.kamailio]

LISTEN_RATE = 16_000


def sine(frequency: float, rate: int, start: int, samples: int) -> Pcm:
    """``samples`` of a sine at ``rate``, from sample ``start`` on (phase-continuous)."""
    t = (np.arange(samples) + start) / rate
    return (np.sin(2 * math.pi * frequency * t) * 0.4 * 32767).astype(np.int16)


async def speak(call: Call, rate: int, seconds: float) -> None:
    """Stream a 1 kHz tone made at ``rate`` into the call, in 100 ms chunks as fast as
    ``send`` lets them go (a TTS engine faster than real time)."""
    writer = call.pcm_writer(rate=rate, ahead=0.3)
    chunk = rate // 10
    for start in range(0, int(rate * seconds), chunk):
        await writer.send(sine(1000, rate, start, chunk))


async def listen(call: Call, frames: list[Pcm], enough: int) -> None:
    """Collect 16 kHz frames until ``enough`` of the last 0.3 s is the 1 kHz tone."""
    async for frame in call.audio_frames(rate=LISTEN_RATE):
        frames.append(frame)
        if (
            len(frames) >= enough
            and tone_ratio(np.concatenate(frames[-15:]), 1000, LISTEN_RATE) > 0.8
        ):
            return


async def connected_pair(
    caller: Phone, callee: Phone, sleep: Callable[[float], Awaitable[None]]
) -> tuple[Call, Call]:
    incoming: list[Call] = []

    async def take_one() -> None:
        async for call in callee.incoming():
            incoming.append(call)
            return

    async with anyio.create_task_group() as tg:
        tg.start_soon(take_one)
        await sleep(0)
        call_out = await caller.call(callee.account.user)
        with anyio.fail_after(5):
            while not incoming:
                await sleep(0.01)
    call_in = incoming[0]
    await call_in.answer()
    with anyio.fail_after(5):
        await call_out.wait_connected()
        await call_in.wait_connected()
    return call_out, call_in


async def stream_one_way(
    kamailio: KamailioServer, rate: int, sleep: Callable[[float], Awaitable[None]]
) -> list[Pcm]:
    async with (
        Phone(account(kamailio, "alice")) as alice,
        Phone(account(kamailio, "bob")) as bob,
    ):
        call_out, call_in = await connected_pair(alice, bob, sleep)
        frames: list[Pcm] = []
        with anyio.fail_after(15):
            async with anyio.create_task_group() as tg:
                tg.start_soon(speak, call_out, rate, 3.0)
                await listen(call_in, frames, enough=25)
                tg.cancel_scope.cancel()
        await call_out.hangup()
        with anyio.fail_after(5):
            await call_in.wait_ended()
        return frames


def check_heard(frames: list[Pcm]) -> None:
    assert {frame.size for frame in frames} == {LISTEN_RATE // 50}  # 20 ms at 16 kHz
    assert all(frame.dtype == np.int16 for frame in frames)
    last = np.concatenate(frames[-15:])
    assert tone_ratio(last, 1000, LISTEN_RATE) > 0.8, dominant_frequency(last, LISTEN_RATE)


@pytest.mark.parametrize("rate", [16_000, 8_000])
def test_a_tone_written_at_rate_arrives_as_16_khz_frames(
    kamailio: KamailioServer, rate: int
) -> None:
    frames = anyio.run(stream_one_way, kamailio, rate, anyio.sleep)
    check_heard(frames)


def test_audio_frames_and_pcm_writer_on_trio(kamailio: KamailioServer) -> None:
    frames = trio.run(stream_one_way, kamailio, 16_000, trio.sleep)
    check_heard(frames)


def test_replaced_and_ended_writers_close_and_frames_end_with_the_call(
    kamailio: KamailioServer,
) -> None:
    async def run() -> None:
        async with (
            Phone(account(kamailio, "alice")) as alice,
            Phone(account(kamailio, "bob")) as bob,
        ):
            call_out, call_in = await connected_pair(alice, bob, anyio.sleep)
            writer = call_out.pcm_writer(rate=16_000, ahead=0.2)
            counted: list[int] = []

            async def count_frames() -> None:
                async for frame in call_in.audio_frames(rate=8_000):
                    counted.append(frame.size)

            stopped: list[WriterClosedError] = []

            async def keep_sending() -> None:
                try:
                    while True:
                        await writer.send(sine(1000, 16_000, 0, 1600))
                except WriterClosedError as exc:
                    stopped.append(exc)  # the call ended: the producer is told

            with anyio.fail_after(10):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(count_frames)
                    tg.start_soon(keep_sending)
                    await anyio.sleep(1.0)
                    # A second writer replaces the first: nobody reads the first any
                    # more, so its producer is told now, not when the call ends.
                    second = call_out.pcm_writer(rate=16_000, ahead=0.2)
                    with anyio.fail_after(2):
                        while not stopped:
                            await anyio.sleep(0.01)
                    assert writer.closed and not second.closed
                    await call_in.hangup()  # the reader's loop must end by itself
            assert counted and set(counted) == {160}
            assert second.closed  # the call's end closed the writer it was playing

    anyio.run(run)
