"""examples/multi_instance.py (the guide's 5.10 with ``ExotelWebClient``): two processes
of one account; the parent registers and answers, the child hears about its calls, and
after ``kill -9`` of the parent the child re-registers and answers the next call."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from exotel_voice import Call, EndCause
from sipadapters.server import LocalServerRunner
from tests.examples.harness import dev_server, example_args, hears, peer, registered, running

pytestmark = pytest.mark.anyio

FAILOVER_LIMIT = 2.0  # section 5.10: a child hears "re-register" within 2 s


async def call_and_hang_up(server: LocalServerRunner, call: Call, tone: float) -> None:
    """Check who answered ``call`` by the tone it sends, then hang up."""
    await call.wait_connected()
    await hears(call, tone)
    assert len(server.server.bindings("agent")) == 1  # only ever one instance registered
    await call.hangup()
    assert (await call.wait_ended()).cause is EndCause.LOCAL_HANGUP


async def test_parent_answers_child_follows_and_takes_over_after_kill_9(tmp_path: Path) -> None:
    env = {"XDG_RUNTIME_DIR": str(tmp_path)}  # where the instances find each other
    with anyio.fail_after(60):
        async with dev_server() as server:
            account = example_args(server, "agent")
            async with (
                running("multi_instance.py", *account, "--tone", "500", env=env) as first,
                peer(server, "alice") as alice,
            ):
                await first.line(r"\] role: parent$")
                await first.line(r"\] register: registered$")
                async with running(
                    "multi_instance.py", *account, "--tone", "900", "--max-calls", "1", env=env
                ) as second:
                    await second.line(r"\] role: child$")

                    # The parent answers (its 500 Hz); the child is told of each step.
                    await call_and_hang_up(server, await alice.call("agent"), 500)
                    await first.line(r"\] call: terminated \(alice\)$")
                    for state in ("incoming", "connected", "callEnded"):
                        await second.line(rf"\] session: {state}$")

                    first.process.kill()  # kill -9: no goodbye, no un-REGISTER
                    killed = anyio.current_time()
                    await second.line(r"\] session: re-register$")
                    assert anyio.current_time() - killed < FAILOVER_LIMIT
                    await second.line(r"\] register: registered$")
                    await registered(server, "agent")

                    # Now the former child answers (its 900 Hz), and exits by itself.
                    await call_and_hang_up(server, await alice.call("agent"), 900)
                    assert await second.exit() == 0
                    await second.line(r"\] stopped$")
            lines = second.lines
            took_over = next(i for i, line in enumerate(lines) if "session: re-register" in line)
            assert not [line for line in lines[:took_over] if "] register: " in line]  # a child
