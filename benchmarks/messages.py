"""The message corpus: one registration and one call of a voice bot, as seen on its WSS leg.

The story: a bot built on the SDK registers over ``wss://`` (RFC 7118) with Kamailio,
the way SIP.js does (``.invalid`` Via host, Contact with ``+sip.instance``, ``reg-id``
and ``ob``, RFC 5626), is challenged, then answers a call from Chrome. Kamailio
double-record-routes the call (the browser is on its ``:443`` socket, the bot on
``:8443``), so the INVITE reaches the bot with two Vias and two Record-Routes, and the
bot's BYE carries the two Routes back. Kamailio's usrloc keepalive pings the bot with
OPTIONS.

Every message is bytes with CRLF line ends and a Content-Length that matches its body.
``Sample`` carries the values a reader must find in it, so every contender in a
benchmark can be checked before it is timed.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "Sample",
    "REGISTER",
    "UNAUTHORIZED",
    "INVITE",
    "OK_INVITE",
    "ACK",
    "BYE",
    "OPTIONS",
    "MIX",
    "INVITE_SDP_CANDIDATES",
]


@dataclass(frozen=True, slots=True)
class Sample:
    """One message of the corpus and the core fields a parser must read from it."""

    name: str
    data: bytes
    call_id: str
    cseq: int
    method: str
    """The CSeq method."""
    branch: str
    """The top Via's branch."""
    from_tag: str
    to_tag: str | None
    body_length: int


def _wire(head: str, body: str = "") -> bytes:
    """Header section written one line per line (no CR), made into a message with CRLFs.

    ``{length}`` in the head is replaced by the body's length in bytes.
    """
    payload = body.replace("\n", "\r\n").encode()
    lines = head.strip("\n").split("\n")
    text = "\r\n".join(lines).replace("{length}", str(len(payload)))
    return text.encode() + b"\r\n\r\n" + payload


# -- registration ------------------------------------------------------------------------

_REG_CALL_ID = "9d4qqhqu0c2cghcl5n2ptc"
_REG_FROM_TAG = "qsj2jd2p6o"

REGISTER = Sample(
    name="REGISTER",
    data=_wire(
        """
REGISTER sip:sip.example.com SIP/2.0
Via: SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bK6043491
Max-Forwards: 70
To: <sip:bot-7@sip.example.com>
From: "Support Bot 7" <sip:bot-7@sip.example.com>;tag=qsj2jd2p6o
Call-ID: 9d4qqhqu0c2cghcl5n2ptc
CSeq: 2 REGISTER
Authorization: Digest algorithm=MD5, username="bot-7", realm="sip.example.com", \
nonce="ZW5xYWhkYWJ0aGVyZWlzbm9zcG9vbjE3MDEwOTE0NzM=", uri="sip:sip.example.com", \
response="6a0e8e2a4b3ce5b0a1f1f8e2d3c4b5a6", opaque="", qop=auth, \
cnonce="8d3gqk5oh9ak", nc=00000001
Contact: <sip:k3v8d1s2@df7jal23ls0d.invalid;transport=ws;ob>;+sip.ice;reg-id=1;\
+sip.instance="<urn:uuid:5f7f0a2e-8d6b-4c1d-9a4e-3b2c1d0e9f8a>";expires=600
Expires: 600
Allow: ACK,CANCEL,INVITE,MESSAGE,BYE,OPTIONS,INFO,NOTIFY,REFER
Supported: path,gruu,outbound
User-Agent: SIP.js/0.20.0
Content-Length: {length}
"""
    ),
    call_id=_REG_CALL_ID,
    cseq=2,
    method="REGISTER",
    branch="z9hG4bK6043491",
    from_tag=_REG_FROM_TAG,
    to_tag=None,
    body_length=0,
)
"""The re-sent REGISTER with the digest answer (RFC 3261 §22.2), as SIP.js 0.20 writes it."""

UNAUTHORIZED = Sample(
    name="401",
    data=_wire(
        """
SIP/2.0 401 Unauthorized
Via: SIP/2.0/WSS df7jal23ls0d.invalid;rport=40022;received=192.0.2.80;branch=z9hG4bK6043490
To: <sip:bot-7@sip.example.com>;tag=b27e1a1d33761e85846fc98f5f3a7e58.4f1c0000
From: "Support Bot 7" <sip:bot-7@sip.example.com>;tag=qsj2jd2p6o
Call-ID: 9d4qqhqu0c2cghcl5n2ptc
CSeq: 1 REGISTER
WWW-Authenticate: Digest realm="sip.example.com", \
nonce="ZW5xYWhkYWJ0aGVyZWlzbm9zcG9vbjE3MDEwOTE0NzM=", qop="auth"
Server: kamailio (5.7.4 (x86_64/linux))
Content-Length: {length}
"""
    ),
    call_id=_REG_CALL_ID,
    cseq=1,
    method="REGISTER",
    branch="z9hG4bK6043490",
    from_tag=_REG_FROM_TAG,
    to_tag="b27e1a1d33761e85846fc98f5f3a7e58.4f1c0000",
    body_length=0,
)
"""Kamailio's challenge to the first REGISTER (``www_challenge``, Via ``received``/``rport``)."""


# -- the call ----------------------------------------------------------------------------

# Chrome's offer after gathering completed (SIP.js sends non-trickle SDP): host candidates
# over UDP and TCP, a server-reflexive one and two relayed ones (TURN over UDP and over
# TCP, hence the two relay priorities).
_CHROME_OFFER = """\
v=0
o=- 4611731400430051336 2 IN IP4 127.0.0.1
s=-
t=0 0
a=group:BUNDLE 0
a=extmap-allow-mixed
a=msid-semantic: WMS 6c6f0a29-1b0c-4d5e-9a8b-7c6d5e4f3a2b
m=audio 61030 UDP/TLS/RTP/SAVPF 111 9 0 8 13 110 126
c=IN IP4 192.0.2.50
a=rtcp:9 IN IP4 0.0.0.0
a=candidate:3108149215 1 udp 2122260223 192.168.1.54 54400 typ host generation 0 \
network-id 1 network-cost 10
a=candidate:4025263919 1 tcp 1518280447 192.168.1.54 9 typ host tcptype active generation 0 \
network-id 1 network-cost 10
a=candidate:2617424396 1 udp 1686052607 198.51.100.77 54400 typ srflx raddr 192.168.1.54 \
rport 54400 generation 0 network-id 1 network-cost 10
a=candidate:1436375590 1 udp 41885439 192.0.2.50 61030 typ relay raddr 198.51.100.77 \
rport 54400 generation 0 network-id 1 network-cost 10
a=candidate:3355351182 1 udp 25108223 192.0.2.50 51662 typ relay raddr 198.51.100.77 \
rport 54888 generation 0 network-id 1 network-cost 10
a=ice-ufrag:Ci7n
a=ice-pwd:l9QndxLG6OycZRcQe9zcT95c
a=ice-options:trickle
a=fingerprint:sha-256 32:62:C7:5E:79:69:2A:15:DC:EA:1D:13:18:4C:C9:92:44:71:8A:B7:38:73:88:\
F9:99:A3:7A:05:D1:EE:98:B8
a=setup:actpass
a=mid:0
a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level
a=extmap:2 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01
a=extmap:3 urn:ietf:params:rtp-hdrext:sdes:mid
a=sendrecv
a=msid:6c6f0a29-1b0c-4d5e-9a8b-7c6d5e4f3a2b 9d8e7f60-5a4b-4c3d-8e2f-1a0b9c8d7e6f
a=rtcp-mux
a=rtpmap:111 opus/48000/2
a=rtcp-fb:111 transport-cc
a=fmtp:111 minptime=10;useinbandfec=1
a=rtpmap:9 G722/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:13 CN/8000
a=rtpmap:110 telephone-event/48000
a=rtpmap:126 telephone-event/8000
a=ssrc:2628106563 cname:wMyHbPOf/cCq2tup
a=ssrc:2628106563 msid:6c6f0a29-1b0c-4d5e-9a8b-7c6d5e4f3a2b 9d8e7f60-5a4b-4c3d-8e2f-1a0b9c8d7e6f
"""

INVITE_SDP_CANDIDATES = 5
"""How many ``a=candidate`` lines the INVITE's offer holds (a check for SDP readers)."""

# The bot's answer (aiortc after gathering: host and srflx candidates, setup:active).
_BOT_ANSWER = """\
v=0
o=- 3910547318 3910547318 IN IP4 0.0.0.0
s=-
t=0 0
a=group:BUNDLE 0
a=msid-semantic:WMS *
m=audio 49152 UDP/TLS/RTP/SAVPF 111 0 8 126
c=IN IP4 203.0.113.77
a=sendrecv
a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid
a=extmap:2 urn:ietf:params:rtp-hdrext:ssrc-audio-level
a=mid:0
a=msid:1b2c3d4e-5f60-4718-9a2b-3c4d5e6f7081 a9b8c7d6-e5f4-4a3b-8c2d-1e0f9a8b7c6d
a=rtcp:9 IN IP4 0.0.0.0
a=rtcp-mux
a=ssrc:3735928559 cname:0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0
a=rtpmap:111 opus/48000/2
a=fmtp:111 minptime=10;useinbandfec=1
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:126 telephone-event/8000
a=candidate:a1f3c9e2b7d4e6f8a0b2c4d6e8f0a1b3 1 udp 2130706431 10.20.0.5 49152 typ host
a=candidate:c7e9a1b3d5f7092b4d6f8a0c2e4a6b8d 1 udp 1694498815 203.0.113.77 49152 typ srflx \
raddr 10.20.0.5 rport 49152
a=end-of-candidates
a=ice-ufrag:Qx3a
a=ice-pwd:7gQ2kHf0mZ1xV9cB4nL6pR8t
a=fingerprint:sha-256 A4:1B:7C:90:3E:D2:58:F6:0A:C1:2B:84:E7:59:3D:6F:A0:18:C2:B4:\
7E:95:D3:61:0F:A8:2C:4E:B9:73:D5:16
a=setup:active
"""

_CALL_ID = "3m1v0p9vq5kq6hd1a2n8"
_CALLER_TAG = "0o6fh8sl3n"
_BOT_TAG = "k9ztf2qd7u"
_KAMAILIO_BRANCH = "z9hG4bK52e7.1a9b7d3e56ba9a0e2f8f2f93f2f4b2a0.0"

INVITE = Sample(
    name="INVITE",
    data=_wire(
        """
INVITE sip:k3v8d1s2@df7jal23ls0d.invalid;transport=ws SIP/2.0
Record-Route: <sip:203.0.113.10:8443;transport=ws;r2=on;lr;ftag=0o6fh8sl3n;nat=yes>
Record-Route: <sip:203.0.113.10:443;transport=ws;r2=on;lr;ftag=0o6fh8sl3n;nat=yes>
Via: SIP/2.0/WSS 203.0.113.10:8443;branch=z9hG4bK52e7.1a9b7d3e56ba9a0e2f8f2f93f2f4b2a0.0
Via: SIP/2.0/WSS 7ugffb5l2gf4.invalid;received=198.51.100.77;rport=51234;\
branch=z9hG4bK3612371
Max-Forwards: 69
To: <sip:bot-7@sip.example.com>
From: "Dana Whitfield" <sip:dana@sip.example.com>;tag=0o6fh8sl3n
Call-ID: 3m1v0p9vq5kq6hd1a2n8
CSeq: 2 INVITE
Contact: <sip:qc6m2vvb@198.51.100.77:51234;transport=ws;ob;alias=198.51.100.77~51234~6>
Allow: ACK,CANCEL,INVITE,MESSAGE,BYE,OPTIONS,INFO,NOTIFY,REFER
Supported: gruu,100rel,outbound
User-Agent: SIP.js/0.20.0
Content-Type: application/sdp
Content-Length: {length}
""",
        _CHROME_OFFER,
    ),
    call_id=_CALL_ID,
    cseq=2,
    method="INVITE",
    branch=_KAMAILIO_BRANCH,
    from_tag=_CALLER_TAG,
    to_tag=None,
    body_length=len(_CHROME_OFFER.replace("\n", "\r\n")),
)
"""A WebRTC INVITE from Chrome (SIP.js) through Kamailio: two Vias, two Record-Routes."""

OK_INVITE = Sample(
    name="200-INVITE",
    data=_wire(
        """
SIP/2.0 200 OK
Record-Route: <sip:203.0.113.10:8443;transport=ws;r2=on;lr;ftag=0o6fh8sl3n;nat=yes>
Record-Route: <sip:203.0.113.10:443;transport=ws;r2=on;lr;ftag=0o6fh8sl3n;nat=yes>
Via: SIP/2.0/WSS 203.0.113.10:8443;branch=z9hG4bK52e7.1a9b7d3e56ba9a0e2f8f2f93f2f4b2a0.0
Via: SIP/2.0/WSS 7ugffb5l2gf4.invalid;received=198.51.100.77;rport=51234;\
branch=z9hG4bK3612371
To: <sip:bot-7@sip.example.com>;tag=k9ztf2qd7u
From: "Dana Whitfield" <sip:dana@sip.example.com>;tag=0o6fh8sl3n
Call-ID: 3m1v0p9vq5kq6hd1a2n8
CSeq: 2 INVITE
Contact: <sip:k3v8d1s2@df7jal23ls0d.invalid;transport=ws>
Allow: ACK,CANCEL,INVITE,MESSAGE,BYE,OPTIONS,INFO,NOTIFY,REFER
Supported: outbound
User-Agent: exotel-voice/0.1.0
Content-Type: application/sdp
Content-Length: {length}
""",
        _BOT_ANSWER,
    ),
    call_id=_CALL_ID,
    cseq=2,
    method="INVITE",
    branch=_KAMAILIO_BRANCH,
    from_tag=_CALLER_TAG,
    to_tag=_BOT_TAG,
    body_length=len(_BOT_ANSWER.replace("\n", "\r\n")),
)
"""The bot's 200 OK with its SDP answer (Record-Route copied, RFC 3261 §12.1.1)."""

ACK = Sample(
    name="ACK",
    data=_wire(
        """
ACK sip:k3v8d1s2@df7jal23ls0d.invalid;transport=ws SIP/2.0
Via: SIP/2.0/WSS 203.0.113.10:8443;branch=z9hG4bK52e7.5c0d2a7b93e1f4a6b8c0d2e4f6a8b0c1.0
Via: SIP/2.0/WSS 7ugffb5l2gf4.invalid;received=198.51.100.77;rport=51234;\
branch=z9hG4bK9913452
Max-Forwards: 69
To: <sip:bot-7@sip.example.com>;tag=k9ztf2qd7u
From: "Dana Whitfield" <sip:dana@sip.example.com>;tag=0o6fh8sl3n
Call-ID: 3m1v0p9vq5kq6hd1a2n8
CSeq: 2 ACK
Allow: ACK,CANCEL,INVITE,MESSAGE,BYE,OPTIONS,INFO,NOTIFY,REFER
Supported: outbound
User-Agent: SIP.js/0.20.0
Content-Length: {length}
"""
    ),
    call_id=_CALL_ID,
    cseq=2,
    method="ACK",
    branch="z9hG4bK52e7.5c0d2a7b93e1f4a6b8c0d2e4f6a8b0c1.0",
    from_tag=_CALLER_TAG,
    to_tag=_BOT_TAG,
    body_length=0,
)
"""The caller's ACK for the 2xx, after Kamailio consumed its own Route entries."""

BYE = Sample(
    name="BYE",
    data=_wire(
        """
BYE sip:qc6m2vvb@198.51.100.77:51234;transport=ws;ob;alias=198.51.100.77~51234~6 SIP/2.0
Via: SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bK1780944
Max-Forwards: 70
Route: <sip:203.0.113.10:8443;transport=ws;r2=on;lr;ftag=0o6fh8sl3n;nat=yes>
Route: <sip:203.0.113.10:443;transport=ws;r2=on;lr;ftag=0o6fh8sl3n;nat=yes>
To: "Dana Whitfield" <sip:dana@sip.example.com>;tag=0o6fh8sl3n
From: <sip:bot-7@sip.example.com>;tag=k9ztf2qd7u
Call-ID: 3m1v0p9vq5kq6hd1a2n8
CSeq: 4711 BYE
Reason: SIP;cause=200;text="Call completed elsewhere"
Supported: outbound
User-Agent: exotel-voice/0.1.0
Content-Length: {length}
"""
    ),
    call_id=_CALL_ID,
    cseq=4711,
    method="BYE",
    branch="z9hG4bK1780944",
    from_tag=_BOT_TAG,
    to_tag=_CALLER_TAG,
    body_length=0,
)
"""The bot hangs up: Route set from the Record-Routes, in order (RFC 3261 §12.2.1.1)."""

OPTIONS = Sample(
    name="OPTIONS",
    data=_wire(
        """
OPTIONS sip:k3v8d1s2@df7jal23ls0d.invalid;transport=ws SIP/2.0
Via: SIP/2.0/WSS 203.0.113.10:8443;branch=z9hG4bKx.4087.1.0
From: <sip:ka@sip.example.com>;tag=5f3a91c2-6566f2b1
To: <sip:k3v8d1s2@df7jal23ls0d.invalid;transport=ws>
Call-ID: ksrulka-6566f2b1.1c7e
CSeq: 80 OPTIONS
Content-Length: {length}
"""
    ),
    call_id="ksrulka-6566f2b1.1c7e",
    cseq=80,
    method="OPTIONS",
    branch="z9hG4bKx.4087.1.0",
    from_tag="5f3a91c2-6566f2b1",
    to_tag=None,
    body_length=0,
)
"""Kamailio usrloc's keepalive ping to the registered contact."""

MIX: tuple[Sample, ...] = (REGISTER, UNAUTHORIZED, INVITE, OK_INVITE, ACK, BYE, OPTIONS)
"""The benchmark mix: one of each, in call-flow order."""
