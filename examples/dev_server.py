"""Run the SDK's embedded development SIP server, so the examples work offline.

    uv run examples/dev_server.py
    uv run examples/dev_server.py --users agent,alice --password s3cret --ws-port 8088

It listens on loopback (ws:// and wss:// with a development CA made at startup), lets
the given users register with one shared password, and prints the options that connect
each example, or ``exotel-voice phone``, to it. Ctrl-C (or ``--duration``) stops it.

It is a development server (``sipadapters.server``): one domain, loopback only, users in
memory, nothing forwarded elsewhere. Deployments use a real SIP server, such as Exotel's.
"""

from __future__ import annotations

import argparse
import json
import secrets
import shlex
import signal

import anyio

from sipadapters.server import LocalServerRunner, serve


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--users",
        default="bot,agent,alice,bob,carol",
        help="who may register, comma-separated (default: %(default)s)",
    )
    parser.add_argument("--password", help="every user's password (default: a random one, printed)")
    parser.add_argument("--domain", default="local.test", help="the SIP domain (%(default)s)")
    parser.add_argument("--ws-port", type=int, default=0, help="ws:// port (default: a free one)")
    parser.add_argument("--wss-port", type=int, default=0, help="wss:// port (default: a free one)")
    parser.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    parser.add_argument(
        "--json", action="store_true", help="print the server's details as one JSON line"
    )
    return parser.parse_args()


def announce(server: LocalServerRunner, users: list[str], password: str) -> None:
    """Tell a person how to connect the examples to ``server``."""
    account = f"--server {server.ws_url} --domain {server.domain}"
    print(f"Development SIP server for {server.domain} (loopback only; Ctrl-C stops it)")
    print(f"  {server.ws_url}")
    print(f"  {server.wss_url}  (trust --ca-file {shlex.quote(str(server.ca_file))})")
    print(f"Users {', '.join(users)} share one password. In other terminals:")
    print(f"  export EXOTEL_VOICE_PASSWORD={shlex.quote(password)}")
    print(f"  uv run examples/echo_bot.py {account} --user {users[0]}")
    if len(users) > 1:
        print(
            f"  uv run exotel-voice phone {account} --user {users[-1]} --call {users[0]} "
            "--play tone:440 --record heard.wav --duration 5"
        )


async def main(args: argparse.Namespace) -> None:
    users = [name.strip() for name in args.users.split(",") if name.strip()]
    password = args.password or secrets.token_urlsafe(9)
    async with serve(
        dict.fromkeys(users, password),
        domain=args.domain,
        transports=("ws", "wss"),
        ports={"ws": args.ws_port, "wss": args.wss_port},
    ) as server:
        if args.json:
            details = {
                "ws_url": server.ws_url,
                "wss_url": server.wss_url,
                "ca_file": server.ca_file,
                "domain": server.domain,
                "users": users,
                "password": password,
            }
            print(json.dumps(details))
        else:
            announce(server, users, password)
        # Serve until a signal or the deadline; leaving the block closes every connection.
        with (
            anyio.move_on_after(args.duration),
            anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals,
        ):
            async for _ in signals:
                break


if __name__ == "__main__":
    anyio.run(main, parse_args())
