"""Several instances of one account on one host: a parent takes the calls, children
follow, and a child takes over when the parent dies (the guide's section 5.10).

Start it twice, in two terminals, with the same account:

    export EXOTEL_VOICE_PASSWORD=...
    uv run examples/multi_instance.py --server wss://sip.example.com:443/ --user agent
    uv run examples/multi_instance.py --server wss://sip.example.com:443/ --user agent

The first becomes the parent: it registers and answers calls (sending a tone, so a
caller can tell instances apart with ``--tone``). The second becomes a child: it does
not register, and hears about the parent's calls (``incoming``, ``connected``,
``callEnded``). Stop the parent, even with ``kill -9``, and the child hears
``re-register`` within 2 s, registers and takes the next calls.

This example uses the guide's synchronous ``ExotelWebClient``: plain callbacks, called
on the client's own thread, with the guide's names and event strings.
"""

from __future__ import annotations

import argparse
import os
import threading
from typing import Any
from urllib.parse import urlsplit

from account_options import add_account_options

from exotel_voice import ConfigurationError, ExotelWebClient, WebCall


def sip_account_info(args: argparse.Namespace) -> dict[str, Any]:
    """The guide's ``sipAccountInfo`` for a server URL (section 5.1)."""
    url = urlsplit(args.server)
    port = url.port or (443 if url.scheme == "wss" else 80)
    info: dict[str, Any] = {
        "userName": args.user,
        "secret": args.password,
        "sipdomain": args.domain or url.hostname,
        "domain": f"{url.hostname}:{port}",  # the WebSocket server
        "port": str(port),
        "security": url.scheme,  # "wss" (or "ws")
        "endpoint": url.path.lstrip("/"),
        "displayname": args.user,
    }
    if args.ca_file:
        info["caFile"] = args.ca_file  # this SDK's extra: trust a private CA
    return info


def main() -> None:
    args = parse_args()
    me = f"[pid {os.getpid()}]"
    done = threading.Event()
    calls_ended = 0
    printing = threading.Lock()

    def say(text: str) -> None:  # called from our thread and from the client's
        with printing:
            print(f"{me} {text}")

    def on_register(state: str, phone: str) -> None:  # RegisterEventCallBack
        say(f"register: {state}")

    def on_call(call: WebCall, state: str, phone: str) -> None:  # CallListenerCallback
        nonlocal calls_ended
        say(f"call: {state} ({call.remoteDisplayName})")
        if state == "incoming":
            call.Answer()  # from a callback, actions are scheduled: this returns at once
        elif state in ("callEnded", "terminated"):  # ended here / by the far end
            calls_ended += 1
            if calls_ended == args.max_calls:
                done.set()

    def on_session(state: str, phone: str) -> None:  # SessionCallback
        say(f"session: {state}")
        if state == "re-register":
            say("role: parent (took over; autoRegister registers us)")

    client = ExotelWebClient()
    try:
        client.initWebrtc(sip_account_info(args), on_register, on_call, on_session)
        client.setAudioSource(f"tone:{args.tone}")  # what our calls send
        client.setAudioSink(None)  # and no speaker: what they receive goes nowhere
        if client.SessionListener(autoRegister=True):
            say("role: parent")
            client.DoRegister()
        else:
            say("role: child")
        done.wait(args.duration)  # until --max-calls calls ended here, or --duration
    except ConfigurationError as exc:  # names the sipAccountInfo key, never the secret
        say(f"error: {exc}")
    except KeyboardInterrupt:
        pass
    finally:
        client.close()  # hang up, unregister, and hand the parent role over
    say("stopped")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_account_options(parser)
    parser.add_argument("--tone", type=float, default=500.0, help="what calls hear, Hz")
    parser.add_argument("--max-calls", type=int, metavar="N", help="exit after N calls here")
    parser.add_argument("--duration", type=float, metavar="S", help="exit after S seconds")
    args = parser.parse_args()
    if not args.password:
        parser.error("no password: set EXOTEL_VOICE_PASSWORD (or give --password)")
    return args


if __name__ == "__main__":
    main()
