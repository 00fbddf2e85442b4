"""The guide's logger callback (5.15) and saved logs (the JS SDK's ``downloadLogs``).

Every log record of the SDK's packages goes to stdlib ``logging`` as usual; this handler
also hands it to ``cb(type, message, args)`` with the real level (``"log"``, ``"info"``,
``"warn"``, ``"error"``; the JS SDK always said ``"log"``) and keeps the last lines for
``save``. Secrets are scrubbed first (defence in depth: the SDK never logs them).
"""

from __future__ import annotations

import datetime
import logging
import re
from collections import deque
from collections.abc import Callable
from pathlib import Path

__all__ = ["LoggerCallback", "SdkLogHandler", "redact", "SDK_LOGGERS"]

LoggerCallback = Callable[[str, str, list[object]], object]
"""``cb(type, message, args)``."""

SDK_LOGGERS = ("exotel_voice", "sipadapters", "sipcore", "sipmedia")

_SECRETS = [
    # digest responses and passwords in header-like or dict-like text
    re.compile(r'(\bresponse\s*=\s*)("[^"]*"|[^\s,]+)', re.IGNORECASE),
    re.compile(
        r"""(['"]?(?:secret|password|credential)['"]?\s*[:=]\s*)("[^"]*"|'[^']*'|[^\s,}]+)""",
        re.IGNORECASE,
    ),
]


def redact(text: str) -> str:
    """``text`` with digest responses and passwords replaced by ``***``."""
    for pattern in _SECRETS:
        text = pattern.sub(r"\1***", text)
    return text


def _kind(level: int) -> str:
    if level >= logging.ERROR:
        return "error"
    if level >= logging.WARNING:
        return "warn"
    if level >= logging.INFO:
        return "info"
    return "log"


class SdkLogHandler(logging.Handler):
    """Feeds the logger callback and a ring buffer of formatted lines."""

    def __init__(self, max_lines: int = 1000) -> None:
        super().__init__(logging.DEBUG)
        self.callback: LoggerCallback | None = None
        self.lines: deque[str] = deque(maxlen=max_lines)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = redact(record.getMessage())
        except Exception:  # noqa: BLE001 - a bad format string must not break the SDK
            message = redact(str(record.msg))
        kind = _kind(record.levelno)
        stamp = datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat()
        self.lines.append(f"[{stamp}] [{kind.upper()}] {record.name}: {message}")
        callback = self.callback
        if callback is not None:
            try:
                callback(kind, message, [record.name])
            except Exception:  # noqa: BLE001 - a user callback failing must not loop into logging
                self.lines.append(f"[{stamp}] [ERROR] logger callback raised")

    def attach(self, level: int = logging.DEBUG) -> None:
        """Listen to the SDK's loggers."""
        for name in SDK_LOGGERS:
            logger = logging.getLogger(name)
            logger.addHandler(self)
            if logger.level == logging.NOTSET or logger.level > level:
                logger.setLevel(level)

    def detach(self) -> None:
        """Stop listening."""
        for name in SDK_LOGGERS:
            logging.getLogger(name).removeHandler(self)

    def save(self, directory: str | Path = ".") -> Path:
        """Write the kept lines to ``webrtc_sdk_logs_YYYY-MM-DD.txt`` in ``directory``."""
        day = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d")
        path = Path(directory) / f"webrtc_sdk_logs_{day}.txt"
        path.write_text("\n".join(self.lines) + "\n", encoding="utf-8")
        return path
