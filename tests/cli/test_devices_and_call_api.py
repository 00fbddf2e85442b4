"""``exotel-voice devices`` on this machine and ``exotel-voice call-api`` against a local
HTTPS server standing in for Exotel (the one tests/client/test_rest.py uses)."""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
import trustme

from tests.cli.processes import run
from tests.client.test_rest import (
    ACCOUNT_SID,
    API_KEY,
    API_TOKEN,
    BASIC,
    CALL_SID,
    CONNECT_PATH,
    FakeExotel,
    Reply,
)

API_ENV = {
    "EXOTEL_API_KEY": API_KEY,
    "EXOTEL_API_TOKEN": API_TOKEN,
    "EXOTEL_ACCOUNT_SID": ACCOUNT_SID,
}
CALL = ["--from", "agent_sip_user", "--to", "+919876543210", "--caller-id", "08047112233"]


def test_devices_lists_or_says_there_are_none() -> None:
    done = run("devices")
    assert done.returncode == 0, done.stderr
    assert "No audio devices found" in done.stdout or "Inputs (microphones)" in done.stdout
    assert "Traceback" not in done.stderr


def test_devices_json() -> None:
    done = run("devices", "--json")
    assert done.returncode == 0, done.stderr
    listing = json.loads(done.stdout)
    assert isinstance(listing["inputs"], list) and isinstance(listing["outputs"], list)
    if not listing["inputs"] and not listing["outputs"]:
        assert "No audio devices found" in listing["message"]
    for device in listing["inputs"] + listing["outputs"]:
        assert {"id", "name", "kind", "default"} <= set(device)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture
def exotel(ca: trustme.CA) -> Iterator[FakeExotel]:
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(tls)
    server = FakeExotel(tls)
    yield server
    server.close()


def test_call_api_places_the_call_and_prints_the_sid(exotel: FakeExotel, ca_file: Path) -> None:
    done = run(
        "call-api",
        "--base-url",
        exotel.url,
        "--ca-file",
        str(ca_file),
        *CALL,
        "--time-limit",
        "60",
        env=API_ENV,
    )

    assert done.returncode == 0, done.stderr
    assert CALL_SID in done.stdout and "in-progress" in done.stdout
    (seen,) = exotel.requests
    assert (seen.method, seen.path) == ("POST", CONNECT_PATH)
    assert seen.headers["authorization"] == BASIC
    assert parse_qsl(seen.body.decode()) == [
        ("From", "agent_sip_user"),
        ("To", "+919876543210"),
        ("CallerId", "08047112233"),
        ("TimeLimit", "60"),
    ]
    assert API_TOKEN not in done.stdout + done.stderr


def test_call_api_json(exotel: FakeExotel, ca_file: Path) -> None:
    done = run(
        "call-api",
        "--base-url",
        exotel.url,
        "--ca-file",
        str(ca_file),
        *CALL,
        "--json",
        env=API_ENV,
    )

    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["sid"] == CALL_SID
    assert record["status"] == "in-progress"
    assert record["raw"]["Direction"] == "outbound-api"


def test_call_api_refusal_is_one_line_without_the_token(exotel: FakeExotel, ca_file: Path) -> None:
    exotel.reply = Reply(
        status=401,
        body=json.dumps(
            {"RestException": {"Status": 401, "Message": "Authentication failed"}}
        ).encode(),
    )
    done = run("call-api", "--base-url", exotel.url, "--ca-file", str(ca_file), *CALL, env=API_ENV)

    assert done.returncode == 1
    errors = [line for line in done.stderr_lines if "error" in line]
    assert errors == [
        "exotel-voice call-api: error: Exotel refused the call: HTTP 401: Authentication failed"
    ]
    assert API_TOKEN not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr
