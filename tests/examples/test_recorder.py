"""examples/recorder.py: each call in its own file, holding that caller's tone (read back
with PyAV), whether the caller hangs up or the recorder does at ``--max-length``."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from exotel_voice import EndCause
from sipmedia import tone_ratio
from tests.examples.harness import (
    TONE_SHARE,
    decode,
    dev_server,
    example_args,
    hears,
    peer,
    registered,
    running,
)

pytestmark = pytest.mark.anyio


async def test_recorder_writes_one_file_per_call_with_the_callers_audio(tmp_path: Path) -> None:
    folder = tmp_path / "recordings"
    args = ["--folder", str(folder), "--format", "ogg", "--max-length", "2.5", "--max-calls", "2"]
    with anyio.fail_after(40):
        async with (
            dev_server() as server,
            running("recorder.py", *example_args(server, "bot"), *args) as recorder,
            peer(server, "alice", 600) as alice,
            peer(server, "bob", 1500) as bob,
        ):
            await registered(server, "bot")
            short, long = await alice.call("bot"), await bob.call("bot")
            for call in (short, long):
                await call.wait_connected()
                await hears(call, 1000, window=0.1)  # the recorder's beep: recording
            await anyio.sleep(1.0)
            await short.hangup()  # alice hangs up after a second or so...
            ended = await long.wait_ended()  # ...bob talks until --max-length
            assert ended.cause is EndCause.REMOTE_HANGUP
            assert await recorder.exit() == 0
            for user in ("alice", "bob"):
                await recorder.line(rf"^saved .*-{user}-\d\.ogg \(\d+\.\d s, ")

    files = {path.name.split("-")[2]: path for path in folder.glob("*.ogg")}
    assert sorted(files) == ["alice", "bob"], sorted(folder.iterdir())
    for user, tone, at_least in (("alice", 600, 0.8), ("bob", 1500, 2.0)):
        pcm = decode(files[user])
        seconds = pcm.size / 48_000
        assert at_least <= seconds <= 4.0, f"{user}: {seconds:.2f} s recorded"
        assert tone_ratio(pcm, tone) > TONE_SHARE, f"{user}'s tone is not in {files[user]}"
