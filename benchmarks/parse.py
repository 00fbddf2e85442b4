"""Message parsing against sippy, sipmessage and a bare split+regex floor, in one run.

Two benchmarks:

* **core fields**: parse each message of ``benchmarks.messages.MIX`` and read Call-ID,
  CSeq number and method, the top Via's branch, the From and To tags and the body
  length. Every contender reads the same fields and is checked against the corpus'
  expected values before it is timed.
* **full parse** of the WebRTC INVITE: sipcore's ``parse_message`` + ``validate()``
  (every header it knows, the Request-URI) + ``SessionDescription.parse`` of the body,
  against sippy reading every header it knows (``getBody()`` on each) and its
  ``SdpBody``. sipmessage has no SDP parser and is left out of this one.

sippy works on ``str``: its timed work includes ``bytes.decode()``, which any receive
path would pay (sipcore and sipmessage decode inside their parse). Results are printed
and written to ``benchmarks/results/parse.json``.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks._timing import Measurement, Settings, Workload, measure
from benchmarks.messages import INVITE, INVITE_SDP_CANDIDATES, MIX, Sample
from sipcore import Request, Response, SessionDescription, SipUri, parse_message

__all__ = ["run", "CoreFields", "Contender", "FullContender", "TARGET_RATIO"]

RESULTS = Path(__file__).parent / "results" / "parse.json"

TARGET_RATIO = 3.0
"""The issue's target: sipcore at least this many times sippy's rate, both benchmarks."""

CoreFields = tuple[str, int, str, str | None, str | None, str | None, int]
"""Call-ID, CSeq number, CSeq method, top Via branch, From tag, To tag, body length."""


@dataclass(frozen=True, slots=True)
class Contender:
    """One parser in the core-fields benchmark."""

    name: str
    read: Callable[[bytes], CoreFields]
    """Parse one message and read the core fields."""


@dataclass(frozen=True, slots=True)
class FullContender:
    """One parser in the full-parse benchmark."""

    name: str
    parse: Callable[[bytes], object]
    """Parse the message, every header the library knows, and the SDP body."""
    check: Callable[[object], None]
    """Assert that what ``parse`` returned holds the expected values (raises if not)."""


def _expected(sample: Sample) -> CoreFields:
    return (
        sample.call_id,
        sample.cseq,
        sample.method,
        sample.branch,
        sample.from_tag,
        sample.to_tag,
        sample.body_length,
    )


# -- sipcore -----------------------------------------------------------------------------


def sipcore_core(data: bytes) -> CoreFields:
    """sipcore: ``parse_message`` and the typed accessors."""
    message = parse_message(data)
    cseq = message.cseq
    return (
        message.call_id,
        cseq.seq,
        cseq.method,
        message.via[0].branch,
        message.from_.tag,
        message.to.tag,
        len(message.body),
    )


def sipcore_full(data: bytes) -> tuple[Request | Response, SessionDescription]:
    """sipcore: parse, ``validate()`` (every known header and the Request-URI), parse SDP."""
    message = parse_message(data)
    message.validate()
    return message, SessionDescription.parse(message.body)


def _check_sipcore_full(result: object) -> None:
    assert isinstance(result, tuple)
    message, sdp = result
    assert isinstance(message, Request)
    assert isinstance(sdp, SessionDescription)
    assert message.via[1].received == "198.51.100.77"
    hosts = [route.uri.host for route in message.record_route if isinstance(route.uri, SipUri)]
    assert hosts == ["203.0.113.10"] * 2
    assert len(sdp.media) == 1
    assert len(sdp.media[0].find_all("candidate")) == INVITE_SDP_CANDIDATES


# -- the floor: split and regex, no validation -------------------------------------------

_BRANCH = re.compile(r";[ \t]*branch=([^;,\s]+)", re.IGNORECASE)
_TAG = re.compile(r";[ \t]*tag=([^;,\s]+)", re.IGNORECASE)
_COMPACT = {"i": "call-id", "v": "via", "f": "from", "t": "to", "l": "content-length"}


def bare_core(data: bytes) -> CoreFields:
    """The floor: split the header lines, keep the first of each name, regex the fields out."""
    head, _, rest = data.partition(b"\r\n\r\n")
    fields: dict[str, str] = {}
    for line in head.decode().split("\r\n")[1:]:
        name, _, value = line.partition(":")
        key = name.strip().lower()
        key = _COMPACT.get(key, key)
        if key not in fields:
            fields[key] = value.strip()
    seq, method = fields["cseq"].split()
    branch = _BRANCH.search(fields["via"])
    from_tag = _TAG.search(fields["from"])
    to_tag = _TAG.search(fields["to"])
    body = rest[: int(fields.get("content-length", len(rest)))]
    return (
        fields["call-id"],
        int(seq),
        method,
        branch.group(1) if branch else None,
        from_tag.group(1) if from_tag else None,
        to_tag.group(1) if to_tag else None,
        len(body),
    )


# -- sippy -------------------------------------------------------------------------------


def _peer(module: str) -> Any:
    """Import a peer by name (typed as ``Any``: sippy has no annotations), or ``None``."""
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def _sippy() -> tuple[Contender, FullContender] | None:
    if _peer("sippy") is None:
        return None
    sdp_body = _peer("sippy.SdpBody").SdpBody
    sip_request = _peer("sippy.SipRequest").SipRequest
    sip_response = _peer("sippy.SipResponse").SipResponse

    def core(data: bytes) -> CoreFields:
        text = data.decode()
        message = sip_response(text) if text.startswith("SIP/") else sip_request(text)
        cseq = message.getHFBody("cseq")
        body = message.body
        call_id: str = message.getHFBody("call-id").body
        seq: int = cseq.getCSeqNum()
        method: str = cseq.getCSeqMethod()
        branch: str | None = message.getHFBody("via").getBranch()
        from_tag: str | None = message.getHFBody("from").getTag()
        to_tag: str | None = message.getHFBody("to").getTag()
        # sippy drops an empty body (Content-Length: 0) to None.
        length: int = 0 if body is None else len(body.content)
        return call_id, seq, method, branch, from_tag, to_tag, length

    def full(data: bytes) -> object:
        # SipRequest reads the Request-URI, Content-Length and Content-Type; the other
        # headers are read on getBody().
        message = sip_request(data.decode())
        for header in message.headers:
            header.getBody()
        message.body.parse()
        return message

    def check_full(result: object) -> None:
        message: Any = result
        assert message.getHFBodys("via")[1].params["received"] == "198.51.100.77"
        routes = message.getHFBodys("record-route")
        assert [route.getUrl().host for route in routes] == ["203.0.113.10"] * 2
        sdp = message.body.content
        assert isinstance(sdp, sdp_body)
        assert len(sdp.sections) == 1
        candidates = [a for a in sdp.sections[0].a_headers if a.name == "candidate"]
        assert len(candidates) == INVITE_SDP_CANDIDATES

    return Contender("sippy", core), FullContender("sippy", full, check_full)


# -- sipmessage --------------------------------------------------------------------------


def _sipmessage() -> Contender | None:
    sipmessage = _peer("sipmessage")
    if sipmessage is None:
        return None
    message_type = sipmessage.Message

    def core(data: bytes) -> CoreFields:
        message = message_type.parse(data)
        cseq = message.cseq
        call_id: str = message.call_id
        seq: int = cseq.sequence
        method: str = cseq.method
        branch: str | None = message.via[0].parameters.get("branch")
        from_tag: str | None = message.from_address.parameters.get("tag")
        to_tag: str | None = message.to_address.parameters.get("tag")
        return call_id, seq, method, branch, from_tag, to_tag, len(message.body)

    return Contender("sipmessage", core)


# -- running -----------------------------------------------------------------------------


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _environment() -> dict[str, Any]:
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "machine": platform.machine(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "versions": {name: _version(name) for name in ("sipcore", "sippy", "sipmessage")},
    }


def _ratios(results: dict[str, Measurement], ours: str) -> dict[str, dict[str, float]]:
    mine = results[ours]
    return {
        f"{ours}/{name}": {
            "median": round(mine.median / other.median, 3),
            "best": round(mine.best / other.best, 3),
        }
        for name, other in results.items()
        if name != ours
    }


_NOISY = 0.10
"""A spread above this (slowest run 10 % slower than the fastest) is flagged."""


def _print_table(title: str, results: dict[str, Measurement], ours: str) -> None:
    print(f"\n{title}")
    print(
        f"  {'contender':<18}{'median msg/s':>14}{'best msg/s':>14}{'spread':>8}"
        f"{ours + ' is (median)':>22}{'(best)':>8}"
    )
    mine = results[ours]
    for name, m in results.items():
        median = "" if name == ours else f"{mine.median / m.median:.2f}x"
        best = "" if name == ours else f"{mine.best / m.best:.2f}x"
        print(
            f"  {name:<18}{m.median:>14,.0f}{m.best:>14,.0f}{m.spread:>8.1%}{median:>22}{best:>8}"
        )
    if any(m.spread > _NOISY for m in results.values()):
        print(f"  (a spread over {_NOISY:.0%}: the machine was busy; trust 'best' more)")


def _verdict(label: str, results: dict[str, Measurement]) -> bool | None:
    if "sippy" not in results:
        print(f"  {label}: sippy not installed, target not checked")
        return None
    ours, sippy = results["sipcore"], results["sippy"]
    median, best = ours.median / sippy.median, ours.best / sippy.best
    met = median >= TARGET_RATIO
    print(
        f"  {label}: sipcore/sippy = {median:.2f}x median, {best:.2f}x best; "
        f"target {TARGET_RATIO:.0f}x: {'met' if met else 'NOT met'}"
    )
    return met


def run(settings: Settings) -> dict[str, Any]:
    """Run both benchmarks, print the tables and write ``benchmarks/results/parse.json``.

    Args:
        settings: duration and number of timed runs per measurement.

    Returns:
        What was written to the JSON file.
    """
    sippy = _sippy()
    sipmessage = _sipmessage()
    contenders = [Contender("sipcore", sipcore_core)]
    if sippy is not None:
        contenders.append(sippy[0])
    if sipmessage is not None:
        contenders.append(sipmessage)
    contenders.append(Contender("bare split+regex", bare_core))
    missing = [n for n, c in (("sippy", sippy), ("sipmessage", sipmessage)) if c is None]
    if missing:
        print(f"not installed, left out: {', '.join(missing)} (use the 'bench' group)")

    # Honesty first: every contender must read the right values before it is timed.
    for contender in contenders:
        for sample in MIX:
            got = contender.read(sample.data)
            want = _expected(sample)
            assert got == want, f"{contender.name} read {got} from {sample.name}, want {want}"

    datas = [sample.data for sample in MIX]
    sizes = [len(d) for d in datas]
    print(
        f"corpus: {', '.join(f'{s.name} {len(s.data)} B' for s in MIX)}; "
        f"repeats {settings.repeats} x ~{settings.seconds:g} s"
    )

    core = measure([Workload(c.name, c.read, datas) for c in contenders], settings)
    _print_table(
        f"Core fields over the mix ({len(MIX)} messages, {sum(sizes) / len(sizes):.0f} B mean)",
        core,
        "sipcore",
    )

    short = Settings(settings.repeats, settings.seconds / 3)
    per_message: dict[str, dict[str, Measurement]] = {}
    for sample in MIX:
        per_message[sample.name] = measure(
            [Workload(c.name, c.read, [sample.data]) for c in contenders], short
        )
    print("\nCore fields per message (median msg/s)")
    names = [c.name for c in contenders]
    print(f"  {'message':<12}" + "".join(f"{n:>18}" for n in names) + f"{'sipcore/sippy':>15}")
    for sample_name, results in per_message.items():
        row = "".join(f"{results[n].median:>18,.0f}" for n in names)
        ratio = (
            f"{results['sipcore'].median / results['sippy'].median:.2f}x"
            if "sippy" in results
            else "-"
        )
        print(f"  {sample_name:<12}{row}{ratio:>15}")

    full_contenders = [FullContender("sipcore", sipcore_full, _check_sipcore_full)]
    if sippy is not None:
        full_contenders.append(sippy[1])
    for full_contender in full_contenders:
        full_contender.check(full_contender.parse(INVITE.data))
    full = measure([Workload(c.name, c.parse, [INVITE.data]) for c in full_contenders], settings)
    _print_table(
        f"Full parse of the WebRTC INVITE ({len(INVITE.data)} B: every header + SDP)",
        full,
        "sipcore",
    )

    print("\nTargets")
    core_met = _verdict("core fields", core)
    full_met = _verdict("full parse ", full)

    report: dict[str, Any] = {
        "environment": _environment(),
        "settings": {"repeats": settings.repeats, "seconds_per_repeat": settings.seconds},
        "corpus": {s.name: len(s.data) for s in MIX},
        "core_mix": {
            "results": {name: m.as_json() for name, m in core.items()},
            "ratios": _ratios(core, "sipcore"),
        },
        "core_per_message": {
            sample_name: {
                "results": {name: m.as_json() for name, m in results.items()},
                "ratios": _ratios(results, "sipcore"),
            }
            for sample_name, results in per_message.items()
        },
        "full_invite": {
            "results": {name: m.as_json() for name, m in full.items()},
            "ratios": _ratios(full, "sipcore"),
        },
        "targets": {
            "ratio": TARGET_RATIO,
            "core_mix_met": core_met,
            "full_invite_met": full_met,
        },
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {RESULTS}")
    return report
