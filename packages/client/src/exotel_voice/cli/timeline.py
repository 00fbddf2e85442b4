"""The demo's timeline: steps and checks as they happen, shown live.

``Timeline`` is the record (what happened when, and whether it worked); ``TimelineView``
shows it on stderr: a live table with a spinner on the running step when stderr is a
terminal, else one plain line per finished entry (``  3.2s  ok    audio alice -> bob``).
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType

from rich.console import Group, RenderableType
from rich.live import Live
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from exotel_voice.cli.output import Output

__all__ = ["EntryState", "Entry", "Timeline", "TimelineView"]


class EntryState(enum.Enum):
    """Where a timeline entry stands."""

    RUNNING = "running"
    PASSED = "ok"
    FAILED = "failed"
    NOTE = "note"
    """Information, not a check."""


@dataclass(slots=True)
class Entry:
    """One step or note."""

    at: float
    """Seconds since the timeline began, when the step started (or the note was made)."""
    name: str
    state: EntryState
    detail: str = ""
    took: float | None = None
    """Seconds the step took, once finished."""


@dataclass(slots=True)
class Timeline:
    """What happened, in order. ``on_change`` is called after every change."""

    clock: Callable[[], float] = time.monotonic
    start: float = field(default=0.0)
    entries: list[Entry] = field(default_factory=list)
    on_change: Callable[[Entry], None] | None = None

    def __post_init__(self) -> None:
        self.start = self.clock()

    def now(self) -> float:
        """Seconds since the timeline began."""
        return self.clock() - self.start

    def begin(self, name: str) -> Entry:
        """A step starts now."""
        entry = Entry(self.now(), name, EntryState.RUNNING)
        self.entries.append(entry)
        self._changed(entry)
        return entry

    def finish(self, entry: Entry, passed: bool, detail: str) -> None:
        """A step ended, passed or not."""
        entry.state = EntryState.PASSED if passed else EntryState.FAILED
        entry.detail = detail
        entry.took = self.now() - entry.at
        self._changed(entry)

    def note(self, name: str, detail: str = "") -> Entry:
        """Something worth knowing happened (not a check)."""
        entry = Entry(self.now(), name, EntryState.NOTE, detail)
        self.entries.append(entry)
        self._changed(entry)
        return entry

    @property
    def checks(self) -> list[Entry]:
        """The finished checks, in order."""
        return [e for e in self.entries if e.state in (EntryState.PASSED, EntryState.FAILED)]

    @property
    def failed(self) -> list[Entry]:
        """The checks that failed."""
        return [e for e in self.entries if e.state is EntryState.FAILED]

    def _changed(self, entry: Entry) -> None:
        if self.on_change is not None:
            self.on_change(entry)


_MARKS = {
    EntryState.PASSED: Text("✓", style="bold green"),
    EntryState.FAILED: Text("✗", style="bold red"),
    EntryState.NOTE: Text("•", style="cyan"),
}
_PLAIN = {EntryState.PASSED: "ok  ", EntryState.FAILED: "FAIL", EntryState.NOTE: "--  "}


class TimelineView:
    """Shows a ``Timeline`` on an ``Output``'s stderr while the block runs.

    Args:
        timeline: the record to show (its ``on_change`` is taken over).
        output: where to show it.
        title: the heading of the live table.
    """

    def __init__(self, timeline: Timeline, output: Output, title: str) -> None:
        self._timeline = timeline
        self._output = output
        self._title = title
        self._live: Live | None = None
        timeline.on_change = self._changed

    def __enter__(self) -> TimelineView:
        if self._output.interactive:
            self._live = Live(
                self._render(),
                console=self._output.err,
                refresh_per_second=10,
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self._live.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._live is not None:
            self._live.update(self._render(), refresh=True)
            self._live.stop()
            self._live = None

    def _changed(self, entry: Entry) -> None:
        if self._live is not None:
            self._live.update(self._render())
        elif entry.state is not EntryState.RUNNING:
            detail = f": {entry.detail}" if entry.detail else ""
            self._output.err.print(
                Text(f"{entry.at:6.1f}s  {_PLAIN[entry.state]}  {entry.name}{detail}")
            )

    def _render(self) -> RenderableType:
        table = Table.grid(padding=(0, 1))
        table.add_column(justify="right", style="dim")
        table.add_column(width=1)
        table.add_column()
        table.add_column(style="dim")
        for entry in self._timeline.entries:
            mark: RenderableType = (
                Spinner("dots", style="yellow")
                if entry.state is EntryState.RUNNING
                else _MARKS[entry.state]
            )
            name = Text(entry.name, style="bold" if entry.state is EntryState.FAILED else "")
            table.add_row(f"{entry.at:5.1f}s", mark, name, Text(entry.detail))
        return Group(Text(self._title, style="bold"), table)
