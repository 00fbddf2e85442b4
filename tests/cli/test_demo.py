"""``exotel-voice demo`` end to end: a real process, the embedded server, two phones."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

from PIL import Image

from tests.cli.processes import COMMAND, environment, run

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_demo_json_reports_every_feature_verified_and_writes_the_plot(tmp_path: Path) -> None:
    plot = tmp_path / "demo.png"
    done = run("demo", "--json", "--plot", str(plot), timeout=120)

    assert done.returncode == 0, done.stderr
    assert done.seconds < 60
    report = json.loads(done.stdout)
    failed = [(c["name"], c["detail"]) for c in report["checks"] if not c["ok"]]
    assert report["ok"] is True, failed
    assert report["checks_failed"] == 0 and report["checks_passed"] >= 15
    assert all(check["ok"] for check in report["checks"])
    for direction, frequency in (("alice_to_bob", 600), ("bob_to_alice", 1500)):
        audio = report["audio"][direction]
        assert audio["verified"] is True
        assert audio["frequency_hz"] == frequency
        assert audio["tone_ratio"] >= 0.8
        dtmf = report["dtmf"][direction]
        assert dtmf["verified"] is True and dtmf["received"] == dtmf["sent"]
        delay = report["one_way_delay_ms"][direction]
        assert 0 < delay["median"] < 500 and delay["samples"]
    assert report["hold"] == {
        "verified": True,
        "remote_notified": True,
        "silent_while_held": True,
        "audio_after_resume": True,
    }
    assert report["mute"]["verified"] is True and report["mute"]["audio_after_unmute"] is True
    assert report["hangup"] == {"verified": True, "cause_at_callee": "remote hangup"}
    for phone in ("alice", "bob"):
        checked = report["quality_before_hold"][phone]  # what the quality check judged
        assert checked["codec"] == "opus" and checked["packets_received"] > 100
        assert 0 <= checked["loss_percent"] <= 5 and 3.0 <= checked["mos"] <= 4.5
        whole = report["quality"][phone]  # the whole call, for the report
        assert whole["packets_received"] > checked["packets_received"]
        assert 0 <= whole["loss_percent"] < 100 and 1.0 <= whole["mos"] <= 4.5
        assert whole["jitter_ms"] is not None and whole["jitter_ms"] >= 0
        assert whole["rtt_ms"] is not None and whole["rtt_ms"] >= 0
    assert report["plot"] == str(plot.resolve())
    assert plot.read_bytes().startswith(PNG_SIGNATURE)
    with Image.open(plot) as image:
        image.verify()
    with Image.open(plot) as image:
        assert image.format == "PNG" and image.width >= 800 and image.height >= 600
    # The live timeline goes to stderr (plain lines here: stderr is not a terminal).
    assert "ok    alice hangs up" in done.stderr
    assert "Traceback" not in done.stderr


def test_demo_report_for_people_with_pcmu_and_sip_info_dtmf(tmp_path: Path) -> None:
    done = run(
        "demo", "--no-plot", "--codec", "PCMU", "--dtmf-mode", "info", timeout=120, cwd=tmp_path
    )

    assert done.returncode == 0, done.stderr
    assert "demo passed" in done.stdout
    assert "Call quality" in done.stdout and "PCMU" in done.stdout
    assert "received via info" in done.stdout  # the checks table, as stdout is not a terminal
    assert "plot:" not in done.stdout
    assert list(tmp_path.iterdir()) == []  # --no-plot: nothing written


def test_ctrl_c_stops_the_demo_cleanly_with_what_it_found(tmp_path: Path) -> None:
    progress = tmp_path / "stderr.txt"
    with progress.open("w") as stderr:
        demo = subprocess.Popen(
            [*COMMAND, "demo", "--json", "--no-plot"],
            stdout=subprocess.PIPE,
            stderr=stderr,
            stdin=subprocess.DEVNULL,
            text=True,
            env=environment(),
        )
        try:
            deadline = time.monotonic() + 60
            while "ok    audio bob → alice" not in progress.read_text():
                assert demo.poll() is None and time.monotonic() < deadline, progress.read_text()
                time.sleep(0.05)
            demo.send_signal(signal.SIGINT)
            stdout, _ = demo.communicate(timeout=30)
        finally:
            if demo.poll() is None:
                demo.kill()

    assert demo.returncode == 130
    report = json.loads(stdout)
    assert report["interrupted"] == "SIGINT" and report["ok"] is False
    assert report["audio"]["bob_to_alice"]["verified"] is True
    # The checks after the signal were skipped (the calls were still hung up, cleanly).
    assert not any(c["name"].startswith("alice hangs up") for c in report["checks"])
    lines = progress.read_text().splitlines()
    assert lines[-1] == "exotel-voice demo: error: interrupted (SIGINT)"
    assert "Traceback" not in progress.read_text()
