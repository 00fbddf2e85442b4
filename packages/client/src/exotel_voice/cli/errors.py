"""The CLI's own errors: what a command says in one line on stderr before it exits."""

from __future__ import annotations

__all__ = [
    "CommandError",
    "UsageProblem",
    "EXIT_OK",
    "EXIT_FAILED",
    "EXIT_USAGE",
    "EXIT_INTERRUPTED",
]

EXIT_OK = 0
EXIT_FAILED = 1
"""Something did not work: no connection, registration refused, a demo check failed."""
EXIT_USAGE = 2
"""Bad arguments (click's own code for usage errors)."""
EXIT_INTERRUPTED = 130
"""Stopped by Ctrl-C before a clean shutdown could be done."""


class CommandError(Exception):
    """A command failed; ``main`` prints ``message`` as one line and exits ``exit_code``."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


class UsageProblem(CommandError):
    """Arguments that parse but do not fit together (no password, a bad account file)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, EXIT_USAGE)
