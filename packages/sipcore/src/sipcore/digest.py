"""SIP digest authentication (RFC 3261 §22 on RFC 2617, RFC 7616 and RFC 8760), sans-IO.

The pieces, in the order a user agent meets them:

* :func:`parse_challenge` / :func:`parse_challenges` read a ``WWW-Authenticate`` or
  ``Proxy-Authenticate`` header *value* into a :class:`DigestChallenge`.
* :func:`choose_challenge` picks the one to answer (see its docstring for the RFC 8760
  rule and how "the strongest algorithm" fits beside it).
* :func:`build_authorization` answers it with an ``Authorization`` /
  ``Proxy-Authorization`` header value; :func:`compute_response` is the arithmetic.
* :class:`DigestSession` keeps the nonce count per nonce and decides, without looping,
  whether a 401/407 deserves another attempt.
* For the server role, :func:`parse_authorization` and :func:`verify_authorization`.

Nothing here reads a clock or draws randomness: the client nonce (``cnonce``) comes from
the caller. Passwords, HA1 values and responses never appear in a ``repr``, a ``str`` or
a log line.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import logging
import re
import struct
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from sipcore.errors import LocalProtocolError, RemoteProtocolError

__all__ = [
    # values
    "DigestAlgorithm",
    "DigestChallenge",
    "DigestCredentials",
    "HA1",
    # reading and writing header values
    "parse_challenge",
    "parse_challenges",
    "parse_authorization",
    "format_challenge",
    "format_authorization",
    "challenge_header_name",
    "authorization_header_name",
    # choosing and answering
    "ChallengePolicy",
    "choose_challenge",
    "compute_ha1",
    "compute_ha2",
    "compute_response",
    "compute_userhash",
    "build_authorization",
    # the client's per-credentials state
    "AuthReason",
    "AuthDecision",
    "DigestAuthorization",
    "DigestSession",
    # the server role
    "verify_authorization",
]

_log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------
# Algorithms
# ---------------------------------------------------------------------------------------


class DigestAlgorithm(enum.Enum):
    """The digest algorithms this module can answer; the value is the wire token.

    RFC 8760 §2.1 adds SHA-256 and SHA-512/256 (token ``SHA-512-256``) to SIP beside
    RFC 3261's MD5; each has a ``-sess`` variant (RFC 7616 §3.4.2).
    """

    MD5 = "MD5"
    MD5_SESS = "MD5-sess"
    SHA_256 = "SHA-256"
    SHA_256_SESS = "SHA-256-sess"
    SHA_512_256 = "SHA-512-256"
    SHA_512_256_SESS = "SHA-512-256-sess"

    @classmethod
    def from_token(cls, token: str) -> DigestAlgorithm | None:
        """Look up a wire token, case-insensitively (ABNF literals are case-insensitive).

        Args:
            token: the ``algorithm`` value as received.

        Returns:
            The algorithm, or ``None`` if this module does not implement it.
        """
        if not token.isascii():
            return None
        folded = token.lower()
        for member in cls:
            if member.value.lower() == folded:
                return member
        return None

    @property
    def is_session(self) -> bool:
        """Whether HA1 also covers the nonce and cnonce (the ``-sess`` variants)."""
        return self.value.endswith("-sess")

    @property
    def base(self) -> DigestAlgorithm:
        """The algorithm without ``-sess``: the hash function both variants use."""
        return DigestAlgorithm(self.value.removesuffix("-sess"))

    @property
    def strength(self) -> int:
        """Rank for :func:`choose_challenge`: SHA-512-256 > SHA-256 > MD5 (``-sess`` = base)."""
        return _STRENGTH[self.base.value]

    @property
    def hex_length(self) -> int:
        """Length of this algorithm's lower-hex digests (32 for MD5, else 64)."""
        return 32 if self.base is DigestAlgorithm.MD5 else 64


_STRENGTH: Final = MappingProxyType({"MD5": 0, "SHA-256": 1, "SHA-512-256": 2})
_ALL_ALGORITHMS: Final = frozenset(DigestAlgorithm)

# FIPS 180-4 §4.2.3: the eighty SHA-384/512/512-t round constants.
_SHA512_K: Final = (
    0x428A2F98D728AE22, 0x7137449123EF65CD, 0xB5C0FBCFEC4D3B2F, 0xE9B5DBA58189DBBC,
    0x3956C25BF348B538, 0x59F111F1B605D019, 0x923F82A4AF194F9B, 0xAB1C5ED5DA6D8118,
    0xD807AA98A3030242, 0x12835B0145706FBE, 0x243185BE4EE4B28C, 0x550C7DC3D5FFB4E2,
    0x72BE5D74F27B896F, 0x80DEB1FE3B1696B1, 0x9BDC06A725C71235, 0xC19BF174CF692694,
    0xE49B69C19EF14AD2, 0xEFBE4786384F25E3, 0x0FC19DC68B8CD5B5, 0x240CA1CC77AC9C65,
    0x2DE92C6F592B0275, 0x4A7484AA6EA6E483, 0x5CB0A9DCBD41FBD4, 0x76F988DA831153B5,
    0x983E5152EE66DFAB, 0xA831C66D2DB43210, 0xB00327C898FB213F, 0xBF597FC7BEEF0EE4,
    0xC6E00BF33DA88FC2, 0xD5A79147930AA725, 0x06CA6351E003826F, 0x142929670A0E6E70,
    0x27B70A8546D22FFC, 0x2E1B21385C26C926, 0x4D2C6DFC5AC42AED, 0x53380D139D95B3DF,
    0x650A73548BAF63DE, 0x766A0ABB3C77B2A8, 0x81C2C92E47EDAEE6, 0x92722C851482353B,
    0xA2BFE8A14CF10364, 0xA81A664BBC423001, 0xC24B8B70D0F89791, 0xC76C51A30654BE30,
    0xD192E819D6EF5218, 0xD69906245565A910, 0xF40E35855771202A, 0x106AA07032BBD1B8,
    0x19A4C116B8D2D0C8, 0x1E376C085141AB53, 0x2748774CDF8EEB99, 0x34B0BCB5E19B48A8,
    0x391C0CB3C5C95A63, 0x4ED8AA4AE3418ACB, 0x5B9CCA4F7763E373, 0x682E6FF3D6B2B8A3,
    0x748F82EE5DEFB2FC, 0x78A5636F43172F60, 0x84C87814A1F0AB72, 0x8CC702081A6439EC,
    0x90BEFFFA23631E28, 0xA4506CEBDE82BDE9, 0xBEF9A3F7B2C67915, 0xC67178F2E372532B,
    0xCA273ECEEA26619C, 0xD186B8C721C0C207, 0xEADA7DD6CDE0EB1E, 0xF57D4F7FEE6ED178,
    0x06F067AA72176FBA, 0x0A637DC5A2C898A6, 0x113F9804BEF90DAE, 0x1B710B35131C471B,
    0x28DB77F523047D84, 0x32CAAB7B40C72493, 0x3C9EBE0A15C9BEBC, 0x431D67C49C100D4C,
    0x4CC5D4BECB3E42B6, 0x597F299CFC657E2A, 0x5FCB6FAB3AD6FAEC, 0x6C44198C4A475817,
)  # fmt: skip

# FIPS 180-4 §5.3.6.2: SHA-512/256 has its own initial hash value. Using SHA-512's and
# truncating is what RFC 7616 §3.9.2 did by mistake (Erratum 4897).
_SHA512_256_IV: Final = (
    0x22312194FC2BF72C, 0x9F555FA3C84C64C2, 0x2393B86B6F53B151, 0x963877195940EABD,
    0x96283EE2A88EFFE3, 0xBE5E1E2553863992, 0x2B0199FC2C85B8AA, 0x0EB72DDC81C52CA2,
)  # fmt: skip

_MASK64: Final = (1 << 64) - 1
_OPENSSL_SHA512_256: Final = "sha512_256"


def _rotr(value: int, bits: int) -> int:
    return ((value >> bits) | (value << (64 - bits))) & _MASK64


def _sha512_256_pure(data: bytes) -> str:
    """FIPS 180-4 §6.4 SHA-512 compression with the §5.3.6.2 SHA-512/256 IV, in Python.

    Used only when the running OpenSSL does not offer ``sha512_256``.
    """
    state = list(_SHA512_256_IV)
    # §5.1.2: append "1", zeros to 112 mod 128 bytes, then the 128-bit bit length.
    padding = b"\x80" + b"\x00" * ((111 - len(data)) % 128)
    message = data + padding + (len(data) * 8).to_bytes(16, "big")
    for offset in range(0, len(message), 128):
        w = list(struct.unpack_from(">16Q", message, offset))
        for t in range(16, 80):
            s0 = _rotr(w[t - 15], 1) ^ _rotr(w[t - 15], 8) ^ (w[t - 15] >> 7)
            s1 = _rotr(w[t - 2], 19) ^ _rotr(w[t - 2], 61) ^ (w[t - 2] >> 6)
            w.append((w[t - 16] + s0 + w[t - 7] + s1) & _MASK64)
        a, b, c, d, e, f, g, h = state
        for t in range(80):
            big_s1 = _rotr(e, 14) ^ _rotr(e, 18) ^ _rotr(e, 41)
            choose = (e & f) ^ (~e & g)
            temp1 = (h + big_s1 + choose + _SHA512_K[t] + w[t]) & _MASK64
            big_s0 = _rotr(a, 28) ^ _rotr(a, 34) ^ _rotr(a, 39)
            majority = (a & b) ^ (a & c) ^ (b & c)
            temp2 = (big_s0 + majority) & _MASK64
            h, g, f, e = g, f, e, (d + temp1) & _MASK64
            d, c, b, a = c, b, a, (temp1 + temp2) & _MASK64
        state = [
            (old + new) & _MASK64 for old, new in zip(state, (a, b, c, d, e, f, g, h), strict=True)
        ]
    return b"".join(word.to_bytes(8, "big") for word in state[:4]).hex()


def _sha512_256_hexdigest(data: bytes) -> str:
    # FIPS 180-4 SHA-512/256 from OpenSSL when it has it, else the pure-Python one.
    # sha512(data).hexdigest()[:64] would be wrong (different IV): see _SHA512_256_IV.
    if _OPENSSL_SHA512_256 not in hashlib.algorithms_available:
        return _sha512_256_pure(data)
    try:
        hasher = hashlib.new(_OPENSSL_SHA512_256, data)
    except ValueError:  # listed but refused, e.g. by a FIPS-mode provider
        return _sha512_256_pure(data)
    return hasher.hexdigest()


def _hexdigest(algorithm: DigestAlgorithm, data: bytes) -> str:
    base = algorithm.base
    if base is DigestAlgorithm.MD5:
        # RFC 3261 §22.4 makes MD5 the default; RFC 8760 keeps it for compatibility.
        return hashlib.md5(data).hexdigest()  # noqa: S324 - mandated by the protocol
    if base is DigestAlgorithm.SHA_256:
        return hashlib.sha256(data).hexdigest()
    return _sha512_256_hexdigest(data)


def _h(algorithm: DigestAlgorithm, *parts: str) -> str:
    # RFC 7616 §3.4.1: H(a ":" b ...) over the UTF-8 octets (SIP text is UTF-8, RFC 3261 §7).
    return _hexdigest(algorithm, ":".join(parts).encode("utf-8"))


# ---------------------------------------------------------------------------------------
# Grammar (RFC 3261 §25.1, which imports RFC 2617's digest productions)
# ---------------------------------------------------------------------------------------

# LWS  =  [*WSP CRLF] 1*WSP ; linear whitespace
# SWS  =  [LWS] ; sep whitespace
# (A bare LF is accepted where CRLF is due, for robustness.)
_LWS: Final = r"(?:[ \t]*\r?\n)?[ \t]+"
_SWS: Final = rf"(?:{_LWS})?"

# token  =  1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~" )
_TOKEN_RE: Final = re.compile(r"[A-Za-z0-9.!%*_+`'~-]+")
_TOKEN: Final = _TOKEN_RE.pattern

# quoted-string  =  SWS DQUOT *(qdtext / quoted-pair ) DQUOT
# qdtext         =  LWS / %x21 / %x23-5B / %x5D-7E / UTF8-NONASCII
# quoted-pair    =  "\" (%x00-09 / %x0B-0C / %x0E-7F)
# Control characters are matched here and refused after unquoting (_CONTROL_RE).
_QUOTED_STRING: Final = r'"((?:[^"\\\r\n]|\\[^\r\n]|\r?\n[ \t])*)"'

# challenge    =  ("Digest" LWS digest-cln *(COMMA digest-cln)) / other-challenge
# credentials  =  ("Digest" LWS digest-response) / other-response
_SCHEME_RE: Final = re.compile(rf"{_SWS}({_TOKEN})")
_LWS_RE: Final = re.compile(_LWS)
_SWS_RE: Final = re.compile(_SWS)

# auth-param  =  auth-param-name EQUAL ( token / quoted-string )
# EQUAL       =  SWS "=" SWS
# (Every digest parameter is read this way; each one's own rule is checked afterwards, so
# the common `algorithm="MD5"` and `qop=auth` quirks are accepted.)
_PARAM_RE: Final = re.compile(rf"({_TOKEN}){_SWS}={_SWS}(?:({_TOKEN})|{_QUOTED_STRING})")

# Inside a quoted string: a quoted-pair stands for its character; folded LWS for one SP.
_UNQUOTE_RE: Final = re.compile(r"\\(.)|[ \t]*\r?\n[ \t]+", re.DOTALL)

# Characters no header value may carry once unquoted: CTLs other than HTAB (CR and LF
# above all: header injection) and lone surrogates (not encodable as UTF-8).
_CONTROL_RE: Final = re.compile("[\x00-\x08\x0a-\x1f\x7f\ud800-\udfff]")

_HEX_RE: Final = re.compile(r"[0-9A-Fa-f]+")
# nc-value  =  8LHEX   (upper-case hex accepted too; the digits are hashed as sent)
_NC_RE: Final = re.compile(r"[0-9A-Fa-f]{8}")
# RFC 5987 §3.2.1: ext-value = charset "'" [ language ] "'" value-chars
_EXT_VALUE_RE: Final = re.compile(
    r"(UTF-8|ISO-8859-1)'[A-Za-z0-9-]*'((?:%[0-9A-Fa-f]{2}|[A-Za-z0-9!#$&+.^_`|~-])*)",
    re.IGNORECASE,
)
_PCT_RE: Final = re.compile(rb"%([0-9A-Fa-f]{2})")

_DIGEST: Final = "Digest"
_QOP_AUTH: Final = "auth"
_QOP_AUTH_INT: Final = "auth-int"
_MAX_NC: Final = 0xFFFFFFFF

_CHALLENGE_FIELDS: Final = frozenset(
    {"realm", "nonce", "opaque", "algorithm", "qop", "stale", "domain", "userhash", "charset"}
)
_CREDENTIAL_FIELDS: Final = frozenset(
    {
        "username",
        "username*",
        "realm",
        "nonce",
        "uri",
        "response",
        "algorithm",
        "cnonce",
        "qop",
        "nc",
        "opaque",
        "userhash",
    }
)


def _check_text(what: str, value: str) -> None:
    if _CONTROL_RE.search(value):
        raise LocalProtocolError(
            f"{what} contains a control character (CR, LF, NUL...) and cannot be sent"
        )


def _check_token(what: str, value: str) -> None:
    if not _TOKEN_RE.fullmatch(value):
        raise LocalProtocolError(f"{what} must be a token (RFC 3261 §25.1)")


def _check_params(params: tuple[tuple[str, str], ...], reserved: frozenset[str]) -> None:
    names = [name for name, _ in params]
    for name, value in params:
        _check_token("parameter name", name)
        if name != name.lower() or name in reserved:
            raise LocalProtocolError(f"extra parameter {name!r} must be lower-case and unknown")
        _check_text(f"parameter {name!r}", value)
    if len(set(names)) != len(names):
        raise LocalProtocolError("extra parameters must not repeat a name (RFC 3261 §7.3.1)")


def _unquote(raw: str) -> str:
    return _UNQUOTE_RE.sub(lambda m: " " if m.group(1) is None else m.group(1), raw)


def _quote(value: str) -> str:
    # RFC 7616 §3.4.5 / RFC 3261 §25.1 quoted-pair: escape the two characters that would
    # otherwise end the string or start an escape.
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _skip_sws(text: str, pos: int) -> int:
    match = _SWS_RE.match(text, pos)
    return pos if match is None else match.end()


def _split_scheme(value: str) -> tuple[str, int]:
    """Return the auth-scheme and where its parameters start."""
    match = _SCHEME_RE.match(value)
    if match is None:
        raise RemoteProtocolError("authentication header value has no scheme")
    end = match.end()
    if end == len(value):
        return match.group(1), end
    lws = _LWS_RE.match(value, end)
    if lws is None:
        raise RemoteProtocolError("auth-scheme must be followed by whitespace")
    return match.group(1), lws.end()


def _parse_params(value: str, pos: int) -> dict[str, str]:
    """Read ``auth-param *(COMMA auth-param)`` from ``pos`` to the end of ``value``.

    Names come back lower-case (RFC 3261 §7.3.1: parameter names are case-insensitive),
    values unquoted. Empty list elements (``a=1,,b=2``) are skipped, as RFC 7230 §7 asks
    of HTTP recipients.
    """
    params: dict[str, str] = {}
    end = len(value)
    pos = _skip_sws(value, pos)
    while pos < end:
        if value[pos] == ",":
            pos = _skip_sws(value, pos + 1)
            continue
        match = _PARAM_RE.match(value, pos)
        if match is None:
            raise RemoteProtocolError(f"malformed auth-param at offset {pos}")
        name = match.group(1).lower()
        if name in params:
            # RFC 3261 §7.3.1: "any given parameter-name MUST NOT appear more than once"
            raise RemoteProtocolError(f"parameter {name!r} appears more than once")
        token, quoted = match.group(2), match.group(3)
        param_value = token if token is not None else _unquote(quoted)
        if _CONTROL_RE.search(param_value):
            raise RemoteProtocolError(f"parameter {name!r} carries a control character")
        params[name] = param_value
        pos = _skip_sws(value, match.end())
        if pos < end:
            if value[pos] != ",":
                raise RemoteProtocolError(f"expected ',' after parameter {name!r}")
            pos = _skip_sws(value, pos + 1)
    if not params:
        raise RemoteProtocolError("Digest needs at least one parameter")
    return params


def _digest_params(value: str, what: str) -> dict[str, str]:
    scheme, pos = _split_scheme(value)
    if scheme.lower() != _DIGEST.lower():
        raise RemoteProtocolError(f"{what} uses scheme {scheme!r}, not Digest")
    return _parse_params(value, pos)


def _require(params: dict[str, str], name: str, what: str) -> str:
    value = params.pop(name, None)
    if value is None:
        raise RemoteProtocolError(f"{what} lacks the required {name!r} parameter")
    return value


def _canonical_algorithm(token: str) -> str:
    known = DigestAlgorithm.from_token(token)
    return token if known is None else known.value


def _is_true(value: str) -> bool:
    # RFC 2617 §3.2.1 (stale): "If stale is FALSE, or anything other than TRUE, or the
    # stale directive is not present, the username and/or password are invalid".
    return value.lower() == "true"


# ---------------------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HA1:
    """A stored ``H(username ":" realm ":" password)``, usable instead of the password.

    For ``-sess`` algorithms this is still the plain hash; the session hash is derived
    from it (RFC 7616 §3.4.2). It must come from the same algorithm and realm as the
    challenge it answers. Its ``repr`` never shows the digest.
    """

    hexdigest: str
    """32 (MD5) or 64 (SHA-256, SHA-512-256) hex digits."""

    def __post_init__(self) -> None:
        if not _HEX_RE.fullmatch(self.hexdigest) or len(self.hexdigest) not in (32, 64):
            raise LocalProtocolError("HA1 must be 32 or 64 hexadecimal digits")

    def __repr__(self) -> str:
        return "HA1(<redacted>)"


@dataclass(frozen=True, slots=True)
class DigestChallenge:
    """One Digest challenge: the value of a ``WWW-Authenticate`` / ``Proxy-Authenticate``.

    Constructing one checks that every field can be written back into a header (no CR, LF
    or other control characters, tokens where the grammar wants tokens) and raises
    :class:`~sipcore.errors.LocalProtocolError` otherwise.
    """

    realm: str
    """The protection space (RFC 2617 §3.2.1); compared case-sensitively."""
    nonce: str
    """Server-chosen, echoed in the answer."""
    opaque: str | None = None
    """Echoed unchanged in the answer when present."""
    algorithm: str = "MD5"
    """The token as received, in its canonical spelling if known; absent means MD5
    (RFC 2617 §3.2.1)."""
    qop: tuple[str, ...] = ()
    """The qop-options offered, lower-case, in the server's order; ``()`` means the RFC 2069
    form (no qop, no cnonce, no nc)."""
    stale: bool = False
    """True when the server refused the previous nonce, not the credentials (RFC 2617 §3.2.1)."""
    domain: tuple[str, ...] = ()
    """URIs of the protection space (RFC 2617 §3.2.1), in order."""
    userhash: bool = False
    """RFC 7616 §3.4.4: the client should send ``H(username ":" realm)`` as the username."""
    charset: str | None = None
    """RFC 7616 §3.3: only ``UTF-8`` is defined; SIP strings are UTF-8 regardless."""
    params: tuple[tuple[str, str], ...] = ()
    """Other auth-params as ``(lower-case name, value)``, in the order received."""

    def __post_init__(self) -> None:
        for what, text in (("realm", self.realm), ("nonce", self.nonce)):
            _check_text(what, text)
        if self.opaque is not None:
            _check_text("opaque", self.opaque)
        _check_token("algorithm", self.algorithm)
        for option in self.qop:
            _check_token("qop option", option)
        for uri in self.domain:
            if _CONTROL_RE.search(uri) or uri.split() != [uri]:
                raise LocalProtocolError("domain URIs must be non-empty and contain no spaces")
        if self.charset is not None:
            _check_token("charset", self.charset)
        _check_params(self.params, _CHALLENGE_FIELDS)

    @property
    def digest_algorithm(self) -> DigestAlgorithm | None:
        """The algorithm, or ``None`` when this module does not implement it."""
        return DigestAlgorithm.from_token(self.algorithm)

    @property
    def answerable(self) -> bool:
        """Whether :func:`build_authorization` can answer this challenge.

        RFC 2617 §3.2.1: "If the algorithm is not understood, the challenge should be
        ignored"; qop-options: "Unrecognized options MUST be ignored", so a challenge
        offering only unknown options (``auth-conf``...) cannot be answered either.
        """
        if self.digest_algorithm is None:
            return False
        offered = {option.lower() for option in self.qop}
        return not self.qop or bool(offered & {_QOP_AUTH, _QOP_AUTH_INT})

    def param(self, name: str) -> str | None:
        """Return an extra auth-param by (case-insensitive) name, or ``None``."""
        wanted = name.lower()
        return next((value for key, value in self.params if key == wanted), None)


@dataclass(frozen=True, slots=True)
class DigestCredentials:
    """One Digest answer: the value of an ``Authorization`` / ``Proxy-Authorization``.

    The server role gets these from :func:`parse_authorization`; :func:`build_authorization`
    writes one with :func:`format_authorization`. ``response`` is left out of the ``repr``.
    Constructing one validates it like :class:`DigestChallenge` does.
    """

    username: str
    """The username as sent: the clear name, or ``H(username ":" realm)`` if ``userhash``."""
    realm: str
    nonce: str
    uri: str
    """The digest-uri: in SIP, the Request-URI as sent (RFC 3261 §22.4)."""
    response: str = field(repr=False)
    """The request-digest, hex."""
    algorithm: str = "MD5"
    cnonce: str | None = None
    qop: str | None = None
    """The one qop chosen (lower-case), or ``None`` for the RFC 2069 form."""
    nc: str | None = None
    """The nonce count exactly as sent: 8 hex digits (RFC 2617 §3.2.2), hashed verbatim."""
    opaque: str | None = None
    userhash: bool = False
    params: tuple[tuple[str, str], ...] = ()
    """Other auth-params as ``(lower-case name, value)``, in the order received."""

    def __post_init__(self) -> None:
        for what, text in (
            ("username", self.username),
            ("realm", self.realm),
            ("nonce", self.nonce),
            ("uri", self.uri),
        ):
            _check_text(what, text)
        for what, optional in (("cnonce", self.cnonce), ("opaque", self.opaque)):
            if optional is not None:
                _check_text(what, optional)
        if not _HEX_RE.fullmatch(self.response):
            raise LocalProtocolError("response must be hexadecimal")
        _check_token("algorithm", self.algorithm)
        if self.nc is not None and not _NC_RE.fullmatch(self.nc):
            raise LocalProtocolError("nc must be 8 hexadecimal digits (RFC 2617 §3.2.2)")
        if self.qop is not None:
            _check_token("qop", self.qop)
            # RFC 2617 §3.2.2 (cnonce): "This MUST be specified if a qop directive is sent";
            # nc likewise.
            if self.cnonce is None or self.nc is None:
                raise LocalProtocolError("qop requires both cnonce and nc (RFC 2617 §3.2.2)")
        _check_params(self.params, _CREDENTIAL_FIELDS)

    @property
    def nonce_count(self) -> int | None:
        """``nc`` as a number, or ``None`` when absent."""
        return None if self.nc is None else int(self.nc, 16)


# ---------------------------------------------------------------------------------------
# Reading and writing header values
# ---------------------------------------------------------------------------------------


def parse_challenge(value: str) -> DigestChallenge:
    """Parse one ``WWW-Authenticate`` / ``Proxy-Authenticate`` header value.

    In SIP one header value holds exactly one challenge; repeat the header for more.
    Parameter names and the scheme are case-insensitive, values may be tokens or quoted
    strings (backslash escapes honoured), and LWS, including folded lines, may appear
    between any two elements.

    Args:
        value: the text after ``WWW-Authenticate:`` or ``Proxy-Authenticate:``.

    Returns:
        The challenge. An unknown ``algorithm`` is kept: see
        :attr:`DigestChallenge.answerable`.

    Raises:
        RemoteProtocolError: the scheme is not Digest, the value is malformed, a
            parameter repeats, or ``realm`` / ``nonce`` is missing.
    """
    params = _digest_params(value, "challenge")
    realm = _require(params, "realm", "challenge")
    nonce = _require(params, "nonce", "challenge")
    opaque = params.pop("opaque", None)
    algorithm = _canonical_algorithm(params.pop("algorithm", DigestAlgorithm.MD5.value))
    qop: tuple[str, ...] = ()
    raw_qop = params.pop("qop", None)
    if raw_qop is not None:
        # qop-options = "qop" EQUAL LDQUOT qop-value *("," qop-value) RDQUOT
        qop = tuple(option.strip(" \t").lower() for option in raw_qop.split(","))
        qop = tuple(option for option in qop if option)
        if not qop:
            raise RemoteProtocolError("qop-options lists no option")
    stale = _is_true(params.pop("stale", "false"))
    domain = tuple(params.pop("domain", "").split())
    userhash = _is_true(params.pop("userhash", "false"))
    charset = params.pop("charset", None)
    try:
        return DigestChallenge(
            realm=realm,
            nonce=nonce,
            opaque=opaque,
            algorithm=algorithm,
            qop=qop,
            stale=stale,
            domain=domain,
            userhash=userhash,
            charset=charset,
            params=tuple(params.items()),
        )
    except LocalProtocolError as exc:
        raise RemoteProtocolError(f"malformed challenge: {exc}") from exc


def parse_challenges(values: Iterable[str]) -> list[DigestChallenge]:
    """Parse every Digest challenge among a response's authenticate header values.

    Non-Digest schemes (``Basic``, ``Bearer``...) are skipped. A malformed Digest challenge
    is skipped too when another one parses: RFC 8760 §2.4, "The client MUST ignore any
    challenge it does not understand".

    Args:
        values: the values of every ``WWW-Authenticate`` (or every ``Proxy-Authenticate``)
            header of one response, in message order: the order carries the server's
            preference (RFC 8760 §2.3).

    Returns:
        The Digest challenges, in the order given; empty if there were none.

    Raises:
        RemoteProtocolError: there were Digest challenges and none of them parsed (the
            first one's error is raised).
    """
    challenges: list[DigestChallenge] = []
    first_error: RemoteProtocolError | None = None
    for value in values:
        try:
            scheme, _ = _split_scheme(value)
            if scheme.lower() != _DIGEST.lower():
                continue
            challenges.append(parse_challenge(value))
        except RemoteProtocolError as exc:
            _log.debug("ignoring a malformed authenticate header value: %s", exc)
            if first_error is None:
                first_error = exc
    if not challenges and first_error is not None:
        raise first_error
    return challenges


def _decode_ext_value(raw: str) -> str:
    match = _EXT_VALUE_RE.fullmatch(raw)
    if match is None:
        raise RemoteProtocolError("username* is not an RFC 5987 ext-value")
    octets = _PCT_RE.sub(
        lambda m: bytes.fromhex(m.group(1).decode("ascii")), match.group(2).encode()
    )
    try:
        return octets.decode("utf-8" if match.group(1).upper() == "UTF-8" else "latin-1")
    except UnicodeDecodeError as exc:
        raise RemoteProtocolError("username* is not valid UTF-8") from exc


def parse_authorization(value: str) -> DigestCredentials:
    """Parse one ``Authorization`` / ``Proxy-Authorization`` header value (server role).

    ``username*`` (RFC 7616 §3.4.4, RFC 5987 encoding) is decoded into ``username``.

    Args:
        value: the text after ``Authorization:`` or ``Proxy-Authorization:``.

    Returns:
        The credentials; check them with :func:`verify_authorization`.

    Raises:
        RemoteProtocolError: not Digest, malformed, a parameter repeats, a required one
            (username, realm, nonce, uri, response; cnonce and nc with qop) is missing,
            both ``username`` and ``username*`` are present, or ``nc`` / ``response`` is
            not hexadecimal.
    """
    params = _digest_params(value, "credentials")
    username = params.pop("username", None)
    extended = params.pop("username*", None)
    if extended is not None:
        if username is not None:
            raise RemoteProtocolError("credentials carry both username and username*")
        username = _decode_ext_value(extended)
    if username is None:
        raise RemoteProtocolError("credentials lack the required 'username' parameter")
    realm = _require(params, "realm", "credentials")
    nonce = _require(params, "nonce", "credentials")
    uri = _require(params, "uri", "credentials")
    response = _require(params, "response", "credentials")
    qop = params.pop("qop", None)
    try:
        return DigestCredentials(
            username=username,
            realm=realm,
            nonce=nonce,
            uri=uri,
            response=response,
            algorithm=_canonical_algorithm(params.pop("algorithm", DigestAlgorithm.MD5.value)),
            cnonce=params.pop("cnonce", None),
            qop=None if qop is None else qop.lower(),
            nc=params.pop("nc", None),
            opaque=params.pop("opaque", None),
            userhash=_is_true(params.pop("userhash", "false")),
            params=tuple(params.items()),
        )
    except LocalProtocolError as exc:
        raise RemoteProtocolError(f"malformed credentials: {exc}") from exc


def format_challenge(challenge: DigestChallenge) -> str:
    """Write a challenge as a ``WWW-Authenticate`` / ``Proxy-Authenticate`` header value.

    RFC 7616 §3.3: "a sender MUST only generate the quoted string syntax values for the
    following parameters: realm, domain, nonce, opaque, and qop" and "MUST NOT generate
    the quoted string syntax values for the following parameters: stale and algorithm".
    ``parse_challenge(format_challenge(c)) == c`` for every valid challenge.

    Args:
        challenge: the challenge to write.

    Returns:
        The header value, starting with ``Digest``.
    """
    parts = [f"realm={_quote(challenge.realm)}", f"nonce={_quote(challenge.nonce)}"]
    if challenge.opaque is not None:
        parts.append(f"opaque={_quote(challenge.opaque)}")
    parts.append(f"algorithm={challenge.algorithm}")
    if challenge.qop:
        parts.append(f"qop={_quote(', '.join(challenge.qop))}")
    if challenge.stale:
        parts.append("stale=true")
    if challenge.domain:
        parts.append(f"domain={_quote(' '.join(challenge.domain))}")
    if challenge.userhash:
        parts.append("userhash=true")
    if challenge.charset is not None:
        parts.append(f"charset={challenge.charset}")
    parts.extend(f"{name}={_quote(value)}" for name, value in challenge.params)
    return f"{_DIGEST} " + ", ".join(parts)


def format_authorization(credentials: DigestCredentials) -> str:
    """Write credentials as an ``Authorization`` / ``Proxy-Authorization`` header value.

    RFC 7616 §3.4: "a sender MUST only generate the quoted string syntax for the following
    parameters: username, realm, nonce, uri, response, cnonce, and opaque" and "MUST NOT
    generate the quoted string syntax for the following parameters: algorithm, qop, and
    nc". ``parse_authorization(format_authorization(c)) == c`` for valid credentials.

    Args:
        credentials: the credentials to write.

    Returns:
        The header value, starting with ``Digest``. It contains the response: do not log it.
    """
    parts = [
        f"username={_quote(credentials.username)}",
        f"realm={_quote(credentials.realm)}",
        f"nonce={_quote(credentials.nonce)}",
        f"uri={_quote(credentials.uri)}",
        f"response={_quote(credentials.response)}",
        f"algorithm={credentials.algorithm}",
    ]
    if credentials.cnonce is not None:
        parts.append(f"cnonce={_quote(credentials.cnonce)}")
    if credentials.qop is not None:
        parts.append(f"qop={credentials.qop}")
    if credentials.nc is not None:
        parts.append(f"nc={credentials.nc}")
    if credentials.opaque is not None:
        parts.append(f"opaque={_quote(credentials.opaque)}")
    if credentials.userhash:
        parts.append("userhash=true")
    parts.extend(f"{name}={_quote(value)}" for name, value in credentials.params)
    return f"{_DIGEST} " + ", ".join(parts)


# RFC 3261 §22.2 (user-to-user: 401, WWW-Authenticate -> Authorization) and §22.3
# (proxy-to-user: 407, Proxy-Authenticate -> Proxy-Authorization).
_CHALLENGE_HEADERS: Final = MappingProxyType({401: "WWW-Authenticate", 407: "Proxy-Authenticate"})
_AUTHORIZATION_HEADERS: Final = MappingProxyType({401: "Authorization", 407: "Proxy-Authorization"})


def challenge_header_name(status_code: int) -> str:
    """Name the header carrying the challenges of a 401 or 407 (RFC 3261 §22.2, §22.3).

    Args:
        status_code: 401 or 407.

    Returns:
        ``"WWW-Authenticate"`` or ``"Proxy-Authenticate"``.

    Raises:
        LocalProtocolError: any other status code.
    """
    try:
        return _CHALLENGE_HEADERS[status_code]
    except KeyError:
        raise LocalProtocolError(f"{status_code} carries no digest challenge") from None


def authorization_header_name(status_code: int) -> str:
    """Name the header that answers a 401 or 407 (RFC 3261 §22.2, §22.3).

    Args:
        status_code: 401 or 407.

    Returns:
        ``"Authorization"`` or ``"Proxy-Authorization"``.

    Raises:
        LocalProtocolError: any other status code.
    """
    try:
        return _AUTHORIZATION_HEADERS[status_code]
    except KeyError:
        raise LocalProtocolError(f"{status_code} carries no digest challenge") from None


# ---------------------------------------------------------------------------------------
# Choosing
# ---------------------------------------------------------------------------------------


class ChallengePolicy(enum.Enum):
    """How :func:`choose_challenge` picks among challenges of the same realm."""

    SERVER_ORDER = "server-order"
    """RFC 8760 §2.4: the topmost challenge we support (the default)."""
    STRONGEST = "strongest"
    """A local policy: the strongest algorithm offered, whatever the order."""


def choose_challenge(
    challenges: Iterable[DigestChallenge],
    *,
    policy: ChallengePolicy = ChallengePolicy.SERVER_ORDER,
    realm: str | None = None,
    algorithms: Collection[DigestAlgorithm] = _ALL_ALGORITHMS,
) -> DigestChallenge:
    """Pick the challenge to answer.

    What RFC 8760 says and what this does:

    * §2.3: the server adds its challenges "in the order in which it would prefer to see
      them used", most preferred on top. §2.4: the client "SHOULD use the topmost header
      field that it supports unless a local policy dictates otherwise", and "MUST ignore
      any challenge it does not understand". So, by default, within one realm the topmost
      challenge we can answer wins, even if a stronger one sits below it: the order is the
      server's stated preference, and a reordering attacker could as well delete the
      stronger challenges, so ranking by strength would buy no real protection. Challenges
      with an unknown algorithm, or offering only unknown qop options, are ignored.
    * Where the client has the choice, it takes the strongest algorithm
      (SHA-512-256 > SHA-256 > MD5, ``-sess`` ranking with its base; ties go to the
      earlier header):

      - between realms: each realm's topmost answerable challenge competes. (RFC 3261
        §22.3 expects credentials for each realm the client holds some for: a UA with
        per-realm credentials calls this once per realm with ``realm=``.)
      - within a realm, when the caller sets the local policy
        :attr:`ChallengePolicy.STRONGEST` ("unless a local policy dictates otherwise").

    * ``algorithms`` is the other local policy. RFC 8760 §3 warns that offering MD5 beside
      stronger algorithms "opens the system to the potential for a downgrade attack by an
      on-path attacker"; leaving MD5 out of ``algorithms`` refuses that downgrade outright,
      which is the only client-side defence that works against an attacker who can edit
      (not just reorder) the challenges.

    Args:
        challenges: the Digest challenges of one 401/407, in header order.
        policy: how to pick within one realm.
        realm: only consider this realm.
        algorithms: the algorithms we are willing to use (default: all six).

    Returns:
        The chosen challenge.

    Raises:
        RemoteProtocolError: no challenge is left that we can and may answer.
    """
    candidates: list[DigestChallenge] = []
    for challenge in challenges:
        if realm is not None and challenge.realm != realm:
            continue
        algorithm = challenge.digest_algorithm
        if not challenge.answerable or algorithm is None or algorithm not in algorithms:
            _log.debug(
                "ignoring a challenge for realm %r with algorithm %r and qop %r",
                challenge.realm,
                challenge.algorithm,
                challenge.qop,
            )
            continue
        candidates.append(challenge)
    if not candidates:
        raise RemoteProtocolError("no Digest challenge offered that we can answer")
    if policy is ChallengePolicy.SERVER_ORDER:
        topmost: dict[str, DigestChallenge] = {}
        for challenge in candidates:
            topmost.setdefault(challenge.realm, challenge)
        candidates = list(topmost.values())
    # max() keeps the first of equals, so ties go to the server's order.
    return max(candidates, key=_strength)


def _strength(challenge: DigestChallenge) -> int:
    algorithm = challenge.digest_algorithm
    return -1 if algorithm is None else algorithm.strength


# ---------------------------------------------------------------------------------------
# Computing
# ---------------------------------------------------------------------------------------


def _algorithm(algorithm: DigestAlgorithm | str) -> DigestAlgorithm:
    if isinstance(algorithm, DigestAlgorithm):
        return algorithm
    known = DigestAlgorithm.from_token(algorithm)
    if known is None:
        raise LocalProtocolError(f"unsupported digest algorithm {algorithm!r}")
    return known


def _format_nc(nc: int | str) -> str:
    if isinstance(nc, str):
        if not _NC_RE.fullmatch(nc):
            raise LocalProtocolError("nc must be 8 hexadecimal digits (RFC 2617 §3.2.2)")
        return nc
    if not 1 <= nc <= _MAX_NC:
        raise LocalProtocolError("nc must be between 1 and 0xffffffff")
    # RFC 2617 §3.2.2: "in the first request sent in response to a given nonce value, the
    # client sends "nc=00000001"".
    return f"{nc:08x}"


def compute_userhash(algorithm: DigestAlgorithm | str, username: str, realm: str) -> str:
    """RFC 7616 §3.4.4: ``userhash = H(unq(username) ":" unq(realm))``.

    Args:
        algorithm: the challenge's algorithm (``-sess`` hashes like its base).
        username: the clear username.
        realm: the challenge's realm.

    Returns:
        Lower-case hex.

    Raises:
        LocalProtocolError: unknown algorithm, or a control character in the inputs.
    """
    _check_text("username", username)
    return _h(_algorithm(algorithm), username, realm)


def compute_ha1(
    algorithm: DigestAlgorithm | str,
    *,
    username: str,
    realm: str,
    password_or_ha1: str | HA1,
    nonce: str | None = None,
    cnonce: str | None = None,
) -> str:
    """RFC 7616 §3.4.2: ``H(username ":" realm ":" password)``, and for ``-sess`` algorithms
    ``H(H(username ":" realm ":" password) ":" nonce ":" cnonce)``.

    Args:
        algorithm: the digest algorithm.
        username: the clear username (never the userhash).
        realm: the realm.
        password_or_ha1: the password, or an :class:`HA1` for the same algorithm and realm.
        nonce: the server nonce (``-sess`` only).
        cnonce: the client nonce (``-sess`` only).

    Returns:
        Lower-case hex.

    Raises:
        LocalProtocolError: unknown algorithm, an HA1 of the wrong length, ``-sess``
            without nonce and cnonce, or a control character in username or password.
    """
    chosen = _algorithm(algorithm)
    if isinstance(password_or_ha1, HA1):
        if len(password_or_ha1.hexdigest) != chosen.hex_length:
            raise LocalProtocolError(f"this HA1 is not a {chosen.base.value} digest")
        base = password_or_ha1.hexdigest.lower()
    else:
        _check_text("username", username)
        _check_text("password", password_or_ha1)
        base = _h(chosen, username, realm, password_or_ha1)
    if not chosen.is_session:
        return base
    if nonce is None or cnonce is None:
        raise LocalProtocolError(f"{chosen.value} needs the nonce and the cnonce")
    return _h(chosen, base, nonce, cnonce)


def compute_ha2(
    algorithm: DigestAlgorithm | str,
    *,
    method: str,
    uri: str,
    qop: str | None = None,
    body: bytes = b"",
) -> str:
    """RFC 7616 §3.4.3: ``H(method ":" uri)``, or for auth-int ``H(method ":" uri ":" H(body))``.

    Args:
        algorithm: the digest algorithm.
        method: the request method (ACK and CANCEL are never computed: they carry the
            INVITE's credentials unchanged, RFC 3261 §22).
        uri: the digest-uri, i.e. the Request-URI as sent (RFC 3261 §22.4).
        qop: ``None``, ``"auth"`` or ``"auth-int"``.
        body: the message body, hashed for auth-int only (an empty body hashes as H("")).

    Returns:
        Lower-case hex.

    Raises:
        LocalProtocolError: unknown algorithm or qop.
    """
    chosen = _algorithm(algorithm)
    folded = None if qop is None else qop.lower()
    if folded == _QOP_AUTH_INT:
        return _h(chosen, method, uri, _hexdigest(chosen, body))
    if folded in (None, _QOP_AUTH):
        return _h(chosen, method, uri)
    raise LocalProtocolError(f"unsupported qop {qop!r}")


def compute_response(
    algorithm: DigestAlgorithm | str,
    *,
    username: str,
    realm: str,
    password_or_ha1: str | HA1,
    nonce: str,
    method: str,
    uri: str,
    qop: str | None = None,
    nc: int | str | None = None,
    cnonce: str | None = None,
    body: bytes = b"",
) -> str:
    """The request-digest (RFC 7616 §3.4.1; RFC 2069 form when ``qop`` is ``None``).

    With qop: ``H(HA1 ":" nonce ":" nc ":" cnonce ":" qop ":" HA2)``;
    without: ``H(HA1 ":" nonce ":" HA2)``.

    Args:
        algorithm: the digest algorithm.
        username: the clear username (never the userhash).
        realm: the challenge's realm.
        password_or_ha1: the password, or an :class:`HA1`.
        nonce: the challenge's nonce.
        method: the request method.
        uri: the digest-uri (the Request-URI as sent).
        qop: ``None``, ``"auth"`` or ``"auth-int"``.
        nc: the nonce count, as a number or as the 8 hex digits sent (required with qop).
        cnonce: the client nonce (required with qop and for ``-sess``).
        body: the message body (auth-int only).

    Returns:
        Lower-case hex.

    Raises:
        LocalProtocolError: unknown algorithm or qop, a missing nc/cnonce, a bad nc, or an
            HA1 of the wrong length.
    """
    chosen = _algorithm(algorithm)
    ha1 = compute_ha1(
        chosen,
        username=username,
        realm=realm,
        password_or_ha1=password_or_ha1,
        nonce=nonce,
        cnonce=cnonce,
    )
    ha2 = compute_ha2(chosen, method=method, uri=uri, qop=qop, body=body)
    if qop is None:
        return _h(chosen, ha1, nonce, ha2)
    if nc is None or cnonce is None:
        raise LocalProtocolError("qop needs nc and cnonce (RFC 2617 §3.2.2)")
    return _h(chosen, ha1, nonce, _format_nc(nc), cnonce, qop, ha2)


def _choose_qop(challenge: DigestChallenge, prefer_auth_int: bool) -> str | None:
    if not challenge.qop:
        return None
    offered = {option.lower() for option in challenge.qop}
    # Prefer auth: it does not depend on the body arriving byte-for-byte (proxies may
    # rewrite SDP), and it is what browsers and the common SIP stacks send. auth-int only
    # when asked for, or when it is the only option.
    if prefer_auth_int and _QOP_AUTH_INT in offered:
        return _QOP_AUTH_INT
    if _QOP_AUTH in offered:
        return _QOP_AUTH
    if _QOP_AUTH_INT in offered:
        return _QOP_AUTH_INT
    raise LocalProtocolError(f"challenge offers no qop we support: {challenge.qop!r}")


def _answer(
    challenge: DigestChallenge,
    *,
    username: str,
    password: str | HA1,
    method: str,
    uri: str,
    body: bytes,
    cnonce: str,
    nc: int,
    prefer_auth_int: bool,
) -> DigestCredentials:
    algorithm = challenge.digest_algorithm
    if algorithm is None:
        raise LocalProtocolError(f"cannot answer digest algorithm {challenge.algorithm!r}")
    _check_text("username", username)
    _check_token("method", method)
    _check_text("uri", uri)
    _check_text("cnonce", cnonce)
    nc_text = _format_nc(nc)
    qop = _choose_qop(challenge, prefer_auth_int)
    # RFC 2617 §3.2.2: cnonce "MUST NOT be specified if the server did not send a qop
    # directive" - except that the -sess algorithms cannot be computed without it.
    sends_cnonce = qop is not None or algorithm.is_session
    if sends_cnonce and not cnonce:
        raise LocalProtocolError("cnonce must not be empty")
    response = compute_response(
        algorithm,
        username=username,
        realm=challenge.realm,
        password_or_ha1=password,
        nonce=challenge.nonce,
        method=method,
        uri=uri,
        qop=qop,
        nc=nc_text,
        cnonce=cnonce if sends_cnonce else None,
        body=body,
    )
    return DigestCredentials(
        username=(
            compute_userhash(algorithm, username, challenge.realm)
            if challenge.userhash
            else username
        ),
        realm=challenge.realm,
        nonce=challenge.nonce,
        uri=uri,
        response=response,
        algorithm=algorithm.value,
        cnonce=cnonce if sends_cnonce else None,
        qop=qop,
        nc=None if qop is None else nc_text,
        opaque=challenge.opaque,
        userhash=challenge.userhash,
    )


def build_authorization(
    challenge: DigestChallenge,
    *,
    username: str,
    password: str | HA1,
    method: str,
    uri: str,
    body: bytes = b"",
    cnonce: str,
    nc: int,
    prefer_auth_int: bool = False,
) -> str:
    """Answer a challenge with an ``Authorization`` / ``Proxy-Authorization`` header value.

    qop: ``auth`` when offered (also when ``auth-int`` is offered beside it) unless
    ``prefer_auth_int``; ``auth-int`` when it is the only option; none when the challenge
    has no qop (RFC 2069 form: no cnonce, no nc). With ``userhash=true`` the username sent
    is ``H(username ":" realm)`` (RFC 7616 §3.4.4). ``algorithm`` is always sent.

    Args:
        challenge: the challenge to answer (see :func:`choose_challenge`).
        username: the clear username.
        password: the password, or an :class:`HA1` for the challenge's algorithm and realm.
        method: the request method.
        uri: the Request-URI exactly as it will be sent (RFC 3261 §22.4).
        body: the message body (hashed for auth-int only).
        cnonce: a fresh client nonce, from the caller's id factory.
        nc: how many requests, this one included, used this nonce (1 for the first).
        prefer_auth_int: answer with auth-int when both auth and auth-int are offered.

    Returns:
        The header value. It carries the response: do not log it.

    Raises:
        LocalProtocolError: the challenge cannot be answered (unknown algorithm or qop), a
            string carries CR, LF or another control character (no header injection), the
            method is not a token, cnonce is empty, or nc is out of range.
    """
    credentials = _answer(
        challenge,
        username=username,
        password=password,
        method=method,
        uri=uri,
        body=body,
        cnonce=cnonce,
        nc=nc,
        prefer_auth_int=prefer_auth_int,
    )
    return format_authorization(credentials)


# ---------------------------------------------------------------------------------------
# The client's per-credentials state
# ---------------------------------------------------------------------------------------


class AuthReason(enum.Enum):
    """Why :meth:`DigestSession.respond` decided what it did."""

    CHALLENGED = "challenged"
    """The request carried no credentials of ours: answer the challenge."""
    STALE = "stale"
    """RFC 2617 §3.2.1: the nonce, not the password, was refused ("stale=true"); the client
    "may wish to simply retry the request with a new encrypted response". Once."""
    NONCE_REPLACED = "nonce-replaced"
    """Credentials reusing a cached nonce were refused and a new nonce offered (the server
    forgot the old one without saying stale): answer the new nonce, once."""
    REJECTED = "rejected"
    """Our answer to this very nonce was refused: the username or password is wrong. Give up."""
    UNSUPPORTED = "unsupported"
    """No challenge we can or may answer. Give up."""

    @property
    def retry(self) -> bool:
        """Whether to send the request again with fresh credentials."""
        return self in (AuthReason.CHALLENGED, AuthReason.STALE, AuthReason.NONCE_REPLACED)


@dataclass(frozen=True, slots=True)
class AuthDecision:
    """What to do about a 401/407: the outcome of :meth:`DigestSession.respond`."""

    reason: AuthReason
    """Why; ``reason.retry`` says whether to retry."""
    challenge: DigestChallenge | None
    """The challenge chosen (``None`` when nothing could be answered)."""

    @property
    def retry(self) -> bool:
        """Whether to resend the request (new CSeq, RFC 3261 §22.2) with credentials."""
        return self.reason.retry


@dataclass(frozen=True, slots=True)
class DigestAuthorization:
    """Credentials produced by :meth:`DigestSession.authorize` for one request.

    Keep it with the request: if that request is challenged, hand it back to
    :meth:`DigestSession.respond` as ``rejected``. An ACK or CANCEL for an INVITE copies
    the INVITE's ``header_value`` unchanged (RFC 3261 §22) instead of calling
    ``authorize`` again.
    """

    header_value: str = field(repr=False)
    """The ``Authorization`` / ``Proxy-Authorization`` value (contains the response)."""
    realm: str
    nonce: str
    nc: int
    """The nonce count used: 1 for the first request with this nonce."""
    after_stale: bool
    """Whether this is the first answer to a nonce obtained through a stale=true challenge."""


class DigestSession:
    """Answers digest challenges for one username and password (and, optionally, realm).

    It keeps the challenge to answer and the nonce count: each :meth:`authorize` with the
    same nonce increments nc, a new nonce restarts it at 1 (RFC 2617 §3.2.2: nc "is the
    hexadecimal count of the number of requests (including the current request) that the
    client has sent with the nonce value in this request"). :meth:`respond` decides,
    without ever looping, whether a 401/407 deserves another attempt:

    ================================  ==========================  ======================
    request that was challenged       challenge chosen            decision
    ================================  ==========================  ======================
    carried none of our credentials   any answerable              CHALLENGED (retry)
    our credentials, not after stale  stale=true, different nonce STALE (retry)
    our reuse (nc > 1) of a nonce     not stale, different nonce  NONCE_REPLACED (retry)
    anything else with our creds      any                         REJECTED (give up)
    any                               none answerable             UNSUPPORTED (give up)
    ================================  ==========================  ======================

    So the same credentials rejected twice end the attempt, and a chain of retries for one
    request is at most three long (reuse, replaced, stale). A UA facing several realms
    keeps one session per realm (``realm=``). The session never reads a clock or draws
    random numbers: ``cnonce`` comes from the caller. Its ``repr`` hides the password.
    """

    __slots__ = (
        "_algorithms",
        "_challenge",
        "_password",
        "_policy",
        "_prefer_auth_int",
        "_realm",
        "_username",
        "_uses",
        "_via_stale",
    )

    def __init__(
        self,
        username: str,
        password: str,
        *,
        realm: str | None = None,
        policy: ChallengePolicy = ChallengePolicy.SERVER_ORDER,
        algorithms: Collection[DigestAlgorithm] = _ALL_ALGORITHMS,
        prefer_auth_int: bool = False,
    ) -> None:
        """Create a session with no challenge yet.

        Args:
            username: the clear username.
            password: the password.
            realm: answer only challenges of this realm (``None``: any realm).
            policy: passed to :func:`choose_challenge`.
            algorithms: the algorithms we may use, passed to :func:`choose_challenge`.
            prefer_auth_int: passed to :func:`build_authorization`.

        Raises:
            LocalProtocolError: a control character in username or password.
        """
        _check_text("username", username)
        _check_text("password", password)
        self._username = username
        self._password = password
        self._realm = realm
        self._policy = policy
        self._algorithms = frozenset(algorithms)
        self._prefer_auth_int = prefer_auth_int
        self._challenge: DigestChallenge | None = None
        self._uses = 0
        self._via_stale = False

    def __repr__(self) -> str:
        realm = None if self._challenge is None else self._challenge.realm
        return (
            f"DigestSession(username={self._username!r}, realm={realm!r}, nonce_count={self._uses})"
        )

    @property
    def challenge(self) -> DigestChallenge | None:
        """The challenge :meth:`authorize` answers, or ``None`` before one or after giving up."""
        return self._challenge

    @property
    def nonce_count(self) -> int:
        """How many authorizations used the current nonce so far."""
        return self._uses

    def respond(
        self,
        challenges: Iterable[DigestChallenge],
        *,
        rejected: DigestAuthorization | None = None,
    ) -> AuthDecision:
        """Decide what to do about a 401/407 (see the table in the class docstring).

        On a retry decision, the chosen challenge becomes the one :meth:`authorize`
        answers (nc restarts at 1 if its nonce is new). On REJECTED the challenge is
        forgotten, so no further request carries the refused credentials. On UNSUPPORTED
        nothing changes. Nothing is sent or queued: the caller builds the retry.

        Args:
            challenges: the response's Digest challenges, in header order
                (:func:`parse_challenges`).
            rejected: what this session produced for the challenged request, or ``None``
                if that request carried no credentials from this session.

        Returns:
            The decision and the chosen challenge.
        """
        try:
            chosen = choose_challenge(
                challenges, policy=self._policy, realm=self._realm, algorithms=self._algorithms
            )
        except RemoteProtocolError:
            return AuthDecision(AuthReason.UNSUPPORTED, None)
        if rejected is None:
            self._adopt(chosen, via_stale=False)
            return AuthDecision(AuthReason.CHALLENGED, chosen)
        new_nonce = chosen.nonce != rejected.nonce
        if chosen.stale and new_nonce and not rejected.after_stale:
            self._adopt(chosen, via_stale=True)
            return AuthDecision(AuthReason.STALE, chosen)
        if rejected.nc > 1 and new_nonce and not rejected.after_stale:
            self._adopt(chosen, via_stale=False)
            return AuthDecision(AuthReason.NONCE_REPLACED, chosen)
        self._challenge = None
        self._uses = 0
        self._via_stale = False
        return AuthDecision(AuthReason.REJECTED, chosen)

    def _adopt(self, challenge: DigestChallenge, *, via_stale: bool) -> None:
        current = self._challenge
        if current is None or (current.realm, current.nonce) != (challenge.realm, challenge.nonce):
            self._uses = 0
        self._challenge = challenge
        self._via_stale = via_stale

    def authorize(
        self, *, method: str, uri: str, cnonce: str, body: bytes = b""
    ) -> DigestAuthorization:
        """Produce credentials for one request, using the next nonce count.

        Call it for the retry after a retry decision, and for later requests to reuse the
        nonce (each call counts as one use of it, so call it once per request sent).

        Args:
            method: the request method.
            uri: the Request-URI as it will be sent.
            cnonce: a fresh client nonce from the caller's id factory.
            body: the message body (hashed for auth-int only).

        Returns:
            The header value and what :meth:`respond` needs to know if it is challenged.

        Raises:
            LocalProtocolError: there is no challenge to answer, or the inputs are invalid
                (see :func:`build_authorization`); the nonce count is unchanged.
        """
        challenge = self._challenge
        if challenge is None:
            raise LocalProtocolError("no challenge to answer: respond() to a 401/407 first")
        nc = self._uses + 1
        header_value = build_authorization(
            challenge,
            username=self._username,
            password=self._password,
            method=method,
            uri=uri,
            body=body,
            cnonce=cnonce,
            nc=nc,
            prefer_auth_int=self._prefer_auth_int,
        )
        self._uses = nc
        return DigestAuthorization(
            header_value=header_value,
            realm=challenge.realm,
            nonce=challenge.nonce,
            nc=nc,
            after_stale=self._via_stale and nc == 1,
        )


# ---------------------------------------------------------------------------------------
# The server role
# ---------------------------------------------------------------------------------------


def verify_authorization(
    credentials: DigestCredentials,
    password_or_ha1: str | HA1,
    method: str,
    body: bytes = b"",
    *,
    username: str | None = None,
) -> bool:
    """Check a client's response in constant time (``hmac.compare_digest``).

    Only the response is checked. The caller still checks that the realm is its own, that
    it issued the nonce and it is fresh (else challenge again with ``stale=true`` if this
    returns True), that the opaque matches, that ``uri`` names the Request-URI, and, if it
    tracks them, that nc grows.

    Args:
        credentials: from :func:`parse_authorization`.
        password_or_ha1: the user's password, or their :class:`HA1` for the credentials'
            algorithm and realm.
        method: the method of the request that carried the credentials.
        body: its body (used for auth-int).
        username: the clear username; needed only when ``credentials.userhash`` is set and
            a password is given, and then also checked against the userhash.

    Returns:
        Whether the response is right. False also for an algorithm or qop we do not
        implement, an HA1 of the wrong algorithm, or a ``-sess`` answer without cnonce.

    Raises:
        LocalProtocolError: userhash credentials checked against a password without
            ``username``, or a method that is not a token.
    """
    _check_token("method", method)
    algorithm = DigestAlgorithm.from_token(credentials.algorithm)
    if algorithm is None:
        return False
    if credentials.qop is not None and credentials.qop.lower() not in (_QOP_AUTH, _QOP_AUTH_INT):
        return False
    if isinstance(password_or_ha1, HA1) and len(password_or_ha1.hexdigest) != algorithm.hex_length:
        return False
    if algorithm.is_session and credentials.cnonce is None:
        return False
    clear_username = credentials.username
    if credentials.userhash and isinstance(password_or_ha1, str):
        if username is None:
            raise LocalProtocolError("userhash credentials: pass the clear username=")
        expected_hash = compute_userhash(algorithm, username, credentials.realm)
        if not hmac.compare_digest(
            expected_hash.encode(), credentials.username.lower().encode("utf-8")
        ):
            return False
        clear_username = username
    expected = compute_response(
        algorithm,
        username=clear_username,
        realm=credentials.realm,
        password_or_ha1=password_or_ha1,
        nonce=credentials.nonce,
        method=method,
        uri=credentials.uri,
        qop=credentials.qop,
        nc=credentials.nc,
        cnonce=credentials.cnonce,
        body=body,
    )
    return hmac.compare_digest(expected.encode(), credentials.response.lower().encode())
