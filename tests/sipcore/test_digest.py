"""Tests for ``sipcore.digest``: published vectors, header grammar, choice, session, server role.

The vectors live in the shared test data (``../shared/testdata/digest_vectors.json`` beside
the repository); every one of them is checked, including the deliberate negative.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import re
import string
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sipcore import digest
from sipcore.digest import (
    HA1,
    AuthReason,
    ChallengePolicy,
    DigestAlgorithm,
    DigestAuthorization,
    DigestChallenge,
    DigestCredentials,
    DigestSession,
    authorization_header_name,
    build_authorization,
    challenge_header_name,
    choose_challenge,
    compute_ha1,
    compute_ha2,
    compute_response,
    compute_userhash,
    format_authorization,
    format_challenge,
    parse_authorization,
    parse_challenge,
    parse_challenges,
    verify_authorization,
)
from sipcore.errors import LocalProtocolError, RemoteProtocolError
from tests.testdata import require

_VECTORS_PATH = require("digest_vectors.json")
_DATA: dict[str, Any] = json.loads(_VECTORS_PATH.read_text(encoding="utf-8"))
VECTORS: list[dict[str, Any]] = _DATA["vectors"]
HA1_ONLY: list[dict[str, Any]] = _DATA["ha1_only"]
NEGATIVE = [v for v in VECTORS if v.get("expected_to_fail")]
POSITIVE = [v for v in VECTORS if not v.get("expected_to_fail")]
USERHASH = [v for v in POSITIVE if v.get("userhash")]


def _ids(vectors: list[dict[str, Any]]) -> list[str]:
    return [vector["id"] for vector in vectors]


def _body(vector: dict[str, Any]) -> bytes:
    return str(vector.get("body", "")).encode("utf-8")


def _response(vector: dict[str, Any], secret: str | HA1) -> str:
    return compute_response(
        vector["algorithm"],
        username=vector["username"],
        realm=vector["realm"],
        password_or_ha1=secret,
        nonce=vector["nonce"],
        method=vector["method"],
        uri=vector["uri"],
        qop=vector.get("qop"),
        nc=vector.get("nc"),
        cnonce=vector.get("cnonce"),
        body=_body(vector),
    )


def _base_ha1(vector: dict[str, Any]) -> HA1:
    # The stored HA1 is always the plain one; -sess derives its own from it.
    algorithm = DigestAlgorithm.from_token(vector["algorithm"])
    assert algorithm is not None
    return HA1(
        compute_ha1(
            algorithm.base,
            username=vector["username"],
            realm=vector["realm"],
            password_or_ha1=vector["password"],
        )
    )


def _challenge_for(vector: dict[str, Any], **changes: Any) -> DigestChallenge:
    fields: dict[str, Any] = {
        "realm": vector["realm"],
        "nonce": vector["nonce"],
        "opaque": vector.get("opaque"),
        "algorithm": vector["algorithm"],
        "qop": (vector["qop"],) if "qop" in vector else (),
        "userhash": bool(vector.get("userhash")),
        "charset": vector.get("charset"),
    }
    fields.update(changes)
    return DigestChallenge(**fields)


def _answer(vector: dict[str, Any], challenge: DigestChallenge | None = None) -> str:
    return build_authorization(
        challenge or _challenge_for(vector),
        username=vector["username"],
        password=vector["password"],
        method=vector["method"],
        uri=vector["uri"],
        body=_body(vector),
        cnonce=vector.get("cnonce", "unused-cnonce"),
        nc=int(vector.get("nc", "00000001"), 16),
        prefer_auth_int=vector.get("qop") == "auth-int",
    )


# ---------------------------------------------------------------------------------------
# Vectors
# ---------------------------------------------------------------------------------------


def test_the_vector_file_is_complete() -> None:
    summary = _DATA["summary"]
    assert len(VECTORS) + len(HA1_ONLY) == summary["total"]
    assert _ids(NEGATIVE) == summary["failed"]
    assert len({vector["id"] for vector in VECTORS + HA1_ONLY}) == summary["total"]


@pytest.mark.parametrize("vector", POSITIVE, ids=_ids(POSITIVE))
def test_vector_response(vector: dict[str, Any]) -> None:
    expected = vector["expected"].get("response", vector["computed"]["response"])
    assert _response(vector, vector["password"]) == expected
    assert _response(vector, _base_ha1(vector)) == expected


@pytest.mark.parametrize("vector", NEGATIVE, ids=_ids(NEGATIVE))
def test_negative_vector_is_not_reproduced(vector: dict[str, Any]) -> None:
    # RFC 7616 §3.9.2 as printed used SHA-512 truncated to 256 bits (Erratum 4897): a
    # real SHA-512/256 must NOT give these values, and must give the erratum's.
    response = _response(vector, vector["password"])
    assert response != vector["expected"]["response"]
    assert response == vector["computed"]["response"]
    userhash = compute_userhash(vector["algorithm"], vector["username"], vector["realm"])
    assert userhash != vector["expected"]["userhash"]
    assert userhash == vector["computed"]["userhash"]
    # ...and the printed value is indeed what the truncated SHA-512 gives.
    truncated = hashlib.sha512(f"{vector['username']}:{vector['realm']}".encode()).hexdigest()
    assert truncated[:64] == vector["expected"]["userhash"]


@pytest.mark.parametrize("vector", VECTORS, ids=_ids(VECTORS))
def test_vector_ha1_and_ha2(vector: dict[str, Any]) -> None:
    ha1 = compute_ha1(
        vector["algorithm"],
        username=vector["username"],
        realm=vector["realm"],
        password_or_ha1=vector["password"],
        nonce=vector["nonce"],
        cnonce=vector.get("cnonce"),
    )
    ha2 = compute_ha2(
        vector["algorithm"],
        method=vector["method"],
        uri=vector["uri"],
        qop=vector.get("qop"),
        body=_body(vector),
    )
    assert ha1 == vector["computed"]["HA1"]
    assert ha2 == vector["computed"]["HA2"]
    if "HA1" in vector["expected"]:
        assert ha1 == vector["expected"]["HA1"]


@pytest.mark.parametrize("vector", HA1_ONLY, ids=_ids(HA1_ONLY))
def test_ha1_only_vector(vector: dict[str, Any]) -> None:
    ha1 = compute_ha1(
        vector["algorithm"],
        username=vector["username"],
        realm=vector["realm"],
        password_or_ha1=vector["password"],
    )
    assert ha1 == vector["expected_HA1"]


@pytest.mark.parametrize("vector", USERHASH, ids=_ids(USERHASH))
def test_userhash_vector(vector: dict[str, Any]) -> None:
    userhash = compute_userhash(vector["algorithm"], vector["username"], vector["realm"])
    assert userhash == vector["expected"]["userhash"]
    credentials = parse_authorization(_answer(vector))
    assert credentials.userhash
    assert credentials.username == vector["expected"]["userhash"]
    assert credentials.response == vector["expected"]["response"]
    assert verify_authorization(
        credentials, vector["password"], vector["method"], username=vector["username"]
    )
    assert not verify_authorization(
        credentials, vector["password"], vector["method"], username="Jason Doe"
    )


@pytest.mark.parametrize("vector", VECTORS, ids=_ids(VECTORS))
def test_vector_through_build_parse_verify(vector: dict[str, Any]) -> None:
    credentials = parse_authorization(_answer(vector))
    response = vector["expected"].get("response", vector["computed"]["response"])
    if vector.get("expected_to_fail"):
        assert credentials.response != response
        response = vector["computed"]["response"]
    assert credentials.response == response
    assert credentials.qop == vector.get("qop")
    assert credentials.nc == vector.get("nc")
    assert credentials.cnonce == vector.get("cnonce")
    clear = {"username": vector["username"]} if vector.get("userhash") else {}
    body = _body(vector)
    assert verify_authorization(credentials, vector["password"], vector["method"], body, **clear)
    assert verify_authorization(credentials, _base_ha1(vector), vector["method"], body, **clear)
    assert not verify_authorization(
        credentials, vector["password"] + "x", vector["method"], body, **clear
    )


def test_rfc7616_challenge_offering_auth_and_auth_int_is_answered_with_auth() -> None:
    (vector,) = [v for v in VECTORS if v["id"] == "rfc7616-3.9.1-md5-auth"]
    challenge = _challenge_for(vector, qop=("auth", "auth-int"))
    credentials = parse_authorization(_answer(vector, challenge))
    assert credentials.qop == "auth"
    assert credentials.response == vector["expected"]["response"]


def test_captured_header_verifies_and_matches_ours() -> None:
    (vector,) = [v for v in VECTORS if "expected_header" in v]
    captured = parse_authorization(vector["expected_header"])
    assert verify_authorization(captured, vector["password"], vector["method"])
    assert parse_authorization(_answer(vector)) == captured


def test_captured_cisco_rfc2069_proxy_authorization_verifies() -> None:
    (vector,) = [v for v in VECTORS if v["id"] == "resip-md5-noqop-captured-cisco"]
    captured = parse_authorization(
        f'Digest username="{vector["username"]}",realm="{vector["realm"]}",'
        f'uri="{vector["uri"]}",response="{vector["expected"]["response"]}",'
        f'nonce="{vector["nonce"]}",algorithm=MD5'
    )
    assert captured.qop is None
    assert verify_authorization(captured, vector["password"], "REGISTER")
    assert not verify_authorization(captured, vector["password"], "INVITE")


def test_username_star_from_rfc7616_decodes_and_verifies() -> None:
    (vector,) = [v for v in VECTORS if v["id"] == "rfc7616-3.9.2-sha512-256-userhash-errata4897"]
    header = (
        "Digest username*=UTF-8''J%C3%A4s%C3%B8n%20Doe, realm=\"api@example.org\", "
        f'uri="/doe.json", algorithm=SHA-512-256, nonce="{vector["nonce"]}", nc=00000001, '
        f'cnonce="{vector["cnonce"]}", qop=auth, response="{vector["expected"]["response"]}", '
        f'opaque="{vector["opaque"]}", userhash=false'
    )
    credentials = parse_authorization(header)
    assert credentials.username == "Jäsøn Doe"
    assert verify_authorization(credentials, vector["password"], "GET")


# ---------------------------------------------------------------------------------------
# SHA-512/256
# ---------------------------------------------------------------------------------------

# FIPS 180-4 examples (NIST CSRC "SHA512_256.pdf"): empty, one block, two blocks.
_SHA512_256_KNOWN = [
    (b"", "c672b8d1ef56ed28ab87c3622c5114069bdd3ad7b8f9737498d0c01ecef0967a"),
    (b"abc", "53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23"),
    (
        b"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
        b"hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
        "3928e184fb8690f840da3988121d31be65cb9d3ef83ee6146feac861e19b563a",
    ),
]


@pytest.mark.parametrize(("data", "expected"), _SHA512_256_KNOWN)
def test_sha512_256_known_answers(data: bytes, expected: str) -> None:
    assert digest._sha512_256_pure(data) == expected
    assert digest._sha512_256_hexdigest(data) == expected
    assert expected != hashlib.sha512(data).hexdigest()[:64]


@pytest.mark.skipif(
    "sha512_256" not in hashlib.algorithms_available, reason="OpenSSL lacks sha512_256"
)
@given(st.binary(max_size=600))
def test_pure_sha512_256_matches_openssl(data: bytes) -> None:
    assert digest._sha512_256_pure(data) == hashlib.new("sha512_256", data).hexdigest()


def test_sha512_256_vector_without_openssl_support(monkeypatch: pytest.MonkeyPatch) -> None:
    (vector,) = [v for v in VECTORS if v["id"] == "rfc7616-3.9.2-sha512-256-userhash-errata4897"]
    monkeypatch.setattr(hashlib, "algorithms_available", frozenset())
    assert _response(vector, vector["password"]) == vector["expected"]["response"]


def test_sha512_256_vector_when_openssl_refuses_it(monkeypatch: pytest.MonkeyPatch) -> None:
    (vector,) = [v for v in VECTORS if v["id"] == "jssipx-sha-512-256-auth"]
    real_new = hashlib.new

    def refusing_new(name: str, data: bytes = b"", **kwargs: Any) -> Any:
        if name == "sha512_256":
            raise ValueError("unsupported hash type")
        return real_new(name, data, **kwargs)

    monkeypatch.setattr(hashlib, "algorithms_available", frozenset({"sha512_256"}))
    monkeypatch.setattr(hashlib, "new", refusing_new)
    assert _response(vector, vector["password"]) == vector["expected"]["response"]


# ---------------------------------------------------------------------------------------
# Challenge grammar
# ---------------------------------------------------------------------------------------

REAL_WORLD: list[tuple[str, str, DigestChallenge]] = [
    (
        "kamailio",
        'Digest realm="example.com", nonce="Y2VxZmE0YjQ6MDAwMDAwMDA6ZTFjYWZlYzQ2NjBm", qop="auth"',
        DigestChallenge(
            realm="example.com", nonce="Y2VxZmE0YjQ6MDAwMDAwMDA6ZTFjYWZlYzQ2NjBm", qop=("auth",)
        ),
    ),
    (
        "kamailio-sha256",
        'Digest realm="example.com", nonce="ZQwO4WUMDbXxsLc=", qop="auth", algorithm=SHA-256',
        DigestChallenge(
            realm="example.com", nonce="ZQwO4WUMDbXxsLc=", qop=("auth",), algorithm="SHA-256"
        ),
    ),
    (
        "asterisk-chan-sip",
        'Digest algorithm=MD5, realm="asterisk", nonce="1234abcd"',
        DigestChallenge(realm="asterisk", nonce="1234abcd"),
    ),
    (
        "asterisk-pjsip",
        'Digest realm="asterisk",nonce="1597763528/9a7b7f3f2e9cb4b1",opaque="5b1f0b0e1b2c3d4e",'
        'algorithm=md5,qop="auth"',
        DigestChallenge(
            realm="asterisk",
            nonce="1597763528/9a7b7f3f2e9cb4b1",
            opaque="5b1f0b0e1b2c3d4e",
            qop=("auth",),
        ),
    ),
    (
        "freeswitch",
        'Digest realm="192.0.2.10", nonce="4b5a8c2e-7f3e-11ee-9d3c-df3f4c8b2a11", '
        'algorithm=MD5, qop="auth", opaque="1f2e3d4c5b6a"',
        DigestChallenge(
            realm="192.0.2.10",
            nonce="4b5a8c2e-7f3e-11ee-9d3c-df3f4c8b2a11",
            qop=("auth",),
            opaque="1f2e3d4c5b6a",
        ),
    ),
    (
        "rfc3261-example",
        'Digest realm="atlanta.com", domain="sip:boxesbybob.com", qop="auth", '
        'nonce="f84f1cec41e6cbe5aea9c8e88d359", opaque="", stale=FALSE, algorithm=MD5',
        DigestChallenge(
            realm="atlanta.com",
            nonce="f84f1cec41e6cbe5aea9c8e88d359",
            opaque="",
            qop=("auth",),
            domain=("sip:boxesbybob.com",),
        ),
    ),
    (
        "rfc7616-sha256",
        'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, '
        'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", '
        'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"',
        DigestChallenge(
            realm="http-auth@example.org",
            nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
            opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS",
            algorithm="SHA-256",
            qop=("auth", "auth-int"),
        ),
    ),
    (
        "rfc7616-userhash",
        'Digest realm="api@example.org", qop="auth", algorithm=SHA-512-256, '
        'nonce="5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK", '
        'opaque="HRPCssKJSGjCrkzDg8OhwpzCiGPChXYjwrI2QmXDnsOS", charset=UTF-8, userhash=true',
        DigestChallenge(
            realm="api@example.org",
            nonce="5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK",
            opaque="HRPCssKJSGjCrkzDg8OhwpzCiGPChXYjwrI2QmXDnsOS",
            algorithm="SHA-512-256",
            qop=("auth",),
            userhash=True,
            charset="UTF-8",
        ),
    ),
    (
        "folded-lines",
        'Digest realm="x",\r\n nonce="y",\r\n\tqop="auth,\r\n auth-int"',
        DigestChallenge(realm="x", nonce="y", qop=("auth", "auth-int")),
    ),
    (
        "odd-whitespace",
        '  Digest \t  realm = "x" ,nonce= "y" ,\tqop = auth  ',
        DigestChallenge(realm="x", nonce="y", qop=("auth",)),
    ),
    (
        "upper-case",
        'DIGEST REALM="x", NONCE="y", STALE=TRUE, ALGORITHM=sha-512-256-SESS, QOP="AUTH"',
        DigestChallenge(
            realm="x", nonce="y", stale=True, algorithm="SHA-512-256-sess", qop=("auth",)
        ),
    ),
    (
        "quoted-algorithm-and-stale",
        'Digest realm="x", nonce="y", algorithm="MD5-sess", stale="true"',
        DigestChallenge(realm="x", nonce="y", algorithm="MD5-sess", stale=True),
    ),
    (
        "empty-list-elements",
        'Digest , realm="x",, nonce="y",',
        DigestChallenge(realm="x", nonce="y"),
    ),
    (
        "escapes",
        r'Digest realm="a \"quoted\" realm with \\ backslash", nonce="n\o"',
        DigestChallenge(realm='a "quoted" realm with \\ backslash', nonce="no"),
    ),
    (
        "fold-inside-quotes",
        'Digest realm="two\r\n   words", nonce="y"',
        DigestChallenge(realm="two words", nonce="y"),
    ),
    (
        "unknown-params-kept",
        'Digest realm="x", nonce="y", Foo=bar, baz="q u x"',
        DigestChallenge(realm="x", nonce="y", params=(("foo", "bar"), ("baz", "q u x"))),
    ),
    (
        "unknown-qop-option-kept",
        'Digest realm="x", nonce="y", qop="auth-conf, auth"',
        DigestChallenge(realm="x", nonce="y", qop=("auth-conf", "auth")),
    ),
    (
        "unknown-algorithm-kept",
        'Digest realm="x", nonce="y", algorithm=SHA-1',
        DigestChallenge(realm="x", nonce="y", algorithm="SHA-1"),
    ),
    (
        "utf8-realm",
        'Digest realm="réalm ☎", nonce="y"',
        DigestChallenge(realm="réalm ☎", nonce="y"),
    ),
    (
        "stale-other-than-true",
        'Digest realm="x", nonce="y", stale=maybe',
        DigestChallenge(realm="x", nonce="y"),
    ),
    (
        "several-domains",
        'Digest realm="x", nonce="y", domain="sip:a.example  sip:b.example;transport=tcp"',
        DigestChallenge(
            realm="x", nonce="y", domain=("sip:a.example", "sip:b.example;transport=tcp")
        ),
    ),
]


@pytest.mark.parametrize(
    ("header", "expected"),
    [(header, expected) for _, header, expected in REAL_WORLD],
    ids=[name for name, _, _ in REAL_WORLD],
)
def test_parse_challenge(header: str, expected: DigestChallenge) -> None:
    challenge = parse_challenge(header)
    assert challenge == expected
    assert parse_challenge(format_challenge(challenge)) == challenge


MALFORMED_CHALLENGES = {
    "empty": "",
    "scheme-only": "Digest",
    "scheme-and-spaces": "Digest   ",
    "no-nonce": 'Digest realm="x"',
    "no-realm": 'Digest nonce="y"',
    "unterminated-quote": 'Digest realm="x, nonce="y"',
    "duplicate": 'Digest realm="x", nonce="y", realm="z"',
    "duplicate-other-case": 'Digest realm="x", nonce="y", REALM="z"',
    "missing-comma": 'Digest realm="x" nonce="y"',
    "empty-value": 'Digest realm=, nonce="y"',
    "no-name": 'Digest =x, nonce="y"',
    "name-without-value": 'Digest realm="x", nonce="y", domain',
    "empty-qop": 'Digest realm="x", nonce="y", qop=""',
    "qop-of-commas": 'Digest realm="x", nonce="y", qop=", ,"',
    "qop-not-tokens": 'Digest realm="x", nonce="y", qop="auth int"',
    "crlf-in-quotes": 'Digest realm="x\r\ny", nonce="z"',
    "header-injection": 'Digest realm="x", nonce="y"\r\nVia: SIP/2.0/UDP evil',
    "nul": 'Digest realm="x\x00", nonce="y"',
    "escaped-control": 'Digest realm="x\\\x01", nonce="y"',
    "algorithm-not-token": 'Digest realm="x", nonce="y", algorithm="MD 5"',
    "no-space-after-scheme": 'Digest,realm="x",nonce="y"',
    "quoted-scheme": '"Digest" realm="x", nonce="y"',
    "trailing-garbage": 'Digest realm="x", nonce="y" ;',
    "second-challenge-in-one-value": 'Digest realm="x", nonce="y", Basic realm="z"',
}


@pytest.mark.parametrize(
    "header", list(MALFORMED_CHALLENGES.values()), ids=list(MALFORMED_CHALLENGES)
)
def test_malformed_challenge_is_remote_error(header: str) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        parse_challenge(header)
    assert info.value.status_hint == 400


@pytest.mark.parametrize("header", ['Basic realm="x"', "Bearer abc.def", "Negotiate"])
def test_non_digest_scheme(header: str) -> None:
    with pytest.raises(RemoteProtocolError, match="not Digest"):
        parse_challenge(header)
    assert parse_challenges([header]) == []


def test_parse_challenges_keeps_digest_ones_in_order() -> None:
    challenges = parse_challenges(
        [
            'Basic realm="a"',
            'Digest realm="a", nonce="1", algorithm=SHA-256',
            "Bearer realm=y",
            "no scheme at all ,,,",
            'Digest realm="a", nonce="1", algorithm="SHA 1"',
            'Digest realm="a", nonce="1"',
        ]
    )
    assert [c.algorithm for c in challenges] == ["SHA-256", "MD5"]


def test_parse_challenges_raises_when_every_digest_one_is_malformed() -> None:
    with pytest.raises(RemoteProtocolError, match="realm"):
        parse_challenges(['Basic realm="a"', 'Digest nonce="1"', 'Digest realm="a" x'])


def test_challenge_properties() -> None:
    challenge = parse_challenge('Digest realm="x", nonce="y", algorithm=sha-256-SESS, Foo=bar')
    assert challenge.digest_algorithm is DigestAlgorithm.SHA_256_SESS
    assert challenge.answerable
    assert challenge.param("FOO") == "bar"
    assert challenge.param("missing") is None
    assert not parse_challenge('Digest realm="x", nonce="y", algorithm=SHA-1').answerable
    assert not parse_challenge('Digest realm="x", nonce="y", qop="auth-conf"').answerable


def test_format_challenge_quotes_per_rfc7616() -> None:
    header = format_challenge(
        DigestChallenge(
            realm="r",
            nonce="n",
            opaque="o",
            algorithm="SHA-256",
            qop=("auth", "auth-int"),
            stale=True,
            domain=("sip:a", "sip:b"),
        )
    )
    assert header == (
        'Digest realm="r", nonce="n", opaque="o", algorithm=SHA-256, qop="auth, auth-int", '
        'stale=true, domain="sip:a sip:b"'
    )


# ---------------------------------------------------------------------------------------
# Credentials grammar
# ---------------------------------------------------------------------------------------

_RFC2617_AUTHORIZATION = (
    'Digest username="Mufasa", realm="testrealm@host.com", '
    'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", qop=auth, '
    'nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", '
    'opaque="5ccc069c403ebaf9f0171e9517f40e41"'
)


def test_parse_rfc2617_authorization() -> None:
    credentials = parse_authorization(_RFC2617_AUTHORIZATION)
    assert credentials == DigestCredentials(
        username="Mufasa",
        realm="testrealm@host.com",
        nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
        uri="/dir/index.html",
        response="6629fae49393a05397450978507c4ef1",
        cnonce="0a4f113b",
        qop="auth",
        nc="00000001",
        opaque="5ccc069c403ebaf9f0171e9517f40e41",
    )
    assert credentials.nonce_count == 1
    assert verify_authorization(credentials, "Circle Of Life", "GET")
    assert not verify_authorization(credentials, "Circle of Life", "GET")


MALFORMED_CREDENTIALS = {
    "basic": "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==",
    "no-response": 'Digest username="a", realm="r", nonce="n", uri="sip:x"',
    "no-username": 'Digest realm="r", nonce="n", uri="sip:x", response="abcd"',
    "no-uri": 'Digest username="a", realm="r", nonce="n", response="abcd"',
    "qop-without-nc": (
        'Digest username="a", realm="r", nonce="n", uri="sip:x", response="ab", qop=auth, '
        'cnonce="c"'
    ),
    "qop-without-cnonce": (
        'Digest username="a", realm="r", nonce="n", uri="sip:x", response="ab", qop=auth, '
        "nc=00000001"
    ),
    "short-nc": (
        'Digest username="a", realm="r", nonce="n", uri="sip:x", response="ab", qop=auth, '
        'nc=1, cnonce="c"'
    ),
    "response-not-hex": 'Digest username="a", realm="r", nonce="n", uri="sip:x", response="xyz"',
    "both-usernames": (
        'Digest username="a", username*=UTF-8\'\'a, realm="r", nonce="n", uri="sip:x", '
        'response="ab"'
    ),
    "bad-ext-value": 'Digest username*="a", realm="r", nonce="n", uri="sip:x", response="ab"',
    "ext-value-not-utf8": (
        'Digest username*=UTF-8\'\'%FF, realm="r", nonce="n", uri="sip:x", response="ab"'
    ),
    "crlf-injection": 'Digest username="a\r\nVia: x", realm="r", nonce="n", uri="s", response="a"',
}


@pytest.mark.parametrize(
    "header", list(MALFORMED_CREDENTIALS.values()), ids=list(MALFORMED_CREDENTIALS)
)
def test_malformed_credentials_are_remote_errors(header: str) -> None:
    with pytest.raises(RemoteProtocolError):
        parse_authorization(header)


def test_iso_8859_1_username_star() -> None:
    credentials = parse_authorization(
        'Digest username*=iso-8859-1\'en\'J%E4s%F8n, realm="r", nonce="n", uri="sip:x", '
        'response="ab"'
    )
    assert credentials.username == "Jäsøn"


# ---------------------------------------------------------------------------------------
# Building
# ---------------------------------------------------------------------------------------

_CHALLENGE = DigestChallenge(
    realm="example.com", nonce="abc123", opaque="op\\aque", qop=("auth", "auth-int")
)


def test_authorization_quoting_and_order() -> None:
    header = build_authorization(
        _CHALLENGE,
        username='al"ice\\',
        password="pw",
        method="REGISTER",
        uri="sip:example.com",
        cnonce="c",
        nc=1,
    )
    pattern = (
        r'Digest username="al\\"ice\\\\", realm="example\.com", nonce="abc123", '
        r'uri="sip:example\.com", response="[0-9a-f]{32}", algorithm=MD5, cnonce="c", '
        r'qop=auth, nc=00000001, opaque="op\\\\aque"'
    )
    assert re.fullmatch(pattern, header), header
    credentials = parse_authorization(header)
    assert credentials.username == 'al"ice\\'
    assert credentials.opaque == "op\\aque"
    assert verify_authorization(credentials, "pw", "REGISTER")


def test_qop_choice() -> None:
    def qop_of(challenge: DigestChallenge, *, prefer_auth_int: bool = False) -> str | None:
        header = build_authorization(
            challenge,
            username="u",
            password="p",
            method="INVITE",
            uri="sip:b@x",
            body=b"v=0\r\n",
            cnonce="c",
            nc=1,
            prefer_auth_int=prefer_auth_int,
        )
        credentials = parse_authorization(header)
        assert verify_authorization(credentials, "p", "INVITE", b"v=0\r\n")
        return credentials.qop

    both = DigestChallenge(realm="r", nonce="n", qop=("auth-int", "auth"))
    assert qop_of(both) == "auth"
    assert qop_of(both, prefer_auth_int=True) == "auth-int"
    assert qop_of(DigestChallenge(realm="r", nonce="n", qop=("auth-int",))) == "auth-int"
    assert qop_of(DigestChallenge(realm="r", nonce="n", qop=("auth",)), prefer_auth_int=True) == (
        "auth"
    )
    assert qop_of(DigestChallenge(realm="r", nonce="n")) is None


def test_auth_int_covers_the_body() -> None:
    header = build_authorization(
        DigestChallenge(realm="r", nonce="n", qop=("auth-int",)),
        username="u",
        password="p",
        method="INVITE",
        uri="sip:b@x",
        body=b"v=0\r\n",
        cnonce="c",
        nc=1,
    )
    credentials = parse_authorization(header)
    assert verify_authorization(credentials, "p", "INVITE", b"v=0\r\n")
    assert not verify_authorization(credentials, "p", "INVITE", b"v=1\r\n")


def test_rfc2069_form_has_no_qop_nc_or_cnonce() -> None:
    header = build_authorization(
        DigestChallenge(realm="r", nonce="n"),
        username="u",
        password="p",
        method="REGISTER",
        uri="sip:r",
        cnonce="c",
        nc=7,
    )
    assert "qop=" not in header
    assert "nc=" not in header
    assert "cnonce=" not in header
    assert verify_authorization(parse_authorization(header), "p", "REGISTER")


def test_sess_without_qop_still_sends_the_cnonce_it_needs() -> None:
    header = build_authorization(
        DigestChallenge(realm="r", nonce="n", algorithm="MD5-sess"),
        username="u",
        password="p",
        method="REGISTER",
        uri="sip:r",
        cnonce="c",
        nc=1,
    )
    credentials = parse_authorization(header)
    assert (credentials.cnonce, credentials.qop, credentials.nc) == ("c", None, None)
    assert verify_authorization(credentials, "p", "REGISTER")


@pytest.mark.parametrize("algorithm", list(DigestAlgorithm), ids=lambda a: a.value)
@pytest.mark.parametrize("qop", [(), ("auth",), ("auth-int",)], ids=["none", "auth", "auth-int"])
def test_round_trip_every_algorithm(algorithm: DigestAlgorithm, qop: tuple[str, ...]) -> None:
    challenge = DigestChallenge(
        realm="sip.example", nonce="n0nce", qop=qop, algorithm=algorithm.value
    )
    header = build_authorization(
        challenge,
        username="alice",
        password="wonderland",
        method="INVITE",
        uri="sip:bob@sip.example;transport=ws",
        body=b"v=0\r\n",
        cnonce="0a4f113b",
        nc=3,
    )
    credentials = parse_authorization(header)
    assert len(credentials.response) == algorithm.hex_length
    assert credentials.algorithm == algorithm.value
    assert verify_authorization(credentials, "wonderland", "INVITE", b"v=0\r\n")
    assert not verify_authorization(credentials, "Wonderland", "INVITE", b"v=0\r\n")
    assert not verify_authorization(credentials, "wonderland", "ACK", b"v=0\r\n")


@pytest.mark.parametrize("field", ["username", "uri", "cnonce", "password"])
@pytest.mark.parametrize("bad", ["\r\n", "\n", "\r", "\x00"], ids=["crlf", "lf", "cr", "nul"])
def test_control_characters_are_refused(field: str, bad: str) -> None:
    arguments: dict[str, Any] = {
        "username": "alice",
        "password": "pw",
        "method": "REGISTER",
        "uri": "sip:example.com",
        "cnonce": "c",
        "nc": 1,
    }
    arguments[field] = f"x{bad}Via: SIP/2.0/UDP evil"
    with pytest.raises(LocalProtocolError):
        build_authorization(_CHALLENGE, **arguments)


def test_method_must_be_a_token() -> None:
    with pytest.raises(LocalProtocolError):
        build_authorization(
            _CHALLENGE,
            username="a",
            password="p",
            method="REGISTER\r\nVia: x",
            uri="sip:x",
            cnonce="c",
            nc=1,
        )


@pytest.mark.parametrize(
    "changes",
    [
        {"nonce": "n\r\nVia: x"},
        {"realm": "r\n"},
        {"opaque": "\x00"},
        {"algorithm": "MD5\r\n"},
        {"qop": ("auth\r\n",)},
        {"domain": ("sip:a b",)},
        {"charset": "UTF 8"},
        {"params": (("realm", "x"),)},
        {"params": (("Foo", "x"),)},
        {"params": (("foo", "x"), ("foo", "y"))},
        {"params": (("foo", "x\ny"),)},
    ],
)
def test_challenge_construction_validates(changes: dict[str, Any]) -> None:
    fields: dict[str, Any] = {"realm": "r", "nonce": "n"}
    fields.update(changes)
    with pytest.raises(LocalProtocolError):
        DigestChallenge(**fields)


@pytest.mark.parametrize(
    "changes",
    [
        {"response": "zz"},
        {"nc": "1"},
        {"qop": "auth"},
        {"qop": "auth", "cnonce": "c"},
        {"uri": "sip:x\r\n"},
        {"params": (("uri", "x"),)},
    ],
)
def test_credentials_construction_validates(changes: dict[str, Any]) -> None:
    fields: dict[str, Any] = {
        "username": "u",
        "realm": "r",
        "nonce": "n",
        "uri": "sip:x",
        "response": "ab",
    }
    fields.update(changes)
    with pytest.raises(LocalProtocolError):
        DigestCredentials(**fields)


def test_build_refuses_what_it_cannot_answer() -> None:
    arguments: dict[str, Any] = {
        "username": "u",
        "password": "p",
        "method": "REGISTER",
        "uri": "sip:x",
        "cnonce": "c",
        "nc": 1,
    }
    with pytest.raises(LocalProtocolError, match="algorithm"):
        build_authorization(DigestChallenge(realm="r", nonce="n", algorithm="SHA-1"), **arguments)
    with pytest.raises(LocalProtocolError, match="qop"):
        build_authorization(DigestChallenge(realm="r", nonce="n", qop=("auth-conf",)), **arguments)
    for nc in (0, 0x1_0000_0000):
        with pytest.raises(LocalProtocolError):
            build_authorization(_CHALLENGE, **{**arguments, "nc": nc})
    with pytest.raises(LocalProtocolError, match="cnonce"):
        build_authorization(_CHALLENGE, **{**arguments, "cnonce": ""})


def test_compute_response_misuse() -> None:
    common: dict[str, Any] = {
        "username": "u",
        "realm": "r",
        "nonce": "n",
        "method": "REGISTER",
        "uri": "sip:r",
    }
    with pytest.raises(LocalProtocolError):
        compute_response("SHA-1", password_or_ha1="p", **common)
    with pytest.raises(LocalProtocolError):
        compute_response("MD5", password_or_ha1="p", qop="auth", **common)
    with pytest.raises(LocalProtocolError):
        compute_response("MD5", password_or_ha1="p", qop="auth-conf", nc=1, cnonce="c", **common)
    with pytest.raises(LocalProtocolError):
        compute_response("MD5-sess", password_or_ha1="p", **common)
    with pytest.raises(LocalProtocolError):
        compute_response("SHA-256", password_or_ha1=HA1("0" * 32), **common)
    with pytest.raises(LocalProtocolError):
        compute_response("MD5", password_or_ha1="p", qop="auth", nc="1", cnonce="c", **common)
    with pytest.raises(LocalProtocolError):
        HA1("not hex")


def test_header_names() -> None:
    assert challenge_header_name(401) == "WWW-Authenticate"
    assert challenge_header_name(407) == "Proxy-Authenticate"
    assert authorization_header_name(401) == "Authorization"
    assert authorization_header_name(407) == "Proxy-Authorization"
    with pytest.raises(LocalProtocolError):
        challenge_header_name(403)
    with pytest.raises(LocalProtocolError):
        authorization_header_name(200)


# ---------------------------------------------------------------------------------------
# Server role
# ---------------------------------------------------------------------------------------


def _credentials(**changes: Any) -> DigestCredentials:
    header = build_authorization(
        DigestChallenge(realm="r", nonce="n", qop=("auth",), algorithm="SHA-256"),
        username="u",
        password="p",
        method="REGISTER",
        uri="sip:r",
        cnonce="c",
        nc=1,
    )
    return dataclasses.replace(parse_authorization(header), **changes)


def test_verify_refuses_what_it_cannot_check() -> None:
    assert verify_authorization(_credentials(), "p", "REGISTER")
    assert verify_authorization(
        _credentials(response=_credentials().response.upper()), "p", "REGISTER"
    )
    assert not verify_authorization(_credentials(algorithm="SHA-1"), "p", "REGISTER")
    assert not verify_authorization(_credentials(qop="auth-conf"), "p", "REGISTER")
    assert not verify_authorization(_credentials(), HA1("0" * 32), "REGISTER")
    assert not verify_authorization(
        _credentials(algorithm="SHA-256-sess", cnonce=None, qop=None, nc=None), "p", "REGISTER"
    )
    assert not verify_authorization(_credentials(uri="sip:other"), "p", "REGISTER")
    assert not verify_authorization(_credentials(nonce="m"), "p", "REGISTER")
    with pytest.raises(LocalProtocolError):
        verify_authorization(_credentials(), "p", "REG ISTER")


def test_verify_userhash_needs_the_clear_username_with_a_password() -> None:
    challenge = DigestChallenge(realm="r", nonce="n", qop=("auth",), userhash=True)
    credentials = parse_authorization(
        build_authorization(
            challenge,
            username="alice",
            password="p",
            method="REGISTER",
            uri="sip:r",
            cnonce="c",
            nc=1,
        )
    )
    assert credentials.username == compute_userhash("MD5", "alice", "r")
    with pytest.raises(LocalProtocolError):
        verify_authorization(credentials, "p", "REGISTER")
    assert verify_authorization(credentials, "p", "REGISTER", username="alice")
    assert not verify_authorization(credentials, "p", "REGISTER", username="bob")
    ha1 = HA1(compute_ha1("MD5", username="alice", realm="r", password_or_ha1="p"))
    assert verify_authorization(credentials, ha1, "REGISTER")


# ---------------------------------------------------------------------------------------
# choose_challenge (RFC 8760 §2.3 / §2.4)
# ---------------------------------------------------------------------------------------


def _offer(algorithm: str, realm: str = "r", **changes: Any) -> DigestChallenge:
    return DigestChallenge(realm=realm, nonce=f"n-{algorithm}", algorithm=algorithm, **changes)


def test_topmost_supported_wins_within_a_realm() -> None:
    offers = [_offer("SHA-512-256"), _offer("SHA-256"), _offer("MD5")]
    assert choose_challenge(offers).algorithm == "SHA-512-256"
    # The server's preference is honoured even when a stronger one sits below (§2.4 SHOULD).
    assert choose_challenge([_offer("MD5"), _offer("SHA-256")]).algorithm == "MD5"


def test_strongest_local_policy_within_a_realm() -> None:
    offers = [_offer("MD5"), _offer("SHA-512-256-sess"), _offer("SHA-256")]
    chosen = choose_challenge(offers, policy=ChallengePolicy.STRONGEST)
    assert chosen.algorithm == "SHA-512-256-sess"
    # -sess ranks with its base: ties go to the server's order.
    tie = [_offer("SHA-256-sess"), _offer("SHA-256")]
    assert choose_challenge(tie, policy=ChallengePolicy.STRONGEST).algorithm == "SHA-256-sess"


def test_challenges_we_cannot_answer_are_ignored() -> None:
    offers = [_offer("SHA-1"), _offer("SHA-256", qop=("auth-conf",)), _offer("MD5-sess")]
    assert choose_challenge(offers).algorithm == "MD5-sess"
    with pytest.raises(RemoteProtocolError):
        choose_challenge([_offer("SHA-1")])
    with pytest.raises(RemoteProtocolError):
        choose_challenge([])


def test_strongest_realm_wins_across_realms() -> None:
    offers = [
        _offer("MD5", realm="proxy"),
        _offer("SHA-256", realm="registrar"),
        _offer("SHA-512-256", realm="proxy"),
    ]
    # Each realm's topmost competes: proxy offers MD5 first, registrar SHA-256.
    assert choose_challenge(offers).realm == "registrar"
    assert choose_challenge(offers, policy=ChallengePolicy.STRONGEST).realm == "proxy"
    tie = [_offer("MD5-sess", realm="a"), _offer("MD5", realm="b")]
    assert choose_challenge(tie).realm == "a"


def test_realm_filter_and_algorithm_policy() -> None:
    offers = [_offer("MD5", realm="a"), _offer("SHA-256", realm="b"), _offer("SHA-256", realm="a")]
    assert choose_challenge(offers, realm="a").algorithm == "MD5"
    no_md5 = {a for a in DigestAlgorithm if a.base is not DigestAlgorithm.MD5}
    assert choose_challenge(offers, realm="a", algorithms=no_md5).algorithm == "SHA-256"
    with pytest.raises(RemoteProtocolError):
        choose_challenge([_offer("MD5")], algorithms=no_md5)
    with pytest.raises(RemoteProtocolError):
        choose_challenge(offers, realm="c")


def test_choose_from_parsed_headers() -> None:
    values = [
        'Digest realm="sip.example", nonce="a", algorithm=SHA-512-256, qop="auth"',
        'Digest realm="sip.example", nonce="b", algorithm=SHA-256, qop="auth"',
        'Digest realm="sip.example", nonce="c", algorithm=MD5, qop="auth"',
    ]
    assert choose_challenge(parse_challenges(values)).nonce == "a"
    assert choose_challenge(parse_challenges(values[::-1])).nonce == "c"
    assert (
        choose_challenge(parse_challenges(values[::-1]), policy=ChallengePolicy.STRONGEST).nonce
        == "a"
    )


# ---------------------------------------------------------------------------------------
# DigestSession
# ---------------------------------------------------------------------------------------


def _challenge(nonce: str, *, stale: bool = False, realm: str = "sip.example") -> DigestChallenge:
    return DigestChallenge(realm=realm, nonce=nonce, qop=("auth",), stale=stale)


def _authorize(session: DigestSession, cnonce: str = "c") -> DigestAuthorization:
    return session.authorize(method="REGISTER", uri="sip:sip.example", cnonce=cnonce)


def test_gives_up_when_the_same_credentials_are_rejected_twice() -> None:
    session = DigestSession("alice", "wrong")
    first = session.respond([_challenge("n1")])
    assert (first.reason, first.retry) == (AuthReason.CHALLENGED, True)
    attempt = _authorize(session)
    second = session.respond([_challenge("n2")], rejected=attempt)
    assert (second.reason, second.retry) == (AuthReason.REJECTED, False)
    assert session.challenge is None
    with pytest.raises(LocalProtocolError):
        _authorize(session)


def test_same_nonce_rejected_is_given_up_too() -> None:
    session = DigestSession("alice", "wrong")
    session.respond([_challenge("n1")])
    attempt = _authorize(session)
    assert session.respond([_challenge("n1")], rejected=attempt).reason is AuthReason.REJECTED


def test_stale_retries_once_with_the_new_nonce() -> None:
    session = DigestSession("alice", "pw")
    session.respond([_challenge("n1")])
    attempt = _authorize(session)
    decision = session.respond([_challenge("n2", stale=True)], rejected=attempt)
    assert (decision.reason, decision.retry) == (AuthReason.STALE, True)
    retry = _authorize(session)
    assert (retry.nonce, retry.nc, retry.after_stale) == ("n2", 1, True)
    assert 'nonce="n2"' in retry.header_value
    assert "nc=00000001" in retry.header_value
    # A second stale (or plain) rejection of the retry ends it.
    again = session.respond([_challenge("n3", stale=True)], rejected=retry)
    assert again.reason is AuthReason.REJECTED


def test_stale_with_the_rejected_nonce_is_not_retried() -> None:
    session = DigestSession("alice", "pw")
    session.respond([_challenge("n1")])
    attempt = _authorize(session)
    decision = session.respond([_challenge("n1", stale=True)], rejected=attempt)
    assert decision.reason is AuthReason.REJECTED


def test_refused_reuse_of_a_cached_nonce_is_answered_once() -> None:
    session = DigestSession("alice", "pw")
    session.respond([_challenge("n1")])
    _authorize(session)  # an earlier request, accepted
    reuse = _authorize(session)
    assert reuse.nc == 2
    decision = session.respond([_challenge("n2")], rejected=reuse)
    assert decision.reason is AuthReason.NONCE_REPLACED
    fresh = _authorize(session)
    assert (fresh.nonce, fresh.nc, fresh.after_stale) == ("n2", 1, False)
    assert session.respond([_challenge("n3")], rejected=fresh).reason is AuthReason.REJECTED


def test_refused_reuse_with_the_same_nonce_is_given_up() -> None:
    session = DigestSession("alice", "pw")
    session.respond([_challenge("n1")])
    _authorize(session)
    reuse = _authorize(session)
    assert session.respond([_challenge("n1")], rejected=reuse).reason is AuthReason.REJECTED


def test_nc_counts_uses_of_a_nonce_and_restarts_with_a_new_one() -> None:
    session = DigestSession("alice", "pw")
    session.respond([_challenge("n1")])
    counts = [parse_authorization(_authorize(session).header_value).nc for _ in range(3)]
    assert counts == ["00000001", "00000002", "00000003"]
    assert session.nonce_count == 3
    # The same nonce challenged again (a request sent without credentials): keep counting.
    session.respond([_challenge("n1")])
    assert _authorize(session).nc == 4
    # A new nonce starts again at 1.
    session.respond([_challenge("n2")])
    assert [_authorize(session).nc for _ in range(2)] == [1, 2]


def test_unsupported_challenges_leave_the_session_unchanged() -> None:
    session = DigestSession("alice", "pw")
    session.respond([_challenge("n1")])
    _authorize(session)
    decision = session.respond([DigestChallenge(realm="sip.example", nonce="x", algorithm="SHA-1")])
    assert (decision.reason, decision.retry, decision.challenge) == (
        AuthReason.UNSUPPORTED,
        False,
        None,
    )
    assert session.challenge == _challenge("n1")
    assert _authorize(session).nc == 2


def test_session_realm_and_algorithm_policy() -> None:
    session = DigestSession(
        "alice", "pw", realm="b", algorithms={DigestAlgorithm.SHA_256}, prefer_auth_int=True
    )
    offers = [
        DigestChallenge(realm="a", nonce="1", algorithm="SHA-256", qop=("auth",)),
        DigestChallenge(realm="b", nonce="2", algorithm="MD5", qop=("auth",)),
        DigestChallenge(realm="b", nonce="3", algorithm="SHA-256", qop=("auth", "auth-int")),
    ]
    decision = session.respond(offers)
    assert decision.challenge is not None
    assert decision.challenge.nonce == "3"
    header = session.authorize(method="INVITE", uri="sip:bob@b", cnonce="c", body=b"v=0\r\n")
    credentials = parse_authorization(header.header_value)
    assert (credentials.realm, credentials.qop, credentials.algorithm) == (
        "b",
        "auth-int",
        "SHA-256",
    )
    assert verify_authorization(credentials, "pw", "INVITE", b"v=0\r\n")


def test_invalid_authorize_input_leaves_nc_unchanged() -> None:
    session = DigestSession("alice", "pw")
    session.respond([_challenge("n1")])
    with pytest.raises(LocalProtocolError):
        session.authorize(method="REGISTER", uri="sip:x\r\nVia: evil", cnonce="c")
    assert session.nonce_count == 0
    assert _authorize(session).nc == 1


def test_session_refuses_control_characters_in_credentials() -> None:
    with pytest.raises(LocalProtocolError):
        DigestSession("alice\r\n", "pw")
    with pytest.raises(LocalProtocolError):
        DigestSession("alice", "pw\n")  # e.g. a password read from a file with its newline


class _Registrar:
    """The server role of this module, as the embedded dev server would use it."""

    def __init__(self, password: str, *, always_stale: bool = False) -> None:
        self.password = password
        self.always_stale = always_stale
        self.issued = 0
        self.requests = 0

    def _challenge(self, *, stale: bool) -> str:
        self.issued += 1
        return format_challenge(
            DigestChallenge(
                realm="sip.example",
                nonce=f"nonce-{self.issued}",
                algorithm="SHA-256",
                qop=("auth",),
                stale=stale,
            )
        )

    def handle(self, authorization: str | None) -> tuple[int, list[str]]:
        self.requests += 1
        if authorization is None:
            return 401, [self._challenge(stale=False)]
        credentials = parse_authorization(authorization)
        good = verify_authorization(credentials, self.password, "REGISTER")
        if good and not self.always_stale:
            return 200, []
        return 401, [self._challenge(stale=good)]


def _register(session: DigestSession, registrar: _Registrar) -> int:
    authorization: DigestAuthorization | None = None
    for _ in range(10):
        status, values = registrar.handle(
            None if authorization is None else authorization.header_value
        )
        if status != 401:
            return status
        decision = session.respond(parse_challenges(values), rejected=authorization)
        if not decision.retry:
            return status
        authorization = session.authorize(
            method="REGISTER", uri="sip:sip.example", cnonce=f"c{registrar.requests}"
        )
    pytest.fail("the session kept retrying")


def test_end_to_end_against_the_server_role() -> None:
    registrar = _Registrar("pw")
    assert _register(DigestSession("alice", "pw"), registrar) == 200
    assert registrar.requests == 2

    registrar = _Registrar("pw")
    assert _register(DigestSession("alice", "wrong"), registrar) == 401
    assert registrar.requests == 2  # gave up after the second rejection, no loop

    registrar = _Registrar("pw", always_stale=True)
    assert _register(DigestSession("alice", "pw"), registrar) == 401
    assert registrar.requests == 3  # one stale retry, then no more


@settings(max_examples=300)
@given(
    behaviours=st.lists(
        st.sampled_from(["new-nonce", "same-nonce", "stale", "stale-same-nonce", "unsupported"]),
        min_size=1,
        max_size=10,
    ),
    preemptive=st.booleans(),
)
def test_a_chain_of_challenges_never_loops(behaviours: list[str], preemptive: bool) -> None:
    session = DigestSession("alice", "pw")
    rejected: DigestAuthorization | None = None
    if preemptive:
        session.respond([_challenge("cached")])
        _authorize(session)
        rejected = _authorize(session)  # this request reuses the cached nonce
    sent = 1
    for index, behaviour in enumerate(behaviours):
        previous = "none" if rejected is None else rejected.nonce
        nonce = previous if behaviour.endswith("same-nonce") else f"fresh-{index}"
        if behaviour == "unsupported":
            challenge = DigestChallenge(realm="sip.example", nonce=nonce, algorithm="SHA-1")
        else:
            challenge = _challenge(nonce, stale=behaviour.startswith("stale"))
        decision = session.respond([challenge], rejected=rejected)
        if not decision.retry:
            break
        rejected = _authorize(session)
        sent += 1
    # At most three requests for one attempt: (initial or cached) -> (challenged or
    # replaced) -> stale.
    assert sent <= 3


# ---------------------------------------------------------------------------------------
# Secrets stay out of repr / str
# ---------------------------------------------------------------------------------------


def test_secrets_are_not_in_repr_or_str() -> None:
    password = "s3cr3t-pa55"
    session = DigestSession("alice", password)
    session.respond([_challenge("n1")])
    authorization = _authorize(session)
    credentials = parse_authorization(authorization.header_value)
    ha1 = HA1(compute_ha1("MD5", username="alice", realm="sip.example", password_or_ha1=password))
    for thing, secret in [
        (session, password),
        (authorization, credentials.response),
        (credentials, credentials.response),
        (ha1, ha1.hexdigest),
    ]:
        assert secret not in repr(thing)
        assert secret not in str(thing)
    assert "alice" in repr(session)


# ---------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------

_TOKEN_CHARS = string.ascii_letters + string.digits + "-.!%*_+`'~"
_tokens = st.text(_TOKEN_CHARS, min_size=1, max_size=12)
_lower_tokens = _tokens.map(str.lower)
_text = st.text(
    st.one_of(
        st.characters(exclude_categories=("Cs", "Cc")),
        st.sampled_from(["\t", '"', "\\", " ", ","]),
    ),
    max_size=24,
)
_hex = st.text("0123456789abcdefABCDEF", min_size=1, max_size=64)
_algorithms = st.one_of(
    st.sampled_from([a.value for a in DigestAlgorithm]),
    _tokens.filter(lambda t: DigestAlgorithm.from_token(t) is None),
)
_CHALLENGE_NAMES = {"realm", "nonce", "opaque", "algorithm", "qop", "stale", "domain"} | {
    "userhash",
    "charset",
}
_CREDENTIAL_NAMES = {"username", "username*", "realm", "nonce", "uri", "response"} | {
    "algorithm",
    "cnonce",
    "qop",
    "nc",
    "opaque",
    "userhash",
}


def _extra_params(reserved: set[str]) -> st.SearchStrategy[tuple[tuple[str, str], ...]]:
    names = _lower_tokens.filter(lambda name: name not in reserved)
    return st.dictionaries(names, _text, max_size=3).map(lambda d: tuple(d.items()))


@st.composite
def _challenges(draw: st.DrawFn) -> DigestChallenge:
    return DigestChallenge(
        realm=draw(_text),
        nonce=draw(_text),
        opaque=draw(st.none() | _text),
        algorithm=draw(_algorithms),
        qop=tuple(draw(st.lists(_lower_tokens, max_size=3))),
        stale=draw(st.booleans()),
        domain=tuple(
            draw(st.lists(st.text(string.ascii_letters + ":/.;=@", min_size=1), max_size=3))
        ),
        userhash=draw(st.booleans()),
        charset=draw(st.none() | _tokens),
        params=draw(_extra_params(_CHALLENGE_NAMES)),
    )


@st.composite
def _credentials_values(draw: st.DrawFn) -> DigestCredentials:
    qop = draw(st.none() | _lower_tokens)
    return DigestCredentials(
        username=draw(_text),
        realm=draw(_text),
        nonce=draw(_text),
        uri=draw(_text),
        response=draw(_hex),
        algorithm=draw(_algorithms),
        cnonce=draw(_text) if qop is not None else draw(st.none() | _text),
        qop=qop,
        nc=draw(st.text("0123456789abcdefABCDEF", min_size=8, max_size=8))
        if qop is not None
        else draw(st.none() | st.text("0123456789abcdef", min_size=8, max_size=8)),
        opaque=draw(st.none() | _text),
        userhash=draw(st.booleans()),
        params=draw(_extra_params(_CREDENTIAL_NAMES)),
    )


_grammar_soup = st.text(
    st.sampled_from(list("Digest realm nonce qop=auth,\"\\ \t\r\n=-*'%x\x00é")), max_size=60
)


@given(st.one_of(st.text(max_size=80), _grammar_soup))
def test_parsers_succeed_or_raise_remote_errors_only(text: str) -> None:
    try:
        challenge = parse_challenge(text)
    except RemoteProtocolError:
        pass
    else:
        assert parse_challenge(format_challenge(challenge)) == challenge
    try:
        credentials = parse_authorization(text)
    except RemoteProtocolError:
        pass
    else:
        assert parse_authorization(format_authorization(credentials)) == credentials
    with contextlib.suppress(RemoteProtocolError):
        parse_challenges([text, text])


@given(st.one_of(st.text(max_size=80), _grammar_soup))
def test_digest_prefix_soup_succeeds_or_raises_remote_errors_only(text: str) -> None:
    for value in (f"Digest {text}", f'Digest realm="r", nonce="n", {text}'):
        with contextlib.suppress(RemoteProtocolError):
            parse_challenge(value)
        with contextlib.suppress(RemoteProtocolError):
            parse_authorization(value)


@given(_challenges())
def test_generated_challenges_round_trip(challenge: DigestChallenge) -> None:
    assert parse_challenge(format_challenge(challenge)) == challenge


@given(_credentials_values())
def test_generated_credentials_round_trip(credentials: DigestCredentials) -> None:
    assert parse_authorization(format_authorization(credentials)) == credentials


@given(
    algorithm=st.sampled_from(list(DigestAlgorithm)),
    qop=st.sampled_from(
        [(), ("auth",), ("auth-int",), ("auth", "auth-int"), ("auth-conf", "auth")]
    ),
    userhash=st.booleans(),
    realm=_text,
    nonce=_text,
    username=_text,
    password=_text,
    method=_tokens,
    uri=_text,
    body=st.binary(max_size=64),
    cnonce=_text.filter(bool),
    nc=st.integers(1, 0xFFFFFFFF),
    prefer_auth_int=st.booleans(),
)
def test_any_answer_verifies(
    algorithm: DigestAlgorithm,
    qop: tuple[str, ...],
    userhash: bool,
    realm: str,
    nonce: str,
    username: str,
    password: str,
    method: str,
    uri: str,
    body: bytes,
    cnonce: str,
    nc: int,
    prefer_auth_int: bool,
) -> None:
    challenge = DigestChallenge(
        realm=realm, nonce=nonce, algorithm=algorithm.value, qop=qop, userhash=userhash
    )
    header = build_authorization(
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
    credentials = parse_authorization(header)
    assert credentials.nonce_count == (nc if qop else None)
    assert verify_authorization(credentials, password, method, body, username=username)
    assert not verify_authorization(credentials, password + "!", method, body, username=username)
