"""Ctrl-C and SIGTERM as a request to stop cleanly; a second one forces the stop."""

from __future__ import annotations

import signal

import anyio
import anyio.abc

__all__ = ["Shutdown"]


class Shutdown:
    """Turns the first SIGINT/SIGTERM into cancelling ``work`` (or ``force`` until
    ``started``) and a second one into cancelling ``force``.

    Put what may simply stop (waiting for calls, a timer) under ``work`` and the whole
    command, clean-up included, under ``force``; run ``watch`` in a task group inside
    ``force``; set ``started`` once there is something to clean up.
    """

    def __init__(self) -> None:
        self.requested: str | None = None
        """The name of the signal that asked us to stop (``SIGTERM``...), if one did."""
        self.started = False
        """Whether a first signal stops ``work`` (set) or everything (not yet set)."""
        self.forced = False
        """Whether a second signal cut the clean-up short."""
        self.work = anyio.CancelScope()
        self.force = anyio.CancelScope()

    async def watch(
        self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Handle the signals until cancelled (reports ``started`` once they are caught)."""
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            task_status.started()
            async for signum in signals:
                if self.requested is None:
                    self.requested = signal.Signals(signum).name
                    self.work.cancel()
                    if not self.started:
                        self.force.cancel()
                else:
                    self.forced = True
                    self.force.cancel()
