"""Hand-written SIP for talking to the suite's Kamailio in tests.

Deliberately tiny and independent of the project's own SIP stack: requests are
built as text, replies are split into start line, headers and body, and MD5
digest answers are computed with hashlib. Good enough for the harness tests and
for fault tests that need a dumb peer (a UDP "bob" that answers an INVITE).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import re
import secrets
import socket
import ssl
import time
from collections.abc import Callable, Iterable
from typing import Self

import wsproto
import wsproto.connection
import wsproto.events

CRLF = "\r\n"


def new_tag() -> str:
    return secrets.token_hex(4)


def new_branch() -> str:
    return "z9hG4bK" + secrets.token_hex(8)


def new_call_id() -> str:
    return secrets.token_hex(10) + "@harness"


# --------------------------------------------------------------------------- messages


@dataclasses.dataclass
class SipMessage:
    start_line: str
    headers: list[tuple[str, str]]
    body: str = ""

    @property
    def is_response(self) -> bool:
        return self.start_line.startswith("SIP/2.0 ")

    @property
    def status(self) -> int:
        if not self.is_response:
            raise ValueError(f"not a response: {self.start_line}")
        return int(self.start_line.split()[1])

    @property
    def method(self) -> str:
        if self.is_response:
            return self.cseq_method
        return self.start_line.split()[0]

    @property
    def request_uri(self) -> str:
        return self.start_line.split()[1]

    @property
    def cseq_method(self) -> str:
        return self.header("CSeq").split()[1]

    def header(self, name: str) -> str:
        values = self.header_values(name)
        if not values:
            raise KeyError(f"no {name} header in:\n{self}")
        return values[0]

    def header_values(self, name: str) -> list[str]:
        names = {name.lower(), *_COMPACT.get(name.lower(), ())}
        return [value for key, value in self.headers if key.lower() in names]

    def has(self, name: str) -> bool:
        return bool(self.header_values(name))

    def to_tag(self) -> str | None:
        match = re.search(r";\s*tag=([^;>\s]+)", self.header("To"))
        return match.group(1) if match else None

    def __str__(self) -> str:
        head = CRLF.join([self.start_line, *(f"{k}: {v}" for k, v in self.headers)])
        return head + CRLF + CRLF + self.body

    def encode(self) -> bytes:
        return str(self).encode()


_COMPACT: dict[str, tuple[str, ...]] = {
    "via": ("v",),
    "from": ("f",),
    "to": ("t",),
    "call-id": ("i",),
    "contact": ("m",),
    "content-length": ("l",),
    "content-type": ("c",),
}


def parse(data: bytes | str) -> SipMessage:
    text = data.decode() if isinstance(data, bytes) else data
    head, _, body = text.partition(CRLF + CRLF)
    lines = head.split(CRLF)
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and headers:  # folded line
            name, value = headers[-1]
            headers[-1] = (name, value + " " + line.strip())
            continue
        name, _, value = line.partition(":")
        headers.append((name.strip(), value.strip()))
    return SipMessage(lines[0], headers, body)


def request(
    method: str,
    uri: str,
    *,
    via: str,
    from_: str,
    to: str,
    call_id: str,
    cseq: int,
    contact: str | None = None,
    extra: Iterable[tuple[str, str]] = (),
    body: str = "",
    content_type: str | None = None,
) -> SipMessage:
    """A request; ``via`` is the whole Via value (``SIP/2.0/UDP host:port;branch=...``)."""
    headers = [
        ("Via", via),
        ("Max-Forwards", "70"),
        ("From", from_),
        ("To", to),
        ("Call-ID", call_id),
        ("CSeq", f"{cseq} {method}"),
    ]
    if contact is not None:
        headers.append(("Contact", contact))
    headers.extend(extra)
    if body and content_type:
        headers.append(("Content-Type", content_type))
    headers.append(("Content-Length", str(len(body.encode()))))
    return SipMessage(f"{method} {uri} SIP/2.0", headers, body)


def response(
    req: SipMessage,
    status: int,
    reason: str,
    *,
    to_tag: str | None = None,
    contact: str | None = None,
    body: str = "",
    content_type: str | None = None,
) -> SipMessage:
    """A response to ``req``: Via, Record-Route, From, To (+tag), Call-ID, CSeq copied."""
    headers = [("Via", v) for v in req.header_values("Via")]
    headers += [("Record-Route", v) for v in req.header_values("Record-Route")]
    to = req.header("To")
    if to_tag and ";tag=" not in to:
        to = f"{to};tag={to_tag}"
    headers += [
        ("From", req.header("From")),
        ("To", to),
        ("Call-ID", req.header("Call-ID")),
        ("CSeq", req.header("CSeq")),
    ]
    if contact is not None:
        headers.append(("Contact", contact))
    if body and content_type:
        headers.append(("Content-Type", content_type))
    headers.append(("Content-Length", str(len(body.encode()))))
    return SipMessage(f"SIP/2.0 {status} {reason}", headers, body)


# --------------------------------------------------------------------------- digest


def parse_challenge(value: str) -> dict[str, str]:
    """``Digest realm="x", nonce="y", qop="auth"`` -> {"realm": "x", ...}."""
    scheme, _, rest = value.partition(" ")
    if scheme.lower() != "digest":
        raise ValueError(f"not a Digest challenge: {value}")
    return {
        key.lower(): quoted if quoted else plain
        for key, quoted, plain in re.findall(r'(\w+)\s*=\s*(?:"([^"]*)"|([^,\s]+))', rest)
    }


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # SIP digest is MD5


def digest_authorization(
    challenge: str, *, method: str, uri: str, username: str, password: str, nc: int = 1
) -> str:
    """The Authorization / Proxy-Authorization value answering ``challenge`` (RFC 2617 MD5)."""
    params = parse_challenge(challenge)
    realm, nonce = params["realm"], params["nonce"]
    ha1 = _md5(f"{username}:{realm}:{password}")
    ha2 = _md5(f"{method}:{uri}")
    fields = [
        f'username="{username}"',
        f'realm="{realm}"',
        f'nonce="{nonce}"',
        f'uri="{uri}"',
        "algorithm=MD5",
    ]
    qops = [q.strip() for q in params.get("qop", "").split(",") if q.strip()]
    if "auth" in qops:
        cnonce = secrets.token_hex(8)
        nc_text = f"{nc:08x}"
        answer = _md5(f"{ha1}:{nonce}:{nc_text}:{cnonce}:auth:{ha2}")
        fields += ["qop=auth", f"nc={nc_text}", f'cnonce="{cnonce}"']
    else:
        answer = _md5(f"{ha1}:{nonce}:{ha2}")
    fields.append(f'response="{answer}"')
    if "opaque" in params:
        fields.append(f'opaque="{params["opaque"]}"')
    return "Digest " + ", ".join(fields)


# --------------------------------------------------------------------------- transports


class SipPeer:
    """A SIP endpoint: send messages to the server, receive them with a backlog."""

    transport = "UDP"
    host = "127.0.0.1"
    port = 0

    def __init__(self) -> None:
        self.backlog: list[SipMessage] = []

    def via(self, branch: str | None = None) -> str:
        raise NotImplementedError

    def contact_uri(self, user: str) -> str:
        raise NotImplementedError

    def send(self, message: SipMessage) -> None:
        raise NotImplementedError

    def _recv_one(self, timeout: float) -> SipMessage | None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def recv(
        self, match: Callable[[SipMessage], bool] = lambda _m: True, timeout: float = 3.0
    ) -> SipMessage:
        """The next message satisfying ``match`` (others are kept in ``backlog``)."""
        for i, message in enumerate(self.backlog):
            if match(message):
                return self.backlog.pop(i)
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            received = self._recv_one(left)
            if received is None:
                break
            if match(received):
                return received
            self.backlog.append(received)
        raise TimeoutError(f"no matching SIP message within {timeout}s; backlog: {self.backlog}")

    def recv_final(self, method: str, timeout: float = 3.0) -> SipMessage:
        """The first final (>= 200) response to ``method``."""
        return self.recv(
            lambda m: m.is_response and m.cseq_method == method and m.status >= 200, timeout
        )

    def recv_request(self, method: str, timeout: float = 3.0) -> SipMessage:
        return self.recv(lambda m: not m.is_response and m.method == method, timeout)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class UdpPeer(SipPeer):
    """A UDP SIP endpoint on a free loopback port."""

    def __init__(self, server: tuple[str, int]) -> None:
        super().__init__()
        self.server = server
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.host, self.port = self.sock.getsockname()

    def via(self, branch: str | None = None) -> str:
        return f"SIP/2.0/UDP {self.host}:{self.port};branch={branch or new_branch()};rport"

    def contact_uri(self, user: str) -> str:
        return f"sip:{user}@{self.host}:{self.port}"

    def send(self, message: SipMessage) -> None:
        self.sock.sendto(message.encode(), self.server)

    def _recv_one(self, timeout: float) -> SipMessage | None:
        self.sock.settimeout(timeout)
        try:
            data, _ = self.sock.recvfrom(65535)
        except TimeoutError:
            return None
        return parse(data)

    def close(self) -> None:
        self.sock.close()


class TcpPeer(SipPeer):
    """A SIP-over-TCP endpoint: one connection to the server, messages framed by Content-Length."""

    transport = "TCP"

    def __init__(self, server: tuple[str, int], timeout: float = 3.0) -> None:
        super().__init__()
        self.sock = socket.create_connection(server, timeout=timeout)
        self.host, self.port = self.sock.getsockname()
        self._buffer = b""

    def via(self, branch: str | None = None) -> str:
        return f"SIP/2.0/TCP {self.host}:{self.port};branch={branch or new_branch()};rport"

    def contact_uri(self, user: str) -> str:
        return f"sip:{user}@{self.host}:{self.port};transport=tcp"

    def send(self, message: SipMessage) -> None:
        self.sock.sendall(message.encode())

    def _take_message(self) -> SipMessage | None:
        self._buffer = self._buffer.lstrip(b"\r\n")  # keep-alive CRLFs
        head_end = self._buffer.find(b"\r\n\r\n")
        if head_end < 0:
            return None
        head = self._buffer[:head_end].decode()
        match = re.search(r"^(?:content-length|l)\s*:\s*(\d+)", head, re.IGNORECASE | re.MULTILINE)
        length = int(match.group(1)) if match else 0
        end = head_end + 4 + length
        if len(self._buffer) < end:
            return None
        data, self._buffer = self._buffer[:end], self._buffer[end:]
        return parse(data)

    def _recv_one(self, timeout: float) -> SipMessage | None:
        deadline = time.monotonic() + timeout
        while (message := self._take_message()) is None:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                return None
            if not data:
                raise ConnectionError("server closed the TCP connection")
            self._buffer += data
        return message

    def close(self) -> None:
        self.sock.close()


class WebSocketPeer(SipPeer):
    """A SIP-over-WebSocket endpoint (RFC 7118) on a plain or TLS socket, via wsproto.

    ``handshake`` is wsproto's AcceptConnection or RejectConnection; the
    Contact/Via host is a random ``.invalid`` name, as browsers use.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        tls: ssl.SSLContext | None = None,
        subprotocols: Iterable[str] = ("sip",),
        timeout: float = 3.0,
    ) -> None:
        super().__init__()
        raw = socket.create_connection((host, port), timeout=timeout)
        self.local_port = int(raw.getsockname()[1])
        self.stream: socket.socket = (
            raw if tls is None else tls.wrap_socket(raw, server_hostname=host)
        )
        self.transport = "WSS" if tls is not None else "WS"
        self.host = secrets.token_hex(6) + ".invalid"
        self.close_event: wsproto.events.CloseConnection | None = None
        self.eof = False
        self._text: list[str] = []
        self._ws = wsproto.WSConnection(wsproto.ConnectionType.CLIENT)
        self.stream.sendall(
            self._ws.send(
                wsproto.events.Request(
                    host=f"{host}:{port}", target="/", subprotocols=list(subprotocols)
                )
            )
        )
        self.handshake: wsproto.events.Event | None = None
        deadline = time.monotonic() + timeout
        while self.handshake is None:
            if not self._pump(deadline - time.monotonic()):
                raise ConnectionError("no WebSocket handshake answer")
            for event in self._ws.events():
                if isinstance(
                    event, wsproto.events.AcceptConnection | wsproto.events.RejectConnection
                ):
                    self.handshake = event

    @property
    def accepted(self) -> bool:
        return isinstance(self.handshake, wsproto.events.AcceptConnection)

    @property
    def subprotocol(self) -> str | None:
        if isinstance(self.handshake, wsproto.events.AcceptConnection):
            return self.handshake.subprotocol
        return None

    def via(self, branch: str | None = None) -> str:
        return f"SIP/2.0/{self.transport} {self.host};branch={branch or new_branch()}"

    def contact_uri(self, user: str) -> str:
        return f"sip:{user}@{self.host};transport=ws"

    def send(self, message: SipMessage) -> None:
        self.stream.sendall(self._ws.send(wsproto.events.TextMessage(data=str(message))))

    def _pump(self, timeout: float) -> bool:
        """Feed wsproto what arrives within timeout; False on timeout."""
        if timeout <= 0:
            return False
        self.stream.settimeout(timeout)
        try:
            data = self.stream.recv(65536)
        except TimeoutError:
            return False
        except ssl.SSLEOFError:  # TLS peer went away without close_notify
            data = b""
        if not data:
            self.eof = True
        self._ws.receive_data(data or None)
        return True

    def _recv_one(self, timeout: float) -> SipMessage | None:
        deadline = time.monotonic() + timeout
        while True:
            for event in self._ws.events():
                if isinstance(event, wsproto.events.TextMessage):
                    self._text.append(event.data)
                    if event.message_finished:
                        text, self._text = "".join(self._text), []
                        return parse(text)
                elif isinstance(event, wsproto.events.Ping):
                    self.stream.sendall(self._ws.send(event.response()))
                elif isinstance(event, wsproto.events.CloseConnection):
                    self.close_event = event
                    if self._ws.state is wsproto.connection.ConnectionState.REMOTE_CLOSING:
                        self.stream.sendall(self._ws.send(event.response()))
                    raise ConnectionError(f"server closed the WebSocket ({event.code})")
            if self.eof:
                raise ConnectionError("server closed the TCP connection")
            if not self._pump(deadline - time.monotonic()):
                return None

    def wait_closed(self, timeout: float = 3.0) -> str:
        """Read until the server goes away: "close-frame", "eof" or "reset"."""
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                self._recv_one(deadline - time.monotonic())
        except ConnectionResetError:
            return "reset"
        except ConnectionError:
            if self.close_event is not None and self.close_event.code != 1006:
                return "close-frame"
            return "eof"
        raise TimeoutError("WebSocket still open")

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.stream.close()


# --------------------------------------------------------------------------- flows


def register(
    peer: SipPeer,
    *,
    domain: str,
    user: str,
    password: str | None,
    expires: int = 60,
    call_id: str | None = None,
    contact: str | None = None,
) -> SipMessage:
    """REGISTER ``user@domain`` from ``peer``; answer one 401 if ``password`` is given.

    Returns the final response (the 401 itself when password is None).
    """
    call_id = call_id or new_call_id()
    from_tag = new_tag()
    aor = f"sip:{user}@{domain}"
    contact_value = f"<{contact or peer.contact_uri(user)}>;expires={expires}"
    uri = f"sip:{domain}"

    def attempt(cseq: int, authorization: str | None) -> SipMessage:
        extra = [("Expires", str(expires))]
        if authorization:
            extra.append(("Authorization", authorization))
        peer.send(
            request(
                "REGISTER",
                uri,
                via=peer.via(),
                from_=f"<{aor}>;tag={from_tag}",
                to=f"<{aor}>",
                call_id=call_id,
                cseq=cseq,
                contact=contact_value,
                extra=extra,
            )
        )
        return peer.recv(
            lambda m: (
                m.is_response
                and m.header("Call-ID") == call_id
                and m.header("CSeq") == f"{cseq} REGISTER"
                and m.status >= 200
            )
        )

    first = attempt(1, None)
    if first.status != 401 or password is None:
        return first
    authorization = digest_authorization(
        first.header("WWW-Authenticate"),
        method="REGISTER",
        uri=uri,
        username=user,
        password=password,
    )
    return attempt(2, authorization)
