"""The pieces of the RFC 3261 §25 grammar that sipcore's readers use, as regex strings.

Each regex quotes the ABNF it implements. Where we are more liberal than the ABNF the
comment says why (usually RFC 4475 or RFC 5118 asking for robustness). Some are written
for the speed of Python's backtracking engine (an unrolled loop, possessive quantifiers
where giving characters back could never lead to a match); the comment then says which
plainer regex they equal.
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
    "PORT_16",
    "USER",
    "PASSWORD",
    "PARAM_CHARS",
    "HEADER_CHARS",
    "GEN_VALUE",
    "PLAIN_PARAM_VALUE",
    "PLAIN_PARAM",
    "PLAIN_PARAMS",
]

# token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~" )
TOKEN = r"[A-Za-z0-9\-.!%*_+`'~]+"

# word = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~" /
#        "(" / ")" / "<" / ">" / ":" / "\" / DQUOTE / "/" / "[" / "]" / "?" / "{" / "}" )
WORD = r"[A-Za-z0-9\-.!%*_+`'~()<>:\\\"/\[\]?{}]+"

# quoted-string = SWS DQUOTE *(qdtext / quoted-pair ) DQUOTE
# qdtext = LWS / %x21 / %x23-5B / %x5D-7E / UTF8-NONASCII
# quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F)
# Written as the unrolled loop of "(?:[^"\\\r\n]|\\[^\r\n])*": the same strings, matched
# without an alternation per character.
QUOTED_STRING = r'"[^"\\\r\n]*+(?:\\[^\r\n][^"\\\r\n]*+)*+"'

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
# A label is "[A-Za-z0-9_](?:[A-Za-z0-9_\-]*[A-Za-z0-9_])?": a run of label characters
# joined to the next by a run of hyphens. So a host name is runs of label characters, each
# joined to the next by one dot or a run of hyphens; written so, in one loop (not a loop
# of labels each looping over its hyphen runs), it matches the same strings, and the same
# longest match, without backtracking.
HOSTNAME = r"[A-Za-z0-9_]++(?:(?:\.|-++)[A-Za-z0-9_]++)*+\.?+"

# IPv4address = 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT
IPV4 = r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}"

# IPv6reference = "[" IPv6address "]"  (the address itself is checked with ipaddress)
IPV6_REFERENCE = r"\[[0-9A-Fa-f:.]+\]"

# port = 1*DIGIT
PORT = r"[0-9]+"

# A port the readers' fast paths take without converting it: 0..65535 in at most five
# digits (a longer run, leading zeros and all, or a larger number takes the step-by-step
# path, which converts and checks it).
PORT_16 = (
    r"(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4})"
    r"(?![0-9])"
)

# user = 1*( unreserved / escaped / user-unreserved )
# user-unreserved = "&" / "=" / "+" / "$" / "," / ";" / "?" / "/"
# unreserved = alphanum / mark; mark = "-" / "_" / "." / "!" / "~" / "*" / "'" / "(" / ")"
# Possessive, as is PASSWORD: what follows either (":" or "@") is not one of its
# characters, so giving characters back could never lead to a match.
USER = r"[A-Za-z0-9\-_.!~*'()%&=+$,;?/]++"

# password = *( unreserved / escaped / "&" / "=" / "+" / "$" / "," )
PASSWORD = r"[A-Za-z0-9\-_.!~*'()%&=+$,]*+"

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

# *( SEMI generic-param ) as most stacks write it: no blanks, and values of printable
# ASCII that GEN_VALUE's unquoted form accepts (%x21-7E but DQUOTE "," ";" "<" ">"), so
# no ";" inside a name or value and no "=" inside a name. Each parameter is final once
# read, as the step-by-step reader (sipcore.params) makes it: possessive quantifiers
# (what follows a name or a value cannot extend it), cheaper than an atomic group.
PLAIN_PARAM_VALUE = r"[!#-+\--:=?-~]++"
PLAIN_PARAM = rf";{TOKEN}+(?:={PLAIN_PARAM_VALUE})?+"
PLAIN_PARAMS = rf"(?:{PLAIN_PARAM})*+"
