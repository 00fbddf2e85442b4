"""One call's media: an aiortc peer connection carrying one audio stream each way.

The boundary SIP.js calls a SessionDescriptionHandler: make an offer or an answer
(non-trickle: the SDP is returned once ICE gathering is done, bounded by a timeout),
apply the remote description, put the stream on hold and back, restart ICE, close.
Runs on asyncio (aiortc is asyncio-only; see ``sipmedia.loop`` for trio).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpCodecCapability,
    RTCRtpSender,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamTrack

from sipcore.errors import LocalProtocolError, RemoteProtocolError
from sipmedia.receiver import InboundAudio
from sipmedia.sources import AudioSource, OutboundTrack

__all__ = ["IceServer", "MediaConfig", "MediaSession", "MediaError"]

logger = logging.getLogger(__name__)


class MediaError(Exception):
    """Media could not be set up (no common codec, ICE gathering failed...)."""


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
    """Longest wait for candidates before the SDP goes out without the slow ones."""


class MediaSession:
    """The media of one call.

    Args:
        config: codecs and ICE servers.
        source: what we send (a tone, a program's PCM, a device...); swappable later
            through ``outbound.source``.
    """

    def __init__(
        self, config: MediaConfig | None = None, source: AudioSource | None = None
    ) -> None:
        self.config = config or MediaConfig()
        self.outbound = OutboundTrack(source)
        self.inbound = InboundAudio()
        self._pc = RTCPeerConnection(
            RTCConfiguration(
                iceServers=[
                    RTCIceServer(urls=s.urls, username=s.username, credential=s.credential)
                    for s in self.config.ice_servers
                ]
            )
        )
        self._pc.on("track", self._on_track)
        self._transceiver: RTCRtpTransceiver | None = None
        self.on_hold = False
        self._closed = False

    # ------------------------------------------------------------------ negotiation

    async def create_offer(self) -> str:
        """Our first offer (we place the call). Returns SDP with gathered candidates."""
        transceiver = self._pc.addTransceiver(self.outbound, direction="sendrecv")
        self._set_codecs(transceiver)
        self._transceiver = transceiver
        return await self._local(await self._pc.createOffer())

    async def accept_answer(self, sdp: str) -> None:
        """Apply the peer's answer to our offer.

        Raises:
            RemoteProtocolError: the answer is unusable (status hint 488).
        """
        await self._remote(sdp, "answer")

    async def create_answer(self, offer: str) -> str:
        """Answer the peer's offer (an incoming call, or their re-INVITE).

        Raises:
            RemoteProtocolError: the offer is unusable or shares no codec (488).
        """
        await self._remote(offer, "offer")
        if self._transceiver is None:
            for transceiver in self._pc.getTransceivers():
                if transceiver.kind == "audio":
                    transceiver.sender.replaceTrack(self.outbound)
                    transceiver.direction = "sendrecv"
                    self._set_codecs(transceiver)
                    self._transceiver = transceiver
                    break
            else:
                raise RemoteProtocolError("the offer has no audio stream", status_hint=488)
        return await self._local(await self._pc.createAnswer())

    async def hold_offer(self) -> str:
        """A re-offer that puts the peer on hold (RFC 3264 §8.4: ``a=sendonly``)."""
        return await self._reoffer("sendonly", hold=True)

    async def resume_offer(self) -> str:
        """A re-offer that takes the peer off hold (``a=sendrecv``)."""
        return await self._reoffer("sendrecv", hold=False)

    async def _reoffer(self, direction: str, *, hold: bool) -> str:
        transceiver = self._require_transceiver()
        transceiver.direction = direction
        self.on_hold = hold
        self.inbound.paused = hold
        return await self._local(await self._pc.createOffer())

    # ------------------------------------------------------------------ internals

    def _require_transceiver(self) -> RTCRtpTransceiver:
        if self._transceiver is None:
            raise LocalProtocolError("no media negotiated yet")
        return self._transceiver

    def _set_codecs(self, transceiver: RTCRtpTransceiver) -> None:
        capabilities = RTCRtpSender.getCapabilities("audio").codecs
        chosen: list[RTCRtpCodecCapability] = []
        for name in self.config.codecs:
            chosen += [c for c in capabilities if c.mimeType.lower() == f"audio/{name.lower()}"]
        if not chosen:
            raise MediaError(f"none of the codecs {self.config.codecs} is available")
        transceiver.setCodecPreferences(chosen)

    async def _local(self, description: RTCSessionDescription) -> str:
        # aiortc gathers every candidate inside setLocalDescription (non-trickle): bound
        # it, so an unreachable STUN/TURN server cannot hold the call (JsSIP cannot).
        try:
            await asyncio.wait_for(
                self._pc.setLocalDescription(description), self.config.ice_gathering_timeout
            )
        except TimeoutError as exc:
            raise MediaError(
                f"ICE gathering took longer than {self.config.ice_gathering_timeout} s"
            ) from exc
        local = self._pc.localDescription
        return str(local.sdp)

    async def _remote(self, sdp: str, kind: str) -> None:
        try:
            await self._pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type=kind))
        except (ValueError, KeyError, AssertionError) as exc:
            raise RemoteProtocolError(f"unusable SDP {kind}: {exc}", status_hint=488) from exc

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "audio":
            self.inbound.attach(track)

    async def close(self) -> None:
        """Stop sending and receiving and release the sockets."""
        if self._closed:
            return
        self._closed = True
        await self.inbound.aclose()
        await self._pc.close()

    @property
    def codec(self) -> str | None:
        """The codec we send with, once negotiated (e.g. ``"opus"``)."""
        transceiver = self._transceiver
        if transceiver is None:
            return None
        codecs: Sequence[object] = getattr(transceiver, "_codecs", [])
        first = codecs[0] if codecs else None
        mime = getattr(first, "mimeType", None)
        return mime.split("/", 1)[1] if isinstance(mime, str) else None
