"""SDP model (RFC 8866): parsing, writing, typed views, edits, limits, and properties.

The real-world descriptions come from the shared test data (``testdata/sdp`` and its
MANIFEST.tsv); ``SIPCORE_TESTDATA`` overrides where that directory is looked for.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sipcore.errors import LocalProtocolError, RemoteProtocolError
from sipcore.sdp import (
    STATIC_PAYLOAD_TYPES,
    Attribute,
    Bandwidth,
    Candidate,
    Codec,
    Connection,
    Direction,
    ExtMap,
    Field,
    Fingerprint,
    Fmtp,
    Group,
    Line,
    MediaDescription,
    Msid,
    Origin,
    Rtcp,
    RtcpFeedback,
    RtpMap,
    SdpLimits,
    SessionDescription,
    Setup,
    Ssrc,
    SsrcGroup,
    Timing,
)
from tests.testdata import TESTDATA

# ---------------------------------------------------------------------------------------
# Test data
# ---------------------------------------------------------------------------------------


def _testdata_dir() -> Path:
    return TESTDATA / "sdp"  # test_manifest_matches_files fails loudly if absent


SDP_DIR = _testdata_dir()


@dataclass(frozen=True)
class Sample:
    file: str
    line_endings: str
    size: int
    sha256: str
    notes: str

    @property
    def is_template(self) -> bool:
        return self.notes.startswith("TEMPLATE")

    @property
    def is_negative(self) -> bool:
        return self.notes.startswith("NEGATIVE")

    def raw(self) -> bytes:
        return (SDP_DIR / self.file).read_bytes()


def _manifest() -> list[Sample]:
    path = SDP_DIR / "MANIFEST.tsv"
    if not path.is_file():
        return []
    rows = [line for line in path.read_text().splitlines() if line and not line.startswith("#")]
    header = rows[0].split("\t")
    samples = []
    for row in rows[1:]:
        cells = dict(zip(header, row.split("\t"), strict=True))
        samples.append(
            Sample(
                cells["file"],
                cells["line_endings"],
                int(cells["size"]),
                cells["sha256"],
                cells["notes"],
            )
        )
    return samples


MANIFEST = _manifest()

# Realistic values for the rtpengine test placeholders (what rtpengine writes there).
_FINGERPRINT = ":".join(f"{b:02X}" for b in hashlib.sha256(b"sipcore").digest())
_PLACEHOLDERS = {
    "FINGERPRINT256": _FINGERPRINT,
    "TLS_ID": "8d5a1f4bbef2a6ea67f1cd2b7bd3e1c9",
    "ICEUFRAG": "q2758e93",
    "ICEPWD": "bd5e845657ecb8d6dd8e1bc6",
    "ICEBASE": "1QWBrqKdJLKJVCXd",
}


def substitute(text: str) -> str:
    """Fill a TEMPLATE: PORT becomes 30000, 30001... in order of appearance."""
    ports = iter(range(30000, 31000))
    text = re.sub(r"\bPORT\b", lambda _: str(next(ports)), text)
    for name, value in _PLACEHOLDERS.items():
        text = re.sub(rf"\b{name}\b", value, text)
    return text


def sample_text(sample: Sample) -> str:
    text = sample.raw().decode()
    return substitute(text) if sample.is_template else text


def load(file: str) -> SessionDescription:
    sample = next(s for s in MANIFEST if s.file == file)
    return SessionDescription.parse(sample_text(sample))


def crlf_normalised(text: str) -> str:
    """The input with every line ended by CRLF (empty lines are not SDP lines: dropped)."""
    return "".join(line + "\r\n" for line in text.replace("\r\n", "\n").split("\n") if line)


# Every file parses, the deliberate negatives included (see test_invalid_sample_...).
ALL = [pytest.param(s, id=s.file) for s in MANIFEST]
LF_ONLY = [pytest.param(s, id=s.file) for s in MANIFEST if s.line_endings.startswith("LF")]


def test_manifest_matches_files() -> None:
    assert len(MANIFEST) == 23, f"expected the 23 SDP samples in {SDP_DIR}"
    on_disk = {p.name for p in SDP_DIR.glob("*.sdp")}
    assert on_disk == {s.file for s in MANIFEST}
    for sample in MANIFEST:
        data = sample.raw()
        assert len(data) == sample.size, sample.file
        assert hashlib.sha256(data).hexdigest() == sample.sha256, sample.file


# ---------------------------------------------------------------------------------------
# Round trips over every file
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("sample", ALL)
def test_every_file_round_trips(sample: Sample) -> None:
    text = sample_text(sample)
    parsed = SessionDescription.parse(text)
    written = str(parsed)
    assert written == crlf_normalised(text)
    assert bytes(parsed) == written.encode()
    assert SessionDescription.parse(written) == parsed
    assert SessionDescription.parse(sample.raw() if not sample.is_template else text) == parsed


@pytest.mark.parametrize("sample", LF_ONLY)
def test_lf_only_files_parse_like_their_crlf_form(sample: Sample) -> None:
    text = sample_text(sample)
    assert "\r" not in text
    assert SessionDescription.parse(text) == SessionDescription.parse(text.replace("\n", "\r\n"))


def test_lf_only_files_are_in_the_set() -> None:
    lf = {s.file for s in MANIFEST if s.line_endings.startswith("LF")}
    assert {"sdptransform__jsep.sdp", "sdptransform__icelite.sdp"} <= lf


@pytest.mark.parametrize("sample", ALL)
def test_bytes_and_str_parse_alike(sample: Sample) -> None:
    text = sample_text(sample)
    assert SessionDescription.parse(text.encode()) == SessionDescription.parse(text)


@pytest.mark.parametrize("sample", ALL)
def test_copy_is_equal_and_independent(sample: Sample) -> None:
    parsed = SessionDescription.parse(sample_text(sample))
    copied = parsed.copy()
    assert copied == parsed
    copied.lines.append(Attribute("x-test"))
    for section in copied.media:
        section.lines.append(Attribute("x-test"))
        section.formats.append("99")
    assert copied != parsed
    assert str(parsed) == crlf_normalised(sample_text(sample))


ViewType = (
    type[RtpMap]
    | type[Fmtp]
    | type[Candidate]
    | type[Fingerprint]
    | type[Rtcp]
    | type[Group]
    | type[Msid]
    | type[Ssrc]
    | type[SsrcGroup]
    | type[ExtMap]
    | type[RtcpFeedback]
)
VIEWS: tuple[ViewType, ...] = (
    RtpMap,
    Fmtp,
    Candidate,
    Fingerprint,
    Rtcp,
    Group,
    Msid,
    Ssrc,
    SsrcGroup,
    ExtMap,
    RtcpFeedback,
)


@pytest.mark.parametrize("sample", ALL)
def test_typed_views_write_back_the_attribute_they_read(sample: Sample) -> None:
    parsed = SessionDescription.parse(sample_text(sample))
    checked = 0
    for section in [parsed, *parsed.media]:
        for attribute in section.attributes:
            for view in VIEWS:
                if attribute.name == view.NAME:
                    assert view.from_attribute(attribute).to_attribute() == attribute
                    checked += 1
    has_attributes = any(section.attributes for section in [parsed, *parsed.media])
    assert checked > 0 or not has_attributes


# ---------------------------------------------------------------------------------------
# Typed views against real values
# ---------------------------------------------------------------------------------------

CHROME_FP = (
    "6B:8B:5D:EA:59:04:20:23:29:C8:87:1C:CC:87:32:BE:"
    "DD:8C:66:A5:8E:50:55:EA:8C:D3:B6:5C:09:5E:D6:BC"
)


def test_chrome_audio_offer() -> None:
    sdp = load("aiortc__chrome_audio_offer.sdp")
    assert sdp.version == 0
    assert sdp.origin == Origin("-", "863426017819471768", 2, "IN", "IP4", "127.0.0.1")
    assert sdp.session_name == "-"
    assert sdp.timings == (Timing(0, 0),)
    assert sdp.bundle == Group("BUNDLE", ("audio",))
    assert sdp.find("msid-semantic") == Attribute(
        "msid-semantic", " WMS TF6VRif1dxuAfe5uefrV2953LhUZt1keYvxU"
    )
    assert len(sdp.media) == 1
    audio = sdp.media[0]
    assert (audio.media, audio.port, audio.proto) == ("audio", 45076, "UDP/TLS/RTP/SAVPF")
    assert audio.formats == [
        "111",
        "103",
        "104",
        "9",
        "0",
        "8",
        "106",
        "105",
        "13",
        "110",
        "112",
        "113",
        "126",
    ]
    assert audio.connection == Connection("IN", "IP4", "192.168.99.58")
    assert audio.rtcp == Rtcp(9, "IN", "IP4", "0.0.0.0")
    assert audio.rtcp_mux
    assert audio.mid == "audio"
    assert sdp.media_with_mid("audio") is audio
    assert audio.direction is Direction.SENDRECV
    assert audio.setup is Setup.ACTPASS
    assert audio.ice_ufrag == "5+Ix"
    assert audio.ice_pwd == "uK8IlylxzDMUhrkVzdmj0M+v"
    assert audio.ice_options == ("trickle",)
    assert not sdp.ice_lite
    assert audio.fingerprint == Fingerprint("sha-256", CHROME_FP)
    assert audio.rtpmap_for(111) == RtpMap(111, "opus", 48000, 2)
    opus_fmtp = audio.fmtp_for(111)
    assert opus_fmtp == Fmtp(111, "minptime=10;useinbandfec=1")
    assert opus_fmtp.parameters == {"minptime": "10", "useinbandfec": "1"}
    assert audio.rtcp_feedback == [RtcpFeedback("111", "transport-cc")]
    assert audio.extmaps == [ExtMap(1, "urn:ietf:params:rtp-hdrext:ssrc-audio-level")]
    assert [s.attribute for s in audio.ssrcs] == ["cname", "msid", "mslabel", "label"]
    assert audio.ssrcs[0] == Ssrc(1944796561, "cname", "/vC4ULAr8vHNjXmq")

    codecs = audio.codecs
    assert codecs[0] == Codec(111, "opus", 48000, 2, "minptime=10;useinbandfec=1")
    assert [(c.payload_type, c.name, c.clock_rate) for c in codecs[1:6]] == [
        (103, "ISAC", 16000),
        (104, "ISAC", 32000),
        (9, "G722", 8000),
        (0, "PCMU", 8000),
        (8, "PCMA", 8000),
    ]
    assert [c.clock_rate for c in audio.telephone_events] == [48000, 32000, 16000, 8000]
    assert [c.payload_type for c in audio.telephone_events] == [110, 112, 113, 126]
    assert audio.has_telephone_event

    candidates = audio.candidates
    assert len(candidates) == 4
    assert candidates[0] == Candidate(
        "2665802302",
        1,
        "udp",
        2122262783,
        "2a02:a03f:3eb0:e000:b0aa:d60a:cff2:933c",
        38475,
        "host",
        extensions=(("generation", "0"), ("network-id", "2"), ("network-cost", "10")),
    )
    tcp = [c for c in candidates if c.transport == "tcp"]
    assert len(tcp) == 2
    assert all(c.tcptype == "active" and c.port == 9 for c in tcp)
    assert candidates[0].tcptype is None
    assert not audio.end_of_candidates


def test_chrome_offer_srflx_candidates_and_unknown_rtcp_fb() -> None:
    sdp = load("rtpengine__chrome_offer_gh850_in.sdp")
    audio = sdp.media[0]
    assert sdp.bundle == Group("BUNDLE", ("0",))
    assert audio.mid == "0"
    srflx = [c for c in audio.candidates if c.type == "srflx"]
    assert srflx == [
        Candidate(
            "2982564287",
            1,
            "udp",
            1686055167,
            "2001:db8:0:8::f:111b",
            11344,
            "srflx",
            "2001:db8:2200:205:fd25:1ca1:96cd:8c2e",
            61773,
            (("generation", "0"), ("network-id", "2"), ("network-cost", "10")),
        ),
        Candidate(
            "2147022507",
            1,
            "udp",
            1685987071,
            "192.168.1.1",
            14745,
            "srflx",
            "192.168.1.54",
            55343,
            (("generation", "0"), ("network-id", "1"), ("network-cost", "10")),
        ),
    ]
    assert [c.transport for c in audio.candidates].count("tcp") == 3
    assert [(f.feedback, f.parameter) for f in audio.rtcp_feedback] == [
        ("transport-cc", None),
        ("testing", None),
        ("foobar", None),
    ]
    assert [e.uri for e in audio.extmaps] == [
        "urn:ietf:params:rtp-hdrext:ssrc-audio-level",
        "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
        "urn:ietf:params:rtp-hdrext:sdes:mid",
        "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id",
        "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id",
    ]
    assert audio.msids == [
        Msid("qDSKVQw0XQOFzGhek25Kn3RLxyHTM2ooxMUY", "7d669de6-65e9-4fbe-829e-e89dc4baf81c")
    ]


def test_chrome_video_offer_rtx_and_ssrc_group() -> None:
    video = load("aiortc__chrome_video_offer.sdp").media[0]
    assert video.media == "video"
    assert [(c.payload_type, c.name, c.fmtp) for c in video.codecs] == [
        (96, "VP8", None),
        (97, "rtx", "apt=96"),
        (98, "VP9", None),
        (99, "rtx", "apt=98"),
        (100, "red", None),
        (101, "rtx", "apt=100"),
        (102, "ulpfec", None),
    ]
    assert video.codecs[1].parameters == {"apt": "96"}
    assert video.ssrc_groups == [SsrcGroup("FID", (1845476211, 3305256354))]
    assert RtcpFeedback("96", "nack", "pli") in video.rtcp_feedback
    assert RtcpFeedback("96", "ccm", "fir") in video.rtcp_feedback
    assert video.has_attribute("rtcp-rsize")
    assert not video.has_telephone_event


def test_firefox_session_level_attributes() -> None:
    sdp = load("aiortc__firefox58_audio_offer.sdp")
    audio = sdp.media[0]
    # Firefox puts the fingerprint and a direction at session level too.
    assert sdp.fingerprint is not None
    assert sdp.fingerprint.hash_function == "sha-256"
    assert audio.fingerprint is None
    assert sdp.attribute_for(audio, "fingerprint") == sdp.find("fingerprint")
    assert sdp.direction is Direction.SENDRECV
    assert sdp.ice_options == ("trickle",)
    assert sdp.find("msid-semantic") == Attribute("msid-semantic", "WMS *")
    assert audio.mid == "sdparta_0"
    assert audio.extmaps[0] == ExtMap(
        1, "urn:ietf:params:rtp-hdrext:ssrc-audio-level", Direction.SENDONLY
    )
    assert audio.fmtp_for(101) == Fmtp(101, "0-15")
    assert Fmtp(101, "0-15").parameters == {"0-15": ""}
    assert audio.rtpmap_for(9) == RtpMap(9, "G722", 8000, 1)
    assert audio.codecs[1] == Codec(9, "G722", 8000, 1)
    assert audio.rtcp == Rtcp(38612, "IN", "IP4", "192.168.99.58")
    assert audio.end_of_candidates
    srflx = [c for c in audio.candidates if c.type == "srflx"]
    assert [(c.component, c.related_address, c.related_port) for c in srflx] == [
        (1, "192.168.99.58", 37264),
        (2, "192.168.99.58", 52902),
    ]
    assert {c.transport for c in audio.candidates} == {"UDP", "TCP"}


def test_freeswitch_answer() -> None:
    sdp = load("aiortc__freeswitch_webrtc_audio_answer.sdp")
    audio = sdp.media[0]
    assert sdp.origin.username == "FreeSWITCH"
    assert sdp.origin.sess_version == 1538380017
    assert sdp.session_name == "FreeSWITCH"
    # c= at session level only, and no direction attribute anywhere: sendrecv
    assert sdp.connection == Connection("IN", "IP4", "1.2.3.4")
    assert audio.connection is None
    assert sdp.connection_for(audio) == Connection("IN", "IP4", "1.2.3.4")
    assert audio.direction is None
    assert sdp.direction_for(audio) is Direction.SENDRECV
    assert audio.codecs == [
        Codec(8, "PCMA", 8000),
        Codec(101, "telephone-event", 8000),
    ]
    assert audio.telephone_events == [Codec(101, "telephone-event", 8000)]
    assert audio.setup is Setup.ACTIVE
    assert audio.find("ptime") == Attribute("ptime", "20")
    assert audio.end_of_candidates
    assert audio.candidates == [
        Candidate(
            "0560693492",
            1,
            "udp",
            659136,
            "1.2.3.4",
            16628,
            "host",
            None,
            None,
            (("generation", "0"),),
        )
    ]
    assert audio.ice_ufrag == "75EDuLTEOkEUd3cu"


def test_freeswitch_without_fingerprint_parses_but_has_no_dtls_parameters() -> None:
    sdp = load("aiortc__freeswitch_webrtc_audio_no_fingerprint.sdp")
    audio = sdp.media[0]
    assert audio.proto == "UDP/TLS/RTP/SAVPF"
    assert sdp.attribute_for(audio, "fingerprint") is None
    assert sdp.attribute_for(audio, "setup") is None
    assert audio.setup is None


def test_rtpengine_ice_dtls_offer_session_level_ice_and_static_pt() -> None:
    sdp = load("rtpengine__ice_dtls_offer_in.sdp")
    audio = sdp.media[0]
    assert audio.ice_ufrag is None
    assert sdp.ice_ufrag == "q2758e93"
    assert sdp.attribute_for(audio, "ice-pwd") == Attribute("ice-pwd", "bd5e845657ecb8d6dd8e1bc6")
    assert audio.fingerprint is not None
    assert audio.fingerprint.hash_function == "SHA-256"
    assert audio.rtcp == Rtcp(2001)
    assert not audio.rtcp_mux
    # PT 0 has no rtpmap: the RFC 3551 static table names it.
    assert audio.codecs == [Codec(0, "PCMU", 8000), Codec(101, "telephone-event", 8000)]
    assert [c.component for c in audio.candidates] == [1, 2, 1, 2]


def test_plain_sip_phone_offer_uses_static_payload_types() -> None:
    sdp = load("rtpengine__sip_phone_offer_in.sdp")
    audio = sdp.media[0]
    assert audio.lines == []
    assert audio.attributes == ()
    assert audio.codecs == [Codec(0, "PCMU", 8000), Codec(8, "PCMA", 8000)]
    assert sdp.connection_for(audio) == Connection("IN", "IP4", "198.51.100.1")
    assert sdp.direction_for(audio) is Direction.SENDRECV
    assert STATIC_PAYLOAD_TYPES[18] == ("G729", 8000, None)
    assert STATIC_PAYLOAD_TYPES[9] == ("G722", 8000, None)


def test_rtpengine_webrtc_template_after_substitution() -> None:
    sdp = load("rtpengine__webrtc_flag_offer_out.TEMPLATE.sdp")
    audio = sdp.media[0]
    assert audio.port == 30000
    assert sdp.bundle == Group("BUNDLE", ("1",))
    assert audio.mid == "1"
    assert audio.fingerprint == Fingerprint("sha-256", _FINGERPRINT)
    assert audio.find("tls-id") == Attribute("tls-id", _PLACEHOLDERS["TLS_ID"])
    assert audio.ice_ufrag == "q2758e93"
    assert audio.find("extmap-allow-mixed") == Attribute("extmap-allow-mixed")
    assert audio.setup is Setup.ACTPASS
    assert audio.rtcp_mux
    assert audio.end_of_candidates
    assert [(c.foundation, c.address, c.port) for c in audio.candidates] == [
        ("1QWBrqKdJLKJVCXd", "203.0.113.1", 30001),
        ("1QWBrqKdJLKJVCXd", "2001:db8:4321::1", 30002),
    ]
    assert [c.name for c in audio.codecs] == ["PCMU", "PCMA"]


def test_rtpengine_rtp_avp_template_after_substitution() -> None:
    sdp = load("rtpengine__ice_dtls_to_rtp_avp_out.TEMPLATE.sdp")
    audio = sdp.media[0]
    assert (audio.port, audio.proto) == (30000, "RTP/AVP")
    assert audio.rtcp == Rtcp(30001)
    assert audio.candidates == []
    assert audio.direction is Direction.SENDRECV


def test_templates_do_not_parse_before_substitution() -> None:
    raw = (SDP_DIR / "rtpengine__webrtc_flag_offer_out.TEMPLATE.sdp").read_bytes()
    with pytest.raises(RemoteProtocolError, match="line 6"):
        SessionDescription.parse(raw)


def test_jsep_offer_rejected_video_and_msids() -> None:
    sdp = load("sdptransform__jsep.sdp")
    audio, video = sdp.media
    assert sdp.bundle == Group("BUNDLE", ("a1", "v1"))
    assert sdp.find("msid-semantic") == Attribute("msid-semantic", "WMS")
    assert not audio.is_rejected
    assert video.is_rejected
    assert video.has_attribute("bundle-only")
    assert video.msids == [
        Msid("61317484-2ed4-49d7-9eb7-1414322a7aae", "f30bdb4a-5db8-49b5-bcdc-e0c9a23172e0"),
        Msid("93e8b9bb-ad32-417e-9d2d-42c215f50713", "f30bdb4a-5db8-49b5-bcdc-e0c9a23172e0"),
    ]
    assert audio.msids == [Msid("-", "f83006c5-a0ff-4e0a-9ed9-d3e6747be7d9")]
    assert [c.clock_rate for c in audio.telephone_events] == [8000, 48000]
    assert video.ssrc_groups == [SsrcGroup("FID", (1366781083, 1366781084))]


def test_icelite_server() -> None:
    sdp = load("sdptransform__icelite.sdp")
    assert sdp.ice_lite
    assert sdp.media[0].candidates[0].foundation == "X"
    assert sdp.media[0].candidates[1].component == 2


def test_normal_keeps_out_of_order_lines_and_wildcard_feedback() -> None:
    text = sample_text(next(s for s in MANIFEST if s.file == "sdptransform__normal.sdp"))
    sdp = SessionDescription.parse(text)
    # t= before c= at session level (not §5's order) is kept as received.
    assert [line.type for line in sdp.lines[:2]] == ["t", "c"]
    assert sdp.session_name == ""
    assert sdp.fingerprint == Fingerprint(
        "sha-1", "42:89:c5:c6:55:9d:6e:c8:e8:83:55:2a:39:f9:b6:eb:e9:a3:a9:e7"
    )
    audio, video = sdp.media
    assert audio.codecs[1] == Codec(96, "opus", 48000)  # no channel count written
    assert audio.extmaps[1] == ExtMap(2, "URI-gps-string", Direction.RECVONLY)
    assert RtcpFeedback("*", "nack") in video.rtcp_feedback
    assert RtcpFeedback("98", "trr-int", "100") in video.rtcp_feedback
    assert video.fmtp_for(98) == Fmtp(98, "minptime=10; useinbandfec=1")
    assert Fmtp(98, "minptime=10; useinbandfec=1").parameters == {
        "minptime": "10",
        "useinbandfec": "1",
    }
    assert video.codecs[0].parameters["sprop-parameter-sets"] == "Z0IAH5WoFAFuQA==,aM48gA=="
    assert Ssrc(1399694169, "baz") in video.ssrcs
    assert Ssrc(1399694169, "foo-bar", "baz") in video.ssrcs
    assert len(video.find_all("crypto")) == 1


def test_simulcast_keeps_odd_attribute_values_verbatim() -> None:
    sdp = load("sdptransform__simulcast.sdp")
    video = sdp.media[1]
    assert video.find_all("simulcast") == [
        Attribute("simulcast", "send 1,~4;2;3 recv c"),
        Attribute("simulcast", " send rid=1,4;2;3 paused=4 recv rid=c"),
    ]
    assert len(video.find_all("rid")) == 5
    assert video.codecs[0].parameters == {
        "profile-level-id": "42c01f",
        "max-fs": "3600",
        "max-mbps": "108000",
    }


def test_datachannel_sections_have_no_codecs() -> None:
    for file in ("aiortc__firefox63_datachannel_offer.sdp", "sdptransform__sctp-dtls-26.sdp"):
        section = load(file).media[0]
        assert section.proto == "UDP/DTLS/SCTP"
        assert section.formats == ["webrtc-datachannel"]
        assert section.codecs == []
        assert section.find("sctp-port") == Attribute("sctp-port", "5000")
    data = load("aiortc__safari_audio_video_data_offer.sdp").media[2]
    assert (data.proto, data.formats, data.codecs) == ("DTLS/SCTP", ["5000"], [])


def test_safari_three_sections_and_bundle() -> None:
    sdp = load("aiortc__safari_audio_video_data_offer.sdp")
    assert [m.media for m in sdp.media] == ["audio", "video", "application"]
    assert sdp.bundle == Group("BUNDLE", ("audio", "video", "data"))
    video = sdp.media[1]
    h264 = [c for c in video.codecs if c.name == "H264"]
    assert [c.parameters["profile-level-id"] for c in h264] == ["640c1f", "42e01f"]
    assert any(c.type == "srflx" and c.related_port == 61015 for c in sdp.media[0].candidates)


def test_hacky_corner_cases() -> None:
    sdp = load("sdptransform__hacky.sdp")
    audio, video, data = sdp.media
    assert audio.port == 1
    assert audio.find("ptime") == Attribute("ptime", "0.125")
    assert video.rtcp == Rtcp(12312)
    assert data.bandwidths == (Bandwidth("AS", 30),)
    assert data.setup is Setup.ACTIVE
    assert [c.tcptype for c in audio.candidates if c.tcptype] == [
        "active",
        "active",
        "passive",
        "so",
        "active",
        "passive",
        "so",
    ]
    assert audio.candidates[-2].extension("generation") == "5"
    assert audio.ice_options == ("google-ice",)
    assert len(audio.find_all("crypto")) == 1


# ---------------------------------------------------------------------------------------
# The deliberate negative: sdptransform__invalid.sdp
# ---------------------------------------------------------------------------------------


def test_invalid_sample_is_kept_not_thrown() -> None:
    """RFC 8866 §5.13 has parsers ignore attributes they do not understand, and §5 lets
    them "ignore or reject" a description with an unknown type letter. The parser keeps
    everything (byte-exact round trip, ``unknown_lines``); ``check_offer`` rejects it
    (test_offer_answer)."""
    sample = next(s for s in MANIFEST if s.file == "sdptransform__invalid.sdp")
    assert sample.is_negative
    text = sample_text(sample)
    sdp = SessionDescription.parse(text)
    assert str(sdp) == crlf_normalised(text)
    audio = sdp.media[0]
    assert sdp.unknown_lines() == [Field("f", "invalid:yes")]
    last = audio.lines[-1]
    assert isinstance(last, Field)
    assert last == Field("f", "invalid:yes")
    assert last.is_unknown
    assert audio.find("goo") == Attribute("goo", "hithere")
    # a=rtcp's addrtype is a token in RFC 3605's grammar: IP7 is read as written.
    assert audio.rtcp == Rtcp(1, "IN", "IP7", "X")
    assert audio.codecs == [Codec(0, "PCMU", 8000)]


def test_known_fields_are_not_unknown() -> None:
    assert not Field("k", "clear:x").is_unknown
    assert not Field("z", "0 0").is_unknown
    assert Field("y", "x").is_unknown


# ---------------------------------------------------------------------------------------
# What the parser refuses
# ---------------------------------------------------------------------------------------

GOOD = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=sendrecv\r\n"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "must start with v=, o= and s="),
        ("v=0\r\no=- 1 1 IN IP4 x\r\n", "must start with v=, o= and s="),
        (GOOD.replace("v=0", "v=1"), "line 1 must be v=0"),
        (GOOD.replace("v=0\r\n", ""), "line 1 must be v=0"),
        (GOOD.replace("o=- 1 1 IN IP4 192.0.2.1", "s=-"), "line 2 must be o="),
        (GOOD.replace("s=-", "t=0 0"), "line 3 must be s="),
        (GOOD.replace("- 1 1 IN", "- 1 IN"), "line 2: o= needs 6 fields"),
        (GOOD.replace("- 1 1 IN", "- 1 x IN"), "line 2: o= sess-version"),
        (GOOD + "garbage\r\n", "line 7: not a <type>=<value> line"),
        (GOOD + "ab=c\r\n", "line 7: not a <type>=<value> line"),
        (GOOD + "1=c\r\n", "line 7: not a <type>=<value> line"),
        (GOOD + " a=x\r\n", "line 7: not a <type>=<value> line"),
        (GOOD + "a=\r\n", "line 7: a= line without an attribute name"),
        (GOOD + "a=:x\r\n", "line 7: a= line without an attribute name"),
        (GOOD + "v=0\r\n", "line 7: v= may appear only once"),
        (GOOD + "o=- 1 1 IN IP4 x\r\n", "line 7: o= may appear only once"),
        (GOOD.replace("4000", "x"), "line 5: m= port is not a number"),
        (GOOD.replace("4000", "70000"), "line 5: m= port is not a number"),
        (GOOD.replace("4000", "4000/0"), "line 5: m= port count"),
        (GOOD.replace("4000", "\uff14\uff10\uff10\uff10"), "line 5: m= port is not a number"),
        (GOOD.replace("RTP/AVP 0", "RTP/AVP"), "line 5: m= needs"),
        (GOOD + "c=IN IP4\r\n", "line 7: c= needs 3 fields"),
        (GOOD + "c=IN IP4 a b\r\n", "line 7: c= needs 3 fields"),
        (GOOD + "b=AS\r\n", "line 7: b= must be"),
        (GOOD + "b=AS:x\r\n", "line 7: b= must be"),
        (GOOD.replace("t=0 0", "t=0"), "line 4: t= must be"),
        (GOOD.replace("t=0 0", "t=0 " + "9" * 30), "line 4: t= must be"),
        (GOOD.replace("sendrecv", "send\x00recv"), "NUL"),
        (GOOD.replace("a=sendrecv\r\n", "a=sendrecv\ra=x\r\n"), "CR"),
    ],
)
def test_malformed_descriptions_are_refused_with_400(text: str, fragment: str) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        SessionDescription.parse(text)
    assert fragment in str(info.value)
    assert info.value.status_hint == 400


def test_the_good_template_parses() -> None:
    sdp = SessionDescription.parse(GOOD)
    assert str(sdp) == GOOD
    assert sdp.media[0].codecs == [Codec(0, "PCMU", 8000)]


def test_tolerances() -> None:
    # Leading/trailing/blank lines, missing final line end, LF ends, extra spaces.
    text = "\n\nv=0\no=-  1 1 IN IP4 192.0.2.1\ns=\n\nt=0 0\nm=audio 4000/2 RTP/AVP 0 8\nc=IN IP4 x"
    sdp = SessionDescription.parse(text)
    assert sdp.origin.sess_id == "1"
    assert sdp.media[0].port_count == 2
    assert sdp.media[0].m_line() == "m=audio 4000/2 RTP/AVP 0 8"
    assert str(sdp) == (
        "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=\r\nt=0 0\r\n"
        "m=audio 4000/2 RTP/AVP 0 8\r\nc=IN IP4 x\r\n"
    )
    # No t= line: kept as given (RFC 8866 wants one; a missing t= harms nobody).
    assert SessionDescription.parse("v=0\no=- 1 1 IN IP4 x\ns=-\n").lines == []


def test_non_utf8_bytes_are_carried_through() -> None:
    raw = GOOD.replace("s=-", "s=caf\xe9").encode("latin-1")
    sdp = SessionDescription.parse(raw)
    assert bytes(sdp) == raw


def test_limits() -> None:
    many_lines = GOOD + "a=x\r\n" * 20
    with pytest.raises(RemoteProtocolError, match="more than 20 lines"):
        SessionDescription.parse(many_lines, limits=SdpLimits(max_lines=20))
    assert (
        len(SessionDescription.parse(many_lines, limits=SdpLimits(max_lines=40)).media[0].lines)
        == 21
    )
    many_media = GOOD + "m=audio 0 RTP/AVP 0\r\n" * 3
    with pytest.raises(RemoteProtocolError, match="line 9: more than 3 media"):
        SessionDescription.parse(many_media, limits=SdpLimits(max_media=3))
    assert len(SessionDescription.parse(many_media, limits=SdpLimits(max_media=4)).media) == 4
    blank_flood = GOOD + "\r\n" * 5000
    with pytest.raises(RemoteProtocolError, match="lines"):
        SessionDescription.parse(blank_flood)


def test_parse_refuses_what_is_not_text() -> None:
    with pytest.raises(LocalProtocolError):
        SessionDescription.parse(42)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------
# Construction and editing
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "build",
    [
        lambda: Attribute(""),
        lambda: Attribute("a:b"),
        lambda: Attribute("x", "a\r\nb=c"),
        lambda: Attribute("x\n"),
        lambda: Field("a", "x"),
        lambda: Field("c", "x"),
        lambda: Field("1", "x"),
        lambda: Field("ff", "x"),
        lambda: Field("f", "x\x00"),
        lambda: Connection("IN", "IP4", "192.0.2.1 x"),
        lambda: Connection("IN", "", "192.0.2.1"),
        lambda: Bandwidth("AS", -1),
        lambda: Bandwidth("A:S", 1),
        lambda: Timing(-1, 0),
        lambda: Origin("a b", "1", 1, "IN", "IP4", "x"),
        lambda: Origin("-", "1", -1, "IN", "IP4", "x"),
        lambda: MediaDescription("audio", 70000, "RTP/AVP", ["0"]),
        lambda: MediaDescription("audio", 9, "RTP/AVP", []),
        lambda: MediaDescription("audio", 9, "RTP/AVP", ["0 8"]),
        lambda: MediaDescription("audio", 9, "RTP/AVP", ["0"], port_count=0),
        lambda: SessionDescription(Origin("-", "1", 1, "IN", "IP4", "x"), "a\r\nb"),
        lambda: RtpMap(0, "PC\r\nMU", 8000).to_attribute(),
        lambda: RtpMap.from_attribute(Attribute("fmtp", "0 x")),
    ],
)
def test_construction_refuses_what_would_not_round_trip(build: Callable[[], object]) -> None:
    with pytest.raises(LocalProtocolError):
        build()


def _media(*lines: Line) -> MediaDescription:
    return MediaDescription("audio", 4000, "RTP/AVP", ["0"], lines=list(lines))


def test_direction_setter_replaces_in_place_or_appends() -> None:
    section = _media(Attribute("rtpmap", "0 PCMU/8000"), Attribute("sendrecv"), Attribute("x"))
    section.direction = Direction.SENDONLY
    assert section.lines == [
        Attribute("rtpmap", "0 PCMU/8000"),
        Attribute("sendonly"),
        Attribute("x"),
    ]
    section.direction = None
    assert section.direction is None
    assert section.lines == [Attribute("rtpmap", "0 PCMU/8000"), Attribute("x")]
    section.direction = Direction.INACTIVE
    assert section.lines[-1] == Attribute("inactive")
    # duplicates collapse onto the first
    section.lines.insert(0, Attribute("recvonly"))
    assert section.direction is Direction.RECVONLY
    section.direction = Direction.SENDRECV
    assert section.find_all("sendrecv") == [Attribute("sendrecv")]
    assert section.lines[0] == Attribute("sendrecv")
    assert not section.has_attribute("inactive")


def test_attribute_helpers() -> None:
    section = _media(Attribute("a", "1"), Attribute("b"), Attribute("a", "2"))
    assert section.find("a") == Attribute("a", "1")
    assert section.find("zz") is None
    assert section.find_all("a") == [Attribute("a", "1"), Attribute("a", "2")]
    section.set_attribute(Attribute("a", "3"))
    assert section.lines == [Attribute("a", "3"), Attribute("b")]
    section.set_attribute(Attribute("c", "4"))
    assert section.lines[-1] == Attribute("c", "4")
    section.add_attribute(Attribute("c", "5"))
    assert section.find_all("c") == [Attribute("c", "4"), Attribute("c", "5")]
    assert section.remove_attributes("c") == 2
    assert section.remove_attributes("c") == 0
    assert section.attributes == (Attribute("a", "3"), Attribute("b"))


def test_connection_setter_places_the_line_where_rfc8866_puts_it() -> None:
    section = _media(Field("i", "title"), Bandwidth("AS", 64), Attribute("sendrecv"))
    section.connection = Connection("IN", "IP4", "192.0.2.1")
    assert [line.type for line in section.lines] == ["i", "c", "b", "a"]
    section.connection = Connection("IN", "IP6", "2001:db8::1")
    assert section.lines[1] == Connection("IN", "IP6", "2001:db8::1")
    section.connection = None
    assert [line.type for line in section.lines] == ["i", "b", "a"]
    assert section.information == "title"

    sdp = SessionDescription(Origin("-", "1", 1, "IN", "IP4", "x"))
    sdp.connection = Connection("IN", "IP4", "192.0.2.1")
    assert [line.type for line in sdp.lines] == ["c", "t"]
    # a description with t= before c= keeps its own order when c= is replaced
    normal = load("sdptransform__normal.sdp")
    normal.connection = Connection("IN", "IP4", "198.51.100.7")
    assert [line.type for line in normal.lines[:2]] == ["t", "c"]


def test_session_text_fields() -> None:
    text = (
        "v=0\r\no=jdoe 3724394400 3724394405 IN IP4 198.51.100.1\r\ns=Call to John Smith\r\n"
        "i=SDP Offer #1\r\nu=http://www.jdoe.example.com/home.html\r\n"
        "e=Jane Doe <jane@jdoe.example.com>\r\np=+1 617 555-6011\r\n"
        "c=IN IP4 198.51.100.1\r\nt=0 0\r\nr=7d 1h 0 25h\r\nz=2882844526 -1h\r\n"
        "m=audio 49170 RTP/AVP 0\r\nm=video 51372 RTP/AVP 99\r\nc=IN IP6 2001:db8::2\r\n"
        "a=rtpmap:99 h263-1998/90000\r\n"
    )
    sdp = SessionDescription.parse(text)
    assert str(sdp) == text
    assert sdp.information == "SDP Offer #1"
    assert sdp.uri == "http://www.jdoe.example.com/home.html"
    assert sdp.emails == ["Jane Doe <jane@jdoe.example.com>"]
    assert sdp.phones == ["+1 617 555-6011"]
    assert Field("r", "7d 1h 0 25h") in sdp.lines
    assert sdp.unknown_lines() == []
    assert sdp.connection_for(sdp.media[1]) == Connection("IN", "IP6", "2001:db8::2")
    assert sdp.connection_for(sdp.media[0]) == Connection("IN", "IP4", "198.51.100.1")
    assert sdp.media[1].codecs == [Codec(99, "h263-1998", 90000)]


def test_origin_next_version() -> None:
    origin = Origin("-", "42", 7, "IN", "IP4", "192.0.2.1")
    assert origin.next_version() == Origin("-", "42", 8, "IN", "IP4", "192.0.2.1")
    assert origin.to_line() == "o=- 42 7 IN IP4 192.0.2.1"


def test_views_build_attributes() -> None:
    assert RtpMap(111, "opus", 48000, 2).to_attribute() == Attribute("rtpmap", "111 opus/48000/2")
    assert Fmtp.from_parameters(111, {"minptime": "10", "useinbandfec": "1"}).to_attribute() == (
        Attribute("fmtp", "111 minptime=10;useinbandfec=1")
    )
    assert Fmtp.from_parameters(101, {"0-16": ""}).params == "0-16"
    assert Codec(111, "opus", 48000, 2, "useinbandfec=1").to_attributes() == [
        Attribute("rtpmap", "111 opus/48000/2"),
        Attribute("fmtp", "111 useinbandfec=1"),
    ]
    assert Codec(0, "PCMU", 8000).to_attributes() == [Attribute("rtpmap", "0 PCMU/8000")]
    assert Direction.SENDONLY.to_attribute() == Attribute("sendonly")
    assert Setup.PASSIVE.to_attribute() == Attribute("setup", "passive")
    assert Group("BUNDLE").to_attribute() == Attribute("group", "BUNDLE")
    assert Rtcp(9, "IN", "IP4", "0.0.0.0").to_attribute() == Attribute("rtcp", "9 IN IP4 0.0.0.0")


@pytest.mark.parametrize(
    ("view", "value"),
    [
        (RtpMap, "x opus/48000"),
        (RtpMap, "128 opus/48000"),
        (RtpMap, "96 opus"),
        (RtpMap, "96 opus/fast"),
        (Fmtp, "x a=b"),
        (Candidate, "1 1 udp 1 192.0.2.1 9 host"),
        (Candidate, "1 x udp 1 192.0.2.1 9 typ host"),
        (Candidate, "1 1 udp 1 192.0.2.1 99999 typ host"),
        (Candidate, "1 1 udp 1 192.0.2.1 9 typ host generation"),
        (Candidate, "1 1 udp 1 192.0.2.1 9 typ srflx raddr 10.0.0.1 rport x"),
        (Fingerprint, "sha-256"),
        (Rtcp, "9 IN IP4"),
        (Rtcp, "x"),
        (Group, ""),
        (Msid, "a b c"),
        (Ssrc, "x cname:y"),
        (Ssrc, "4294967296 cname:y"),
        (Ssrc, "1"),
        (SsrcGroup, "FID x"),
        (ExtMap, "1"),
        (ExtMap, "x urn:a"),
        (ExtMap, "1/sideways urn:a"),
        (RtcpFeedback, "x nack"),
        (RtcpFeedback, "96"),
    ],
)
def test_malformed_attribute_values(view: ViewType, value: str) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        view.parse(value)
    assert info.value.status_hint == 400
    assert view.NAME in str(info.value)
    # The collection views skip what they cannot read (RFC 8866 §5.13).
    section = _media(Attribute(view.NAME, value))
    assert section.typed(view) == []


def test_unreadable_codecs_are_left_out() -> None:
    section = MediaDescription(
        "audio",
        4000,
        "RTP/AVP",
        ["96", "97", "0", "x"],
        lines=[
            Attribute("rtpmap", "96 broken"),
            Attribute("rtpmap", "97 opus/48000/2"),
            Attribute("fmtp", "97 stereo=1"),
            Attribute("fmtp", "bad"),
            Attribute("rtpmap"),
        ],
    )
    assert section.codecs == [Codec(97, "opus", 48000, 2, "stereo=1"), Codec(0, "PCMU", 8000)]
    assert section.setup is None
    section.set_attribute(Attribute("setup", "sideways"))
    assert section.setup is None
    section.set_attribute(Attribute("setup", "ACTIVE"))
    assert section.setup is Setup.ACTIVE


def test_direction_flags() -> None:
    assert [(d.sends, d.receives) for d in Direction] == [
        (True, True),
        (True, False),
        (False, True),
        (False, False),
    ]
    for direction in Direction:
        assert Direction.from_flags(sends=direction.sends, receives=direction.receives) is direction


# ---------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------

_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="\r\n\x00"),
    max_size=16,
)
_TOKEN = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=10
)
_NAME = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="\r\n\x00:"),
    min_size=1,
    max_size=12,
)
_FIELD_TYPES = st.sampled_from(list("iuepzrkfgxyqFX"))


def _lines() -> st.SearchStrategy[Line]:
    return st.one_of(
        st.builds(Attribute, _NAME, st.none() | _TEXT),
        st.builds(
            Attribute,
            st.sampled_from(["rtpmap", "fmtp", "candidate", "sendrecv", "mid"]),
            st.none() | _TEXT,
        ),
        st.builds(Connection, _TOKEN, _TOKEN, _TOKEN),
        st.builds(Bandwidth, _TOKEN.filter(lambda t: ":" not in t), st.integers(0, 10**12)),
        st.builds(Timing, st.integers(0, 10**15), st.integers(0, 10**15)),
        st.builds(Field, _FIELD_TYPES, _TEXT),
    )


@st.composite
def descriptions(draw: st.DrawFn) -> SessionDescription:
    origin = Origin(
        draw(_TOKEN),
        draw(_TOKEN),
        draw(st.integers(0, 2**64)),
        draw(_TOKEN),
        draw(_TOKEN),
        draw(_TOKEN),
    )
    media = [
        MediaDescription(
            draw(_TOKEN),
            draw(st.integers(0, 65535)),
            draw(_TOKEN),
            draw(st.lists(_TOKEN, min_size=1, max_size=5)),
            draw(st.none() | st.integers(1, 65535)),
            draw(st.lists(_lines(), max_size=8)),
        )
        for _ in range(draw(st.integers(0, 3)))
    ]
    return SessionDescription(origin, draw(_TEXT), draw(st.lists(_lines(), max_size=8)), media)


@given(descriptions())
def test_generated_descriptions_round_trip(sdp: SessionDescription) -> None:
    text = str(sdp)
    assert SessionDescription.parse(text) == sdp
    assert SessionDescription.parse(bytes(sdp)) == sdp
    assert str(SessionDescription.parse(text)) == text
    assert SessionDescription.parse(text.replace("\r\n", "\n")) == sdp


def _exercise_views(sdp: SessionDescription) -> None:
    """Every view either reads or raises RemoteProtocolError; collections never raise."""
    for section in [sdp, *sdp.media]:
        _ = (section.connection, section.bandwidths, section.direction, section.setup)
        _ = (section.candidates, section.fingerprints, section.rtcp, section.mid)
        _ = (section.groups, section.bundle, section.msids, section.ssrcs, section.ssrc_groups)
        _ = (section.extmaps, section.rtcp_feedback, section.ice_options, section.information)
        for attribute in section.attributes:
            for view in VIEWS:
                if attribute.name == view.NAME:
                    with contextlib.suppress(RemoteProtocolError):
                        view.from_attribute(attribute).to_attribute()
    for section in sdp.media:
        _ = (section.codecs, section.telephone_events, sdp.direction_for(section))
        _ = sdp.connection_for(section)
    _ = sdp.unknown_lines()


def _parse_or_remote_error(data: str | bytes) -> None:
    try:
        sdp = SessionDescription.parse(data)
    except RemoteProtocolError as exc:
        status = exc.status_hint
    else:
        assert SessionDescription.parse(str(sdp)) == sdp
        _exercise_views(sdp)
        return
    assert status == 400


@st.composite
def mutated_samples(draw: st.DrawFn) -> str:
    sample = draw(st.sampled_from(MANIFEST))
    lines = sample_text(sample).replace("\r\n", "\n").split("\n")
    for _ in range(draw(st.integers(1, 4))):
        if not lines:
            break
        at = draw(st.integers(0, len(lines) - 1))
        operation = draw(
            st.sampled_from(
                ["drop", "dup", "swap", "replace", "insert", "edit", "truncate", "split"]
            )
        )
        if operation == "drop":
            del lines[at]
        elif operation == "dup":
            lines.insert(at, lines[at])
        elif operation == "swap":
            other = draw(st.integers(0, len(lines) - 1))
            lines[at], lines[other] = lines[other], lines[at]
        elif operation == "replace":
            lines[at] = draw(st.text(max_size=30))
        elif operation == "insert":
            lines.insert(
                at, draw(st.sampled_from("vosiuepcbtrzkamfx")) + "=" + draw(st.text(max_size=30))
            )
        elif operation == "edit":
            line = lines[at]
            pos = draw(st.integers(0, len(line)))
            cut = draw(st.integers(0, 3))
            lines[at] = line[:pos] + draw(st.text(max_size=4)) + line[pos + cut :]
        elif operation == "truncate":
            lines = lines[:at]
        else:
            line = lines[at]
            pos = draw(st.integers(0, len(line)))
            lines[at : at + 1] = [line[:pos], line[pos:]]
    ending = draw(st.sampled_from(["\r\n", "\n"]))
    return ending.join(lines)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_samples())
def test_mutated_real_descriptions_parse_or_raise_remote_error(text: str) -> None:
    _parse_or_remote_error(text)


@settings(max_examples=200)
@given(st.text(max_size=300))
def test_arbitrary_text_parses_or_raises_remote_error(text: str) -> None:
    _parse_or_remote_error(text)
    _parse_or_remote_error("v=0\r\no=- 1 1 IN IP4 x\r\ns=-\r\n" + text)


@settings(max_examples=200)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_parse_or_raise_remote_error(data: bytes) -> None:
    _parse_or_remote_error(data)
    _parse_or_remote_error(b"v=0\r\no=- 1 1 IN IP4 x\r\ns=-\r\nm=audio 9 RTP/AVP 0\r\n" + data)
