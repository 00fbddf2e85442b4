"""sipcore stays sans-IO: run by ``nox -s core_isolation`` in a fresh interpreter.

1. Importing sipcore and every one of its modules loads no third-party module.
2. sipcore's source imports none of time, asyncio, socket, threading, random (it takes
   the time and its ids from the caller; see docs/design.md).

Exits non-zero, naming the offenders, if either fails.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import sys
from pathlib import Path

# The first import of the run: what it loads is what we check.
import sipcore

BANNED = {"time", "asyncio", "socket", "threading", "random"}


def loaded_third_party() -> set[str]:
    for module in pkgutil.walk_packages(sipcore.__path__, "sipcore."):
        importlib.import_module(module.name)
    top = {name.split(".")[0] for name in sys.modules}
    allowed = set(sys.stdlib_module_names) | {"sipcore", "__main__", "_distutils_hack"}
    return {name for name in top if name not in allowed and not name.startswith("_")}


def banned_imports(root: Path) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                if name.split(".")[0] in BANNED:
                    found.append(f"{path}:{getattr(node, 'lineno', 0)}: import {name}")
    return found


def main() -> int:
    third_party = loaded_third_party()
    banned = banned_imports(Path(sipcore.__file__).parent)
    for name in sorted(third_party):
        print(f"sipcore loaded a third-party module: {name}")
    for line in banned:
        print(f"sipcore imports a banned module: {line}")
    if third_party or banned:
        return 1
    print(f"sipcore is isolated: {len(sys.modules)} modules loaded, all standard library")
    return 0


if __name__ == "__main__":
    sys.exit(main())
