"""One session member in its own process, driven by ``tests/client/test_sessions.py``.

Usage: ``python member.py RUNTIME_DIR ACCOUNT_KEY [--auto-reregister]``

It starts a ``SessionCoordinator`` and writes what happens to stdout as JSON lines
(``{"event": ..., "t": <time.monotonic()>, ...}``). It reads commands from stdin as
JSON lines: ``{"cmd": "broadcast", "callState": ..., "phone": ...}``, ``{"cmd": "role"}``,
``{"cmd": "fork"}`` (fork a copy that sleeps, to prove copies do not keep the lock) and
``{"cmd": "close"}``. EOF on stdin closes the coordinator and exits.

The module is loaded from its file rather than through ``import exotel_voice``: the
package imports the whole SDK (about a second per process), and ``sessions`` needs
only the standard library. It is the same source file the package ships.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import sys
import threading
import time
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = ["main"]

_OUT_LOCK = threading.Lock()


def load_sessions() -> ModuleType:
    """The ``exotel_voice.webclient.sessions`` module, without importing the SDK."""
    spec = importlib.util.find_spec("exotel_voice")
    assert spec is not None and spec.submodule_search_locations
    path = Path(next(iter(spec.submodule_search_locations))) / "webclient" / "sessions.py"
    name = "exotel_voice.webclient.sessions"
    module_spec = importlib.util.spec_from_file_location(name, path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    module_spec.loader.exec_module(module)
    return module


def emit(event: str, **fields: Any) -> None:
    """Report one event to the test."""
    line = json.dumps({"event": event, "t": time.monotonic(), "pid": os.getpid(), **fields})
    with _OUT_LOCK:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def main(argv: list[str]) -> int:
    """Run one member until stdin closes or ``close`` is asked for."""
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    runtime_dir, key = Path(argv[0]), argv[1]
    auto = "--auto-reregister" in argv[2:]
    sessions = load_sessions()
    coordinator: Any = None

    def on_event(call_state: str, phone: str) -> None:
        emit("session", callState=call_state, phone=phone, is_parent=coordinator.is_parent)

    def on_become_parent() -> None:
        emit("became_parent", is_parent=coordinator.is_parent)

    coordinator = sessions.SessionCoordinator(
        key,
        on_event,
        runtime_dir=runtime_dir,
        auto_reregister=auto,
        on_become_parent=on_become_parent if auto else None,
        phone=f"phone-of-{key}",
    )
    is_parent = coordinator.start()
    emit("started", is_parent=is_parent, role=coordinator.role.value)
    for raw in sys.stdin:
        command = json.loads(raw)
        cmd = command["cmd"]
        if cmd == "broadcast":
            queued = coordinator.broadcast(command["callState"], command["phone"])
            emit("broadcast", queued=queued)
        elif cmd == "role":
            emit(
                "role",
                role=coordinator.role.value,
                is_parent=coordinator.is_parent,
                child_count=coordinator.child_count,
            )
        elif cmd == "fork":
            pid = os.fork()
            if pid == 0:  # the copy: hold whatever it inherited, for a while
                time.sleep(30)
                os._exit(0)
            emit("forked", child=pid)
        elif cmd == "close":
            coordinator.close()
            emit("closed")
            return 0
    coordinator.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
