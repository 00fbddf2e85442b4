"""examples/ten_line_bot.py: it is ten lines of bot, it beeps, it echoes, and Ctrl-C
hangs up and unregisters."""

from __future__ import annotations

import ast
import signal

import anyio
import pytest

from exotel_voice import EndCause
from sipmedia import tone_ratio
from tests.examples.harness import EXAMPLES, TONE_SHARE, dev_server, hears, onset, peer, running

pytestmark = pytest.mark.anyio


def test_the_bot_is_ten_lines_after_its_imports() -> None:
    tree = ast.parse((EXAMPLES / "ten_line_bot.py").read_text())
    body = [node for node in tree.body if not isinstance(node, ast.Import | ast.ImportFrom)]
    docstring, *code = body
    assert isinstance(docstring, ast.Expr)
    lines = {n.lineno for stmt in code for n in ast.walk(stmt) if isinstance(n, ast.stmt)}
    assert len(lines) <= 10, f"{len(lines)} lines of code"


async def test_the_ten_line_bot_beeps_then_echoes_the_caller() -> None:
    with anyio.fail_after(30):
        async with dev_server() as server:
            assert server.ca_file is not None
            # wss with the development CA, trusted the standard OpenSSL way.
            args = [server.wss_url, "bot", server.domain]
            env = {"SSL_CERT_FILE": server.ca_file}
            async with (
                running("ten_line_bot.py", *args, env=env) as bot,
                peer(server, "alice", 600) as alice,
            ):
                with anyio.fail_after(15):
                    while not server.server.bindings("bot"):
                        await anyio.sleep(0.05)
                call = await alice.call("bot")
                await call.wait_connected()
                await hears(call, 600)  # the echo, after the one-second beep
                beep = onset(await call.recent_audio(10), 0.5)
                assert tone_ratio(beep, 880) > TONE_SHARE

                bot.process.send_signal(signal.SIGINT)  # Ctrl-C
                assert (await call.wait_ended()).cause is EndCause.REMOTE_HANGUP
                await bot.exit()
                assert not server.server.bindings("bot")
