"""Connect to a session socket as another uid (needs root), for test_sessions.py.

Usage: ``python foreign_peer.py SOCKET_PATH UID``

Keeps the real and saved uid 0 so ``setfsuid(0)`` may still reach the private
directory, but sets the effective uid to UID, which is what ``SO_PEERCRED`` reports.
Prints ``connected``, then ``eof`` if the other end hangs up within 3 s, ``data`` if it
sends anything, or ``open`` if neither happens.
"""

from __future__ import annotations

import ctypes
import os
import socket
import sys

__all__ = ["main"]


def main(argv: list[str]) -> int:
    """Connect as ``UID`` and report how the other end treats us."""
    path, uid = argv[0], int(argv[1])
    libc = ctypes.CDLL(None, use_errno=True)
    os.setresuid(0, uid, 0)
    libc.setfsuid(0)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    print("connected", flush=True)
    sock.settimeout(3.0)
    try:
        data = sock.recv(4096)
    except TimeoutError:
        print("open", flush=True)
        return 0
    print("data" if data else "eof", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
