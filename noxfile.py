"""Developer and CI sessions. ``nox`` runs the default set: the whole test suite.

Every session installs from ``uv.lock`` with ``uv sync --frozen`` into its own
virtualenv, so what CI tests is exactly what is locked.
"""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "uv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["lint", "typing", "core_isolation", "tests"]

PACKAGES = ["packages/sipcore", "packages/adapters", "packages/media", "packages/client"]


def sync(session: nox.Session, *groups: str) -> None:
    """Install the locked workspace (all four packages) plus the named dependency groups."""
    args = ["uv", "sync", "--frozen", "--all-packages", "--all-extras", "--no-default-groups"]
    for group in groups:
        args += ["--group", group]
    session.run_install(*args, env={"UV_PROJECT_ENVIRONMENT": session.virtualenv.location})


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check over everything."""
    sync(session, "lint")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typing(session: nox.Session) -> None:
    """mypy --strict over all four packages and the tests."""
    sync(session, "typing")
    session.run("mypy", *[f"{p}/src" for p in PACKAGES], "tests", "benchmarks", "examples")


@nox.session
def core_isolation(session: nox.Session) -> None:
    """sipcore stays sans-IO: no third-party module loaded, no clock/IO/thread/random import."""
    sync(session)
    session.run("python", "tests/isolation/check_sipcore_isolation.py")


@nox.session
def tests(session: nox.Session) -> None:
    """Unit and property tests (sipcore), then everything else pytest collects."""
    sync(session, "test")
    session.run("pytest", *session.posargs)


@nox.session(default=False)
def bench(session: nox.Session) -> None:
    """Benchmarks against peers measured in the same run (not part of the default set)."""
    sync(session, "bench")
    session.run("python", "-m", "benchmarks", *session.posargs)
