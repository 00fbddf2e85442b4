"""Frozen value objects whose fields a reader may fill on first use.

Reading a header must check all of it (a malformed value raises at once), but a caller
usually wants one or two fields (the top Via's branch, the From tag), and ``validate()``
wants none. So a reader checks a whole value with one regex and keeps the match in
``_source``; each field slot holds ``UNREAD`` until the field's property first reads it
from the match's groups. The match checked the whole value, so that cannot fail.

Objects made by their constructor have every field slot filled. Equality, hashing,
``repr``, pickling and ``_replace`` read fields through the properties, so they see the
same values either way: these classes behave as the frozen dataclasses they were. They
are frozen because the fields are properties without setters; only the class writes the
slots behind them (plain slot writes, which keep building an object cheap).
"""

from __future__ import annotations

import enum
import re
from typing import Any, ClassVar, Final, Self

__all__ = ["Source", "UNREAD", "Unread", "LazyValue"]

Source = re.Match[str]
"""The match a value was checked with (its groups are numbered from 1, as in the regex)."""


class Unread(enum.Enum):
    """The type of ``UNREAD``."""

    UNREAD = enum.auto()


UNREAD: Final = Unread.UNREAD
"""What a field slot holds until its property reads the field from ``_source``."""


class LazyValue:
    """Base of the value objects the header readers make (``Via``, ``NameAddress``...).

    A subclass lists its fields in ``_FIELDS`` (constructor order), keeps each in a slot
    named with a leading underscore and exposes it with a read-only property.
    """

    __slots__ = ("_source",)

    _FIELDS: ClassVar[tuple[str, ...]]
    _source: Source

    def _values(self) -> tuple[Any, ...]:
        return tuple([getattr(self, name) for name in self._FIELDS])

    def _replace(self, **changes: Any) -> Self:
        """A copy with some fields changed (``dataclasses.replace``), checked again."""
        fields = {name: getattr(self, name) for name in self._FIELDS}
        fields.update(changes)
        return type(self)(**fields)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, LazyValue)
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._FIELDS)
        return f"{type(self).__qualname__}({fields})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), self._values())
