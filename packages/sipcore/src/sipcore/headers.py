"""The header section: an ordered, case-insensitive multi-map that keeps what it was given.

Each entry keeps the name as written (so ``MaX-fOrWaRdS`` or ``v`` re-serialise as
received), a lookup key (lower case, compact forms expanded, RFC 3261 §7.3.3) and the
value with line folding already replaced by a single space (§7.3.1). Typed values are
read on demand by the readers in ``READERS`` and cached until the header changes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from sipcore import _abnf
from sipcore.address import NameAddress, parse_name_address
from sipcore.errors import LocalProtocolError, RemoteProtocolError
from sipcore.fields import (
    CSeq,
    EventHeader,
    MediaType,
    Reason,
    RetryAfter,
    SessionExpires,
    parse_token_list,
    parse_uint,
)
from sipcore.params import check_header_text, split_commas
from sipcore.via import Via, parse_via

__all__ = ["Headers", "header_key", "canonical_name", "READERS", "LIST_HEADERS"]

# RFC 3261 §7.3.3 compact forms, plus those registered later (RFC 3515, 3891, 3892,
# 4028, 6665, 3841, 4474).
COMPACT_FORMS = {
    "i": "call-id",
    "m": "contact",
    "e": "content-encoding",
    "l": "content-length",
    "c": "content-type",
    "f": "from",
    "s": "subject",
    "k": "supported",
    "t": "to",
    "v": "via",
    "o": "event",
    "u": "allow-events",
    "r": "refer-to",
    "b": "referred-by",
    "x": "session-expires",
    "a": "accept-contact",
    "j": "reject-contact",
    "d": "request-disposition",
    "y": "identity",
    "n": "identity-info",
}

_SPELLING = {
    "call-id": "Call-ID",
    "cseq": "CSeq",
    "www-authenticate": "WWW-Authenticate",
    "mime-version": "MIME-Version",
    "rack": "RAck",
    "rseq": "RSeq",
    "min-se": "Min-SE",
    "sip-etag": "SIP-ETag",
    "sip-if-match": "SIP-If-Match",
}

_TOKEN = re.compile(_abnf.TOKEN + r"\Z")


def header_key(name: str) -> str:
    """The lookup key of a header name: lower case, compact form expanded."""
    lname = name.lower()
    return COMPACT_FORMS.get(lname, lname)


def canonical_name(name: str) -> str:
    """The usual spelling of a header name (``call-id`` -> ``Call-ID``, ``v`` -> ``Via``)."""
    key = header_key(name)
    spelled = _SPELLING.get(key)
    if spelled is not None:
        return spelled
    return "-".join(part[:1].upper() + part[1:] for part in key.split("-"))


# Headers whose grammar is a comma-separated list (RFC 3261 §7.3.1: only these may be
# split on commas; Authorization, WWW-Authenticate, Date... must not be).
LIST_HEADERS = frozenset(
    {
        "via",
        "contact",
        "route",
        "record-route",
        "path",
        "service-route",
        "allow",
        "supported",
        "require",
        "proxy-require",
        "unsupported",
        "accept",
        "accept-encoding",
        "accept-language",
        "content-encoding",
        "content-language",
        "allow-events",
        "reason",
        "warning",
        "error-info",
        "alert-info",
        "call-info",
        "in-reply-to",
        "p-asserted-identity",
        "p-preferred-identity",
        "security-client",
        "security-server",
        "security-verify",
    }
)

# Headers that may appear at most once (RFC 3261 §20, Table 2 and §7.3.1).
SINGLE_HEADERS = frozenset(
    {
        "call-id",
        "cseq",
        "from",
        "to",
        "max-forwards",
        "content-length",
        "content-type",
        "expires",
        "min-expires",
        "retry-after",
        "session-expires",
        "min-se",
        "event",
        "refer-to",
        "referred-by",
        "replaces",
        "subscription-state",
        "rseq",
        "rack",
    }
)


def _single(key: str, values: list[str]) -> str:
    if len(values) > 1:
        raise RemoteProtocolError(f"{canonical_name(key)} appears {len(values)} times")
    return values[0]


def _read_call_id(values: list[str]) -> str:
    # callid = word [ "@" word ]
    value = _single("call-id", values)
    if not value or " " in value or "\t" in value:
        raise RemoteProtocolError(f"malformed Call-ID: {value[:40]!r}")
    return value


def _read_address(key: str) -> Callable[[list[str]], NameAddress]:
    name = canonical_name(key)

    def read(values: list[str]) -> NameAddress:
        return parse_name_address(_single(key, values), name)

    return read


def _read_address_list(key: str) -> Callable[[list[str]], list[NameAddress]]:
    name = canonical_name(key)

    def read(values: list[str]) -> list[NameAddress]:
        out: list[NameAddress] = []
        for value in values:
            for item in split_commas(value):
                out.append(parse_name_address(item, name))
        return out

    return read


def _read_contact(values: list[str]) -> list[NameAddress]:
    out: list[NameAddress] = []
    for value in values:
        if value.strip() == "*":
            # The wildcard is only meaningful alone (RFC 3261 §10.2.2); see contact_is_wildcard.
            if len(values) > 1:
                raise RemoteProtocolError("Contact '*' must be the only Contact")
            return []
        for item in split_commas(value):
            out.append(parse_name_address(item, "Contact"))
    return out


def _read_via(values: list[str]) -> list[Via]:
    return [parse_via(item) for value in values for item in split_commas(value)]


def _read_uint(key: str, maximum: int = 2**32 - 1) -> Callable[[list[str]], int]:
    name = canonical_name(key)

    def read(values: list[str]) -> int:
        return parse_uint(_single(key, values), name, maximum)

    return read


def _read_expires(values: list[str]) -> int:
    # RFC 3261 §20.19: "malformed values SHOULD be treated as equivalent to 3600".
    value = _single("expires", values)
    try:
        return parse_uint(value, "Expires")
    except RemoteProtocolError:
        return 3600


def _read_tokens(key: str) -> Callable[[list[str]], list[str]]:
    name = canonical_name(key)

    def read(values: list[str]) -> list[str]:
        return parse_token_list(values, name)

    return read


def _read_single(key: str, parse: Callable[[str], Any]) -> Callable[[list[str]], Any]:
    def read(values: list[str]) -> Any:
        return parse(_single(key, values))

    return read


def _read_reasons(values: list[str]) -> list[Reason]:
    return [Reason.parse(item) for value in values for item in split_commas(value)]


def _read_media_types(values: list[str]) -> list[MediaType]:
    return [
        MediaType.parse(item) for value in values if value.strip() for item in split_commas(value)
    ]


READERS: dict[str, Callable[[list[str]], Any]] = {
    "call-id": _read_call_id,
    "cseq": _read_single("cseq", CSeq.parse),
    "via": _read_via,
    "from": _read_address("from"),
    "to": _read_address("to"),
    "contact": _read_contact,
    "route": _read_address_list("route"),
    "record-route": _read_address_list("record-route"),
    "path": _read_address_list("path"),
    "service-route": _read_address_list("service-route"),
    "refer-to": _read_address("refer-to"),
    "referred-by": _read_address("referred-by"),
    "max-forwards": _read_uint("max-forwards", 255),
    "content-length": _read_uint("content-length"),
    "expires": _read_expires,
    "min-expires": _read_uint("min-expires"),
    "min-se": _read_uint("min-se"),
    "allow": _read_tokens("allow"),
    "supported": _read_tokens("supported"),
    "require": _read_tokens("require"),
    "proxy-require": _read_tokens("proxy-require"),
    "unsupported": _read_tokens("unsupported"),
    "allow-events": _read_tokens("allow-events"),
    "content-type": _read_single("content-type", MediaType.parse),
    "accept": _read_media_types,
    "retry-after": _read_single("retry-after", RetryAfter.parse),
    "reason": _read_reasons,
    "event": _read_single("event", EventHeader.parse),
    "session-expires": _read_single("session-expires", SessionExpires.parse),
}
"""Typed readers by header key; each takes every value of that header, in order."""


class Headers:
    """An ordered multi-map of header fields.

    Lookups are case-insensitive and understand compact forms (``v`` is ``Via``).
    Values given by the caller are checked: CR, LF and NUL are refused, so a user string
    can never add a header of its own (no header injection).
    """

    __slots__ = ("_cache", "_entries")

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._entries: list[tuple[str, str, str]] = []
        self._cache: dict[str, Any] = {}
        for name, value in items:
            self.add(name, value)

    @classmethod
    def _parsed(cls, entries: list[tuple[str, str, str]]) -> Headers:
        # Fast path for the message reader, which has already checked names and values.
        self = cls.__new__(cls)
        self._entries = entries
        self._cache = {}
        return self

    @staticmethod
    def _check(name: str, value: str) -> None:
        if not _TOKEN.match(name):
            raise LocalProtocolError(f"not a header name: {name!r}")
        check_header_text(value, f"{name} header")

    def add(self, name: str, value: str | object) -> None:
        """Append a header field at the end.

        Args:
            name: the header name as it will be written.
            value: the value; non-strings are written with ``str()``.

        Raises:
            LocalProtocolError: bad name, or the value holds CR/LF/NUL.
        """
        text = str(value)
        self._check(name, text)
        key = header_key(name)
        self._entries.append((name, key, text))
        self._cache.pop(key, None)

    def prepend(self, name: str, value: str | object) -> None:
        """Insert a header field before every other (a new top Via, a Route...)."""
        text = str(value)
        self._check(name, text)
        key = header_key(name)
        self._entries.insert(0, (name, key, text))
        self._cache.pop(key, None)

    def set(self, name: str, value: str | object) -> None:
        """Replace every field called ``name`` by one, where the first one was (or at the end)."""
        text = str(value)
        self._check(name, text)
        key = header_key(name)
        new_entries: list[tuple[str, str, str]] = []
        placed = False
        for entry in self._entries:
            if entry[1] == key:
                if not placed:
                    new_entries.append((name, key, text))
                    placed = True
            else:
                new_entries.append(entry)
        if not placed:
            new_entries.append((name, key, text))
        self._entries = new_entries
        self._cache.pop(key, None)

    def remove(self, name: str) -> None:
        """Remove every field called ``name`` (no error if there is none)."""
        key = header_key(name)
        self._entries = [e for e in self._entries if e[1] != key]
        self._cache.pop(key, None)

    def remove_first(self, name: str) -> None:
        """Remove the first field called ``name`` (a proxy popping its Via or a Route)."""
        key = header_key(name)
        for i, entry in enumerate(self._entries):
            if entry[1] == key:
                del self._entries[i]
                self._cache.pop(key, None)
                return

    def get(self, name: str) -> str | None:
        """The first value of ``name``, or ``None``."""
        key = header_key(name)
        for entry in self._entries:
            if entry[1] == key:
                return entry[2]
        return None

    def get_all(self, name: str) -> list[str]:
        """Every value of ``name`` in order, one per header line (not split on commas)."""
        key = header_key(name)
        return [e[2] for e in self._entries if e[1] == key]

    def values(self, name: str) -> list[str]:
        """Every element of ``name``, split on commas where its grammar is a list."""
        key = header_key(name)
        raw = [e[2] for e in self._entries if e[1] == key]
        if key not in LIST_HEADERS:
            return raw
        return [item for value in raw for item in split_commas(value)]

    def typed(self, name: str) -> Any:
        """The typed value of ``name`` from ``READERS`` (cached), or ``None`` if absent.

        Raises:
            RemoteProtocolError: the header is malformed or repeated where it may not be.
            KeyError: no reader is defined for ``name``.
        """
        key = header_key(name)
        cache = self._cache
        if key in cache:
            return cache[key]
        reader = READERS[key]
        raw = [e[2] for e in self._entries if e[1] == key]
        value = reader(raw) if raw else None
        cache[key] = value
        return value

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        key = header_key(name)
        return any(e[1] == key for e in self._entries)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        """``(name, value)`` pairs in order, names as written."""
        for name, _, value in self._entries:
            yield name, value

    def __len__(self) -> int:
        return len(self._entries)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Headers):
            return NotImplemented
        return [(k, v) for _, k, v in self._entries] == [(k, v) for _, k, v in other._entries]

    __hash__ = None  # type: ignore[assignment]

    def copy(self) -> Headers:
        """An independent copy (typed cache not shared)."""
        return Headers._parsed(list(self._entries))

    def keys(self) -> list[str]:
        """The lookup keys of every field, in order (repeats included)."""
        return [e[1] for e in self._entries]

    def __repr__(self) -> str:
        return f"Headers({[(n, v) for n, v in self]!r})"
