"""A real browser against the SDK, through the suite's Kamailio.

JsSIP (npm) in Debian's headless Chromium registers as erin over ws://; an SDK ``Phone``
registers as frank over wss://. Verified:

- the SDK calls the browser (which auto-answers), and the browser calls the SDK;
- audio both ways: the SDK detects the tone of the browser's fake microphone; the
  browser's ``RTCPeerConnection.getStats()`` shows inbound audio packets, level and
  rising energy, and a tone meter on the browser's remote stream hears the SDK's tone;
- DTMF from the SDK reaches JsSIP, in order: RFC 4733 (the browser plays received
  telephone-events out as the keys' two tones, which the page's meter decodes) and SIP
  INFO (JsSIP's ``newDTMF``); and DTMF from JsSIP reaches the SDK, both ways;
- a hangup on either side ends the call on both.

See tests/interop/README.md.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest

from exotel_voice import Call, DtmfReceived, EndCause, Phone, Tone
from sipmedia import dominant_frequency, rms_dbfs, tone_ratio
from tests.client.accounts import account
from tests.interop.browser import BrowserEnv, BrowserPhone
from tests.kamailio.server import KamailioServer

pytestmark = [pytest.mark.interop, pytest.mark.kamailio]

BROWSER_USER = "erin"
SDK_USER = "frank"
SDK_HZ = 1000.0
"""The SDK phone's tone: none of the DTMF frequencies, not the browser's tone."""
DIGITS = "123#"
"""Keys the SDK sends; no key twice in a row (see ``presses``)."""
TEST_TIMEOUT = 45.0

T = TypeVar("T")
Stats = dict[str, Any]


def drive(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(asyncio.wait_for(scenario(), TEST_TIMEOUT))


async def eventually(
    probe: Callable[[], Awaitable[T]], accept: Callable[[T], bool], what: str, timeout: float = 5.0
) -> T:
    """Probe every 0.1 s until ``accept`` holds; fail with the last value after ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await probe()
        if accept(value):
            return value
        if loop.time() >= deadline:
            raise AssertionError(f"{what}: not within {timeout} s; last seen {value!r}")
        await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def registered_browser(
    kamailio: KamailioServer, env: BrowserEnv, workdir: Path, *, auto_answer: bool
) -> AsyncIterator[BrowserPhone]:
    """A browser registered as erin over ws://; un-registered and closed at the end.

    A failure inside gets the end of the browser's log (JsSIP's SIP trace) as a note.
    """
    browser = BrowserPhone(workdir, env.page_url, audio_file=env.microphone)
    try:
        await browser.start()
        await browser.call("listenFor", [SDK_HZ])
        await browser.call("autoAnswer", auto_answer)
        await browser.call(
            "register",
            {
                "wsUrl": kamailio.ws_url,
                "uri": f"sip:{BROWSER_USER}@{kamailio.domain}",
                "password": kamailio.users[BROWSER_USER],
                "debug": True,  # JsSIP's trace goes to the log
            },
        )
        yield browser
        assert await browser.call("stop"), "the browser's un-REGISTER was not answered"
    except Exception as exc:
        exc.add_note(browser.log_tail())
        raise
    finally:
        await browser.close()


def sdk_phone(
    kamailio: KamailioServer, dtmf_mode: str = "auto", codecs: tuple[str, ...] = ("opus",)
) -> Phone:
    """frank over wss:// (the suite's CA verified), sending a steady SDK_HZ tone."""
    return Phone(
        account(kamailio, SDK_USER, dtmf_mode=dtmf_mode, codecs=codecs),
        source=lambda: Tone(SDK_HZ),
    )


async def first_incoming(phone: Phone) -> Call:
    async for call in phone.incoming():
        return call
    raise AssertionError("no incoming call")


async def sdk_calls_browser(phone: Phone, browser: BrowserPhone, domain: str) -> Call:
    call = await phone.call(BROWSER_USER)
    await asyncio.wait_for(call.wait_connected(), 10)
    session = await browser.call("waitFor", "newRTCSession", 5000)
    assert session["originator"] == "remote"
    assert session["remote"] == f"sip:{SDK_USER}@{domain}"
    await browser.call("waitFor", "confirmed", 5000)
    return call


async def browser_calls_sdk(phone: Phone, browser: BrowserPhone, domain: str) -> Call:
    incoming = asyncio.create_task(first_incoming(phone))
    await asyncio.sleep(0)
    await browser.call("call", f"sip:{SDK_USER}@{domain}")
    call = await asyncio.wait_for(incoming, 10)
    assert call.details.remote_uri == f"sip:{BROWSER_USER}@{domain}"
    await call.answer()
    await asyncio.wait_for(call.wait_connected(), 10)
    accepted = await browser.call("waitFor", "accepted", 5000)
    assert accepted["originator"] == "remote"
    await browser.call("waitFor", "confirmed", 5000)
    return call


def presses(keys: list[str]) -> list[str]:
    """Keys heard in the browser's audio, one per press.

    On a loaded machine, event packets that arrive late stop the browser's playout of a
    key for a moment, and the meter hears that key twice in a row (seen at a load
    average of 7 on 2 cores). The SDK's keys, by their RTP timestamp, are one press:
    consecutive repeats count once, which is why DIGITS repeats no key in a row.
    """
    return [key for i, key in enumerate(keys) if i == 0 or keys[i - 1] != key]


def inbound(stats: Stats | None) -> Stats:
    """The inbound-rtp audio entry of the page's audioStats() (empty before media)."""
    return dict((stats or {}).get("inbound") or {})


async def assert_audio_both_ways(call: Call, browser: BrowserPhone, env: BrowserEnv) -> None:
    # The SDK hears the browser's fake microphone: its tone, and (nearly) nothing else.
    async def sdk_hears() -> tuple[float, float]:
        pcm = await call.recent_audio(0.4)
        return dominant_frequency(pcm), tone_ratio(pcm, env.microphone_hz)

    await eventually(
        sdk_hears,
        lambda heard: abs(heard[0] - env.microphone_hz) <= 5 and heard[1] > 0.9,
        f"the SDK hearing the browser's {env.microphone_hz:g} Hz (dominant Hz, share)",
    )

    # The browser receives audio with energy in it, and more of it as time goes on.
    def flowing(stats: Stats | None) -> bool:
        audio = inbound(stats)
        return bool(audio.get("packetsReceived", 0) > 0 and audio.get("totalAudioEnergy", 0) > 0)

    async def audio_stats() -> Stats | None:
        stats: Stats | None = await browser.call("audioStats")
        return stats

    first = await eventually(audio_stats, flowing, "inbound audio in the browser's getStats")
    await asyncio.sleep(0.5)
    later = await audio_stats()
    assert inbound(later)["packetsReceived"] > inbound(first)["packetsReceived"]
    assert inbound(later)["totalAudioEnergy"] > inbound(first)["totalAudioEnergy"]
    assert inbound(later)["totalSamplesDuration"] > inbound(first)["totalSamplesDuration"]
    assert inbound(later)["audioLevel"] > 0.05, later
    assert later is not None and later["outbound"]["packetsSent"] > 0
    # Both ends use the same codec.
    assert call.media is not None and call.media.codec is not None
    assert inbound(later)["codec"].split("/")[1].lower() == call.media.codec.lower(), later

    # What the browser hears is the SDK's tone.
    async def browser_hears() -> Stats:
        hearing: Stats = await browser.call("hearing", SDK_HZ, 400)
        return hearing

    await eventually(
        browser_hears,
        lambda hearing: hearing["ratio"] > 0.9,
        f"the browser hearing the SDK's {SDK_HZ:g} Hz",
    )


async def media_flowing(call: Call, browser: BrowserPhone, env: BrowserEnv, codec: str) -> None:
    """Until each side hears the other's tone (the page's meter is then running too);
    both sides use ``codec``."""

    async def browser_hears() -> Stats:
        hearing: Stats = await browser.call("hearing", SDK_HZ, 200)
        return hearing

    async def sdk_hears() -> float:
        return tone_ratio(await call.recent_audio(0.2), env.microphone_hz)

    await eventually(browser_hears, lambda h: h["ratio"] > 0.9, "the browser hearing the SDK")
    await eventually(sdk_hears, lambda ratio: ratio > 0.9, "the SDK hearing the browser")
    assert call.media is not None and call.media.codec == codec
    stats = await browser.call("audioStats")
    assert inbound(stats)["codec"].split("/")[1].lower() == codec.lower(), stats


# --------------------------------------------------------------------------- calls


def test_sdk_calls_browser_audio_both_ways_sdk_hangs_up(
    kamailio: KamailioServer, browser_env: BrowserEnv, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with (
            registered_browser(kamailio, browser_env, tmp_path, auto_answer=True) as browser,
            sdk_phone(kamailio) as phone,
        ):
            call = await sdk_calls_browser(phone, browser, kamailio.domain)
            await assert_audio_both_ways(call, browser, browser_env)

            await call.hangup()
            ended = await browser.call("waitFor", "ended", 5000)
            assert ended["originator"] == "remote"
            await asyncio.wait_for(call.wait_ended(), 5)
            assert call.details.end_cause is EndCause.LOCAL_HANGUP
            assert phone.calls == []
            snapshot = await browser.call("snapshot")
            assert snapshot["isEnded"] is True

    drive(scenario)


def test_browser_calls_sdk_audio_both_ways_browser_hangs_up(
    kamailio: KamailioServer, browser_env: BrowserEnv, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with (
            registered_browser(kamailio, browser_env, tmp_path, auto_answer=False) as browser,
            sdk_phone(kamailio) as phone,
        ):
            call = await browser_calls_sdk(phone, browser, kamailio.domain)
            await assert_audio_both_ways(call, browser, browser_env)

            await browser.call("hangup")
            await asyncio.wait_for(call.wait_ended(), 5)
            assert call.details.end_cause is EndCause.REMOTE_HANGUP
            ended = await browser.call("waitFor", "ended", 5000)
            assert ended["originator"] == "local"
            assert phone.calls == []

    drive(scenario)


# --------------------------------------------------------------------------- DTMF


@pytest.mark.parametrize(
    ("dtmf_mode", "sdk_calls", "codec"),
    [("auto", True, "opus"), ("auto", False, "PCMU"), ("info", False, "PCMA")],
    ids=["rfc4733-sdk-calls-opus", "rfc4733-browser-calls-pcmu", "info-browser-calls-pcma"],
)
def test_dtmf_from_sdk_seen_by_jssip(
    kamailio: KamailioServer,
    browser_env: BrowserEnv,
    tmp_path: Path,
    dtmf_mode: str,
    sdk_calls: bool,
    codec: str,
) -> None:
    """``auto`` picks RFC 4733, since the browser negotiated telephone-event (at 48 kHz
    beside Opus, at 8 kHz beside G.711); ``info`` sends SIP INFO application/dtmf-relay,
    which JsSIP reports as ``newDTMF``."""

    async def scenario() -> None:
        async with (
            registered_browser(kamailio, browser_env, tmp_path, auto_answer=sdk_calls) as browser,
            sdk_phone(kamailio, dtmf_mode, (codec,)) as phone,
        ):
            place = sdk_calls_browser if sdk_calls else browser_calls_sdk
            call = await place(phone, browser, kamailio.domain)
            await media_flowing(call, browser, browser_env, codec)
            await call.send_dtmf(DIGITS)

            async def snapshot() -> Stats:
                seen: Stats = await browser.call("snapshot")
                return seen

            if dtmf_mode == "auto":
                sdp = await snapshot()
                offer, answer = (
                    (sdp["sdp"]["remote-offer"], sdp["sdp"]["local-answer"])
                    if sdk_calls
                    else (sdp["sdp"]["local-offer"], sdp["sdp"]["remote-answer"])
                )
                rate = "48000" if codec == "opus" else "8000"
                assert f"telephone-event/{rate}" in offer, offer
                assert f"telephone-event/{rate}" in answer, answer
                seen = await eventually(
                    snapshot,
                    lambda s: len(presses(s["dtmfAudio"])) >= len(DIGITS),
                    "RFC 4733 keys in the browser's audio",
                )
                assert presses(seen["dtmfAudio"]) == list(DIGITS), seen["dtmfAudio"]
                assert seen["dtmfInfo"] == []
            else:
                seen = await eventually(
                    snapshot,
                    lambda s: len(s["dtmfInfo"]) >= len(DIGITS),
                    "JsSIP newDTMF for the SIP INFO keys",
                )
                assert seen["dtmfInfo"] == list(DIGITS)
                await asyncio.sleep(0.3)  # no RTP events went out: nothing to hear
                assert (await snapshot())["dtmfAudio"] == []
            await call.hangup()
            await browser.call("waitFor", "ended", 5000)

    drive(scenario)


@pytest.mark.parametrize("codec", ["opus", "PCMU"])
def test_dtmf_from_jssip_seen_by_sdk(
    kamailio: KamailioServer, browser_env: BrowserEnv, tmp_path: Path, codec: str
) -> None:
    """JsSIP's RFC 2833 keys (Chromium's RTCDTMFSender) and its SIP INFO keys."""

    async def scenario() -> None:
        async with (
            registered_browser(kamailio, browser_env, tmp_path, auto_answer=True) as browser,
            sdk_phone(kamailio, codecs=(codec,)) as phone,
        ):
            call = await sdk_calls_browser(phone, browser, kamailio.domain)
            # Chromium's DTMF sender refuses keys until its transport is up
            await media_flowing(call, browser, browser_env, codec)
            keys: list[tuple[str, str]] = []
            expected = [(d, "rfc4733") for d in "159#"] + [(d, "info") for d in "*0"]

            async def collect() -> None:
                async for event in call.events():
                    if isinstance(event, DtmfReceived):
                        keys.append((event.digit, event.method))
                        if len(keys) == len(expected):
                            return

            collector = asyncio.create_task(collect())
            await asyncio.sleep(0)
            await browser.call("sendDtmf", "159#", "RFC2833")
            await eventually(
                lambda: asyncio.sleep(0), lambda _: len(keys) >= 4, "RFC 4733 keys at the SDK"
            )
            await browser.call("sendDtmf", "*0", "INFO")
            await asyncio.wait_for(collector, 5)
            assert keys == expected

            await call.hangup()
            await browser.call("waitFor", "ended", 5000)

    drive(scenario)


# --------------------------------------------------------------------------- hold


def test_hold_and_resume_from_either_side(
    kamailio: KamailioServer, browser_env: BrowserEnv, tmp_path: Path
) -> None:
    """Re-INVITEs both ways: the SDK's ``a=sendonly`` offer answered by Chromium, and
    JsSIP's hold offer answered by the SDK; audio stops while held and comes back."""

    async def scenario() -> None:
        async with (
            registered_browser(kamailio, browser_env, tmp_path, auto_answer=True) as browser,
            sdk_phone(kamailio) as phone,
        ):
            call = await sdk_calls_browser(phone, browser, kamailio.domain)
            await assert_audio_both_ways(call, browser, browser_env)
            media = call.media
            assert media is not None

            async def browser_hears() -> Stats:
                hearing: Stats = await browser.call("hearing", SDK_HZ, 300)
                return hearing

            async def sdk_hears() -> float:
                return tone_ratio(await call.recent_audio(0.3), browser_env.microphone_hz)

            # The SDK holds: it stops sending, and the browser's recvonly answer stops
            # the browser's audio.
            await call.hold()
            assert (await browser.call("waitFor", "hold", 5000))["originator"] == "remote"
            await eventually(
                browser_hears,
                lambda h: h["windows"] > 0 and h["meanSquare"] < 1e-6,
                "silence in the browser",
            )
            await asyncio.sleep(0.3)
            received = media.inbound.frames_received
            await asyncio.sleep(0.5)
            assert media.inbound.frames_received == received
            await call.unhold()
            assert (await browser.call("waitFor", "unhold", 5000))["originator"] == "remote"
            await eventually(browser_hears, lambda h: h["ratio"] > 0.9, "the SDK's tone again")
            await eventually(
                lambda: asyncio.sleep(0, media.inbound.frames_received),
                lambda frames: frames > received + 10,
                "the browser's audio at the SDK again",
            )
            await eventually(sdk_hears, lambda r: r > 0.9, "the browser's tone again")

            # The browser holds: the SDK sees it and stops sending; then resumes.
            await browser.call("hold")
            await eventually(
                lambda: asyncio.sleep(0, call.remote_on_hold), bool, "remote hold at the SDK"
            )
            await eventually(
                browser_hears,
                lambda h: h["windows"] > 0 and h["meanSquare"] < 1e-6,
                "silence in the browser",
            )

            async def sdk_level() -> float:
                return rms_dbfs(await call.recent_audio(0.3))

            await eventually(sdk_level, lambda dbfs: dbfs < -60, "silence at the SDK")
            await browser.call("unhold")
            await eventually(
                lambda: asyncio.sleep(0, call.remote_on_hold), lambda held: not held, "resumed"
            )
            await eventually(browser_hears, lambda h: h["ratio"] > 0.9, "the SDK's tone again")
            await eventually(sdk_hears, lambda r: r > 0.9, "the browser's tone again")

            await call.hangup()
            await browser.call("waitFor", "ended", 5000)

    drive(scenario)
