"""The ICE probe against the suite's own coturn (STUN and TURN on a free loopback port).

aioice gathers host candidates from every interface but loopback, so these tests need
one non-loopback address (any container or VM has one); the STUN/TURN server listens
on 127.0.0.1, and packets from the host address reach it over the loopback route.
"""

from __future__ import annotations

import asyncio
import socket

import pytest
from aioice.ice import get_host_addresses

from sipmedia.probes import PROBE_KEYS, IceProbeReport, classify_candidate, probe_ice
from sipmedia.session import IceServer
from tests.media.servers import TurnServer, turn

__all__ = ["turn"]  # the fixture, imported for pytest


def _probe(servers: list[IceServer], timeout: float = 2.0) -> IceProbeReport:
    return asyncio.run(probe_ice(servers, timeout))


def _ipv4_hosts() -> list[str]:
    hosts = list(get_host_addresses(use_ipv4=True, use_ipv6=False))
    if not hosts:
        pytest.fail(
            "this machine has no non-loopback IPv4 address, so aioice gathers no host "
            "candidate to probe from; give it one (any container network does)",
            pytrace=False,
        )
    return hosts


def test_stun_gives_server_reflexive_candidates(turn: TurnServer) -> None:
    hosts = _ipv4_hosts()
    report = _probe([IceServer(turn.stun_url)])

    srflx = report.check("srflx")
    assert srflx.status == "connected"
    # no NAT between us and a STUN server on this machine: mapped address == host address
    assert {line.split()[4] for line in srflx.candidates} == set(hosts)
    assert all(f"raddr {line.split()[4]}" in line for line in srflx.candidates)
    assert report.check("host").status == "connected"
    assert report.check("udp").status == "connected"
    assert report.check("relay").status == "disconnected"
    # aioice has no ICE-TCP: never a tcp candidate
    assert report.check("tcp").status == "disconnected"
    assert report.check("tcp").description == ""
    assert report.unanswered == ()
    assert all(line.startswith("candidate:") for line in report.candidates)


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_turn_gives_relayed_candidates(turn: TurnServer, transport: str) -> None:
    _ipv4_hosts()
    server = IceServer(turn.turn_url(transport), turn.username, turn.password)
    report = _probe([server])

    relay = report.check("relay")
    assert relay.status == "connected", report
    for line in relay.candidates:
        fields = line.split()
        assert fields[2] == "udp"  # the relayed address is UDP even when TURN runs over TCP
        assert fields[4] == "127.0.0.1"  # coturn relays from its --relay-ip
        assert fields[7] == "relay"
    assert report.check("tcp").status == "disconnected"


def test_a_wrong_turn_password_yields_no_relay(turn: TurnServer) -> None:
    _ipv4_hosts()
    url = turn.turn_url("udp")
    report = _probe([IceServer(url, turn.username, "wrong")])
    assert report.check("relay").status == "disconnected"
    assert report.check("host").status == "connected"
    assert report.unanswered == (url,)


def test_an_unreachable_stun_server_gives_host_candidates_within_the_bound() -> None:
    _ipv4_hosts()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))  # bound, never answers
        silent = f"stun:127.0.0.1:{sock.getsockname()[1]}"
        report = _probe([IceServer(silent)], timeout=1.5)

    assert 1.4 < report.elapsed < 2.5
    assert report.check("host").status == "connected"
    assert report.check("srflx").status == "disconnected"
    assert report.check("srflx").description == ""
    assert report.unanswered == (silent,)
    keys = {key for line in report.candidates for key in classify_candidate(line)}
    assert "srflx" not in keys and "relay" not in keys


def test_several_servers_are_each_asked(turn: TurnServer) -> None:
    _ipv4_hosts()
    servers = [
        IceServer(turn.stun_url),
        IceServer(turn.turn_url("udp"), turn.username, turn.password),
        IceServer("turn:127.0.0.1:3478?transport=sctp", "u", "p"),
    ]
    report = _probe(servers)
    statuses = {check.key: check.status for check in report.checks()}
    assert list(statuses) == list(PROBE_KEYS)
    assert statuses["srflx"] == statuses["relay"] == statuses["host"] == "connected"
    assert statuses["tcp"] == "disconnected"
    assert report.unsupported == ("turn:127.0.0.1:3478?transport=sctp",)


def test_candidate_lines_are_classified_like_the_guide_says() -> None:
    chrome_tcp = "candidate:1 1 tcp 1518280447 192.168.1.5 9 typ host tcptype active"
    assert classify_candidate(chrome_tcp) == {"tcp", "host"}
    srflx = "candidate:2 1 udp 1686052607 203.0.113.7 51234 typ srflx raddr 10.0.0.2 rport 5"
    assert classify_candidate(srflx) == {"udp", "srflx"}
    v6 = "candidate:3 1 UDP 2122262783 2001:db8::1 50000 typ host"
    assert classify_candidate(v6) == {"udp", "ipv6", "host"}
    mdns = "candidate:4 1 udp 2122260223 4e5c1a1e-0b1c-4a3e-9a5e-8b0f2f6c9d1a.local 5 typ host"
    assert classify_candidate(mdns) == {"udp", "host"}  # not ipv6, unlike the JS SDK
    relay = "candidate:5 1 udp 41885439 198.51.100.9 3478 typ relay raddr 1.2.3.4 rport 6"
    assert classify_candidate(relay) == {"udp", "relay"}
    assert classify_candidate("a=end-of-candidates") == frozenset()
    with pytest.raises(KeyError):
        IceProbeReport((), (), (), 0.0).check("wss")
