"""The interop harness itself, without a browser: install check, page server, fake
microphone file."""

from __future__ import annotations

import math
import os
import urllib.error
import urllib.request
import wave
from pathlib import Path

import numpy as np
import pytest

from sipmedia import dominant_frequency, tone_ratio
from tests.interop import browser
from tests.interop.browser import BrowserError, PageServer, ensure_installed, write_tone_wav


def test_missing_pieces_without_root_fail_saying_what_to_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(browser, "CHROMIUM", tmp_path / "no-chromium")
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(BrowserError, match=r"not root.*install-browser-deps\.sh") as info:
        ensure_installed()
    assert "chromium" in str(info.value)


def fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, b""


def test_page_server_serves_the_page_and_nothing_else() -> None:
    with PageServer() as server:
        status, body = fetch(server.url)
        assert status == 200 and b'src="/phone.js"' in body
        status, body = fetch(server.url + "phone.js")
        assert status == 200 and b"window.interop" in body
        status, body = fetch(server.url + "tone-meter.js")
        assert status == 200 and b"registerProcessor('tone-meter'" in body
        for elsewhere in ("package.json", "web/phone.js", "../browser.py", "node_modules/"):
            assert fetch(server.url + elsewhere)[0] == 404, elsewhere


def test_tone_wav_is_the_tone_in_whole_cycles(tmp_path: Path) -> None:
    path = write_tone_wav(tmp_path / "tone.wav", 880.0, seconds=2.0)
    with wave.open(str(path), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 48000)
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    assert pcm.size == 2 * 48000
    assert abs(dominant_frequency(pcm) - 880.0) < 1
    assert tone_ratio(pcm, 880.0) > 0.99
    # Looped, the sine goes on across the seam: every sample, the first ones after the
    # end included, follows x[n] = 2 cos(w) x[n-1] - x[n-2] (up to int16 rounding).
    looped = np.concatenate([pcm, pcm[:2]]).astype(np.float64)
    w = 2 * math.pi * 880.0 / 48000
    residual = looped[2:] - (2 * math.cos(w) * looped[1:-1] - looped[:-2])
    assert float(np.max(np.abs(residual))) < 4
