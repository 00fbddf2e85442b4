"""Mute, hold (both sides), resume and ICE restart between two MediaSessions wired directly:
re-offers through aiortc's renegotiation, with real tones detected (or not) at each end."""

from __future__ import annotations

import asyncio

from sipcore.sdp import Direction, SessionDescription
from sipmedia import MediaConfig, MediaSession, Tone, dominant_frequency, rms_dbfs, tone_ratio

A_TONE, B_TONE = 440, 1000


async def _call(codec: str = "opus") -> tuple[MediaSession, MediaSession]:
    a = MediaSession(MediaConfig(codecs=(codec,)), Tone(A_TONE))
    b = MediaSession(MediaConfig(codecs=(codec,)), Tone(B_TONE))
    await a.accept_answer(await b.create_answer(await a.create_offer()))
    await asyncio.sleep(0.8)
    return a, b


async def _both_hear_each_other(a: MediaSession, b: MediaSession) -> None:
    await asyncio.sleep(0.6)
    heard_by_a, heard_by_b = a.inbound.recent(0.3), b.inbound.recent(0.3)
    assert tone_ratio(heard_by_a, B_TONE) > 0.8, dominant_frequency(heard_by_a)
    assert tone_ratio(heard_by_b, A_TONE) > 0.8, dominant_frequency(heard_by_b)


def _direction(sdp: str) -> Direction:
    description = SessionDescription.parse(sdp)
    return description.direction_for(description.media[0])


async def _frames_during(seconds: float, *sessions: MediaSession) -> list[int]:
    before = [s.inbound.frames_received for s in sessions]
    await asyncio.sleep(seconds)
    return [s.inbound.frames_received - n for s, n in zip(sessions, before, strict=True)]


def test_mute_sends_silence_without_stopping_the_stream() -> None:
    async def run() -> None:
        a, b = await _call("PCMU")
        try:
            a.outbound.muted = True
            await asyncio.sleep(0.3)
            (flowing,) = await _frames_during(0.5, b)
            assert flowing >= 20  # 25 frames in 0.5 s: the stream keeps going
            assert rms_dbfs(b.inbound.recent(0.3)) < -60
            heard_by_a = a.inbound.recent(0.3)
            assert tone_ratio(heard_by_a, B_TONE) > 0.8  # mute is one way only
            a.outbound.muted = False
            await _both_hear_each_other(a, b)
        finally:
            await a.close()
            await b.close()

    asyncio.run(run())


async def _hold_and_resume(holder: MediaSession, held: MediaSession) -> None:
    offer = await holder.hold_offer()
    assert _direction(offer) is Direction.SENDONLY  # RFC 3264 §8.4
    answer = await held.create_answer(offer)
    assert _direction(answer) is Direction.RECVONLY
    assert held.held_by_remote and holder.on_hold and not holder.held_by_remote
    await holder.accept_answer(answer)
    await asyncio.sleep(0.2)  # packets already in flight
    assert await _frames_during(0.6, holder, held) == [0, 0]  # silence both ways
    offer = await holder.resume_offer()
    assert _direction(offer) is Direction.SENDRECV
    answer = await held.create_answer(offer)
    assert _direction(answer) is Direction.SENDRECV
    await holder.accept_answer(answer)
    assert (held.held_by_remote, holder.on_hold) == (False, False)


def test_hold_by_the_caller_stops_audio_both_ways_and_resume_restores_it() -> None:
    async def run() -> None:
        a, b = await _call()
        try:
            await _hold_and_resume(holder=a, held=b)
            await _both_hear_each_other(a, b)
        finally:
            await a.close()
            await b.close()

    asyncio.run(run())


def test_hold_by_the_callee_renegotiates_from_the_answering_side() -> None:
    # The callee's re-offer flips who offers (and who is held), through the same
    # aiortc peer connections; then the caller holds in turn.
    async def run() -> None:
        a, b = await _call("PCMU")
        try:
            await _hold_and_resume(holder=b, held=a)
            await _both_hear_each_other(a, b)
            await _hold_and_resume(holder=a, held=b)
            await _both_hear_each_other(a, b)
        finally:
            await a.close()
            await b.close()

    asyncio.run(run())


def _ice_ufrag(sdp: str) -> str | None:
    description = SessionDescription.parse(sdp)
    attribute = description.attribute_for(description.media[0], "ice-ufrag")
    return attribute.value if attribute else None


def test_ice_restart_renegotiates_fresh_transports_and_audio_flows_again() -> None:
    async def run() -> None:
        a = MediaSession(MediaConfig(codecs=("opus",)), Tone(A_TONE))
        b = MediaSession(MediaConfig(codecs=("opus",)), Tone(B_TONE))
        try:
            first_offer = await a.create_offer()
            first_answer = await b.create_answer(first_offer)
            await a.accept_answer(first_answer)
            await asyncio.sleep(0.8)
            offer = await a.ice_restart_offer()
            # RFC 8445 §9: both the username fragment and the password change.
            assert _ice_ufrag(offer) != _ice_ufrag(first_offer)
            answer = await b.create_answer(offer)
            assert _ice_ufrag(answer) != _ice_ufrag(first_answer)
            await a.accept_answer(answer)
            await _both_hear_each_other(a, b)
            # The hooks moved with the media: DTMF still goes in the new stream.
            keys: list[str] = []
            b.on_dtmf(lambda event: keys.append(event.digit))
            await a.send_dtmf("42")
            await asyncio.sleep(0.1)
            assert keys == ["4", "2"]
            # An ordinary re-offer afterwards is not mistaken for another restart.
            hold = await a.hold_offer()
            assert _ice_ufrag(hold) == _ice_ufrag(offer)
            await a.accept_answer(await b.create_answer(hold))
            assert b.held_by_remote
        finally:
            await a.close()
            await b.close()

    asyncio.run(run())
