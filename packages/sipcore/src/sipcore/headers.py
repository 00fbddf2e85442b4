"""The header section: an ordered, case-insensitive multi-map that keeps what it was given.

Each entry keeps the name as written (so ``MaX-fOrWaRdS`` or ``v`` re-serialise as
received), a lookup key (lower case, compact forms expanded, RFC 3261 §7.3.3) and the
value with line folding already replaced by a single space (§7.3.1). Typed values are
read on demand by the readers in ``READERS`` and cached until the header changes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from sipcore import _abnf
from sipcore.address import PLAIN_NAME_ADDR, NameAddress, parse_name_address
from sipcore.errors import LocalProtocolError, RemoteProtocolError
from sipcore.fields import (
    PLAIN_MEDIA_TYPE,
    TOKEN_LIST,
    CSeq,
    EventHeader,
    MediaType,
    Reason,
    RetryAfter,
    SessionExpires,
    parse_token_list,
    parse_uint,
)
from sipcore.params import check_header_text, comma_items, split_commas
from sipcore.via import PLAIN_VIA, Via, parse_via

__all__ = [
    "Headers",
    "header_key",
    "canonical_name",
    "READERS",
    "ONE_VALUE_READERS",
    "LIST_HEADERS",
]

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
_T = TypeVar("_T")


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


def _read_call_id(value: str) -> str:
    # callid = word [ "@" word ]
    if not value or " " in value or "\t" in value:
        raise RemoteProtocolError(f"malformed Call-ID: {value[:40]!r}")
    return value


def _read_address(key: str) -> Callable[[str], NameAddress]:
    name = canonical_name(key)
    return lambda value: parse_name_address(value, name)


_LineReaders = tuple[Callable[[str], list[_T]], Callable[[list[str]], list[_T]]]


def _list_readers(read: Callable[[str], _T]) -> _LineReaders[_T]:
    """The readers of a list header whose elements ``read`` reads: of one header line,
    and of every value."""

    def read_line(value: str) -> list[_T]:
        # What [read(item) for item in comma_items(value)] gives, without a call to
        # comma_items for a value that is one element (the usual case).
        if "," in value:
            return list(map(read, comma_items(value)))
        return [read(value.strip())]

    def read_values(values: list[str]) -> list[_T]:
        out: list[_T] = []
        for value in values:
            out += read_line(value)
        return out

    return read_line, read_values


def _address_list_readers(key: str) -> _LineReaders[NameAddress]:
    return _list_readers(_read_address(key))


_read_contact_line, _read_contact_addresses = _address_list_readers("contact")


def _read_contact(values: list[str]) -> list[NameAddress]:
    if "*" in map(str.strip, values):
        # The wildcard is only meaningful alone (RFC 3261 §10.2.2); see contact_is_wildcard.
        if len(values) > 1:
            raise RemoteProtocolError("Contact '*' must be the only Contact")
        return []
    return _read_contact_addresses(values)


def _read_contact_value(value: str) -> list[NameAddress]:
    return [] if value.strip() == "*" else _read_contact_line(value)


def _read_uint(key: str, maximum: int = 2**32 - 1) -> Callable[[str], int]:
    name = canonical_name(key)
    return lambda value: parse_uint(value, name, maximum)


def _read_expires(value: str) -> int:
    # RFC 3261 §20.19: "malformed values SHOULD be treated as equivalent to 3600".
    try:
        return parse_uint(value, "Expires")
    except RemoteProtocolError:
        return 3600


def _token_list_readers(key: str) -> _LineReaders[str]:
    name = canonical_name(key)
    return (lambda value: parse_token_list([value], name)), (
        lambda values: parse_token_list(values, name)
    )


def _read_media_types(values: list[str]) -> list[MediaType]:
    return [
        MediaType.parse(item) for value in values if value.strip() for item in comma_items(value)
    ]


ONE_VALUE_READERS: dict[str, Callable[[str], Any]] = {
    "call-id": _read_call_id,
    "cseq": CSeq.parse,
    "from": _read_address("from"),
    "to": _read_address("to"),
    "refer-to": _read_address("refer-to"),
    "referred-by": _read_address("referred-by"),
    "max-forwards": _read_uint("max-forwards", 255),
    "content-length": _read_uint("content-length"),
    "expires": _read_expires,
    "min-expires": _read_uint("min-expires"),
    "min-se": _read_uint("min-se"),
    "content-type": MediaType.parse,
    "retry-after": RetryAfter.parse,
    "event": EventHeader.parse,
    "session-expires": SessionExpires.parse,
}
"""Readers of the headers that may appear once, by key; each takes that one value."""


def _one_value(key: str, read: Callable[[str], Any]) -> Callable[[list[str]], Any]:
    def read_values(values: list[str]) -> Any:
        if len(values) > 1:
            raise RemoteProtocolError(f"{canonical_name(key)} appears {len(values)} times")
        return read(values[0])

    return read_values


_LIST_READERS: dict[str, _LineReaders[Any]] = {
    "via": _list_readers(parse_via),
    "contact": (_read_contact_value, _read_contact),
    "route": _address_list_readers("route"),
    "record-route": _address_list_readers("record-route"),
    "path": _address_list_readers("path"),
    "service-route": _address_list_readers("service-route"),
    "reason": _list_readers(Reason.parse),
    "allow": _token_list_readers("allow"),
    "supported": _token_list_readers("supported"),
    "require": _token_list_readers("require"),
    "proxy-require": _token_list_readers("proxy-require"),
    "unsupported": _token_list_readers("unsupported"),
    "allow-events": _token_list_readers("allow-events"),
}
"""Readers of the list headers, by key: (reader of one line, reader of every value)."""

READERS: dict[str, Callable[[list[str]], Any]] = {
    **{key: _one_value(key, read) for key, read in ONE_VALUE_READERS.items()},
    **{key: read for key, (_, read) in _LIST_READERS.items()},
    "accept": _read_media_types,
}
"""Typed readers by header key; each takes every value of that header, in order (and
never changes the list it is given)."""


def _line_reader(key: str) -> Callable[[str], Any]:
    # The reader of a header that has one line: the value of those that may appear once,
    # the elements of a list header.
    if key in ONE_VALUE_READERS:
        return ONE_VALUE_READERS[key]
    if key in _LIST_READERS:
        return _LIST_READERS[key][0]
    read = READERS[key]
    return lambda value: read([value])


_DISPATCH = {key: (_line_reader(key), read) for key, read in READERS.items()}
"""Key -> (its reader when the header has one line; its reader of every value), for
Headers."""


def _one_element(plain: re.Pattern[str]) -> Callable[[str], re.Match[str] | None]:
    # A line of a list header is read element by element (_list_readers): one that holds
    # no comma is one element.
    match = plain.match
    return lambda line: match(line) if "," not in line else None


_Plain = tuple[Callable[[str], re.Match[str] | None], Callable[[re.Match[str]], Any] | None]

_PLAIN_LINES: dict[str, _Plain] = {
    "from": (PLAIN_NAME_ADDR.match, NameAddress._from_match),
    "to": (PLAIN_NAME_ADDR.match, NameAddress._from_match),
    # (A plain via-parm holds no comma: a line PLAIN_VIA matches is one element.)
    "via": (PLAIN_VIA.match, Via._from_match),
    **dict.fromkeys(
        ("contact", "route", "record-route", "path", "service-route"),
        (_one_element(PLAIN_NAME_ADDR), NameAddress._from_match),
    ),
    **dict.fromkeys(
        ("allow", "supported", "require", "proxy-require", "unsupported", "allow-events"),
        (TOKEN_LIST.match, None),
    ),
    "content-type": (PLAIN_MEDIA_TYPE.match, None),
}
"""Key -> (a check of one header line: a match only if the key's reader reads that line
without error, the whole-value regex of the reader's fast path or of the usual values;
what makes an element of the typed value from that match, or None to read it again).
These are the costly values to read, and the ones routing code reads only in part (a
branch, a tag): validate() checks them and keeps the matches, and the typed value is
made from them on first use (_check_known, _typed)."""

_CHECKS = {key: (_PLAIN_LINES.get(key), *readers) for key, readers in _DISPATCH.items()}
"""Key -> (its _PLAIN_LINES entry or None, its two readers as in _DISPATCH), for
_check_known."""


def _spellings() -> dict[str, str]:
    # The header names the message reader may take without checking them: every key sipcore
    # knows plus the usual others, in lower case, the usual spelling and upper case, and
    # the compact forms in both cases. All are tokens, and each maps to header_key(name).
    keys = {
        *READERS,
        *LIST_HEADERS,
        *SINGLE_HEADERS,
        *COMPACT_FORMS.values(),
        "user-agent",
        "server",
        "authorization",
        "proxy-authorization",
        "www-authenticate",
        "proxy-authenticate",
        "authentication-info",
        "content-disposition",
        "date",
        "timestamp",
        "organization",
        "priority",
        "mime-version",
        "rseq",
        "rack",
        "sip-etag",
        "sip-if-match",
    }
    names = {*keys, *COMPACT_FORMS}
    spelled = {form for name in names for form in (name, name.upper(), canonical_name(name))}
    return {name: header_key(name) for name in spelled if _TOKEN.match(name)}


KNOWN_NAMES: dict[str, str] = _spellings()
"""Header names as commonly written -> lookup key (a table for the message reader)."""


Index = dict[str, str | list[str]]
"""Header key -> its value, or the list of its values when there are several."""


def unfold(value: str, line: str) -> str:
    """``value`` continued by ``line``, a continuation line (RFC 3261 §7.3.1)."""
    folded = line.strip()
    if not folded:
        # A whitespace-only continuation adds nothing (a trailing SP would not survive
        # re-parsing).
        return value
    # "replacing ... any folding LWS ... with a single SP"
    return f"{value} {folded}" if value else folded


def index_value(index: Index, key: str, value: str) -> None:
    """Add ``value`` to the values of ``key`` in ``index``."""
    # (The message reader does the same inline, for speed.)
    old = index.get(key)
    if old is None:
        index[key] = value
    elif isinstance(old, str):
        index[key] = [old, value]
    else:
        old.append(value)


class Headers:
    """An ordered multi-map of header fields.

    Lookups are case-insensitive and understand compact forms (``v`` is ``Via``).
    Values given by the caller are checked: CR, LF and NUL are refused, so a user string
    can never add a header of its own (no header injection).
    """

    __slots__ = ("_cache", "_fields", "_index", "_lines")

    # _entries: (name as written, key, value) in order; what is serialised. Kept in
    #         _fields; for a parsed message it is built on first use from _lines, the
    #         header lines the message reader checked (routing on the core fields never
    #         needs it).
    # _index: key -> its value, or the list of its values in order when it has several
    #         (see index_value); built from _entries on demand and dropped (None) when an
    #         edit other than add() changes the entries.
    # _cache: key -> typed value, popped when that key's entries change. For a header
    #         _check_known found valid it holds instead the tuple of its lines' matches
    #         (no reader gives a tuple) until the typed value is first read.

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._fields: list[tuple[str, str, str]] | None = []
        self._lines: list[str] = []
        self._index: Index | None = None
        self._cache: dict[str, Any] = {}
        for name, value in items:
            self.add(name, value)

    @classmethod
    def _parsed(cls, entries: list[tuple[str, str, str]], index: Index | None = None) -> Headers:
        # Fast path for callers that have already checked names and values (and may pass
        # the index built in the same pass).
        self = cls.__new__(cls)
        self._fields = entries
        self._lines = []
        self._index = index
        self._cache = {}
        return self

    @classmethod
    def _read(cls, lines: list[str], index: Index) -> Headers:
        # Fast path for the message reader: ``lines`` are header lines it has checked
        # (every one "name: value" or a continuation), ``index`` what they hold.
        self = cls.__new__(cls)
        self._fields = None
        self._lines = lines
        self._index = index
        self._cache = {}
        return self

    @property
    def _entries(self) -> list[tuple[str, str, str]]:
        entries = self._fields
        if entries is None:
            entries = self._fields = []
            for line in self._lines:
                if line[0] in " \t":
                    name, key, value = entries[-1]
                    entries[-1] = (name, key, unfold(value, line))
                else:
                    name, _, value = line.partition(":")
                    name = name.rstrip(" \t")
                    entries.append((name, header_key(name), value.strip()))
        return entries

    @_entries.setter
    def _entries(self, entries: list[tuple[str, str, str]]) -> None:
        self._fields = entries

    @staticmethod
    def _check(name: str, value: str) -> None:
        if not _TOKEN.match(name):
            raise LocalProtocolError(f"not a header name: {name!r}")
        check_header_text(value, f"{name} header")

    def _changed(self, key: str) -> None:
        self._index = None
        self._cache.pop(key, None)

    def _built_index(self) -> Index:
        index = self._index
        if index is None:
            index = {}
            for _, key, value in self._entries:
                index_value(index, key, value)
            self._index = index
        return index

    def _values(self, key: str) -> list[str] | None:
        """The values of ``key`` in order, or ``None`` if it is absent."""
        values = self._built_index().get(key)
        return [values] if isinstance(values, str) else values

    def _typed(self, key: str) -> Any:
        """``typed`` for a lookup key (the accessors' path)."""
        cache = self._cache
        if key in cache:
            value = cache[key]
            if value.__class__ is tuple:
                value = self._made(key, value)
            return value
        read_line, read = _DISPATCH[key]
        values = (self._index or self._built_index()).get(key)
        if values is None:
            value = None
        elif isinstance(values, str):
            value = read_line(values)  # (the index keeps one line's value unlisted)
        else:
            value = read(values)
        cache[key] = value
        return value

    def _check_known(self) -> None:
        """Check every header present that has a reader, in the order the headers first
        appear: read (and cache) its typed value, or, where ``_PLAIN_LINES`` matches every
        line of it, cache the matches, from which the value is made on first use.

        Raises:
            RemoteProtocolError: one is malformed or repeated where it may not be.
        """
        cache = self._cache
        for key, values in (self._index or self._built_index()).items():
            checks = _CHECKS.get(key)
            if checks is None or key in cache:
                continue
            plain, read_line, read = checks
            if isinstance(values, str):
                found = plain[0](values) if plain is not None else None
                cache[key] = (found,) if found is not None else read_line(values)
                continue
            # (A header that may appear once is read to refuse its repetition.)
            if plain is not None and key in LIST_HEADERS:
                matches = tuple(map(plain[0], values))
                if None not in matches:
                    cache[key] = matches
                    continue
            cache[key] = read(values)

    def _made(self, key: str, matches: tuple[re.Match[str], ...]) -> Any:
        """The typed value of ``key``, whose lines _check_known matched (and cached)."""
        build = _PLAIN_LINES[key][1]
        if build is None:
            del self._cache[key]
            return self._typed(key)
        value = [*map(build, matches)] if key in LIST_HEADERS else build(matches[0])
        self._cache[key] = value
        return value

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
        if self._index is not None:
            index_value(self._index, key, text)
        self._cache.pop(key, None)

    def prepend(self, name: str, value: str | object) -> None:
        """Insert a header field before every other (a new top Via, a Route...)."""
        text = str(value)
        self._check(name, text)
        key = header_key(name)
        self._entries.insert(0, (name, key, text))
        self._changed(key)

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
        self._changed(key)

    def remove(self, name: str) -> None:
        """Remove every field called ``name`` (no error if there is none)."""
        key = header_key(name)
        self._entries = [e for e in self._entries if e[1] != key]
        self._changed(key)

    def remove_first(self, name: str) -> None:
        """Remove the first field called ``name`` (a proxy popping its Via or a Route)."""
        key = header_key(name)
        for i, entry in enumerate(self._entries):
            if entry[1] == key:
                del self._entries[i]
                self._changed(key)
                return

    def get(self, name: str) -> str | None:
        """The first value of ``name``, or ``None``."""
        values = self._values(header_key(name))
        return values[0] if values is not None else None

    def get_all(self, name: str) -> list[str]:
        """Every value of ``name`` in order, one per header line (not split on commas)."""
        values = self._values(header_key(name))
        return list(values) if values is not None else []

    def values(self, name: str) -> list[str]:
        """Every element of ``name``, split on commas where its grammar is a list."""
        key = header_key(name)
        raw = list(self._values(key) or ())
        if key not in LIST_HEADERS:
            return raw
        return [item for value in raw for item in split_commas(value)]

    def typed(self, name: str) -> Any:
        """The typed value of ``name`` from ``READERS`` (cached), or ``None`` if absent.

        Raises:
            RemoteProtocolError: the header is malformed or repeated where it may not be.
            KeyError: no reader is defined for ``name``.
        """
        return self._typed(header_key(name))

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        return header_key(name) in self._built_index()

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
