"""Where identifiers come from: branches, tags, Call-IDs, cnonces, instance ids.

sipcore draws no randomness of its own; a ``UserAgent`` takes an ``IdFactory`` so tests
can make every id deterministic. ``SecureIds`` (the default) uses ``secrets``.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Protocol

from sipcore.via import MAGIC_COOKIE

__all__ = ["IdFactory", "SecureIds", "SequentialIds"]


class IdFactory(Protocol):
    """Makes the unique strings SIP needs (RFC 3261 §8.1.1.4, §8.1.1.7, §19.3)."""

    def branch(self) -> str:
        """A Via branch, starting with the magic cookie ``z9hG4bK``."""
        ...

    def tag(self) -> str:
        """A From/To tag (at least 32 bits of randomness, §19.3)."""
        ...

    def call_id(self) -> str:
        """A globally unique Call-ID."""
        ...

    def cnonce(self) -> str:
        """A digest client nonce."""
        ...

    def token(self) -> str:
        """A short random token (Contact user part, ``.invalid`` host label...)."""
        ...

    def uuid(self) -> str:
        """A UUID string (RFC 5626 instance id)."""
        ...

    def fraction(self) -> float:
        """A number in [0, 1) for jitter and the §14.1 glare backoff."""
        ...


class SecureIds:
    """Ids from the operating system's CSPRNG."""

    def branch(self) -> str:
        return MAGIC_COOKIE + secrets.token_hex(8)

    def tag(self) -> str:
        return secrets.token_hex(6)

    def call_id(self) -> str:
        return secrets.token_hex(12)

    def cnonce(self) -> str:
        return secrets.token_hex(8)

    def token(self) -> str:
        return secrets.token_hex(5)

    def uuid(self) -> str:
        return str(uuid.uuid4())

    def fraction(self) -> float:
        return secrets.randbits(53) / (1 << 53)


class SequentialIds:
    """Predictable ids for tests: ``<prefix>-<kind>-<n>``; ``fraction`` is fixed."""

    def __init__(self, prefix: str = "t", fraction: float = 0.5) -> None:
        self._prefix = prefix
        self._n = 0
        self._fraction = fraction

    def _next(self, kind: str) -> str:
        self._n += 1
        return f"{self._prefix}{kind}{self._n}"

    def branch(self) -> str:
        return MAGIC_COOKIE + self._next("b")

    def tag(self) -> str:
        return self._next("tag")

    def call_id(self) -> str:
        return self._next("call")

    def cnonce(self) -> str:
        return self._next("cn")

    def token(self) -> str:
        return self._next("tok")

    def uuid(self) -> str:
        self._n += 1
        return f"00000000-0000-4000-8000-{self._n:012d}"

    def fraction(self) -> float:
        return self._fraction
