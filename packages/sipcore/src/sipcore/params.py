"""Parameters, quoted strings and comma lists: the small grammar shared by many headers.

``*( SEMI generic-param )`` appears in Via, From/To, Contact, Route, Content-Type,
Reason, Event and more (RFC 3261 §25.1); one reader and one writer serve them all.
Parameters keep their order and their value exactly as received (quoted values keep
their quotes) so a header re-serialises unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from sipcore import _abnf
from sipcore.errors import LocalProtocolError, RemoteProtocolError

__all__ = [
    "Params",
    "parse_params",
    "format_params",
    "get_param",
    "has_param",
    "replace_param",
    "remove_param",
    "quote",
    "quote_if_needed",
    "unquote",
    "split_commas",
    "comma_items",
    "split_plain_params",
    "plain_params_finding",
    "check_header_text",
]

Params = tuple[tuple[str, str | None], ...]
"""Ordered ``(name, value)`` pairs; ``value`` is ``None`` for a bare flag like ``;lr``."""

# generic-param = token [ EQUAL gen-value ]; SEMI = SWS ";" SWS; EQUAL = SWS "=" SWS
_PARAM = re.compile(
    rf"{_abnf.SWS};{_abnf.SWS}({_abnf.TOKEN})(?:{_abnf.SWS}={_abnf.SWS}({_abnf.GEN_VALUE}))?"
)
_TRAILING_SPACE = re.compile(_abnf.SWS + r"$")
# The usual shape of a parameter list: ";name=value;flag", no whitespace, no quoted value.
# Splitting such text on ";" and then at the first "=" reads exactly the pairs the _PARAM
# loop reads (split_plain_params).
_PLAIN_PARAMS = re.compile(_abnf.PLAIN_PARAMS + r"\Z")
_QUOTED_PAIR = re.compile(r"\\(.)", re.DOTALL)
_NEEDS_QUOTING = re.compile(r"[^A-Za-z0-9\-.!%*_+`'~]")
_FORBIDDEN_TEXT = re.compile(r"[\r\n]")
# quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F): what qdtext cannot hold must be escaped.
_QUOTE_ESCAPES = re.compile(r'["\\\x00-\x08\x0b\x0c\x0e-\x1f\x7f]')


def parse_params(text: str, start: int = 0, what: str = "header") -> Params:
    """Read ``*( SEMI generic-param )`` from ``text[start:]`` to its end.

    Args:
        text: the header value.
        start: where the parameters begin (just before the first ``;``).
        what: the header's name, for the error message.

    Returns:
        The parameters in order, values exactly as written (quoted ones keep quotes).

    Raises:
        RemoteProtocolError: a parameter is empty (``;;``) or malformed (status 400).
    """
    end = len(text)
    if start >= end:
        return ()
    if _PLAIN_PARAMS.match(text, start):
        return split_plain_params(text[start:])
    params: list[tuple[str, str | None]] = []
    pos = start
    match = _PARAM.match
    while pos < end:
        m = match(text, pos)
        if m is None:
            if _TRAILING_SPACE.match(text, pos):
                break
            raise RemoteProtocolError(f"malformed parameter in {what}: {text[pos:][:40]!r}")
        params.append((m.group(1), m.group(2)))
        pos = m.end()
    return tuple(params)


def split_plain_params(text: str) -> Params:
    """The pairs of text that matches ``_abnf.PLAIN_PARAMS`` (the caller checked it)."""
    params: list[tuple[str, str | None]] = []
    for item in text.split(";")[1:]:
        name, eq, value = item.partition("=")
        params.append((name, value if eq else None))
    return tuple(params)


def format_params(params: Iterable[tuple[str, str | None]]) -> str:
    """Write parameters back as ``;name=value;flag`` (values are written as stored)."""
    return "".join(f";{n}" if v is None else f";{n}={v}" for n, v in params)


def get_param(params: Params, name: str) -> str | None:
    """The value of the first parameter called ``name`` (case-insensitive), quotes removed.

    A flag parameter (``;lr``) gives ``""``; an absent one gives ``None``.
    """
    lname = name.lower()
    for n, v in params:
        if n == lname or n.lower() == lname:
            if v is None:
                return ""
            return unquote(v) if v[:1] == '"' else v
    return None


def plain_params_finding(name: str) -> str:
    """``_abnf.PLAIN_PARAMS`` with one group, for the first parameter called ``name``:
    ``=`` and its value, ``""`` if it is a flag, ``None`` if there is none.

    So a reader that checks the parameters with one regex finds the parameter a caller
    wants most (a Via's branch, a From tag) in the same match: ``get_param`` of ``name``
    is that group without its first character.
    """
    param = _abnf.PLAIN_PARAM
    # The parameters before it are those not called ``name``: compared without case, as
    # get_param compares; in plain parameters a name ends at "=", ";" or the end.
    named = rf";(?ai:{re.escape(name)})"
    other = rf"(?!{named}(?![^=;])){param}"
    value = _abnf.PLAIN_PARAM_VALUE
    return rf"(?:{other})*+(?:{named}(={value}|))?+(?:{param})*+"


def has_param(params: Params, name: str) -> bool:
    """Whether a parameter called ``name`` (case-insensitive) is present."""
    lname = name.lower()
    return any(n.lower() == lname for n, _ in params)


def replace_param(params: Params, name: str, value: str | None) -> Params:
    """A copy of ``params`` with ``name`` set to ``value`` (appended if absent)."""
    lname = name.lower()
    out: list[tuple[str, str | None]] = []
    done = False
    for n, v in params:
        if n.lower() == lname:
            if not done:
                out.append((n, value))
                done = True
        else:
            out.append((n, v))
    if not done:
        out.append((name, value))
    return tuple(out)


def remove_param(params: Params, name: str) -> Params:
    """A copy of ``params`` without any parameter called ``name``."""
    lname = name.lower()
    return tuple((n, v) for n, v in params if n.lower() != lname)


def quote(text: str) -> str:
    """``text`` as a quoted-string (RFC 3261 §25.1).

    ``"``, ``\\`` and control characters are written as quoted-pairs.

    Raises:
        LocalProtocolError: ``text`` holds CR or LF (they could inject headers).
    """
    check_header_text(text, "quoted string")
    return '"' + _QUOTE_ESCAPES.sub(lambda m: "\\" + m.group(0), text) + '"'


def quote_if_needed(text: str) -> str:
    """``text`` unchanged if it is a token, else quoted."""
    if text and not _NEEDS_QUOTING.search(text):
        return text
    return quote(text)


def unquote(text: str) -> str:
    """The content of a quoted-string with quoted-pairs resolved; other text unchanged."""
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        inner = text[1:-1]
        return _QUOTED_PAIR.sub(r"\1", inner) if "\\" in inner else inner
    return text


def comma_items(value: str) -> list[str]:
    """``split_commas`` as a list, with a fast path for values without quotes or ``<...>``.

    Without ``"`` or ``<`` every comma separates two elements, so ``str.split`` finds the
    same elements as the character walk.
    """
    if "," not in value:
        return [value.strip()]
    if '"' not in value and "<" not in value:
        return [item.strip() for item in value.split(",")]
    return list(split_commas(value))


def split_commas(value: str) -> Iterator[str]:
    """Split a header value on the commas that separate list elements.

    Commas inside quoted strings and ``<...>`` are not separators (RFC 3261 §7.3.1:
    "Multiple header field rows ... can be combined into one ... separated by a comma").
    Elements are stripped of surrounding whitespace; empty elements are yielded as ``""``
    so the caller can reject them (RFC 4475 §3.1.2.1).
    """
    if "," not in value:
        yield value.strip()
        return
    start = 0
    in_quotes = False
    in_angle = False
    i = 0
    n = len(value)
    while i < n:
        c = value[i]
        if in_quotes:
            if c == "\\":
                i += 1
            elif c == '"':
                in_quotes = False
        elif c == '"':
            in_quotes = True
        elif c == "<":
            in_angle = True
        elif c == ">":
            in_angle = False
        elif c == "," and not in_angle:
            yield value[start:i].strip()
            start = i + 1
        i += 1
    yield value[start:].strip()


def check_header_text(text: str, what: str) -> None:
    """Refuse CR and LF in text we are about to put into a header.

    A user string carrying ``\\r\\n`` would otherwise add headers of its own choosing
    (header injection).

    Raises:
        LocalProtocolError: the text holds CR or LF.
    """
    found = _FORBIDDEN_TEXT.search(text)
    if found:
        # Where, not what: the value may be a token or a password the caller holds.
        raise LocalProtocolError(
            f"{what} must not contain CR or LF (character {found.start()} of {len(text)})"
        )
