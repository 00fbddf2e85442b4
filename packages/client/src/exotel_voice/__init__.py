"""exotel_voice."""

from __future__ import annotations

__all__: list[str] = []
