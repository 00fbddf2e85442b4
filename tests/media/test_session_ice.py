"""ICE gathering against a STUN server that never answers: the bound holds, the call works.

aioice waits 5 s for each STUN/TURN server; ``MediaConfig.ice_gathering_timeout`` cuts
that short and the SDP goes out with the host candidates. The silent server is a bound
UDP socket nobody reads, so queries reach a port and vanish, as with a firewalled server.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator

import pytest

from sipmedia import IceServer, MediaConfig, MediaSession, Tone, dominant_frequency, tone_ratio

BOUND = 1.0
# aioice alone takes 5 s here; the margin only absorbs a busy machine.
MARGIN = 2.5


@pytest.fixture
def silent_stun() -> Iterator[str]:
    """A ``stun:`` URL whose server receives every query and never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"stun:127.0.0.1:{sock.getsockname()[1]}"


def _candidate_types(sdp: str) -> list[str]:
    return [line.split()[7] for line in sdp.splitlines() if line.startswith("a=candidate:")]


def test_a_silent_stun_server_costs_the_bound_not_the_call(silent_stun: str) -> None:
    async def run() -> None:
        config = MediaConfig(ice_servers=(IceServer(silent_stun),), ice_gathering_timeout=BOUND)
        a = MediaSession(config, Tone(440))
        b = MediaSession(config, Tone(1000))
        try:
            start = time.monotonic()
            offer = await a.create_offer()
            offer_took = time.monotonic() - start
            start = time.monotonic()
            answer = await b.create_answer(offer)
            answer_took = time.monotonic() - start
            await a.accept_answer(answer)

            # The server was asked (the bound was waited out), then left out.
            assert BOUND * 0.9 <= offer_took < BOUND + MARGIN, offer_took
            assert BOUND * 0.9 <= answer_took < BOUND + MARGIN, answer_took
            for sdp in (offer, answer):
                types = _candidate_types(sdp)
                assert "host" in types and "srflx" not in types, types

            await asyncio.sleep(1.5)
            heard_by_a = a.inbound.recent(0.5)
            heard_by_b = b.inbound.recent(0.5)
            assert heard_by_a.size > 0 and heard_by_b.size > 0
            assert tone_ratio(heard_by_a, 1000) > 0.8, dominant_frequency(heard_by_a)
            assert tone_ratio(heard_by_b, 440) > 0.8, dominant_frequency(heard_by_b)
        finally:
            await a.close()
            await b.close()

    asyncio.run(run())


def test_a_re_offer_does_not_ask_the_servers_again(silent_stun: str) -> None:
    """Candidates are gathered once per connection: a hold re-offer is quick."""

    async def run() -> None:
        config = MediaConfig(ice_servers=(IceServer(silent_stun),), ice_gathering_timeout=BOUND)
        a = MediaSession(config, Tone(440))
        b = MediaSession(config, Tone(1000))
        try:
            offer = await a.create_offer()
            await a.accept_answer(await b.create_answer(offer))
            start = time.monotonic()
            hold = await a.hold_offer()
            assert time.monotonic() - start < BOUND * 0.5
            assert _candidate_types(hold) == _candidate_types(offer)
        finally:
            await a.close()
            await b.close()

    asyncio.run(run())
