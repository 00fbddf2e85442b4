"""Two MediaSessions wired directly (no SIP): real audio both ways, tones detected."""

from __future__ import annotations

import asyncio

import pytest

from sipmedia import MediaConfig, MediaSession, Tone, dominant_frequency, tone_ratio


@pytest.mark.parametrize("codec", ["opus", "PCMU", "PCMA", "G722"])
def test_tones_cross_both_ways(codec: str) -> None:
    async def run() -> None:
        config = MediaConfig(codecs=(codec,))
        a = MediaSession(config, Tone(440))
        b = MediaSession(config, Tone(1000))
        try:
            offer = await a.create_offer()
            answer = await b.create_answer(offer)
            await a.accept_answer(answer)
            await asyncio.sleep(1.5)
            heard_by_a = a.inbound.recent(0.5)
            heard_by_b = b.inbound.recent(0.5)
            assert heard_by_a.size > 0 and heard_by_b.size > 0
            assert tone_ratio(heard_by_a, 1000) > 0.8, dominant_frequency(heard_by_a)
            assert tone_ratio(heard_by_b, 440) > 0.8, dominant_frequency(heard_by_b)
            assert a.codec is not None and a.codec.lower() == codec.lower()
        finally:
            await a.close()
            await b.close()

    asyncio.run(run())
