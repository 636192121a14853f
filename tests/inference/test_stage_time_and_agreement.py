"""`stage`: one time convention in the CSV, the report and the figures; the agreement on the terminal."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest

from isatsleepnet.inference.options import StageOptions, StageResult
from isatsleepnet.inference.outputs import agreement_line, summary_table, window_origin
from isatsleepnet.inference.stage import stage_recording
from tests.inference import write_night
from tests.inference.test_stage import read_csv, stage_cli

START = dt.datetime(2024, 3, 1, 23, 59, 45)  # the night crosses midnight 15 s in


def _with_start(path: Path, start: dt.datetime) -> Path:
    """Give an EDF written by the tests (anonymised date) a real start date and time."""
    import edfio

    edf = edfio.read_edf(path)
    edf.startdate, edf.starttime = start.date(), start.time()
    edf.write(path)
    return path


def _captured_figures(monkeypatch) -> dict[str, object]:
    """The figures `stage` draws, kept open by name instead of only written as PNG."""
    from isatsleepnet.plots import hypnodensity, hypnogram

    figures: dict[str, object] = {}

    def keep(fig, path):
        figures[Path(path).name.split(".")[-2]] = fig
        Path(path).write_bytes(b"")
        return Path(path)

    monkeypatch.setattr(hypnogram, "save_figure", keep)
    monkeypatch.setattr(hypnodensity, "save_figure", keep)
    return figures


def test_csv_report_and_figures_share_the_time_axis_of_the_edf_start(write_edf, predictor, tmp_path, monkeypatch):
    psg = _with_start(write_night(write_edf, tmp_path / "n.edf", 10), START)
    figures = _captured_figures(monkeypatch)
    # every epoch flagged, so that the report's review table lists them all
    result = stage_recording(psg, predictor, tmp_path / "out", StageOptions(start_s=60.0, min_confidence=1.0))
    rows = read_csv(tmp_path / "out" / "n.hypnogram.csv")
    assert list(rows[0])[-1] == "clock_time"
    assert [r["epoch"] for r in rows] == [str(e) for e in range(2, 10)]
    for r in rows:  # onset: seconds from the recording start; clock: the EDF's start + onset
        assert float(r["onset_s"]) == 30.0 * int(r["epoch"])
        assert r["clock_time"] == (START + dt.timedelta(seconds=float(r["onset_s"]))).strftime("%H:%M:%S")
    assert rows[0]["clock_time"] == "00:00:45"
    assert result.summary["recording"]["start"] == START.isoformat()

    html = (tmp_path / "out" / "n.report.html").read_text()
    assert "<th>epoch</th><th>clock time</th><th>elapsed</th>" in html
    # elapsed counts from the window start (epoch 2 = 60 s), like the figures' axis
    assert "<td>2</td><td>00:00:45</td><td>+0:00:00</td>" in html
    assert "<td>9</td><td>00:04:15</td><td>+0:03:30</td>" in html

    for name in ("hypnogram", "hypnodensity"):
        ax = figures[name].axes[-1]
        assert ax.get_xlabel() == "minutes from the window start; clock time below"
        labels = [t.get_text() for t in ax.get_xticklabels()]
        assert labels[:2] == ["0\n00:00:45", "1\n00:01:45"] and labels[-1] == "4\n00:04:45"
        assert ax.get_xlim() == pytest.approx((0.0, 8 * 30 / 3600))


def test_without_a_start_time_there_is_no_clock_column(write_edf, predictor, tmp_path):
    psg = write_night(write_edf, tmp_path / "n.edf", 4)
    stage_recording(psg, predictor, tmp_path / "out", StageOptions(plots=False, min_confidence=1.0))
    rows = read_csv(tmp_path / "out" / "n.hypnogram.csv")
    assert "clock_time" not in rows[0] and rows[1]["onset_s"] == "30"
    html = (tmp_path / "out" / "n.report.html").read_text()
    assert "<th>epoch</th><th>elapsed</th>" in html and "clock time" not in html
    assert "<td>1</td><td>+0:00:30</td>" in html


def test_the_figures_name_what_the_window_starts_at():
    assert window_origin(0, StageOptions()) == "the recording start"
    assert window_origin(0, StageOptions(lights=True)) == "the recording start"  # no Lights off marker
    assert window_origin(4, StageOptions(lights=True)) == "lights off"
    assert window_origin(2, StageOptions(start_s=60.0)) == "the window start"


def test_stage_with_hypnograms_prints_each_recordings_agreement(synthetic_raw, model, tmp_path, capsys):
    psgs = sorted(synthetic_raw.glob("*-PSG.edf"))[:2]
    hypnograms = [min(synthetic_raw.glob(p.name[:6] + "*-Hypnogram.edf")) for p in psgs]
    argv = [str(p) for p in psgs] + [a for h in hypnograms for a in ("--hypnogram", str(h))]
    code = stage_cli([*argv, "--model", str(model), "--out", str(tmp_path / "out"), "--threads", "1",
                      "--no-plots", "--no-report", "--quiet"])
    assert code == 0
    out = capsys.readouterr().out
    pattern = re.compile(r"^(\S+): agreement with the expert: accuracy (\d+\.\d) %, kappa (-?\d\.\d{3}), "
                         r"macro-F1 (\d+\.\d) % \((\d+) scored epochs\)$", re.MULTILINE)
    found = {m[1]: m.groups()[1:] for m in pattern.finditer(out)}
    assert sorted(found) == sorted(p.stem for p in psgs)
    for psg in psgs:
        agreement = json.loads((tmp_path / "out" / f"{psg.stem}.sleep_stats.json").read_text())["expert"]["agreement"]
        assert found[psg.stem] == (f"{100 * agreement['accuracy']:.1f}", f"{agreement['kappa']:.3f}",
                                   f"{100 * agreement['macro_f1']:.1f}", str(agreement["n_epochs"]))
    assert out.index("agreement with the expert") > out.index(psgs[1].stem)  # below the table
    assert out.rstrip().endswith("outputs: " + str(tmp_path / "out"))


def test_the_summary_table_leaves_out_the_agreement_without_an_expert():
    stats = {"total_sleep_time_min": 400.0, "sleep_efficiency_percent": 90.0}
    plain = StageResult("a", Path("a.edf"), "staged", 960, summary={"statistics": stats, "review": {"percent": 1.0},
                                                                     "expert": None})
    unscored = StageResult("b", Path("b.edf"), "staged", 960, summary={
        "statistics": stats, "review": {"percent": 1.0}, "expert": {"file": "b.xml", "agreement": None}})
    failed = StageResult("c", Path("c.edf"), "failed", error="boom")
    table = summary_table([plain, unscored, failed])
    assert "a: agreement" not in table and agreement_line("a", plain.summary) is None
    assert "b: agreement with the expert: none of the staged epochs is scored in b.xml" in table
    assert table.splitlines()[-1] == "2 staged, 1 failed"
    assert len(table.splitlines()) == 2 + 3 + 1 + 1  # header, rule, 3 rows, 1 agreement line, the count
