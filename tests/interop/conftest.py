"""Browser interop fixtures: Debian's Chromium, the JsSIP page, the fake microphone.

Missing pieces are installed (as root) by scripts/install-browser-deps.sh; when that
cannot happen the tests fail, never skip, saying what to run.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.interop.browser import (
    BrowserEnv,
    BrowserError,
    PageServer,
    ensure_installed,
    write_tone_wav,
)

#: The fake microphone's tone: none of the DTMF frequencies, not the SDK's tone.
MICROPHONE_HZ = 880.0
#: Longer than any call of the tests: Chromium's loop of the file has a phase jump.
MICROPHONE_SECONDS = 30.0


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "interop: drives a real browser (Debian's Chromium + JsSIP from npm) against the SDK",
    )


@pytest.fixture(scope="session")
def browser_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserEnv]:
    """The page served on loopback and the fake microphone's WAV, for the whole run."""
    try:
        ensure_installed()
    except BrowserError as error:
        pytest.fail(str(error), pytrace=False)
    microphone = write_tone_wav(
        tmp_path_factory.mktemp("interop") / "microphone.wav",
        MICROPHONE_HZ,
        seconds=MICROPHONE_SECONDS,
    )
    with PageServer() as server:
        yield BrowserEnv(server.url, microphone, MICROPHONE_HZ)
