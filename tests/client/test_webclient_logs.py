"""Guide 5.15: the logger callback, downloadLogs, setPreferredCodec, and the SDK's manners
with the application's own logging."""

from __future__ import annotations

import datetime
import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from exotel_voice import ConfigurationError, ExotelVoiceError, ExotelWebClient
from exotel_voice.webclient.logs import SDK_LOGGERS, redact
from tests.client.test_webclient import Caller, Recorder, sip_account_info, wait_until
from tests.kamailio.server import KamailioServer

DIGEST = (
    'Authorization: Digest username="alice", realm="example.test", nonce="abc", '
    'uri="sip:example.test", response="6629fae49393a05397450978507c4ef1", qop=auth'
)


class ListHandler(logging.Handler):
    """What an application's handler (``basicConfig`` style: level NOTSET) receives."""

    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def app_logging() -> Iterator[ListHandler]:
    """The application's logging as ``basicConfig(level=logging.INFO)`` leaves it: one
    handler on the root logger, the root at INFO, the SDK's loggers untouched."""
    root = logging.getLogger()
    saved_root = root.level
    saved = {n: (logging.getLogger(n).level, logging.getLogger(n).propagate) for n in SDK_LOGGERS}
    handler = ListHandler()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(saved_root)
        for name, (level, propagate) in saved.items():
            logging.getLogger(name).setLevel(level)
            logging.getLogger(name).propagate = propagate


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_four_levels_reach_the_callback_as_the_guides_types(
    app_logging: ListHandler,
) -> None:
    got: list[tuple[str, str, list[object]]] = []
    client = ExotelWebClient()
    try:
        with pytest.raises(TypeError):
            client.registerLoggerCallback("print")  # type: ignore[arg-type]
        client.registerLoggerCallback(lambda kind, message, args: got.append((kind, message, args)))
        log = logging.getLogger("sipcore.transaction")
        log.debug("debug line")
        log.info("info line")
        log.warning("warning line")
        log.error("error line")
        assert got == [
            ("log", "debug line", ["sipcore.transaction"]),
            ("info", "info line", ["sipcore.transaction"]),
            ("warn", "warning line", ["sipcore.transaction"]),
            ("error", "error line", ["sipcore.transaction"]),
        ]
        assert all(isinstance(args, list) for _, _, args in got)  # the guide's Array

        # The SDK's own lines, from a real failure: "info" when initialised, "warn" when
        # the server cannot be reached.
        got.clear()
        info = {
            "userName": "alice",
            "sipdomain": "example.test",
            "domain": f"127.0.0.1:{closed_port()}",
            "secret": "hunter2-secret",
            "port": "443",
            "security": "ws",
        }
        client.initWebrtc(info, lambda s, p: None, lambda c, e, p: None)
        assert ("info", "exotel_voice.webclient.client") in {(k, a[0]) for k, _, a in got}
        client.DoRegister()
        wait_until(lambda: any(k == "warn" and "cannot connect" in m for k, m, _ in got))
        client.UnRegister()
        assert not any("hunter2-secret" in m for _, m, _ in got)
    finally:
        client.close()


def test_digest_responses_and_passwords_come_out_as_stars(tmp_path: Path) -> None:
    assert redact(DIGEST) == DIGEST.replace('"6629fae49393a05397450978507c4ef1"', "***")
    assert redact("{'userName': 'alice', 'secret': 'hunter2'}") == (
        "{'userName': 'alice', 'secret': ***}"
    )
    assert redact("password=hunter2 user=alice") == "password=*** user=alice"
    assert redact('"credential": "s3cr3t"') == '"credential": ***'
    assert redact("nothing secret here") == "nothing secret here"

    got: list[str] = []
    client = ExotelWebClient()
    try:
        client.registerLoggerCallback(lambda kind, message, args: got.append(message))
        log = logging.getLogger("sipadapters.driver")
        log.debug("sending %s", DIGEST)
        log.info("account %s", {"userName": "alice", "secret": "hunter2"})
        log.warning("login with password=hunter2 failed")
        saved = client.downloadLogs(tmp_path).read_text(encoding="utf-8")
    finally:
        client.close()
    assert len(got) == 3
    for text in [*got, saved]:
        assert "6629fae49393a05397450978507c4ef1" not in text
        assert "hunter2" not in text
    assert "response=***" in got[0] and "'secret': ***" in got[1] and "password=***" in got[2]


def test_download_logs_writes_the_js_sdks_file_with_the_sdks_debug_lines(
    tmp_path: Path, app_logging: ListHandler
) -> None:
    client = ExotelWebClient()
    try:
        logging.getLogger("sipmedia.session").debug("a debug line of the SDK")
        logging.getLogger("exotel_voice.call").warning("a warning of the SDK")
        logging.getLogger("someone.else").warning("not the SDK")
        path = client.downloadLogs(tmp_path)
    finally:
        client.close()
    today = datetime.datetime.now(datetime.UTC).date()
    assert path == tmp_path / f"webrtc_sdk_logs_{today:%Y-%m-%d}.txt"
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    assert lines[0].endswith("[LOG] sipmedia.session: a debug line of the SDK")
    assert lines[1].endswith("[WARN] exotel_voice.call: a warning of the SDK")
    stamp = lines[0][1 : lines[0].index("]")]
    assert datetime.datetime.fromisoformat(stamp).utcoffset() == datetime.timedelta(0)


def test_a_client_does_not_change_what_the_applications_logging_prints(
    tmp_path: Path, app_logging: ListHandler
) -> None:
    # basicConfig(level=INFO): the application sees the SDK's INFO and above, never its
    # DEBUG, before, while and after a client exists; the client's own buffer keeps DEBUG.
    sdk = logging.getLogger("exotel_voice.webclient.client")
    first, second = ExotelWebClient(), ExotelWebClient()
    try:
        for name in SDK_LOGGERS:
            logging.getLogger(name).debug("debug of %s", name)
            logging.getLogger(name).info("info of %s", name)
        shown = [(r.levelname, r.getMessage()) for r in app_logging.records]
        assert shown == [("INFO", f"info of {name}") for name in SDK_LOGGERS]
        saved = first.downloadLogs(tmp_path).read_text(encoding="utf-8")
        assert "[LOG] sipcore: debug of sipcore" in saved

        first.close()  # the other client still captures, still without leaking
        app_logging.records.clear()
        sdk.debug("second debug")
        assert app_logging.records == []
        assert second.downloadLogs(tmp_path).read_text(encoding="utf-8").count("second debug")

        # The application may turn its level down later: that applies at once.
        logging.getLogger().setLevel(logging.DEBUG)
        sdk.debug("now wanted")
        assert [r.getMessage() for r in app_logging.records] == ["now wanted"]
        logging.getLogger().setLevel(logging.INFO)
    finally:
        first.close()
        second.close()
    # The last client gone, the SDK's loggers are as the application left them.
    for name in SDK_LOGGERS:
        logger = logging.getLogger(name)
        assert (logger.level, logger.propagate) == (logging.NOTSET, True)
        assert logger.handlers == []
    app_logging.records.clear()
    sdk.debug("after")
    sdk.info("after")
    assert [r.levelname for r in app_logging.records] == ["INFO"]


def test_a_level_the_application_set_below_an_sdk_logger_still_applies(
    app_logging: ListHandler,
) -> None:
    # The application wants sipcore.transaction's DEBUG (and nothing else's) while its
    # root stays at INFO: a client existing must not hide those lines.
    transaction = logging.getLogger("sipcore.transaction")
    transaction.setLevel(logging.DEBUG)
    client = ExotelWebClient()
    try:
        transaction.debug("wanted")
        logging.getLogger("sipcore.other").debug("not wanted")
        logging.getLogger("sipcore").debug("not wanted either")
        assert [r.getMessage() for r in app_logging.records] == ["wanted"]
    finally:
        client.close()
        transaction.setLevel(logging.NOTSET)


def test_an_sdk_logger_the_application_configured_is_left_alone(
    tmp_path: Path, app_logging: ListHandler
) -> None:
    logging.getLogger("sipcore").setLevel(logging.WARNING)
    client = ExotelWebClient()
    try:
        assert logging.getLogger("sipcore").level == logging.WARNING
        logging.getLogger("sipcore.parse").info("sipcore info")
        logging.getLogger("sipcore.parse").warning("sipcore warning")
        saved = client.downloadLogs(tmp_path).read_text(encoding="utf-8")
    finally:
        client.close()
    assert "sipcore info" not in saved and "sipcore warning" in saved
    assert [r.getMessage() for r in app_logging.records] == ["sipcore warning"]
    assert logging.getLogger("sipcore").level == logging.WARNING


def test_set_preferred_codec_rejects_unknown_names_with_a_typed_error() -> None:
    client = ExotelWebClient()
    try:
        with pytest.raises(ConfigurationError, match="codecName") as info:
            client.setPreferredCodec("speex")
        assert isinstance(info.value, ExotelVoiceError)
    finally:
        client.close()


@pytest.mark.kamailio
def test_set_preferred_codec_pcmu_is_offered_first_and_used(kamailio: KamailioServer) -> None:
    # The caller offers opus first (the guide flow test shows opus is used by default);
    # with PCMU preferred our answer puts PCMU first and we send PCMU: the caller
    # receives PCMU.
    rec = Recorder()
    client = ExotelWebClient()
    try:
        client.setPreferredCodec("PCMU")
        client.initWebrtc(sip_account_info(kamailio, "dave"), rec.on_register, rec.on_call)
        client.DoRegister()
        wait_until(lambda: ("registered", "dave") in rec.register)
        caller = Caller(kamailio, "carol")
        caller.start(kamailio.aor("dave"))
        wait_until(lambda: ("incoming", "dave") in rec.calls)
        client.getCall().Answer()
        wait_until(lambda: ("connected", "dave") in rec.calls)
        far = caller.call
        assert far is not None and far.media is not None
        ours = client.getCall().call.media
        assert ours is not None
        assert ours.codec == "PCMU"
        wait_until(lambda: caller.run(far.stats()).received_codec == "PCMU")
        client.getCall().Hangup()
        assert caller.ended.wait(8)
    finally:
        client.close()
