"""The RFC 4475 and RFC 5118 torture messages, each handled as its MANIFEST.tsv says.

Two levels:

- the parser: ``parse_message`` then ``Message.validate()``. Valid messages parse,
  validate and survive ``parse_message(bytes(m)) == m``; invalid ones raise
  ``RemoteProtocolError`` with the status a UAS should answer, either while parsing or
  from ``validate()``; specific values the manifest names are read back;
- the ``UserAgent`` as the UAS the message reaches: the responses it queues (copying Via,
  Call-ID and CSeq, RFC 3261 §8.2.6.2) or the ``MessageDiscarded`` it reports when it drops
  the message; it never raises.

Every file of both corpora (the RFC 5118 archive's bare-LF ``.dat`` forms too) has an entry
in ``EXPECTED``; a file the manifests add without one fails
``test_every_message_has_an_expectation``.
Where we take a reading the RFC allows but the manifest does not prefer, the entry says why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sipcore.address import parse_name_address
from sipcore.config import UserAgentConfig
from sipcore.errors import RemoteProtocolError
from sipcore.events import Event, IncomingCall, MessageDiscarded
from sipcore.ids import SequentialIds
from sipcore.message import Request, Response, parse_message, salvage_headers
from sipcore.uri import AbsoluteUri, SipUri, unescape
from sipcore.user_agent import UserAgent
from tests.sipcore.b2b import events
from tests.testdata import require

# ------------------------------------------------------------------------------ the corpora


@dataclass(frozen=True)
class Case:
    """One message file and its manifest row."""

    corpus: str
    """``rfc4475``, ``rfc5118`` (CRLF wire form) or ``rfc5118-archive`` (bare LF, as published)."""
    name: str
    path: Path
    section: str
    klass: str
    """The manifest's class: valid, invalid, semantic, ..."""

    @property
    def id(self) -> str:
        return f"{self.corpus}/{self.name}"

    @property
    def data(self) -> bytes:
        return self.path.read_bytes()


def _manifest(corpus: str) -> list[dict[str, str]]:
    # Tab separated with a header row after the comment lines; fields hold quotes, so no csv.
    lines = [
        line
        for line in require(corpus, "MANIFEST.tsv").read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    ]
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"), strict=True)) for line in lines[1:]]


def _cases() -> list[Case]:
    cases = [
        Case("rfc4475", row["name"], require("rfc4475", row["file"]), row["section"], row["class"])
        for row in _manifest("rfc4475")
    ]
    for row in _manifest("rfc5118"):
        for corpus, path in (
            ("rfc5118", require("rfc5118", row["file"])),
            ("rfc5118-archive", require("rfc5118", row["archive_file"])),
        ):
            cases.append(Case(corpus, row["name"], path, row["section"], row["class"]))
    return cases


CASES = _cases()
BY_ID = {case.id: case for case in CASES}


def message(case_id: str) -> Request | Response:
    """The parsed message of a case that parses."""
    return parse_message(BY_ID[case_id].data)


def request(case_id: str) -> Request:
    parsed = message(case_id)
    assert isinstance(parsed, Request)
    return parsed


def sip_uri(uri: object) -> SipUri:
    assert isinstance(uri, SipUri)
    return uri


# ------------------------------------------------------------------------- expectations


@dataclass(frozen=True)
class Expect:
    """What the parser and a UAS do with one message."""

    stage: str
    """``valid``; ``parse`` (parse_message raises); ``validate`` (validate() raises)."""
    hint: int | None
    """The RemoteProtocolError status hint when rejected."""
    responses: tuple[int, ...]
    """The statuses the UserAgent queues, in order."""
    discarded: bool
    """Whether it reports a MessageDiscarded (with the last response's status, or None)."""
    incoming_call: bool = False
    liberal: str = field(default="", compare=False)
    """Why we accept what the manifest classes invalid (the RFC allows it)."""


def accepted(*responses: int, discarded: bool = False, incoming_call: bool = False) -> Expect:
    return Expect("valid", None, responses, discarded, incoming_call)


def rejected(stage: str, hint: int, *responses: int) -> Expect:
    # A rejected request is answered with the hint (or dropped if it cannot be answered).
    return Expect(stage, hint, responses, discarded=True)


CALL = accepted(100, 180, incoming_call=True)  # a new INVITE: 100 Trying, auto 180 Ringing
OPTIONS_OK = accepted(200)
# RFC 4475 §3.3.7: "Endpoints choosing not to act as registrars will simply reject the
# request. A 405 Method Not Allowed is appropriate." Our UserAgent is such an endpoint, so
# every REGISTER (the manifest's "REGISTER succeeds" is a registrar's view) gets 405.
REGISTER_405 = accepted(405, discarded=True)
DROPPED_RESPONSE = accepted(discarded=True)  # a response that matches no transaction of ours

EXPECTED: dict[str, Expect] = {
    # ---- RFC 4475 §3.1.1: valid messages the parser MUST accept
    # The To carries a tag: an INVITE for a dialog we do not have gets 481 (RFC 3261
    # §12.2.2), after the 100 Trying every INVITE server transaction sends (§17.2.1).
    "rfc4475/wsinv": accepted(100, 481, discarded=True),
    "rfc4475/intmeth": accepted(501, discarded=True),  # unknown method: 501 (§8.2.1)
    "rfc4475/esc01": CALL,
    "rfc4475/escnull": REGISTER_405,
    "rfc4475/esc02": accepted(501, discarded=True),  # RE%47IST%45R is not REGISTER
    "rfc4475/lwsdisp": OPTIONS_OK,
    "rfc4475/longreq": CALL,
    "rfc4475/dblreq": REGISTER_405,
    "rfc4475/semiuri": OPTIONS_OK,
    "rfc4475/transports": OPTIONS_OK,
    "rfc4475/mpart01": accepted(405, discarded=True),  # MESSAGE is not in our Allow
    "rfc4475/unreason": DROPPED_RESPONSE,
    "rfc4475/noreason": DROPPED_RESPONSE,
    # ---- RFC 4475 §3.1.2: invalid messages
    "rfc4475/badinv01": rejected("validate", 400, 400),
    "rfc4475/clerr": rejected("parse", 400, 400),
    "rfc4475/ncl": rejected("parse", 400, 400),
    "rfc4475/scalar02": rejected("validate", 400, 400),
    "rfc4475/scalarlg": rejected("validate", 400),  # a response: discarded silently
    "rfc4475/quotbal": rejected("validate", 400, 400),
    "rfc4475/ltgtruri": rejected("validate", 400, 400),
    "rfc4475/lwsruri": rejected("parse", 400, 400),
    "rfc4475/lwsstart": rejected("parse", 400, 400),
    "rfc4475/trws": rejected("parse", 400, 400),
    "rfc4475/escruri": Expect(
        "valid",
        None,
        (100, 180),
        discarded=False,
        incoming_call=True,
        liberal="§3.1.2.11: 'An element could choose to be liberal in what it accepts and "
        "ignore the escaped headers'; a UAS never turns them into header fields",
    ),
    "rfc4475/baddate": Expect(
        "valid",
        None,
        (100, 180),
        discarded=False,
        incoming_call=True,
        liberal="§3.1.2.12: only an element to which the Date matters must reject it; "
        "we never read Date",
    ),
    "rfc4475/regbadct": rejected("validate", 400, 400),
    "rfc4475/badaspec": rejected("validate", 400, 400),
    "rfc4475/baddn": rejected("validate", 400, 400),
    "rfc4475/badvers": rejected("validate", 505, 505),
    "rfc4475/mismatch01": rejected("validate", 400, 400),
    # §3.1.2.18 prefers 501 for the unknown method but allows 400: the CSeq mismatch is
    # found by validate() before the method is screened (§8.2.1 comes after §8.1.1.5 here).
    "rfc4475/mismatch02": rejected("validate", 400, 400),
    "rfc4475/bigcode": rejected("parse", 400),  # a response: dropped silently
    # ---- RFC 4475 §3.2-3.4: semantics
    # §3.2.1 allows either 400 or falling back to RFC 2543 matching; we fall back.
    "rfc4475/badbranch": OPTIONS_OK,
    # §3.3.1 "Ideally, it will respond with a 400": without Call-ID, From and To a response
    # cannot be built (§8.2.6.2 copies them), so the request is dropped and reported.
    "rfc4475/insuf": rejected("validate", 400),
    "rfc4475/unkscm": accepted(416, discarded=True),
    "rfc4475/novelsc": accepted(416, discarded=True),
    # §3.3.4: "A registrar would reject this request with a 400"; we are no registrar (§3.3.7).
    "rfc4475/unksm2": REGISTER_405,
    "rfc4475/bext01": accepted(420, discarded=True),
    "rfc4475/invut": accepted(415, discarded=True),
    "rfc4475/regaut01": REGISTER_405,
    "rfc4475/multi01": rejected("validate", 400, 400),
    "rfc4475/mcl01": rejected("parse", 400, 400),
    # §3.3.10: "An endpoint receiving this message should simply discard it."
    "rfc4475/bcast": DROPPED_RESPONSE,
    # §3.3.11: "An endpoint should process the request as if the Max-Forwards field value
    # were still positive."
    "rfc4475/zeromf": OPTIONS_OK,
    "rfc4475/cparam01": REGISTER_405,
    "rfc4475/cparam02": REGISTER_405,
    "rfc4475/regescrt": REGISTER_405,
    # §3.3.15: "could respond with a 406 Not Acceptable".
    "rfc4475/sdp01": accepted(406, discarded=True),
    # §3.4.1: RFC 2543 syntax "should be accepted by RFC 3261 elements that want to maintain
    # backwards compatibility". The parser does (no branch, no From tag, no Content-Length,
    # no Max-Forwards), and the 2543-style transaction sends its 100 Trying; the call itself
    # is refused with 400 because the INVITE has no Contact, which RFC 3261 §8.1.1.8 makes
    # mandatory and without which §12.1.1 gives the dialog no remote target.
    "rfc4475/inv2543": accepted(100, 400, discarded=True),
    # Not in any RFC section: no SIP-Version, and "Foobar roobar" is no header line. Its
    # headers cannot be salvaged for a response, so it is dropped.
    "rfc4475/test": rejected("parse", 400),
    # ---- RFC 5118 (the wire forms)
    "rfc5118/ipv6-good": REGISTER_405,
    "rfc5118/ipv6-bad": rejected("validate", 400, 400),
    "rfc5118/port-ambiguous": REGISTER_405,
    "rfc5118/port-unambiguous": REGISTER_405,
    # A BYE with a To tag for no dialog of ours: 481 (§12.2.2).
    "rfc5118/via-received-param-with-delim": accepted(481, discarded=True),
    "rfc5118/via-received-param-no-delim": OPTIONS_OK,
    "rfc5118/ipv6-in-sdp": CALL,
    "rfc5118/mult-ip-in-header": accepted(481, discarded=True),
    "rfc5118/mult-ip-in-sdp": CALL,
    "rfc5118/ipv4-mapped-ipv6": CALL,
    "rfc5118/ipv6-bug-abnf-3-colons": OPTIONS_OK,
    "rfc5118/ipv6-correct-abnf-2-colons": OPTIONS_OK,
}
# The archive forms behave like the wire forms, except two whose printed Content-Length is
# larger than the bare-LF body archived (manifest "ARCHIVE QUIRK"): as with RFC 4475
# §3.1.2.2 a datagram cannot grow, so they are 400s, answered from the salvaged headers.
for _case in CASES:
    if _case.corpus == "rfc5118-archive":
        EXPECTED[_case.id] = EXPECTED[f"rfc5118/{_case.name}"]
EXPECTED["rfc5118-archive/ipv6-in-sdp"] = rejected("parse", 400, 400)
EXPECTED["rfc5118-archive/mult-ip-in-sdp"] = rejected("parse", 400, 400)


def test_every_message_has_an_expectation() -> None:
    on_disk = {f"rfc4475/{p.stem}" for p in require("rfc4475").glob("*.sip")} | {
        f"rfc5118/{p.stem}" for p in require("rfc5118").glob("*.sip")
    }
    on_disk |= {f"rfc5118-archive/{p.stem}" for p in require("rfc5118", "archive").glob("*.dat")}
    assert on_disk == set(BY_ID)
    assert set(EXPECTED) == set(BY_ID)
    assert len([c for c in CASES if c.corpus == "rfc4475"]) == 50
    assert len([c for c in CASES if c.corpus == "rfc5118"]) == 12


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_manifest_class_is_honoured(case: Case) -> None:
    expect = EXPECTED[case.id]
    if case.klass.startswith("valid") and not case.corpus.endswith("archive"):
        # "valid", "valid-tolerate", "valid (semantically suspect)": a parser MUST accept.
        assert expect.stage == "valid"
    elif case.klass == "invalid" and expect.stage == "valid":
        assert expect.liberal, (
            f"{case.id} is invalid ({case.section}) but accepted without a reason"
        )
    elif case.klass == "invalid-strict/tolerate":
        # RFC 5118 §4.5: "robust implementations must nonetheless be able to parse the
        # topmost Via header field and continue processing".
        assert expect.stage == "valid"


# ------------------------------------------------------------------------------ parser


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_parser(case: Case) -> None:
    expect = EXPECTED[case.id]
    data = case.data
    if expect.stage == "parse":
        with pytest.raises(RemoteProtocolError) as info:
            parse_message(data)
        assert info.value.status_hint == expect.hint
        return
    parsed = parse_message(data)
    # Everything the parser accepts survives serialisation (DESIGN: parse(serialize(m)) == m).
    again = parse_message(bytes(parsed))
    assert again == parsed
    assert bytes(again) == bytes(parsed)
    if expect.stage == "validate":
        with pytest.raises(RemoteProtocolError) as info:
            parsed.validate()
        assert info.value.status_hint == expect.hint
    else:
        parsed.validate()
        again.validate()


def test_wsinv_folding_compact_forms_and_odd_values() -> None:
    m = request("rfc4475/wsinv")
    assert m.method == "INVITE"
    assert m.max_forwards == 68  # "0068": leading zeros
    assert (m.cseq.seq, m.cseq.method) == (9, "INVITE")  # "0009" folded onto the next line
    assert m.to.tag == "1918181833n"
    assert sip_uri(m.to.uri).user == "vivekg"
    assert m.from_.tag == "98asjd8"
    assert m.from_.display_name == 'J Rosenberg \\"'  # "J Rosenberg \\\"": two quoted-pairs
    # Folded header values are joined with one space (RFC 3261 §7.3.1).
    assert m.headers.get("NewFangledHeader") == "newfangled value continued newfangled value"
    assert m.headers.get("UnknownHeaderWithUnusualValue") == ";;,,;;,;"
    # "s :" is the compact Subject, empty; v and m are Via and Contact.
    assert m.headers.get("Subject") == ""
    vias = m.via
    assert [(v.transport, v.host, v.branch) for v in vias] == [
        ("UDP", "192.0.2.2", "390skdjuw"),
        ("TCP", "spindle.example.com", "z9hG4bK9ikj8"),
        ("UDP", "192.168.255.111", "z9hG4bK30239"),
    ]
    (contact,) = m.contact
    assert contact.display_name == 'Quoted string ""'
    assert (contact.param("newparam"), contact.param("secondparam"), contact.q) == (
        "newvalue",
        "",
        0.33,
    )
    (route,) = m.route
    assert sip_uri(route.uri).lr and sip_uri(route.uri).param("unknownwith") == "value"
    assert len(m.body) == 150 == m.typed("content-length")


def test_intmeth_odd_method_and_characters() -> None:
    m = request("rfc4475/intmeth")
    assert m.method == "!interesting-Method0123456789_*+`.%indeed'~"
    assert m.cseq.method == m.method  # % is not an escape in a method: no unescaping
    uri = sip_uri(m.uri)
    assert uri.user == "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
    assert uri.password == "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"
    assert uri.host == "example.com"
    # The To display name holds quoted-pairs of BEL, NUL and DEL.
    assert m.to.display_name == "BEL:\x07 NUL:\x00 DEL:\x7f"
    assert m.from_.display_name == "token1~` token2'+_ token3*%!.-"
    assert m.from_.param("fromParam''~+*_!.-%") == "работающий"
    assert m.from_.tag == "_token~1'+`*%!-."
    assert m.call_id == "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"
    assert m.headers.get("extensionHeader-!.%*+_`'~") == "\ufeff大停電"


def test_esc01_escapes_are_decoded_once() -> None:
    m = request("rfc4475/esc01")
    assert unescape(sip_uri(m.uri).user or "") == "sips:user@example.com"
    assert unescape(sip_uri(m.to.uri).user or "") == "user"
    assert unescape(sip_uri(m.from_.uri).user or "") == "I have spaces"
    (contact,) = m.contact
    uri = sip_uri(contact.uri)
    assert unescape(uri.user or "") == "caller"
    params = {unescape(n): None if v is None else unescape(v) for n, v in uri.params}
    # n%61me=v%61lue%25%34%31 is name="value%41": unescaped once, never to "valueA".
    assert params == {"lr": None, "name": "value%41"}
    # The URI keeps its escapes as written, so it re-serialises unchanged.
    assert str(uri) == "sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31"


def test_escnull_registers_two_distinct_contacts() -> None:
    m = request("rfc4475/escnull")
    first, second = m.contact
    users = [sip_uri(first.uri).user, sip_uri(second.uri).user]
    assert users == ["%00", "%00%00"]
    assert [unescape(u or "") for u in users] == ["\x00", "\x00\x00"]
    assert not sip_uri(first.uri).matches(second.uri)
    assert unescape(sip_uri(m.to.uri).user or "") == "null-\x00-null"


def test_esc02_percent_that_is_no_escape() -> None:
    m = request("rfc4475/esc02")
    assert m.method == "RE%47IST%45R"
    assert m.to.display_name == "%Z%45"
    assert m.via[0].branch == "z9hG4bK209%fzsnel234"
    # C%6Fntact is an unknown extension header: only two Contact values.
    assert [sip_uri(c.uri).user for c in m.contact] == ["alias1", "alias3"]
    assert m.headers.get("C%6Fntact") == "<sip:alias2@host2.example.com>"


def test_lwsdisp_and_longreq() -> None:
    assert request("rfc4475/lwsdisp").from_.display_name == "caller"
    m = request("rfc4475/longreq")
    assert len(m.via) == 34
    assert len(m.from_.tag or "") > 100 and len(m.call_id) > 100
    assert sip_uri(m.to.uri).port == 6000 and len(sip_uri(m.to.uri).params) == 3


def test_dblreq_ignores_the_trailing_octets() -> None:
    data = BY_ID["rfc4475/dblreq"].data
    m = request("rfc4475/dblreq")
    assert m.method == "REGISTER" and m.body == b""
    assert b"INVITE sip:joe@example.com" in data  # what a datagram reader must ignore
    assert b"INVITE" not in bytes(m)


def test_semiuri_user_part_holds_the_semicolon() -> None:
    uri = sip_uri(request("rfc4475/semiuri").uri)
    assert uri.user == "user;par=u%40example.net"
    assert unescape(uri.user) == "user;par=u@example.net"
    assert (uri.host, uri.params) == ("example.com", ())


def test_transports_keeps_unknown_transport_tokens() -> None:
    vias = request("rfc4475/transports").via
    assert [v.transport for v in vias] == ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]


def test_mpart01_body_is_553_binary_octets() -> None:
    m = request("rfc4475/mpart01")
    assert len(m.body) == 553 == m.typed("content-length")
    assert m.body.count(b"\x00") == 2
    # Bare LF octets inside the binary part: the body is never read as CRLF lines.
    assert m.body.count(b"\n") > m.body.count(b"\r\n")
    assert m.body.endswith(b"--7a9cbec02ceef655--\r\n")
    ct = m.content_type
    assert ct is not None and ct.essence == "multipart/mixed"
    assert ct.param("boundary") == "7a9cbec02ceef655"


def test_unreason_and_noreason_reason_phrases() -> None:
    unreason = message("rfc4475/unreason")
    assert isinstance(unreason, Response) and unreason.status_code == 200
    assert unreason.reason == "= 2**3 * 5**2 но сто девяносто девять - простое"
    noreason = message("rfc4475/noreason")
    assert isinstance(noreason, Response)
    assert (noreason.status_code, noreason.reason) == (100, "")


def test_inv2543_body_is_the_rest_of_the_datagram() -> None:
    m = request("rfc4475/inv2543")
    assert m.via[0].branch is None
    assert m.from_.tag is None
    assert m.max_forwards is None and "content-length" not in m.headers
    assert m.body.startswith(b"v=0\r\n") and m.body.endswith(b"m=audio 49217 RTP/AVP 0\r\n")
    assert len(m.body) == 105
    # Over a stream the missing Content-Length would be fatal (RFC 3261 §18.3); as a
    # datagram (or WebSocket message) the body is everything after the empty line.
    assert BY_ID["rfc4475/inv2543"].data.endswith(m.body)


def test_cparam01_and_cparam02_param_placement() -> None:
    # §3.3.12: outside <>, ";unknownparam" is a contact-param (RFC 3261 §20).
    (c1,) = request("rfc4475/cparam01").contact
    assert c1.has_param("unknownparam") and sip_uri(c1.uri).params == ()
    # §3.3.13: inside <>, it is a url-parameter.
    (c2,) = request("rfc4475/cparam02").contact
    assert not c2.has_param("unknownparam")
    assert sip_uri(c2.uri).params == (("unknownparam", None),)
    assert sip_uri(c1.uri).user == sip_uri(c2.uri).user == "+19725552222"


def test_regescrt_contact_keeps_its_escaped_route_header() -> None:
    (contact,) = request("rfc4475/regescrt").contact
    uri = sip_uri(contact.uri)
    assert uri.headers == (("Route", "%3Csip:sip.example.com%3E"),)
    assert unescape(uri.headers[0][1]) == "<sip:sip.example.com>"


def test_unknown_schemes_parse_as_absolute_uris() -> None:
    m = request("rfc4475/unksm2")
    assert isinstance(m.to.uri, AbsoluteUri) and m.to.uri.scheme == "isbn"
    assert isinstance(m.from_.uri, AbsoluteUri) and m.from_.uri.scheme == "http"
    assert [c.uri.scheme for c in m.contact] == ["name"]
    for name in ("unkscm", "novelsc"):
        uri = request(f"rfc4475/{name}").uri
        assert isinstance(uri, AbsoluteUri)
    assert request("rfc4475/unkscm").uri.scheme == "nobodyknowsthisscheme"
    assert str(request("rfc4475/novelsc").uri) == "soap.beep://192.0.2.103:3002"


def test_badbranch_branch_is_only_the_magic_cookie() -> None:
    assert request("rfc4475/badbranch").via[0].branch == "z9hG4bK"


def test_bcast_and_zeromf_values() -> None:
    bcast = message("rfc4475/bcast")
    assert [v.host for v in bcast.via] == ["192.0.2.198", "255.255.255.255"]
    assert request("rfc4475/zeromf").max_forwards == 0


def test_sdp01_accept_and_invut_content_type() -> None:
    accept = request("rfc4475/sdp01").typed("accept")
    assert [a.essence for a in accept] == ["text/nobodyknowsthis"]
    content_type = request("rfc4475/invut").content_type
    assert content_type is not None and content_type.essence == "application/unknownformat"
    assert request("rfc4475/regaut01").headers.get("Authorization") == (
        "NoOneKnowsThisScheme opaque-data=here"
    )


def test_scalar_overflows_are_400() -> None:
    for name, header in (("scalar02", "max-forwards"), ("scalarlg", "cseq")):
        m = message(f"rfc4475/{name}")
        with pytest.raises(RemoteProtocolError) as info:
            m.typed(header)
        assert info.value.status_hint == 400
    # Expires beyond 2**32-1 reads as the §20.19 default rather than failing.
    assert message("rfc4475/scalar02").expires == 3600


@pytest.mark.parametrize("corpus", ["rfc5118", "rfc5118-archive"])
def test_rfc5118_ipv6_values(corpus: str) -> None:
    def req(name: str) -> Request:
        return request(f"{corpus}/{name}")

    assert sip_uri(req("ipv6-good").uri).host == "[2001:db8::10]"
    # §4.3: the port inside the brackets is part of the address; no port is given.
    ambiguous = sip_uri(req("port-ambiguous").uri)
    assert (ambiguous.host, ambiguous.port) == ("[2001:db8::10:5070]", None)
    unambiguous = sip_uri(req("port-unambiguous").uri)
    assert (unambiguous.host, unambiguous.port) == ("[2001:db8::10]", 5070)
    with_delim = req("via-received-param-with-delim").via[0]
    assert with_delim.received == "2001:db8::9:255"
    no_delim = req("via-received-param-no-delim").via[0]
    assert no_delim.received == "2001:db8::9:255"
    assert no_delim.branch is not None and no_delim.branch.startswith("z9hG4bK")
    vias = req("mult-ip-in-header").via
    assert [(v.transport, v.host, v.port) for v in vias] == [
        ("UDP", "[2001:db8::9:1]", 6050),
        ("UDP", "192.0.2.1", None),
        ("TCP", "[2001:db8::9:255]", None),
    ]
    assert vias[2].received == "192.0.2.200"
    assert sip_uri(req("ipv6-bug-abnf-3-colons").uri).host == "[2001:db8:::192.0.2.1]"
    assert sip_uri(req("ipv6-correct-abnf-2-colons").uri).host == "[2001:db8::192.0.2.1]"
    mapped = req("ipv4-mapped-ipv6")
    assert mapped.via[0].host == "[::ffff:192.0.2.10]"
    assert b"IN IP6 ::ffff:192.0.2.2" in mapped.body
    assert b"c=IN IP6 2001:db8::20" in request("rfc5118/ipv6-in-sdp").body


def test_rfc5118_archive_has_bare_lf_line_ends() -> None:
    for case in CASES:
        if case.corpus == "rfc5118-archive":
            assert b"\r\n" not in case.data
    # Read with bare LF, the headers equal the CRLF wire form's.
    assert request("rfc5118-archive/ipv6-good").headers == request("rfc5118/ipv6-good").headers


# ------------------------------------------------------------------------------ the UAS


def fresh_uas() -> UserAgent:
    return UserAgent(UserAgentConfig.for_account("sip:user@example.com", "pw"), ids=SequentialIds())


def feed(data: bytes) -> tuple[list[Response], list[Event]]:
    ua = fresh_uas()
    ua.receive_message(data, now=0.0)
    sent = ua.messages_to_send(0.0)
    responses: list[Response] = []
    for raw in sent:
        parsed = parse_message(raw)
        assert isinstance(parsed, Response), raw[:60]
        responses.append(parsed)
    return responses, events(ua)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_user_agent_as_uas(case: Case) -> None:
    expect = EXPECTED[case.id]
    data = case.data
    responses, got = feed(data)
    assert tuple(r.status_code for r in responses) == expect.responses
    discarded = [e for e in got if isinstance(e, MessageDiscarded)]
    calls = [e for e in got if isinstance(e, IncomingCall)]
    assert len(discarded) + len(calls) == len(got), got
    if expect.discarded:
        (event,) = discarded
        assert event.status_code == (expect.responses[-1] if expect.responses else None)
        assert data.startswith(event.data)
    else:
        assert discarded == []
    assert len(calls) == (1 if expect.incoming_call else 0)
    if responses:
        check_copied_headers(data, responses, well_formed=expect.stage == "valid")


def check_copied_headers(data: bytes, responses: list[Response], *, well_formed: bool) -> None:
    """Every response carries what RFC 3261 §8.2.6.2 says it must copy from the request."""
    try:
        received = parse_message(data).headers
    except RemoteProtocolError:
        salvaged = salvage_headers(data)
        assert salvaged is not None
        received = salvaged
    for response in responses:
        assert response.headers.get_all("via") == received.get_all("via")
        for name in ("call-id", "cseq", "from"):
            assert response.headers.get(name) == received.get(name), name
        if well_formed:
            # Answers to a well-formed request are well formed; answers to a malformed one
            # echo its malformed From/To/CSeq as they are.
            response.validate()
        if response.status_code != 100:
            # "the UAS MUST add a tag to the To header field in the response (with the
            # exception of the 100 (Trying) response, in which a tag MAY be present)";
            # a To we cannot read at all is echoed untouched.
            try:
                to = parse_name_address(response.headers.get("to") or "", "To")
            except RemoteProtocolError:
                continue
            assert to.tag is not None


def only_response(case_id: str) -> Response:
    responses, _ = feed(BY_ID[case_id].data)
    return responses[-1]


def test_unknown_methods_get_501_with_allow() -> None:
    for case_id in ("rfc4475/intmeth", "rfc4475/esc02"):
        response = only_response(case_id)
        assert response.status_code == 501
        assert "INVITE" in response.tokens("allow")


def test_register_to_a_user_agent_gets_405_with_allow() -> None:
    response = only_response("rfc4475/regaut01")
    assert response.status_code == 405
    allow = response.tokens("allow")
    assert "REGISTER" not in allow and "INVITE" in allow


def test_bext01_420_lists_both_required_tags_and_no_proxy_require_tag() -> None:
    response = only_response("rfc4475/bext01")
    assert response.status_code == 420
    # §8.2.2.3: a UAS answers for Require; Proxy-Require is for proxies.
    assert response.tokens("unsupported") == ["nothingSupportsThis", "nothingSupportsThisEither"]


def test_invut_415_lists_what_we_accept() -> None:
    response = only_response("rfc4475/invut")
    assert response.status_code == 415
    assert "application/sdp" in [m.essence for m in response.typed("accept")]


def test_sdp01_406_says_we_answer_in_sdp() -> None:
    response = only_response("rfc4475/sdp01")
    assert response.status_code == 406
    assert [m.essence for m in response.typed("accept")] == ["application/sdp"]


def test_badvers_505_and_unknown_scheme_416() -> None:
    assert only_response("rfc4475/badvers").status_code == 505
    assert only_response("rfc4475/unkscm").status_code == 416
    assert only_response("rfc4475/novelsc").status_code == 416


def test_torture_messages_in_sequence_leave_one_user_agent_working() -> None:
    # One bad message never kills a UA that carries other calls (DESIGN): feed the whole
    # corpus to one UA, then check it still takes a new INVITE normally.
    ua = fresh_uas()
    for case in CASES:
        ua.receive_message(case.data, now=1.0)
    ua.messages_to_send(1.0)
    events(ua)
    invite = request("rfc4475/esc01")
    invite.headers.set("Call-ID", "after-the-torture")
    invite.headers.set("Via", "SIP/2.0/UDP host5.example.net;branch=z9hG4bKafter")
    for call_id in list(ua.calls):
        ua.reject(call_id, now=1.0)
    events(ua)
    ua.messages_to_send(1.0)
    ua.receive_message(bytes(invite), now=2.0)
    assert [parse_message(m).start_line() for m in ua.messages_to_send(2.0)] == [
        "SIP/2.0 100 Trying",
        "SIP/2.0 180 Ringing",
    ]
    assert [e.call_id for e in events(ua) if isinstance(e, IncomingCall)] == ["after-the-torture"]
