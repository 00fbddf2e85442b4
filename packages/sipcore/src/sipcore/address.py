"""Addresses: the value of From, To, Contact, Route, Record-Route, Refer-To, Path...

RFC 3261 §25.1::

    name-addr    = [ display-name ] LAQUOT addr-spec RAQUOT
    addr-spec    = SIP-URI / SIPS-URI / absoluteURI
    display-name = *(token LWS) / quoted-string

and §20: "if the URI is not enclosed in angle brackets, any semicolon-delimited
parameters are header-parameters, not URI parameters", and an addr-spec URI that
contains a comma, question mark or semicolon must be in name-addr form.
"""

from __future__ import annotations

import re
from typing import ClassVar

from sipcore import _abnf
from sipcore._values import UNREAD, LazyValue, Source, Unread
from sipcore.errors import LocalProtocolError, RemoteProtocolError
from sipcore.params import (
    Params,
    check_header_text,
    format_params,
    get_param,
    has_param,
    parse_params,
    plain_params_finding,
    quote,
    remove_param,
    replace_param,
    split_plain_params,
    unquote,
)
from sipcore.uri import SIP_URI, SipUri, Uri, parse_uri

__all__ = ["NameAddress", "parse_name_address", "PLAIN_NAME_ADDR"]

_QUOTED_DISPLAY = re.compile(rf"{_abnf.SWS}({_abnf.QUOTED_STRING}){_abnf.SWS}<")
# *(token LWS): tokens separated by whitespace. Written as (token [ \t]*)* the pattern could
# split a run of token characters in exponentially many ways, so one long token not followed
# by "<" made the regex backtrack for minutes (a one-message denial of service).
_TOKEN_DISPLAY = re.compile(rf"{_abnf.SWS}((?:{_abnf.TOKEN}(?:[ \t]+{_abnf.TOKEN})*)?){_abnf.SWS}<")
_SIMPLE_TOKEN = re.compile(_abnf.TOKEN + r"\Z")
# A name-addr with a SIP URI and plain header parameters, in one match:
#   name-addr = [ display-name ] LAQUOT addr-spec RAQUOT   (then *( SEMI generic-param ))
#   display-name = *(token LWS) / quoted-string
# Groups: a quoted display name, a run of tokens, the URI, the header parameters, the
# first tag parameter in them (plain_params_finding). A token holds no '"' or "<", and
# the URI no ">", so the display name and the URI text are what the step-by-step path
# reads (the quoted string when the value starts with '"', else the text before the
# first "<"; then the text up to the first ">"). The atomic group keeps a long run of
# token characters linear (see _TOKEN_DISPLAY). A stripped value it matches is one
# parse_name_address reads without error (Headers checks values with it).
PLAIN_NAME_ADDR = re.compile(
    rf"(?:({_abnf.QUOTED_STRING})|(?>({_abnf.TOKEN}(?:[ \t]+{_abnf.TOKEN})*))?){_abnf.SWS}"
    rf"<({SIP_URI})>({plain_params_finding('tag')})\Z"
)


_new = object.__new__


class NameAddress(LazyValue):
    """An address with optional display name and header parameters.

    A frozen value: ``NameAddress(uri, display_name=None, params=())``. ``params`` are the
    header parameters (``tag``, ``expires``, ``q``, ``+sip.instance`` ...), not the URI's
    own parameters.

    Raises:
        LocalProtocolError: the display name holds CR or LF.
    """

    __slots__ = ("_display_name", "_params", "_uri")

    _FIELDS: ClassVar[tuple[str, ...]] = ("uri", "display_name", "params")
    __match_args__ = ("uri", "display_name", "params")

    _uri: Uri | Unread
    _display_name: str | Unread | None
    _params: Params | Unread

    def __init__(self, uri: Uri, display_name: str | None = None, params: Params = ()) -> None:
        if display_name is not None:
            check_header_text(display_name, "display name")
        self._uri = uri
        self._display_name = display_name
        self._params = params

    @classmethod
    def _from_match(cls, plain: Source) -> NameAddress:
        # A match of PLAIN_NAME_ADDR (a valid address): each field is read from its groups
        # when first used.
        address = _new(cls)
        address._source = plain
        address._uri = address._display_name = address._params = UNREAD
        return address

    @property
    def uri(self) -> Uri:
        """The address's URI."""
        value = self._uri
        if value is UNREAD:
            value = self._uri = parse_uri(self._source[3])
        return value

    @property
    def display_name(self) -> str | None:
        """The display name, unquoted, or ``None``."""
        value = self._display_name
        if value is UNREAD:
            quoted, tokens = self._source[1], self._source[2]
            if quoted is not None:
                value = unquote(quoted)
            else:
                value = " ".join(tokens.split()) if tokens else None
            self._display_name = value
        return value

    @property
    def params(self) -> Params:
        """The header parameters in order, values as written."""
        value = self._params
        if value is UNREAD:
            text = self._source[4]
            value = self._params = split_plain_params(text) if text else ()
        return value

    def param(self, name: str) -> str | None:
        """A header parameter's value, quotes removed (``""`` for a flag), or ``None``."""
        return get_param(self.params, name)

    def has_param(self, name: str) -> bool:
        """Whether header parameter ``name`` is present."""
        return has_param(self.params, name)

    @property
    def tag(self) -> str | None:
        """The ``tag`` parameter (From/To, RFC 3261 §19.3)."""
        params = self._params
        if params is UNREAD:
            # Without reading every parameter: "=value", "" for a flag, None if absent.
            found = self._source[5]
            return found[1:] if found is not None else None
        return get_param(params, "tag")

    @property
    def expires(self) -> int | None:
        """The Contact ``expires`` parameter in seconds, if present and numeric."""
        value = get_param(self.params, "expires")
        if value is None or not value.isdigit():
            return None
        return min(int(value), 2**32 - 1)

    @property
    def q(self) -> float | None:
        """The Contact ``q`` preference (0..1), if present and valid."""
        value = get_param(self.params, "q")
        try:
            q = float(value) if value is not None else None
        except ValueError:
            return None
        return q if q is not None and 0.0 <= q <= 1.0 else None

    @property
    def instance_id(self) -> str | None:
        """The ``+sip.instance`` Contact parameter (RFC 5626 §4.1), unquoted, without ``<>``."""
        value = get_param(self.params, "+sip.instance")
        if value is None:
            return None
        return value[1:-1] if value.startswith("<") and value.endswith(">") else value

    @property
    def reg_id(self) -> int | None:
        """The ``reg-id`` Contact parameter (RFC 5626 §4.2), if numeric."""
        value = get_param(self.params, "reg-id")
        return int(value) if value is not None and value.isdigit() else None

    def with_tag(self, tag: str) -> NameAddress:
        """A copy with ``tag`` set (replacing any existing one)."""
        return self.with_param("tag", tag)

    def with_param(self, name: str, value: str | None) -> NameAddress:
        """A copy with a header parameter set; ``value`` is written as given."""
        if value is not None:
            check_header_text(value, f"parameter {name}")
        if not _SIMPLE_TOKEN.match(name):
            raise LocalProtocolError(f"not a parameter name: {name!r}")
        return self._replace(params=replace_param(self.params, name, value))

    def without_param(self, name: str) -> NameAddress:
        """A copy without header parameter ``name``."""
        return self._replace(params=remove_param(self.params, name))

    def __str__(self) -> str:
        # Always write name-addr form: it is unambiguous whatever the URI holds.
        if self.display_name is None:
            head = f"<{self.uri}>"
        elif self.display_name and _SIMPLE_TOKEN.match(self.display_name):
            head = f"{self.display_name} <{self.uri}>"
        else:
            head = f"{quote(self.display_name)} <{self.uri}>"
        return head + format_params(self.params) if self.params else head


_from_match = NameAddress._from_match  # (bound once: the readers' fast path calls it)


def parse_name_address(text: str, what: str = "address") -> NameAddress:
    """Read a name-addr or addr-spec with its header parameters.

    Args:
        text: one element of the header value (already split on list commas).
        what: the header's name, for error messages.

    Raises:
        RemoteProtocolError: malformed (unbalanced quotes, bad display name, bad URI,
            an addr-spec whose URI holds ``?`` or ``,``...), status 400.
    """
    text = text.strip()
    plain = PLAIN_NAME_ADDR.match(text)
    if plain is not None:
        return _from_match(plain)
    # Step by step: any other URI scheme, quoted parameters, addr-spec, errors.
    if not text:
        raise RemoteProtocolError(f"empty {what}")
    display: str | None = None
    if text[0] == '"':
        m = _QUOTED_DISPLAY.match(text)
        if m is None:
            raise RemoteProtocolError(f"unterminated or misplaced quoted display name in {what}")
        display = unquote(m.group(1))
        uri_start = m.end()
    else:
        lt = text.find("<")
        semi = text.find(";")
        if lt < 0 or 0 <= semi < lt:
            # No "<" before the header parameters (a token display name holds no ";"):
            # an addr-spec, whose parameters may quote a "<" (``;p="<"``).
            return _parse_addr_spec(text, what)
        m = _TOKEN_DISPLAY.match(text, 0, lt + 1)
        if m is None:
            raise RemoteProtocolError(f"malformed display name in {what}: {text[:lt]!r}")
        tokens = m.group(1).strip()
        display = " ".join(tokens.split()) if tokens else None
        uri_start = lt + 1
    gt = text.find(">", uri_start)
    if gt < 0:
        raise RemoteProtocolError(f"missing '>' in {what}")
    uri = parse_uri(text[uri_start:gt])
    params = parse_params(text, gt + 1, what)
    return NameAddress(uri, display, params)


def _parse_addr_spec(text: str, what: str) -> NameAddress:
    semi = text.find(";")
    uri_text = text if semi < 0 else text[:semi]
    uri_text = uri_text.rstrip()
    if "?" in uri_text or "," in uri_text or " " in uri_text or "\t" in uri_text:
        # RFC 3261 §20: such URIs MUST be enclosed in angle brackets (RFC 4475 §3.1.2.13).
        raise RemoteProtocolError(f"{what} URI with '?', ',' or space must use <...>")
    uri = parse_uri(uri_text)
    params = parse_params(text, semi, what) if semi >= 0 else ()
    return NameAddress(uri, None, params)


def aor_of(address: NameAddress) -> SipUri | None:
    """The address-of-record of ``address``: its SIP URI without parameters or headers."""
    uri = address.uri
    if not isinstance(uri, SipUri):
        return None
    return SipUri(host=uri.host, user=uri.user, port=uri.port, scheme=uri.scheme)
