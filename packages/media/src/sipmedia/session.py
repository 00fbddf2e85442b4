"""One call's media: an aiortc peer connection carrying one audio stream each way.

The boundary SIP.js calls a SessionDescriptionHandler: make an offer or an answer
(non-trickle: the SDP is returned once ICE gathering is done, bounded by a timeout),
apply the remote description, hold and resume, restart ICE, send and receive DTMF,
report quality, close. Runs on asyncio (aiortc is asyncio-only; see ``sipmedia.loop``
for trio). Where aiortc lacks a hook, ``sipmedia.rtp`` provides it, per session.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from aioice import Connection
from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpCodecCapability,
    RTCRtpCodecParameters,
    RTCRtpSender,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc.exceptions import InvalidAccessError, InvalidStateError, OperationError
from aiortc.mediastreams import MediaStreamTrack

from sipcore.errors import LocalProtocolError, RemoteProtocolError
from sipcore.sdp import Codec, Direction, MediaDescription, SessionDescription
from sipmedia.dtmf import (
    DEFAULT_DURATION_MS,
    DEFAULT_GAP_MS,
    DEFAULT_VOLUME,
    DtmfError,
    DtmfReceived,
    add_telephone_events,
    event_codes,
    parse_dtmf_info,
    telephone_event_for,
)
from sipmedia.gathering import gather_candidates
from sipmedia.inline import InlineOpusTrack, install_inline_decoder
from sipmedia.pcm import FRAME_MS
from sipmedia.receiver import InboundAudio
from sipmedia.rtp import (
    AiortcMismatchError,
    AudioRtpTap,
    EncoderRateTrack,
    add_codecs,
    encoder_rate,
    restrict_codecs,
    set_sending,
)
from sipmedia.sources import AudioSource, OutboundTrack
from sipmedia.stats import CallStats, QualitySampler, summarize

__all__ = ["IceServer", "MediaConfig", "MediaSession", "MediaError"]

logger = logging.getLogger(__name__)


class MediaError(Exception):
    """Media could not be set up or used (no common codec, ICE gathering failed...)."""


@dataclass(frozen=True, slots=True)
class IceServer:
    """A STUN or TURN server (``stun:host:port``, ``turn:host:port?transport=udp``)."""

    urls: str
    username: str | None = None
    credential: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class MediaConfig:
    """How a call's media is negotiated."""

    codecs: tuple[str, ...] = ("opus", "PCMU", "PCMA")
    """Codec names in order of preference (opus, PCMU, PCMA, G722)."""
    ice_servers: tuple[IceServer, ...] = ()
    """STUN/TURN servers for ICE (none: host candidates only)."""
    ice_gathering_timeout: float = 3.0
    """Longest wait, seconds, for the STUN/TURN servers' candidates: then the SDP goes
    out with the candidates gathered so far (host candidates at least), without those
    of the servers that have not answered (``sipmedia.gathering``)."""
    telephone_event: bool = True
    """Offer and accept RFC 4733 ``telephone-event`` (DTMF inside the RTP stream)."""
    jitter_buffer_packets: int = 0
    """Packets held before decoding (0: decode on arrival). aiortc's default is 4,
    80 ms of delay; see ``sipmedia.rtp.make_jitter_buffer``."""


_HELD_DIRECTIONS = (Direction.SENDONLY, Direction.INACTIVE)


def _first_audio(description: SessionDescription) -> MediaDescription | None:
    for section in description.media:
        if section.media == "audio" and not section.is_rejected:
            return section
    return None


def _ice_credentials(sdp: str) -> tuple[str | None, str | None]:
    description = SessionDescription.parse(sdp)
    section = _first_audio(description)
    if section is None:
        return None, None
    ufrag = description.attribute_for(section, "ice-ufrag")
    pwd = description.attribute_for(section, "ice-pwd")
    return (ufrag.value if ufrag else None, pwd.value if pwd else None)


class MediaSession:
    """The media of one call.

    Args:
        config: codecs, ICE servers, DTMF and jitter-buffer settings.
        source: what we send (a tone, a program's PCM, a device...); swappable later
            through ``outbound.source``.
    """

    def __init__(
        self, config: MediaConfig | None = None, source: AudioSource | None = None
    ) -> None:
        self.config = config or MediaConfig()
        self.outbound = OutboundTrack(source)
        """What we send; ``outbound.muted = True`` sends silence (mute, no signalling)."""
        self.inbound = InboundAudio()
        """What we receive."""
        self.on_hold = False
        """We put the call on hold (``hold_offer``): we neither send nor play audio."""
        self.held_by_remote = False
        """The peer's last offer put us on hold (``a=sendonly`` or ``a=inactive``)."""
        self._closed = False
        self._pc = self._new_peer_connection()
        self._retired: list[RTCPeerConnection] = []
        self._transceiver: RTCRtpTransceiver | None = None
        self._tap: AudioRtpTap | None = None
        self._loss: tuple[float, int] | None = None
        self._dtmf_callbacks: list[Callable[[DtmfReceived], None]] = []
        self._dtmf_queues: list[asyncio.Queue[DtmfReceived | None]] = []
        self._sampler: QualitySampler | None = None

    # ------------------------------------------------------------------ negotiation

    async def create_offer(self) -> str:
        """Our first offer (we place the call).

        Returns:
            SDP with every gathered candidate (non-trickle).

        Raises:
            LocalProtocolError: media was already negotiated.
            MediaError: no configured codec exists. A STUN/TURN server that does not
                answer within ``config.ice_gathering_timeout`` is left out, not an error.
        """
        if self._transceiver is not None:
            raise LocalProtocolError("the first offer was already made")
        self._adopt(self._pc.addTransceiver(self._encoder_feed(), direction="sendrecv"))
        return await self._offer()

    async def accept_answer(self, sdp: str) -> None:
        """Apply the peer's answer to our last offer (first offer, hold, resume, restart).

        Raises:
            RemoteProtocolError: the answer is unusable (status hint 488).
            LocalProtocolError: there is no offer of ours to answer.
        """
        await self._remote(sdp, "answer")
        self._negotiated(sdp)
        await self._close_retired()

    async def create_answer(self, offer: str) -> str:
        """Answer the peer's offer: an incoming call, or a re-INVITE.

        A re-offer ``a=sendonly``/``a=inactive`` puts us on hold (``held_by_remote``):
        we answer ``recvonly``/``inactive`` and stop sending until a later offer
        resumes. A re-offer with new ICE credentials is an ICE restart (RFC 8445 §9: "To
        restart ICE, an agent MUST change both the password and the username fragment"),
        answered from a fresh peer connection (see ``ice_restart_offer``).

        Returns:
            SDP with every gathered candidate.

        Raises:
            RemoteProtocolError: the offer is unusable or shares no codec (488).
        """
        if self._is_ice_restart(offer):
            self._retire_peer_connection()
        await self._remote(offer, "offer")
        transceiver = self._transceiver
        if transceiver is None:
            transceiver = next((t for t in self._pc.getTransceivers() if t.kind == "audio"), None)
            if transceiver is None:
                raise RemoteProtocolError("the offer has no audio stream", status_hint=488)
            transceiver.sender.replaceTrack(self._encoder_feed())
            transceiver.direction = "sendonly" if self.on_hold else "sendrecv"
            self._adopt(transceiver)
            # aiortc chose the codecs from the offer before it knew our preferences.
            if not restrict_codecs(transceiver, self._codec_capabilities()):
                raise RemoteProtocolError(
                    f"the offer has none of the codecs {self.config.codecs}", status_hint=488
                )
        description = SessionDescription.parse(offer)
        section = _first_audio(description)
        self.held_by_remote = (
            section is not None and description.direction_for(section) in _HELD_DIRECTIONS
        )
        if self.config.telephone_event and section is not None:
            # In the answer, telephone-event at the rates of the codecs we accepted, under
            # the offerer's payload types (RFC 3264 §6.1: "that same payload type number
            # SHOULD be used for that codec in the answer").
            rates = {codec.clockRate for codec in transceiver._codecs}
            add_codecs(transceiver, [c for c in section.telephone_events if c.clock_rate in rates])
        answer = await self._local(await self._pc.createAnswer())
        self._negotiated(offer)
        await self._close_retired()
        return answer

    async def hold_offer(self) -> str:
        """A re-offer that puts the peer on hold; we stop sending and playing at once.

        RFC 3264 §8.4: "If the stream to be placed on hold was previously a sendrecv
        stream, it is placed on hold by marking it sendonly." We could send (music on
        hold) but send nothing: the peer receives no audio, and its ``recvonly`` answer
        stops its sending. RTCP keeps flowing.

        Returns:
            The re-offer (send it in a re-INVITE; pass the answer to ``accept_answer``).

        Raises:
            LocalProtocolError: no media negotiated yet.
        """
        transceiver = self._require_transceiver()
        self.on_hold = True
        self.inbound.paused = True
        set_sending(transceiver, False)
        transceiver.direction = "sendonly"
        return await self._offer()

    async def resume_offer(self) -> str:
        """A re-offer that takes the peer off hold (``a=sendrecv``); we send again at once.

        Returns:
            The re-offer.

        Raises:
            LocalProtocolError: no media negotiated yet.
        """
        transceiver = self._require_transceiver()
        self.on_hold = False
        self.inbound.paused = False
        transceiver.direction = "sendrecv"
        set_sending(transceiver, True)
        return await self._offer()

    async def ice_restart_offer(self) -> str:
        """A re-offer that restarts ICE, e.g. after the network changed.

        aiortc 1.16 cannot restart ICE: ``RTCIceTransport.start`` runs once, the gatherer
        gathers once, credentials never change, ``createOffer`` has no ``iceRestart``,
        and a re-offer's new credentials are ignored. The closest thing that works is
        done instead: a fresh peer connection (new ICE credentials and candidates, new
        DTLS association and SSRC) carrying the same sources and sinks, offered in a
        re-INVITE. To the peer it is an ICE restart (RFC 8445 §9: changed username
        fragment and password) with a new DTLS fingerprint (RFC 8842 lets a subsequent
        offer start a new DTLS association). The old connection carries audio until the
        answer arrives.

        Returns:
            The re-offer.

        Raises:
            LocalProtocolError: no media negotiated yet.
        """
        self._require_transceiver()
        self._retire_peer_connection()
        transceiver = self._pc.addTransceiver(
            self._encoder_feed(), direction="sendonly" if self.on_hold else "sendrecv"
        )
        self._adopt(transceiver)
        if self.on_hold:
            set_sending(transceiver, False)
        return await self._offer()

    # ------------------------------------------------------------------ DTMF

    async def send_dtmf(
        self,
        digits: str,
        duration_ms: int = DEFAULT_DURATION_MS,
        gap_ms: int = DEFAULT_GAP_MS,
        volume: int = DEFAULT_VOLUME,
    ) -> None:
        """Send keys as RFC 4733 telephone-events in the audio stream; return when sent.

        Each tone replaces the audio for ``duration_ms`` (same SSRC and sequence, event
        timestamp fixed at its start, marker on its first packet, duration growing every
        20 ms, the end packet sent three times), then audio resumes for ``gap_ms``.
        Concurrent calls queue behind each other. Works while muted.

        Args:
            digits: keys, 0-9 A-D * # (``a``-``d`` accepted).
            duration_ms: tone length, 40-1000 ms.
            gap_ms: pause after each tone, 30-5000 ms.
            volume: tone power, 0-63 (-dBm0).

        Raises:
            DtmfError: a bad digit or argument, or the peer accepted no telephone-event
                at our codec's clock rate (send SIP INFO instead: ``dtmf_mode``), or the
                call is on hold or closed. Raised before anything is sent.
            MediaError: the audio stream stopped before every tone went out.
        """
        events = event_codes(digits)
        tap = self._tap
        sender = tap.event_sender if tap is not None else None
        if tap is None or sender is None:
            raise DtmfError(
                "the peer accepted no telephone-event at our codec's rate: use SIP INFO"
            )
        if self._closed or self.on_hold or self.held_by_remote:
            raise DtmfError("no audio is being sent (on hold or closed)")
        ticket = sender.enqueue(events, duration_ms=duration_ms, gap_ms=gap_ms, volume=volume)
        sent = tap.events_sent_future(ticket)
        # Tones queued by earlier calls go first: the wait allows for them too.
        per_tone = duration_ms + gap_ms + 3 * FRAME_MS
        budget = (ticket - sender.completed) * per_tone / 1000 + 1.0
        try:
            await asyncio.wait_for(sent, budget)
        except TimeoutError as exc:
            sender.cancel()
            raise MediaError(
                "telephone-events were not sent: the audio stream is not flowing"
            ) from exc

    def on_dtmf(self, callback: Callable[[DtmfReceived], None]) -> None:
        """Call ``callback`` (on the media loop) with every key the peer sends."""
        self._dtmf_callbacks.append(callback)

    async def dtmf_received(self) -> AsyncIterator[DtmfReceived]:
        """Every key the peer sends from now on, in order, until the session closes."""
        queue: asyncio.Queue[DtmfReceived | None] = asyncio.Queue()
        self._dtmf_queues.append(queue)
        try:
            while (event := await queue.get()) is not None:
                yield event
        finally:
            self._dtmf_queues.remove(queue)

    def receive_dtmf_info(self, content_type: str, body: bytes) -> DtmfReceived:
        """Report a key the peer sent by SIP INFO through the same listeners as RTP keys.

        Args:
            content_type: the INFO's Content-Type.
            body: its body.

        Returns:
            The key press.

        Raises:
            RemoteProtocolError: not a DTMF INFO body (415) or unreadable (400).
        """
        event = parse_dtmf_info(content_type, body)
        self._dispatch_dtmf(event)
        return event

    def _dispatch_dtmf(self, event: DtmfReceived) -> None:
        for callback in list(self._dtmf_callbacks):
            try:
                callback(event)
            except Exception:
                logger.exception("DTMF callback failed on %s", event)
        for queue in self._dtmf_queues:
            queue.put_nowait(event)

    # ------------------------------------------------------------------ quality

    async def get_stats(self, previous: CallStats | None = None) -> CallStats:
        """The call's media statistics now, with a MOS estimate of what we hear.

        Args:
            previous: an earlier sample; loss and MOS then cover the time since it.

        Returns:
            The statistics.
        """
        transceiver, tap = self._transceiver, self._tap
        report = await self._pc.getStats()
        codecs = transceiver._codecs if transceiver is not None else []
        sent = codecs[0] if codecs else None
        pt = tap.last_payload_type if tap is not None else None
        received = next((c for c in codecs if c.payloadType == pt), sent)
        # The delay the peer's audio takes before the network: the jitter buffer plus
        # one packet of packetization (measured total on loopback: ~25-30 ms).
        base_delay = (self.config.jitter_buffer_packets + 1) * FRAME_MS / 1000
        return summarize(
            report,
            now=asyncio.get_running_loop().time(),
            codec=self.codec,
            clock_rate=sent.clockRate if sent is not None else 0,
            bytes_received=tap.bytes_received if tap is not None else 0,
            received_codec=received.mimeType.split("/", 1)[1] if received is not None else None,
            received_clock_rate=received.clockRate if received is not None else None,
            base_delay=base_delay,
            previous=previous,
        )

    def start_quality_sampling(self, interval: float = 2.0) -> QualitySampler:
        """Sample ``get_stats`` every ``interval`` seconds into ``stats_history``.

        Returns:
            The sampler (already started; a second call returns the same one).
        """
        if self._sampler is None:
            self._sampler = QualitySampler(self.get_stats, interval)
            self._sampler.start()
        return self._sampler

    @property
    def stats_history(self) -> tuple[CallStats, ...]:
        """The samples taken so far (empty unless ``start_quality_sampling`` ran)."""
        return self._sampler.history if self._sampler is not None else ()

    def simulate_inbound_loss(self, share: float, seed: int = 0) -> None:
        """Drop ``share`` (0-1) of the packets we receive, as a lossy network would.

        For tests and diagnostics: the loss shows in ``get_stats`` and in the audio.

        Raises:
            ValueError: ``share`` outside 0-1.
        """
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"loss share must be within 0-1: {share}")
        self._loss = (share, seed)
        if self._tap is not None:
            self._tap.simulate_loss(share, seed)

    # ------------------------------------------------------------------ internals

    def _new_peer_connection(self) -> RTCPeerConnection:
        pc = RTCPeerConnection(
            RTCConfiguration(
                iceServers=[
                    RTCIceServer(urls=s.urls, username=s.username, credential=s.credential)
                    for s in self.config.ice_servers
                ]
            )
        )

        def on_track(track: MediaStreamTrack) -> None:
            if track.kind == "audio" and pc is self._pc:
                self.inbound.attach(track)

        pc.on("track", on_track)
        return pc

    def _encoder_feed(self) -> InlineOpusTrack:
        def codec() -> RTCRtpCodecParameters | None:
            transceiver = self._transceiver
            if transceiver is None or not transceiver._codecs:
                return None
            return transceiver._codecs[0]

        def rate() -> int | None:
            sent = codec()
            return encoder_rate(sent) if sent is not None else None

        return InlineOpusTrack(EncoderRateTrack(self.outbound, rate), codec)

    def _adopt(self, transceiver: RTCRtpTransceiver) -> None:
        transceiver.setCodecPreferences(self._codec_capabilities())
        try:
            tap = AudioRtpTap(
                transceiver,
                self._dispatch_dtmf,
                jitter_buffer_packets=self.config.jitter_buffer_packets,
            )
        except AiortcMismatchError as exc:
            raise MediaError(str(exc)) from exc
        if self._loss is not None:
            tap.simulate_loss(*self._loss)
        if self.config.jitter_buffer_packets == 0:
            receiver = transceiver.receiver
            try:
                # (the receiver's track exists once a remote description is applied)
                install_inline_decoder(transceiver, lambda f: self.inbound.push(f, receiver.track))
            except AiortcMismatchError as exc:
                raise MediaError(str(exc)) from exc
        self._transceiver = transceiver
        self._tap = tap

    def _require_transceiver(self) -> RTCRtpTransceiver:
        if self._transceiver is None:
            raise LocalProtocolError("no media negotiated yet")
        return self._transceiver

    def _codec_capabilities(self) -> list[RTCRtpCodecCapability]:
        capabilities = RTCRtpSender.getCapabilities("audio").codecs
        chosen: list[RTCRtpCodecCapability] = []
        for name in self.config.codecs:
            chosen += [c for c in capabilities if c.mimeType.lower() == f"audio/{name.lower()}"]
        if not chosen:
            raise MediaError(f"none of the codecs {self.config.codecs} is available")
        return chosen

    def _negotiated(self, remote_sdp: str) -> None:
        """Apply what a completed offer/answer exchange decided to our hooks."""
        transceiver = self._require_transceiver()
        tap = self._tap
        assert tap is not None
        tap.hook_sender_transport()
        if self.config.telephone_event:
            remote = SessionDescription.parse(remote_sdp)
            section = _first_audio(remote)
            local = self._pc.localDescription
            local_section = _first_audio(SessionDescription.parse(local.sdp)) if local else None
            receive: dict[int, Codec] = {}
            for sdp_section in (local_section, section):
                if sdp_section is not None:
                    for codec in sdp_section.telephone_events:
                        receive.setdefault(codec.payload_type, codec)
            add_codecs(transceiver, list(receive.values()))
            send = None
            if transceiver._codecs:
                send = telephone_event_for(remote, transceiver._codecs[0].clockRate)
            if tap.configure_events(list(receive.values()), send):
                tap.fail_waiters(MediaError("telephone-event was renegotiated mid-sequence"))
        if self.on_hold:
            # aiortc reopens the send gate for a sendonly stream; a holder sends nothing.
            set_sending(transceiver, False)

    def _is_ice_restart(self, offer: str) -> bool:
        current = self._pc.remoteDescription
        if current is None or self._transceiver is None:
            return False
        return _ice_credentials(offer) != _ice_credentials(current.sdp)

    def _retire_peer_connection(self) -> None:
        """Swap in a fresh peer connection; the old one is closed once the new one is
        negotiated, and keeps the audio flowing meanwhile."""
        self._retired.append(self._pc)
        if self._tap is not None:
            self._tap.fail_waiters(MediaError("the peer connection was replaced"))
        self._pc = self._new_peer_connection()
        self._transceiver = None
        self._tap = None

    async def _close_retired(self) -> None:
        retired, self._retired = self._retired, []
        for pc in retired:
            for sender in pc.getSenders():
                sender.replaceTrack(None)
            await pc.close()

    async def _offer(self) -> str:
        description = await self._pc.createOffer()
        sdp = description.sdp
        if self.config.telephone_event:
            sdp = add_telephone_events(sdp)
        return await self._local(RTCSessionDescription(sdp=sdp, type="offer"))

    async def _local(self, description: RTCSessionDescription) -> str:
        # aiortc gathers inside setLocalDescription (non-trickle), and aioice waits 5 s
        # for each STUN/TURN server there. Gather first, within our bound, so a server
        # that never answers cannot hold the call (JsSIP has no bound and never sends
        # its INVITE): the SDP goes out with what came in time, host candidates at least.
        timeout = self.config.ice_gathering_timeout
        try:
            await asyncio.gather(
                *(gather_candidates(c, timeout) for c in self._unstarted_ice_connections())
            )
        except AiortcMismatchError as exc:
            raise MediaError(str(exc)) from exc
        await self._pc.setLocalDescription(description)
        local = self._pc.localDescription
        return str(local.sdp)

    def _unstarted_ice_connections(self) -> list[Connection]:
        """The aioice connections of our transports that have not gathered yet.

        Raises:
            AiortcMismatchError: the installed aiortc keeps its ICE connection elsewhere.
        """
        connections: list[Connection] = []
        for transceiver in self._pc.getTransceivers():
            gatherer = transceiver.sender.transport.transport.iceGatherer
            connection = getattr(gatherer, "_connection", None)
            if connection is None:
                raise AiortcMismatchError("aiortc RTCIceGatherer lacks _connection")
            if gatherer.state == "new" and connection not in connections:
                connections.append(connection)
        return connections

    async def _remote(self, sdp: str, kind: str) -> None:
        try:
            await self._pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type=kind))
        except InvalidStateError as exc:
            raise LocalProtocolError(f"cannot apply an SDP {kind} now: {exc}") from exc
        except (ValueError, KeyError, AssertionError, OperationError, InvalidAccessError) as exc:
            raise RemoteProtocolError(f"unusable SDP {kind}: {exc}", status_hint=488) from exc

    async def close(self) -> None:
        """Stop sending and receiving and release the sockets."""
        if self._closed:
            return
        self._closed = True
        if self._sampler is not None:
            await self._sampler.aclose()
        if self._tap is not None:
            self._tap.fail_waiters(MediaError("the session was closed"))
        for queue in self._dtmf_queues:
            queue.put_nowait(None)
        await self.inbound.aclose()
        self._retired.append(self._pc)
        await self._close_retired()

    @property
    def closed(self) -> bool:
        """Whether ``close`` ran."""
        return self._closed

    @property
    def codec(self) -> str | None:
        """The codec we send with, once negotiated (e.g. ``"opus"``)."""
        transceiver = self._transceiver
        if transceiver is None or not transceiver._codecs:
            return None
        return transceiver._codecs[0].mimeType.split("/", 1)[1]
