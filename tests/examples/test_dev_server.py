"""examples/dev_server.py: the commands it prints work as printed. The echo bot and the
``exotel-voice phone`` command line call each other through it, three processes in all,
and the caller's recording holds its own tone, echoed."""

from __future__ import annotations

import json
import shlex
import signal
import sys
from pathlib import Path

import anyio
import pytest

from exotel_voice import Account, Phone, TlsOptions
from sipmedia import tone_ratio
from tests.examples.harness import (
    EXAMPLES,
    TONE_SHARE,
    decode,
    onset,
    running,
    running_command,
)

pytestmark = pytest.mark.anyio


def runnable(printed: str) -> list[str]:
    """A printed ``uv run ...`` command, run with this interpreter instead of ``uv``."""
    words = shlex.split(printed)
    assert words[:2] == ["uv", "run"], printed
    if words[2] == "exotel-voice":
        return [sys.executable, "-m", "exotel_voice.cli", *words[3:]]
    assert words[2].startswith("examples/"), printed
    return [sys.executable, str(EXAMPLES.parent / words[2]), *words[3:]]


async def test_the_printed_recipe_works(tmp_path: Path) -> None:
    with anyio.fail_after(50):
        async with running("dev_server.py", "--users", "bot,carol") as server:
            export = (await server.line(r"^  export EXOTEL_VOICE_PASSWORD=(\S+)$")).group(1)
            env = {"EXOTEL_VOICE_PASSWORD": shlex.split(export)[0]}
            bot_command = runnable((await server.line(r"^  uv run examples/echo_bot\.py ")).string)
            phone_command = runnable((await server.line(r"^  uv run exotel-voice phone ")).string)
            async with running_command([*bot_command, "--max-calls", "1"], "bot", env=env) as bot:
                await bot.line(r"is registered; call it$")
                async with running_command(phone_command, "phone", env=env, cwd=tmp_path) as phone:
                    assert await phone.exit(20) == 0
                assert await bot.exit() == 0
            server.process.send_signal(signal.SIGINT)  # Ctrl-C stops it, cleanly
            assert await server.exit() == 0

    heard = decode(tmp_path / "heard.wav")  # what the caller received, 5 s
    assert heard.size >= 4.5 * 48_000
    assert tone_ratio(onset(heard, 0.15), 880) > TONE_SHARE  # the bot's beep, first
    assert tone_ratio(heard[-2 * 48_000 :], 440) > TONE_SHARE  # then our own tone, echoed


async def test_json_details_let_a_program_connect() -> None:
    with anyio.fail_after(30):
        async with running("dev_server.py", "--json", "--duration", "20") as server:
            details = json.loads((await server.line(r"^\{")).string)
            assert details["users"] == ["bot", "agent", "alice", "bob", "carol"]
            alice = Account(
                user="alice",
                password=details["password"],
                domain=details["domain"],
                server=details["wss_url"],
                tls=TlsOptions(ca_file=details["ca_file"]),
            )
            async with Phone(alice) as phone:
                assert phone.registered  # over wss, the development CA verified
            server.process.send_signal(signal.SIGTERM)
            assert await server.exit() == 0
