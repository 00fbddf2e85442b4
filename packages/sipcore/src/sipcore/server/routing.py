"""Where requests go and how we name ourselves in them (RFC 3261 §16.4, §16.6, §18.2.1).

``Routing`` knows our addresses (for Via and Record-Route), which URIs mean us, and the
flow tokens (RFC 5626 §5.3) that name each flow inside our Record-Route entries, so an
in-dialog request finds its way back to the connection a phone is on.
"""

from __future__ import annotations

from sipcore.ids import IdFactory
from sipcore.message import Request, Response
from sipcore.params import split_commas
from sipcore.server.config import ServerConfig
from sipcore.server.flow import Flow
from sipcore.uri import SipUri, Uri

__all__ = ["Routing", "stamp_via", "pop_first_value"]


class Routing:
    """Our names, and the flow tokens of the flows we know.

    Args:
        config: our domain, address and listening ports.
        ids: where flow tokens come from.
    """

    __slots__ = ("_config", "_flow_of", "_ids", "_names", "_token_of")

    def __init__(self, config: ServerConfig, ids: IdFactory) -> None:
        self._config = config
        self._ids = ids
        self._names = {n.strip("[]") for n in config.local_names}
        self._token_of: dict[Flow, str] = {}
        self._flow_of: dict[str, Flow] = {}

    # -- flow tokens -----------------------------------------------------------------

    @property
    def flows(self) -> list[Flow]:
        """Flows known (heard from and not forgotten)."""
        return list(self._token_of)

    def knows(self, flow: Flow) -> bool:
        """Whether ``flow`` is known (a closed one is not)."""
        return flow in self._token_of

    def learn(self, flow: Flow) -> None:
        """Give ``flow`` a token, if it has none yet."""
        if flow not in self._token_of:
            token = self._ids.token()
            self._token_of[flow] = token
            self._flow_of[token] = flow

    def forget(self, flow: Flow) -> None:
        """``flow`` closed: its token names nothing any more."""
        token = self._token_of.pop(flow, None)
        if token is not None:
            self._flow_of.pop(token, None)

    def flow(self, token: str) -> Flow | None:
        """The live flow a token names, if any."""
        return self._flow_of.get(token)

    # -- our names -------------------------------------------------------------------

    def is_me(self, uri: Uri) -> bool:
        """Whether ``uri`` names this server (our domain, address or an alias)."""
        if not isinstance(uri, SipUri) or uri.host.lower().strip("[]") not in self._names:
            return False
        ports = self._config.ports.values()
        return uri.port is None or not ports or uri.port in ports

    def via(self, flow: Flow, branch: str) -> str:
        """Our Via for a request sent over ``flow`` (§16.6 step 8)."""
        return f"SIP/2.0/{flow.transport.upper()} {self._hostport(flow.transport)};branch={branch}"

    def record_route(self, flow: Flow) -> str:
        """A Record-Route entry facing ``flow``, with its flow token (§16.6 step 4)."""
        transport = "" if flow.transport == "udp" else f";transport={flow.transport}"
        token = self._token_of.get(flow, "")
        user = f"{token}@" if token else ""
        return f"<sip:{user}{self._hostport(flow.transport)}{transport};lr>"

    def _hostport(self, transport: str) -> str:
        host = self._config.host
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        port = self._config.ports.get(transport)
        return host if port is None else f"{host}:{port}"

    # -- Route processing ------------------------------------------------------------

    def pop_own_routes(self, request: Request) -> tuple[bool, str | None]:
        """§16.4: remove the Route values that name us.

        Returns:
            Whether any did, and the flow token of the last one removed: the flow of the
            other end of the dialog (see ``LocalServer._forward``).
        """
        popped = False
        token: str | None = None
        uri = request.uri
        routes = request.route
        if isinstance(uri, SipUri) and self.is_me(uri) and uri.lr and uri.user and routes:
            # §16.4: "If the Request-URI contains a value this proxy previously placed
            # into a Record-Route header field ... the proxy MUST replace the
            # Request-URI in the request with the last value from the Route header
            # field, and remove that value" (a strict router upstream).
            request.uri = routes[-1].uri
            routes = routes[:-1]
            token, popped = uri.user, True
            set_values(request, "Route", [str(r) for r in routes])
        count = 0
        for route in routes:
            if not self.is_me(route.uri):
                break
            count += 1
            if isinstance(route.uri, SipUri) and route.uri.user:
                token = route.uri.user
        if count:
            popped = True
            set_values(request, "Route", [str(r) for r in routes[count:]])
        return popped, token


def stamp_via(request: Request, flow: Flow) -> None:
    """§18.2.1 and RFC 3581: note where ``request`` really came from in its top Via."""
    top = request.via[0]
    stamped = top
    if top.rport is True:
        stamped = stamped.with_param("rport", str(flow.port))
    if top.host.strip("[]").lower() != flow.host.lower() or stamped is not top:
        # "the server MUST add a "received" parameter to that Via header field value"
        # when sent-by is not the source address (and, RFC 3581 §4, always with rport).
        stamped = stamped.with_param("received", flow.host)
    if stamped is not top:
        values = request.headers.values("via")
        set_values(request, "Via", [str(stamped), *values[1:]])


def set_values(message: Request | Response, name: str, values: list[str]) -> None:
    """Replace every ``name`` field by one holding ``values`` (none: remove it)."""
    if values:
        message.headers.set(name, ", ".join(values))
    else:
        message.headers.remove(name)


def pop_first_value(message: Request | Response, name: str) -> None:
    """Remove the first element of a list header (a Via line may carry several).

    §16.7 step 3: "The proxy removes the topmost Via header field value from the
    response."
    """
    lines = message.headers.get_all(name)
    if lines and len(list(split_commas(lines[0]))) == 1:
        message.headers.remove_first(name)
        return
    set_values(message, name, [v for line in lines for v in split_commas(line)][1:])
