"""The guide's logger callback (5.15) and saved logs (the JS SDK's ``downloadLogs``).

Every log record of the SDK's packages goes to stdlib ``logging`` as usual; this handler
also hands it to ``cb(type, message, args)`` with the real level (``"log"``, ``"info"``,
``"warn"``, ``"error"``; the JS SDK always said ``"log"``) and keeps the last lines for
``save``. Secrets are scrubbed first (defence in depth: the SDK never logs them).

Like the JS SDK's log buffer, this one keeps the SDK's debug lines. A library must not
change what the application's own logging prints, so debug capture works without it
noticing: an SDK logger whose level nobody set (and that has no handler of the
application's) is lowered to ``DEBUG`` and stops propagating; a gate on it passes on to
the parent's handlers only the records the application would have seen before (those at
or above the level the application gives the record's logger, read at each record, so
a later ``basicConfig(level=...)`` or a level set on ``sipcore.transaction`` applies).
An SDK logger the application configured itself (a level or a handler) is left alone,
and only what it lets through is captured.
The last client to detach restores level and propagation.
"""

from __future__ import annotations

import datetime
import logging
import re
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path

__all__ = ["LoggerCallback", "SdkLogHandler", "redact", "SDK_LOGGERS", "log_file_name"]

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

# Loggers are process-wide, so attaching and detaching (from any client's thread) take
# turns; the state itself lives on the loggers (see _Gate), not here.
_ATTACH_LOCK = threading.Lock()


def redact(text: str) -> str:
    """``text`` with digest responses and passwords replaced by ``***``."""
    for pattern in _SECRETS:
        text = pattern.sub(r"\1***", text)
    return text


def log_file_name(day: datetime.date) -> str:
    """The JS SDK's download name: ``webrtc_sdk_logs_YYYY-MM-DD.txt``."""
    return f"webrtc_sdk_logs_{day.isoformat()}.txt"


def _kind(level: int) -> str:
    if level >= logging.ERROR:
        return "error"
    if level >= logging.WARNING:
        return "warn"
    if level >= logging.INFO:
        return "info"
    return "log"


class _Gate(logging.Handler):
    """Stands in for propagation on an SDK logger lowered to ``DEBUG``: passes a record
    on to the parent's handlers only if the application would have seen it."""

    def __init__(self, logger: logging.Logger) -> None:
        super().__init__(logging.NOTSET)
        self.logger = logger
        self.saved_level = logger.level
        self.saved_propagate = logger.propagate

    def app_level(self, name: str) -> int:
        """The level the application's configuration gives logger ``name`` (this one or
        one below it) now: what its effective level would be without our ``DEBUG``."""
        logger: logging.Logger | None = logging.getLogger(name)
        while logger is not None and logger is not self.logger:
            if logger.level != logging.NOTSET:
                return logger.level  # set by the application on a logger below ours
            logger = logger.parent
        level = self.logger.level
        if level != logging.DEBUG:
            return level  # the application changed it since: its choice
        parent = self.logger.parent
        return parent.getEffectiveLevel() if parent is not None else logging.WARNING

    def handle(self, record: logging.LogRecord) -> bool:
        # Without Handler.handle's lock: the parent's handlers take their own.
        self.emit(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        parent = self.logger.parent
        if parent is not None and record.levelno >= self.app_level(record.name):
            # What propagation would have done (including logging.lastResort).
            parent.callHandlers(record)

    def restore(self) -> None:
        self.logger.removeHandler(self)
        if self.logger.level == logging.DEBUG:
            self.logger.setLevel(self.saved_level)
        self.logger.propagate = self.saved_propagate


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

    def attach(self) -> None:
        """Listen to the SDK's loggers, at ``DEBUG`` where the application did not
        configure them, without changing what the application's handlers receive."""
        with _ATTACH_LOCK:
            for name in SDK_LOGGERS:
                logger = logging.getLogger(name)
                untouched = logger.level == logging.NOTSET and not logger.handlers
                logger.addHandler(self)
                if untouched:
                    logger.addHandler(_Gate(logger))
                    logger.setLevel(logging.DEBUG)
                    logger.propagate = False

    def detach(self) -> None:
        """Stop listening; the last handler to leave restores the logger."""
        with _ATTACH_LOCK:
            for name in SDK_LOGGERS:
                logger = logging.getLogger(name)
                logger.removeHandler(self)
                if not any(isinstance(h, SdkLogHandler) for h in logger.handlers):
                    for gate in [h for h in logger.handlers if isinstance(h, _Gate)]:
                        gate.restore()

    def save(self, directory: str | Path = ".") -> Path:
        """Write the kept lines to ``webrtc_sdk_logs_YYYY-MM-DD.txt`` (UTC date) in
        ``directory``; returns the file written."""
        path = Path(directory) / log_file_name(datetime.datetime.now(datetime.UTC).date())
        path.write_text("\n".join(self.lines) + "\n", encoding="utf-8")
        return path
