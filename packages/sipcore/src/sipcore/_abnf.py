"""The pieces of the RFC 3261 §25 grammar that sipcore's readers use, as regex strings.

Each regex quotes the ABNF it implements. Where we are more liberal than the ABNF the
comment says why (usually RFC 4475 or RFC 5118 asking for robustness).
"""

from __future__ import annotations

__all__ = [
    "TOKEN",
    "WORD",
    "QUOTED_STRING",
    "SWS",
    "METHOD",
    "SIP_VERSION",
    "SCHEME",
    "HOSTNAME",
    "IPV4",
    "IPV6_REFERENCE",
    "PORT",
    "USER",
    "PASSWORD",
    "PARAM_CHARS",
    "HEADER_CHARS",
    "GEN_VALUE",
]

# token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~" )
TOKEN = r"[A-Za-z0-9\-.!%*_+`'~]+"

# word = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~" /
#        "(" / ")" / "<" / ">" / ":" / "\" / DQUOTE / "/" / "[" / "]" / "?" / "{" / "}" )
WORD = r"[A-Za-z0-9\-.!%*_+`'~()<>:\\\"/\[\]?{}]+"

# quoted-string = SWS DQUOTE *(qdtext / quoted-pair ) DQUOTE
# qdtext = LWS / %x21 / %x23-5B / %x5D-7E / UTF8-NONASCII
# quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F)
QUOTED_STRING = r'"(?:[^"\\\r\n]|\\[^\r\n])*"'

# SWS = [LWS]; after unfolding (§7.3.1) LWS is plain spaces and tabs.
SWS = r"[ \t]*"

# Method = INVITEm / ACKm / ... / extension-method; extension-method = token
METHOD = TOKEN

# SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT   ("SIP" is case-insensitive in ABNF)
SIP_VERSION = r"[Ss][Ii][Pp]/[0-9]+\.[0-9]+"

# scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
SCHEME = r"[A-Za-z][A-Za-z0-9+\-.]*"

# hostname = *( domainlabel "." ) toplabel [ "." ]
# domainlabel = alphanum / alphanum *( alphanum / "-" ) alphanum
# Liberal: we accept "_" as well, which real deployments put in host names.
_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_\-]*[A-Za-z0-9_])?"
HOSTNAME = rf"{_LABEL}(?:\.{_LABEL})*\.?"

# IPv4address = 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT
IPV4 = r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}"

# IPv6reference = "[" IPv6address "]"  (the address itself is checked with ipaddress)
IPV6_REFERENCE = r"\[[0-9A-Fa-f:.]+\]"

# port = 1*DIGIT
PORT = r"[0-9]+"

# user = 1*( unreserved / escaped / user-unreserved )
# user-unreserved = "&" / "=" / "+" / "$" / "," / ";" / "?" / "/"
# unreserved = alphanum / mark; mark = "-" / "_" / "." / "!" / "~" / "*" / "'" / "(" / ")"
USER = r"[A-Za-z0-9\-_.!~*'()%&=+$,;?/]+"

# password = *( unreserved / escaped / "&" / "=" / "+" / "$" / "," )
PASSWORD = r"[A-Za-z0-9\-_.!~*'()%&=+$,]*"

# paramchar = param-unreserved / unreserved / escaped
# param-unreserved = "[" / "]" / "/" / ":" / "&" / "+" / "$"
PARAM_CHARS = r"[A-Za-z0-9\-_.!~*'()%\[\]/:&+$]+"

# hname / hvalue = *( hnv-unreserved / unreserved / escaped )
# hnv-unreserved = "[" / "]" / "/" / "?" / ":" / "+" / "$"
HEADER_CHARS = r"[A-Za-z0-9\-_.!~*'()%\[\]/?:+$]*"

# gen-value = token / host / quoted-string
# Liberal: RFC 5118 §4.5 asks robust parsers to read received=2001:db8::9:255 (colons are
# not token characters) and received=[2001:db8::9:255], so any run of characters that
# cannot end a parameter is accepted as a value.
GEN_VALUE = r'"(?:[^"\\\r\n]|\\[^\r\n])*"|[^\s;,"<>]+'
