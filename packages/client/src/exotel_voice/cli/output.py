"""Where a command's words go: results on stdout, progress and problems on stderr.

stdout carries what a command produces: human lines and tables, or with ``--json`` only
JSON (one object per line for a stream of events). stderr carries progress: a rich
spinner with a status line when stderr is a terminal, plain lines otherwise (one per
change, so logs and CI output stay readable), warnings, and the one-line error.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Iterator, Mapping
from typing import Any, TextIO

from rich.console import Console, RenderableType
from rich.status import Status
from rich.text import Text

__all__ = ["Output", "LogHandler"]


class Output:
    """One command's stdout and stderr.

    Args:
        json_mode: results are JSON on stdout (progress still goes to stderr).
        stdout: where results go (``sys.stdout`` by default, looked up when written).
        stderr: where progress goes (``sys.stderr`` by default).
    """

    def __init__(
        self,
        *,
        json_mode: bool = False,
        stdout: TextIO | None = None,
        stderr: TextIO | None = None,
    ) -> None:
        self.json_mode = json_mode
        self._stdout = stdout
        self.out = Console(file=stdout, highlight=False, soft_wrap=True)
        self.err = Console(file=stderr, stderr=stderr is None, highlight=False, soft_wrap=True)
        self._status: Status | None = None
        self._last_status: str | None = None

    @property
    def interactive(self) -> bool:
        """Whether stderr is a terminal (spinners and live displays), not a pipe or file."""
        return self.err.is_terminal

    # ------------------------------------------------------------------ progress

    @contextlib.contextmanager
    def progress(self, text: str) -> Iterator[None]:
        """Show ``text`` as the status while the block runs (a spinner on a terminal)."""
        if not self.interactive:
            self.status(text)
            yield
            return
        with self.err.status(Text(text)) as status:
            self._status = status
            self._last_status = text
            try:
                yield
            finally:
                self._status = None

    def status(self, text: str) -> None:
        """Say what is going on now: updates the spinner, or prints a plain line on change."""
        if text == self._last_status:
            return
        self._last_status = text
        if self._status is not None:
            self._status.update(Text(text))
        else:
            self.err.print(Text(text))

    # ------------------------------------------------------------------ results

    def line(self, text: str | Text) -> None:
        """A human-readable result line on stdout (printed above a spinner sharing the
        terminal, so neither garbles the other)."""
        renderable = Text(text) if isinstance(text, str) else text
        if self._status is not None and self.out.is_terminal:
            self.err.print(renderable)
        else:
            self.out.print(renderable)

    def show(self, renderable: RenderableType) -> None:
        """A table or other rich renderable on stdout."""
        self.out.print(renderable)

    def record(self, item: Mapping[str, Any]) -> None:
        """One JSON object as one line on stdout, flushed at once (for a reader that
        follows the stream as it happens)."""
        stream = self._stdout or sys.stdout
        stream.write(json.dumps(item, ensure_ascii=False, default=str) + "\n")
        stream.flush()

    def document(self, item: Mapping[str, Any]) -> None:
        """One JSON document, indented, on stdout."""
        stream = self._stdout or sys.stdout
        stream.write(json.dumps(item, ensure_ascii=False, indent=2, default=str) + "\n")
        stream.flush()

    # ------------------------------------------------------------------ problems

    def warn(self, text: str) -> None:
        """A warning line on stderr."""
        self.err.print(Text(f"warning: {text}", style="yellow"))

    def error(self, text: str) -> None:
        """The one-line error on stderr."""
        self.err.print(Text(" ".join(text.split()), style="bold red"))


class LogHandler(logging.Handler):
    """Log records as single lines through an ``Output``'s stderr (so they print above
    a spinner); tracebacks only when ``tracebacks`` is set (``-vv``)."""

    def __init__(self, output: Output, *, tracebacks: bool = False) -> None:
        super().__init__()
        self._output = output
        self._tracebacks = tracebacks

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = f"{record.levelname.lower()}: {record.name}: {record.getMessage()}"
            if record.exc_info and record.exc_info[1] is not None:
                error = record.exc_info[1]
                text += f" ({type(error).__name__}: {error})"
            style = "yellow" if record.levelno >= logging.WARNING else "dim"
            self._output.err.print(Text(text, style=style))
            if self._tracebacks and record.exc_info:
                self._output.err.print(logging.Formatter().formatException(record.exc_info))
        except Exception:  # noqa: BLE001 - logging must never break the command
            self.handleError(record)
