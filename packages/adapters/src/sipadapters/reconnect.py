"""When to try again after the connection to the server is lost."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ReconnectPolicy"]


@dataclass(frozen=True, slots=True)
class ReconnectPolicy:
    """Exponential backoff with jitter, bounded.

    Attempt ``n`` (from 1) waits ``min(maximum, initial * factor**(n-1))`` scaled down by
    up to ``jitter`` (a random fraction), so many phones cut off together do not all
    come back in the same instant: 0.5 s, 1 s, 2 s ... 30 s by default.
    """

    initial: float = 0.5
    maximum: float = 30.0
    factor: float = 2.0
    jitter: float = 0.5
    """Fraction of the delay that is random (0: none; 1: anywhere from 0 to the delay)."""
    max_attempts: int | None = None
    """Give up after this many failed attempts in a row (None: never)."""
    enabled: bool = True

    def delay(self, attempt: int, fraction: float) -> float:
        """The wait before attempt ``attempt`` (1-based); ``fraction`` is random in [0, 1)."""
        base = min(self.maximum, self.initial * self.factor ** max(0, attempt - 1))
        return base * (1.0 - self.jitter * fraction)
