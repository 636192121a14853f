"""`isatsleepnet review`: the address on a line of its own, the token required, Ctrl+C ends it cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from isatsleepnet.cli.main import main
from tests.review.conftest import ctrl_c_reaches_it, write_staged

ROOT = Path(__file__).resolve().parents[2]


def staged_with_recording(folder: Path, write_edf) -> Path:
    """A staged night of 12 epochs whose sidecar names an EDF of 12 epochs."""
    csv_path = write_staged(folder)
    t = np.arange(12 * 30 * 100) / 100
    edf = write_edf(folder / "night.edf", [("EEG Fpz-Cz", 30 * np.sin(2 * np.pi * 8 * t), 100.0, "uV"),
                                           ("EMG submental", 5 * np.cos(2 * np.pi * 40 * t), 100.0, "uV")])
    sidecar = csv_path.with_name("night.hypnogram.json")
    meta = json.loads(sidecar.read_text())
    sidecar.write_text(json.dumps({**meta, "Recording": str(edf)}))
    return csv_path


def test_review_serves_until_ctrl_c_and_refuses_requests_without_the_token(tmp_path, write_edf):
    staged = staged_with_recording(tmp_path / "s", write_edf)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    process = subprocess.Popen([sys.executable, "-m", "isatsleepnet.cli.main", "review", str(staged), "--no-browser",
                                "--reviewer", "ana"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=env, preexec_fn=ctrl_c_reaches_it)
    try:
        lines = [process.stdout.readline() for _ in range(3)]
        assert lines[0].startswith("reviewing night as ana: 0 of 2 flagged epochs reviewed"), lines
        url = lines[2].strip()
        assert url.startswith("http://127.0.0.1:") and "/?token=" in url
        base, token = url.split("/?token=")
        night = json.loads(urllib.request.urlopen(f"{base}/api/night?token={token}", timeout=10).read())
        assert night["name"] == "night" and [c["label"] for c in night["channels"]] == ["EEG Fpz-Cz", "EMG submental"]
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{base}/api/night", timeout=10)
        assert refused.value.code == 403
        page = urllib.request.urlopen(url, timeout=10).read().decode()
        assert token in page  # the page's own files are linked with the token
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "review saved:" in out and "Traceback" not in err


def test_what_cannot_be_reviewed_is_one_line_and_nothing_starts(tmp_path, write_edf, capsys):
    assert main(["review", str(tmp_path), "--no-browser"]) == 2
    assert capsys.readouterr().err.startswith("isatsleepnet review: error: ")
    staged = staged_with_recording(tmp_path / "s", write_edf)
    (tmp_path / "s" / "night.edf").unlink()
    assert main(["review", str(staged), "--no-browser"]) == 2
    err = capsys.readouterr().err
    assert "night.hypnogram.csv: its recording" in err and "is not there" in err and err.count("\n") == 1
    assert not (tmp_path / "s" / "night.review.jsonl").exists()


def test_a_port_in_use_is_one_line(tmp_path, write_edf, capsys):
    import socket

    staged = staged_with_recording(tmp_path / "s", write_edf)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        assert main(["review", str(staged), "--no-browser", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert f"--port {port} on 127.0.0.1 cannot be used" in err and err.count("\n") == 1


def test_a_host_this_machine_does_not_have_is_named_not_the_port(tmp_path, write_edf, capsys):
    """Before: `--host 8.8.8.8` said "--port 0 on 8.8.8.8 cannot be used; choose another port"."""
    staged = staged_with_recording(tmp_path / "s", write_edf)
    assert main(["review", str(staged), "--no-browser", "--host", "192.0.2.1"]) == 2  # TEST-NET-1: nobody's
    err = capsys.readouterr().err
    assert "--host 192.0.2.1 is not an address of this machine" in err and "--port" not in err, err
    assert err.count("\n") == 1


def test_a_recording_changed_since_staging_is_refused(tmp_path, write_edf, capsys):
    from isatsleepnet.data.hashing import sha1_of

    staged = staged_with_recording(tmp_path / "s", write_edf)
    sidecar = staged.with_name("night.hypnogram.json")
    edf = tmp_path / "s" / "night.edf"
    sidecar.write_text(json.dumps({**json.loads(sidecar.read_text()), "RecordingSHA1": sha1_of(edf)}))
    edf.write_bytes(edf.read_bytes()[:-2] + b"\x00\x01")
    assert main(["review", str(staged), "--no-browser"]) == 2
    err = capsys.readouterr().err
    assert "error: night.hypnogram.csv: its recording " in err and "night.edf is not the one staged (SHA1 " in err


def test_a_second_scorer_for_a_folder_of_nights_names_the_flag_typed(tmp_path, capsys):
    """Before: "--second-scorer is one night's hypnogram", a flag review does not have."""
    first = write_staged(tmp_path / "s", name="a")
    write_staged(tmp_path / "s", name="b")
    assert main(["review", str(tmp_path / "s"), "--hypnogram", str(first), "--no-browser"]) == 2
    err = capsys.readouterr().err
    assert "--hypnogram is one night's hypnogram, and" in err and "--second-scorer" not in err and err.count("\n") == 1


def test_a_folder_where_the_reviewed_csv_goes_is_named(tmp_path, write_edf, capsys):
    """Before: "Is a directory (.../.tmp-night.reviewed.csv.q2n9hg6w)"."""
    staged = staged_with_recording(tmp_path / "s", write_edf)
    (tmp_path / "s" / "night.reviewed.csv").mkdir()
    assert main(["review", str(staged), "--no-browser"]) == 2
    err = capsys.readouterr().err
    assert "error: night.reviewed.csv: is a folder" in err and ".tmp" not in err and err.count("\n") == 1


def _start(staged: Path, *extra: str) -> tuple[subprocess.Popen, str, str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    process = subprocess.Popen([sys.executable, "-m", "isatsleepnet.cli.main", "review", str(staged), "--no-browser",
                                *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                               preexec_fn=ctrl_c_reaches_it)
    lines = [process.stdout.readline() for _ in range(3)]
    url = next((line.strip() for line in lines if line.startswith("http://")), "")
    if not url:
        process.kill()
        raise AssertionError(lines + [process.stderr.read()])
    return process, *url.split("/?token=")


def _post(base: str, token: str, body: dict) -> dict:
    request = urllib.request.Request(f"{base}/api/edit?token={token}", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    return json.loads(urllib.request.urlopen(request, timeout=10).read())


def test_kill_9_of_the_server_loses_no_acknowledged_edit(tmp_path, write_edf):
    staged = staged_with_recording(tmp_path / "s", write_edf)
    process, base, token = _start(staged, "--reviewer", "ana")
    try:
        stages = ["N1", "N2", "N3", "REM", "W"]
        for version in range(9):
            answer = _post(base, token, {"action": "set", "epoch": version % 12, "stage": stages[version % 5],
                                         "version": version})
            assert answer["version"] == version + 1  # acknowledged: on disk
        _post(base, token, {"action": "undo", "version": 9})
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.communicate(timeout=30)
    process, base, token = _start(staged, "--reviewer", "bo")  # the lock died with the killed server
    try:
        night = json.loads(urllib.request.urlopen(f"{base}/api/night?token={token}", timeout=10).read())
        assert night["version"] == 10 and night["can_redo"]
        assert night["stages"][:8] == ["N1", "N2", "N3", "REM", "W", "N1", "N2", "N3"]
        assert night["stages"][8] == "REM"  # epoch 8 set at version 9, then undone: the model's REM again
        assert night["reviewed"][:8] == ["ana"] * 8 and night["reviewed"][8] == ""
    finally:
        process.send_signal(signal.SIGTERM)  # `kill PID` stops it as cleanly as Ctrl+C
        out, _ = process.communicate(timeout=30)
    assert process.returncode == 0 and "review saved:" in out


def test_a_folder_of_nights_opens_all_or_none(tmp_path, write_edf):
    from isatsleepnet.errors import DataError, SettingError
    from isatsleepnet.review.serve import open_nights
    from isatsleepnet.review.session import Review

    first = staged_with_recording(tmp_path / "s", write_edf)
    second = first.with_name("zz.hypnogram.csv")
    second.write_bytes(first.read_bytes())
    sidecar = json.loads(first.with_name("night.hypnogram.json").read_text())
    second.with_name("zz.hypnogram.json").write_text(json.dumps({**sidecar, "Recording": str(tmp_path / "gone.edf")}))
    with pytest.raises(DataError, match="zz.hypnogram.csv: its recording .*gone.edf is not there"):
        open_nights(tmp_path / "s", reviewer="ana")
    with Review.open(first, reviewer="ana"):
        pass  # the night opened before the failure was let go
    second.with_name("zz.hypnogram.json").write_text(json.dumps(sidecar))
    nights = open_nights(tmp_path / "s", reviewer="ana")
    try:
        assert [review.night.name for review, _ in nights] == ["night", "zz"]
        assert all(recording.channel_names == ["EEG Fpz-Cz", "EMG submental"] for _, recording in nights)
    finally:
        for review, _ in nights:
            review.close()
    with pytest.raises(SettingError, match="second_scorer= is one night's hypnogram"):
        open_nights(tmp_path / "s", reviewer="ana", second_scorer=first)


def test_another_host_than_loopback_is_warned_about(tmp_path, write_edf, caplog):
    from isatsleepnet.review.serve import open_nights, start_server

    server = start_server(open_nights(staged_with_recording(tmp_path / "s", write_edf), reviewer="ana"),
                          host="0.0.0.0")
    try:
        assert server.url.startswith("http://0.0.0.0:")
        assert "serving on 0.0.0.0: anyone who can reach this machine" in caplog.text
    finally:
        server.stop()
    caplog.clear()
    server = start_server(open_nights(tmp_path / "s", reviewer="ana"))
    server.stop()
    assert "anyone who can reach" not in caplog.text


def test_stage_codes_with_a_second_scorer_is_no_staging_flag():
    import argparse

    from isatsleepnet.cli.review import _staging_flags_given, add_parser

    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    args = parser.parse_args(["review", "s.csv", "--hypnogram", "h.csv", "--stage-codes", "rk"])
    assert _staging_flags_given(args) == []
    args = parser.parse_args(["review", "s.csv", "--stage-codes", "rk", "--no-report", "--channel", "eog=E1"])
    assert _staging_flags_given(args) == ["--channel", "--stage-codes", "--no-report"]
