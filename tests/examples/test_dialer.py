"""examples/dialer.py: five targets, two at a time; the outcomes it reports match what the
test's phones did, and the one that answered heard the message file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest

from exotel_voice import EndCause, Phone, Tone
from sipmedia import FileRecorder
from tests.examples.harness import (
    dev_server,
    example_args,
    first_incoming,
    hears,
    peer,
    running,
)

pytestmark = pytest.mark.anyio

MESSAGE_HZ = 1500.0


def message_file(path: Path) -> Path:
    """Two seconds of ``MESSAGE_HZ``, as a wav file (what ``--play`` sends)."""
    with FileRecorder(path) as recorder:
        recorder.write(Tone(MESSAGE_HZ).read(2 * 48_000))
    return path


async def test_dialer_reports_answered_busy_no_answer_and_unreachable(tmp_path: Path) -> None:
    args = [
        *("--concurrency", "2", "--ring-timeout", "2", "--talk-time", "1.5", "--json"),
        *("--play", str(message_file(tmp_path / "message.wav"))),
        *("alice", "bob", "carol", "dave", "zed"),  # dave is not registered; zed no user
    ]
    answered: dict[str, Any] = {}

    async def answer_and_listen(phone: Phone) -> None:
        call = await first_incoming(phone)
        await call.answer()
        await call.wait_connected()
        answered["heard"] = await hears(call, MESSAGE_HZ)
        answered["end"] = (await call.wait_ended()).cause

    async def reject(phone: Phone) -> None:
        await (await first_incoming(phone)).reject()  # 486 Busy Here

    async def let_it_ring(phone: Phone) -> None:
        answered["unanswered"] = (await (await first_incoming(phone)).wait_ended()).cause

    with anyio.fail_after(40):
        async with (
            dev_server() as server,
            peer(server, "alice") as alice,
            peer(server, "bob") as bob,
            peer(server, "carol") as carol,
            anyio.create_task_group() as phones,
        ):
            for behaviour, phone in (
                (answer_and_listen, alice),
                (reject, bob),
                (let_it_ring, carol),
            ):
                phones.start_soon(behaviour, phone)
            await anyio.sleep(0)  # every phone is listening for its call
            async with running("dialer.py", *example_args(server, "dialer"), *args) as dialer:
                assert await dialer.exit() == 0
            outcomes = {o["target"]: o for o in map(json.loads, dialer.lines)}

    assert set(outcomes) == {"alice", "bob", "carol", "dave", "zed"}
    assert outcomes["alice"]["result"] == "answered"
    assert 1.3 <= outcomes["alice"]["talked"] <= 3.0
    assert answered["end"] is EndCause.REMOTE_HANGUP  # the dialer hung up after --talk-time
    assert answered["heard"] > 0.8  # the message file
    assert (outcomes["bob"]["result"], outcomes["bob"]["status"]) == ("busy", 486)
    assert outcomes["carol"]["result"] == "no-answer"
    assert answered["unanswered"] is EndCause.REMOTE_CANCEL  # cancelled after --ring-timeout
    assert (outcomes["dave"]["result"], outcomes["dave"]["status"]) == ("unavailable", 480)
    assert (outcomes["zed"]["result"], outcomes["zed"]["status"]) == ("not-found", 404)
