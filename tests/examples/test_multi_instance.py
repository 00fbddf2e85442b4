"""examples/multi_instance.py (the guide's 5.10 with ``ExotelWebClient``): two processes
of one account; the parent registers and answers, the child hears about its calls, and
after ``kill -9`` of the parent the child re-registers and answers the next call.

Against the embedded development server and against the suite's Kamailio, which also
has to notice the dead parent's connection and drop its binding.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
import anyio.to_thread
import pytest

from exotel_voice import Call, EndCause, Phone
from tests.client.accounts import account as kamailio_account
from tests.examples.harness import dev_server, example_args, hears, peer, running
from tests.kamailio.plugin import KamailioFactory

pytestmark = pytest.mark.anyio

FAILOVER_LIMIT = 2.0  # section 5.10: a child hears "re-register" within 2 s

Bindings = Callable[[], Awaitable[int]]
"""How many registrations the agent's account has on the server right now."""


async def call_and_hang_up(bindings: Bindings, call: Call, tone: float) -> None:
    """Check who answered ``call`` by the tone it sends, then hang up."""
    await call.wait_connected()
    await hears(call, tone)
    assert await bindings() == 1  # only ever one instance registered
    await call.hangup()
    assert (await call.wait_ended()).cause is EndCause.LOCAL_HANGUP


async def until_registered(bindings: Bindings, timeout: float = 15.0) -> None:
    with anyio.fail_after(timeout):
        while not await bindings():
            await anyio.sleep(0.05)


async def parent_answers_child_takes_over(
    account: list[str],
    env: dict[str, str],
    alice: Phone,
    agent: str,
    bindings: Bindings,
) -> None:
    """The scenario: ``account`` are the example's account options for user ``agent``."""
    async with running("multi_instance.py", *account, "--tone", "500", env=env) as first:
        await first.line(r"\] role: parent$")
        await first.line(r"\] register: registered$")
        async with running(
            "multi_instance.py", *account, "--tone", "900", "--max-calls", "1", env=env
        ) as second:
            await second.line(r"\] role: child$")

            # The parent answers (its 500 Hz); the child is told of each step.
            await call_and_hang_up(bindings, await alice.call(agent), 500)
            await first.line(r"\] call: terminated \(alice\)$")
            for state in ("incoming", "connected", "callEnded"):
                await second.line(rf"\] session: {state}$")

            first.process.kill()  # kill -9: no goodbye, no un-REGISTER
            killed = anyio.current_time()
            await second.line(r"\] session: re-register$")
            assert anyio.current_time() - killed < FAILOVER_LIMIT
            await second.line(r"\] register: registered$")
            await until_registered(bindings)

            # Now the former child answers (its 900 Hz), and exits by itself.
            await call_and_hang_up(bindings, await alice.call(agent), 900)
            assert await second.exit() == 0
            await second.line(r"\] stopped$")
    lines = second.lines
    took_over = next(i for i, line in enumerate(lines) if "session: re-register" in line)
    assert not [line for line in lines[:took_over] if "] register: " in line]  # a child


async def test_parent_answers_child_follows_and_takes_over_after_kill_9(tmp_path: Path) -> None:
    env = {"XDG_RUNTIME_DIR": str(tmp_path)}  # where the instances find each other
    with anyio.fail_after(60):
        async with dev_server() as server:

            async def bindings() -> int:
                return len(server.server.bindings("agent"))

            async with peer(server, "alice") as alice:
                await parent_answers_child_takes_over(
                    example_args(server, "agent"), env, alice, "agent", bindings
                )


@pytest.mark.kamailio
async def test_the_same_on_kamailio(tmp_path: Path, fresh_kamailio: KamailioFactory) -> None:
    kamailio = await anyio.to_thread.run_sync(fresh_kamailio)
    agent = "carol"
    env = {"XDG_RUNTIME_DIR": str(tmp_path), "EXOTEL_VOICE_PASSWORD": kamailio.users[agent]}
    account = [
        *("--server", kamailio.wss_url, "--ca-file", str(kamailio.ca_file)),
        *("--domain", kamailio.domain, "--user", agent),
    ]

    async def bindings() -> int:
        return len(await anyio.to_thread.run_sync(kamailio.contacts, agent))

    with anyio.fail_after(60):
        async with Phone(kamailio_account(kamailio, "alice")) as alice:
            await parent_answers_child_takes_over(account, env, alice, agent, bindings)
