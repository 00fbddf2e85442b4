"""The guide's ExotelWebClient, driven as the guide's snippets do, in a call with JsSIP in
a real browser through the suite's Kamailio: the browser calls, the facade's callback
sees "incoming", ``Answer()`` connects real audio both ways (each side hears the
other's tone), ``sendDTMF`` keys reach the browser (RFC 4733, decoded from what it plays
out), ``Hangup()`` ends it on both."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from exotel_voice import ExotelWebClient
from sipmedia import Pcm, tone_ratio
from tests.client.test_webclient import Recorder, sip_account_info
from tests.interop.browser import BrowserEnv
from tests.interop.test_browser import (
    BROWSER_USER,
    SDK_HZ,
    SDK_USER,
    Stats,
    drive,
    eventually,
    presses,
    registered_browser,
)
from tests.kamailio.server import KamailioServer

pytestmark = [pytest.mark.interop, pytest.mark.kamailio]


def test_browser_calls_the_guides_webclient_audio_dtmf_hangup(
    kamailio: KamailioServer, browser_env: BrowserEnv, tmp_path: Path
) -> None:
    async def scenario() -> None:
        rec = Recorder()
        client = ExotelWebClient()
        try:
            info = sip_account_info(kamailio, SDK_USER, audioSource=f"tone:{SDK_HZ:g}")
            assert client.initWebrtc(info, rec.on_register, rec.on_call, None)
            assert client.DoRegister() is True

            async def registered() -> bool:
                return ("registered", SDK_USER) in rec.register

            await eventually(registered, bool, "the facade registering")
            async with registered_browser(
                kamailio, browser_env, tmp_path, auto_answer=False
            ) as browser:
                await browser.call("call", f"sip:{SDK_USER}@{kamailio.domain}")

                async def ringing() -> bool:
                    return ("incoming", SDK_USER) in rec.calls

                await eventually(ringing, bool, "the facade's incoming callback")
                call = client.getCall()
                assert call.callDirection == "incoming"
                assert BROWSER_USER in call.callDetails()["sipHeaders"]["From"]
                call.Answer()
                accepted = await browser.call("waitFor", "accepted", 5000)
                assert accepted["originator"] == "remote"
                await browser.call("waitFor", "confirmed", 5000)

                # The facade's call runs on the client's own loop thread.
                facade_loop = client._thread.loop

                async def sdk_heard() -> Pcm:
                    future = asyncio.run_coroutine_threadsafe(
                        call.call.recent_audio(0.3), facade_loop
                    )
                    return await asyncio.wrap_future(future)

                async def sdk_hears() -> float:
                    return tone_ratio(await sdk_heard(), browser_env.microphone_hz)

                async def browser_hears() -> Stats:
                    hearing: Stats = await browser.call("hearing", SDK_HZ, 300)
                    return hearing

                await eventually(sdk_hears, lambda r: r > 0.9, "the facade hearing the browser")
                await eventually(browser_hears, lambda h: h["ratio"] > 0.9, "the browser hearing")

                call.sendDTMF("7")
                call.sendDTMF("#")

                async def snapshot() -> Stats:
                    state: Stats = await browser.call("snapshot")
                    return state

                # JsSIP offers telephone-event: the keys go in the audio (RFC 4733), and
                # the browser plays them out, where the page's meter decodes them.
                seen = await eventually(
                    snapshot, lambda s: len(presses(s["dtmfAudio"])) >= 2, "the keys in the browser"
                )
                assert presses(seen["dtmfAudio"]) == ["7", "#"], seen["dtmfAudio"]

                call.Hangup()
                ended = await browser.call("waitFor", "ended", 5000)
                assert ended["originator"] == "remote"

                async def call_ended() -> bool:
                    return ("callEnded", SDK_USER) in rec.calls

                await eventually(call_ended, bool, "the facade's callEnded callback")
            client.UnRegister()
        finally:
            client.close()
        assert kamailio.contacts(SDK_USER) == []

    drive(scenario)
