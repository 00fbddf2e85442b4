"""The CLI's pieces in-process: --play parsing, account files, the chart writer."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from exotel_voice.cli.account_options import AccountOptions, build_account, load_account_file
from exotel_voice.cli.demo import LevelTrace
from exotel_voice.cli.errors import UsageProblem
from exotel_voice.cli.play import PlaySpec, parse_play
from exotel_voice.cli.plot import Band, Chart, Panel, Series, nice_ticks, render_chart
from exotel_voice.cli.recording import check_record_path, recording_path
from exotel_voice.cli.report import level_series
from sipmedia import FileRecorder, FileSource, Silence, Tone, dominant_frequency


def test_play_sources() -> None:
    assert parse_play("silence") == PlaySpec("silence")
    assert parse_play("ECHO") == PlaySpec("echo")
    assert parse_play("tone:440") == PlaySpec("tone", frequency=440.0)
    assert parse_play("tone: 1000 Hz") == PlaySpec("tone", frequency=1000.0)
    tone = parse_play("tone:700").source()
    assert isinstance(tone, Tone) and dominant_frequency(tone.read(4800)) == pytest.approx(
        700, abs=10
    )
    assert isinstance(parse_play("echo").source(), Silence)  # Call.echo takes over later


@pytest.mark.parametrize(
    "bad", ["tone:abc", "tone:", "tone:5", "tone:nan", "tone:99999", "nope.wav"]
)
def test_bad_play_values(bad: str) -> None:
    with pytest.raises(ValueError, match=bad.split(":", maxsplit=1)[0]):
        parse_play(bad)


def test_play_file_is_checked_once_and_opened_per_call(tmp_path: Path) -> None:
    path = tmp_path / "prompt.wav"
    with FileRecorder(path) as recorder:
        recorder.write(Tone(500).read(4800))
    spec = parse_play(str(path))
    assert spec == PlaySpec("file", path=str(path))
    first, second = spec.source(), spec.source()
    assert isinstance(first, FileSource) and first is not second
    assert dominant_frequency(first.read(4800)) == pytest.approx(500, abs=10)
    not_audio = tmp_path / "notes.txt"
    not_audio.write_text("hello")
    with pytest.raises(ValueError, match=r"notes\.txt"):
        parse_play(str(not_audio))


def test_record_paths(tmp_path: Path) -> None:
    base = check_record_path(str(tmp_path / "call.ogg"))
    assert recording_path(base, 1) == base
    assert recording_path(base, 3) == tmp_path / "call-3.ogg"
    with pytest.raises(ValueError, match="does not exist"):
        check_record_path(str(tmp_path / "missing" / "call.wav"))


def test_account_file_with_the_guides_keys(tmp_path: Path) -> None:
    path = tmp_path / "account.json"
    path.write_text(
        json.dumps(
            {
                "sipAccountInfo": {
                    "userName": "agent7",
                    "authUser": "agent7",
                    "sipdomain": "acme.voip.exotel.com",
                    "domain": "voip.exotel.com:443",
                    "secret": "s3cret",
                    "port": "443",
                    "security": "wss",
                    "endpoint": "wss",
                }
            }
        )
    )
    account = build_account(AccountOptions(dtmf_mode="info").over(load_account_file(path)))
    assert account.server == "wss://voip.exotel.com:443/wss"
    assert (account.user, account.auth_user, account.domain) == (
        "agent7",
        "agent7",
        "acme.voip.exotel.com",
    )
    assert account.password == "s3cret"
    assert account.dtmf_mode == "info"


def test_account_file_with_account_fields_and_overrides(tmp_path: Path) -> None:
    path = tmp_path / "account.toml"
    path.write_text(
        'server = "wss://sip.example.test/"\nuser = "bob"\npassword = "from-file"\n'
        'codecs = ["PCMU"]\ninsecure = true\n'
    )
    given = AccountOptions(user="carol", password="from-env").over(load_account_file(path))
    account = build_account(given)
    assert (account.user, account.password, account.codecs) == ("carol", "from-env", ("PCMU",))
    assert account.domain == "sip.example.test"  # the server's host by default
    assert account.tls.insecure is True


@pytest.mark.parametrize(
    ("content", "suffix", "message"),
    [
        ("user = 'bob'\nmystery = 1\n", ".toml", "unknown keys mystery"),
        ("{not json", ".json", "is not valid JSON"),
        ('{"userName": "a", "sipdomain": "d", "domain": "h:1", "port": "1"}', ".json", "secret"),
        ('["a list"]', ".json", "must hold one table"),
    ],
)
def test_bad_account_files(tmp_path: Path, content: str, suffix: str, message: str) -> None:
    path = tmp_path / f"account{suffix}"
    path.write_text(content)
    with pytest.raises(UsageProblem, match=message) as info:
        load_account_file(path)
    assert info.value.exit_code == 2


def test_missing_account_settings_are_usage_problems() -> None:
    with pytest.raises(UsageProblem, match="--server"):
        build_account(AccountOptions(user="a", password="p"))
    with pytest.raises(UsageProblem, match="password"):
        build_account(AccountOptions(server="ws://h/", user="a"))
    with pytest.raises(UsageProblem, match="user"):
        build_account(AccountOptions(server="ws://h/", user="bad user", password="p"))


def test_nice_ticks() -> None:
    assert nice_ticks(0, 10, 5) == [0, 2, 4, 6, 8, 10]
    assert nice_ticks(-80, 0, 4) == [-80, -60, -40, -20, 0]
    assert nice_ticks(1, 4.5, 4) == [1, 2, 3, 4]
    assert nice_ticks(3, 3) == [3]


def test_level_series_bins_power_and_floors_silence() -> None:
    trace = LevelTrace(lambda: 0.0)
    trace.points[:] = [(0.01, -20.0), (0.05, -20.0), (0.25, -math.inf), (0.31, -6.0)]
    assert level_series(trace, 0.1) == [
        (0.05, pytest.approx(-20.0)),
        (0.25, -80.0),
        (0.35000000000000003, pytest.approx(-6.0)),
    ]


def test_render_chart_writes_a_png(tmp_path: Path) -> None:
    x = np.linspace(0, 10, 50)
    chart = Chart(
        title="test chart",
        subtitle="sub",
        panels=[
            Panel("sine", [Series("a", (200, 0, 0), [(t, math.sin(t)) for t in x])]),
            Panel("gappy", [Series("b", (0, 0, 200), [(0, 1.0), (1, None), (2, 2.0), (3, 2.5)])]),
            Panel("empty", [], empty_text="nothing here"),
        ],
        x_max=10,
        bands=[Band("hold", 2, 4, (120, 120, 120))],
    )
    path = tmp_path / "chart.png"
    render_chart(chart, path, width=600)
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size[0] == 600
        pixels = np.asarray(image.convert("RGB"))
    assert (pixels[..., 0] > 150).any()  # something red was drawn
    assert ((pixels[..., 0] < 60) & (pixels[..., 2] > 150)).any()  # and something blue
