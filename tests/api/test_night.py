"""A staged Night: its arrays, statistics, agreement, figures, MNE annotations, data frame and files."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

import isatsleepnet as isn
from isatsleepnet import STAGES
from isatsleepnet.api.views import UNSTAGED, stage_codes_of
from isatsleepnet.errors import IsatSleepNetError, SettingError
from isatsleepnet.evaluation.metrics import compute_metrics
from isatsleepnet.inference.exports import CSV_COLUMNS
from isatsleepnet.inference.sleep_stats import sleep_statistics
from tests.api.conftest import read_csv, stage_cli
from tests.inference import make_discontinuous, write_night


def one_line_error(call, *args, **kwargs) -> str:
    with pytest.raises(IsatSleepNetError) as info:
        call(*args, **kwargs)
    assert "\n" not in str(info.value)
    return str(info.value)


# --------------------------------------------------------------------------- arrays
def test_the_arrays_describe_every_epoch_consistently(night):
    n = len(night)
    assert night.stages.shape == night.codes.shape == night.onsets.shape == night.confidence.shape == (n,)
    assert night.probabilities.shape == (n, 5)
    assert [STAGES[c] for c in night.codes] == list(night.stages)
    np.testing.assert_array_equal(night.codes, night.probabilities.argmax(axis=1))
    np.testing.assert_array_equal(night.onsets, np.arange(n) * 30.0)
    np.testing.assert_array_equal(night.flagged, night.confidence < 0.6)
    assert 0 < night.flagged.sum() < n  # some epochs flagged, not all
    assert night.staged.all() and night.expert is not None and len(night.expert) == n


def test_the_arrays_are_copies(night):
    night.probabilities[:] = 0.0
    night.flagged[:] = True
    night.summary["statistics"]["time_in_bed_min"] = -1
    assert np.allclose(night.probabilities.sum(axis=1), 1.0)
    assert not night.flagged.all()
    assert night.summary["statistics"]["time_in_bed_min"] == 60.0


def test_statistics_notes_and_warnings_are_those_of_the_json(night, cli_out):
    summary = json.loads((cli_out / "SC4001E0-PSG.sleep_stats.json").read_text())
    assert night.summary == summary
    assert night.sleep_statistics() == summary["statistics"] == sleep_statistics(night.codes, 30.0)
    assert night.notes == summary["notes"] and night.warnings == summary["warnings"]


def test_unstaged_epochs_of_an_edf_plus_d_are_marked(model, write_edf, tmp_path):
    psg = write_night(write_edf, tmp_path / "gap.edf", 10, annotations=[(0.0, 0.0, "start")])
    make_discontinuous(psg, 4, 45.0)  # 0-120 s, a 45-s gap, then 165-345 s: epochs 4 and 5 lack data
    night = model.stage(psg)
    assert len(night) == 11
    assert list(night.stages[4:6]) == [UNSTAGED, UNSTAGED] and UNSTAGED not in night.stages[[0, 3, 6, 10]]
    assert list(night.codes[4:6]) == [-1, -1] and list(night.staged) == [i not in (4, 5) for i in range(11)]
    assert np.isnan(night.probabilities[4:6]).all() and np.isnan(night.confidence[4:6]).all()
    assert not night.flagged[4:6].any()
    assert night.sleep_statistics()["unscored_min"] == 1.0
    assert list(night.to_dataframe()["epoch"]) == [0, 1, 2, 3, 6, 7, 8, 9, 10]
    assert night.start is None and tuple(night.to_dataframe().columns) == CSV_COLUMNS  # no date: no clock_time
    annotations = night.to_mne_annotations()
    is_stage = np.array([d.startswith("Sleep stage") for d in annotations.description])
    assert annotations.duration[is_stage].sum() == 9 * 30.0
    fig = night.plot_hypnodensity()
    assert len(fig.axes) == 1
    written = night.write(tmp_path / "out", plots=False, report=False)
    assert [p.name for p in written] == ["gap.hypnogram.csv", "gap.hypnogram.json", "gap.annotations.edf",
                                         "gap.sleep_stats.json"]


# --------------------------------------------------------------------------- agreement
def test_agreement_with_the_generators_own_hypnogram(model, tmp_path):
    truth = isn.synthetic_night(tmp_path / "night", hours=1.0, seed=5)
    night = model.stage(truth.psg, hypnogram=truth.hypnogram)
    codes = stage_codes_of(list(truth.stages))
    scored = codes >= 0
    expected = compute_metrics(codes[scored], night.codes[scored])
    assert night.agreement(list(truth.stages)) == expected  # the generator's labels
    assert night.agreement(truth.hypnogram) == expected  # its Sleep-EDF hypnogram file
    assert night.agreement(isn.read_hypnogram(truth.hypnogram)) == expected
    assert night.agreement() == expected == night.summary["expert"]["agreement"]
    assert expected["n_epochs"] == int(scored.sum()) and len(expected["confusion_matrix"]) == 5
    assert set(expected["per_class_f1"]) == set(STAGES)


def test_hypnogram_auto_finds_the_one_beside_the_recording_as_stage_does(model, tmp_path, caplog):
    """Before: hypnogram="auto" was read as a file named auto ("auto: no such hypnogram file")."""
    truth = isn.synthetic_night(tmp_path / "night", hours=1.0, seed=5)
    assert model.stage(truth.psg, hypnogram="auto").agreement() == model.stage(truth.psg,
                                                                                hypnogram=truth.hypnogram).agreement()
    alone = tmp_path / "alone" / truth.psg.name
    alone.parent.mkdir()
    alone.write_bytes(truth.psg.read_bytes())
    with caplog.at_level("INFO", logger="isatsleepnet"):
        night = model.stage(alone, hypnogram="auto")
    assert night.summary["expert"] is None and "no hypnogram found beside it (hypnogram='auto')" in caplog.text
    with pytest.raises(isn.IsatSleepNetError, match="hypnogram='auto' looks beside a recording file"):
        model.stage((np.zeros((3, 3000 * 4)), 100.0, ["EEG Fpz-Cz", "EEG Pz-Oz", "EOG horizontal"]),
                    hypnogram="auto")


def test_agreement_is_aligned_by_time_for_a_window(model, files):
    whole = model.stage(files[0])
    window = model.stage(files[0], start=600.0, end=1800.0)  # epochs 20..59
    reference = isn.read_hypnogram(files[1]).to_epochs(120, 30.0, min_coverage=0.0)
    truth = reference[20:60]
    scored = truth >= 0
    expected = compute_metrics(truth[scored], whole.codes[20:60][scored])
    assert window.agreement(files[1]) == expected  # a file: placed on the recording's start
    labels = [STAGES[c] if c >= 0 else None for c in reference]
    assert window.agreement(labels) == expected  # one label per epoch of the recording
    assert window.agreement(labels[20:60]) == expected  # or one per epoch of the window


def test_agreement_with_itself_is_perfect(night):
    result = night.agreement(list(night.stages))
    assert (result["accuracy"], result["kappa"], result["n_epochs"]) == (1.0, 1.0, 120)


def test_bad_references_are_one_line(model, night, files):
    assert "has 7 epochs" in one_line_error(night.agreement, ["W"] * 7)
    assert "unknown stage label 'dozing'" in one_line_error(night.agreement, ["dozing"] * 120)
    assert "stage code 7" in one_line_error(night.agreement, [7] * 120)
    assert "scores none" in one_line_error(night.agreement, [None] * 120)
    assert "no reference hypnogram" in one_line_error(model.stage(files[0]).agreement)
    assert "sequence of labels" in one_line_error(night.agreement, 3.5)


def test_stage_labels_in_every_spelling():
    codes = stage_codes_of(["W", "Wake", "N1", "S2", "Sleep stage 3", "Sleep stage 4", "R", "REM", 0, np.int64(4),
                            "?", None, -1, "", "Movement time"])
    assert codes.tolist() == [0, 0, 1, 2, 3, 3, 4, 4, 0, 4, -1, -1, -1, -1, -1]


# --------------------------------------------------------------------------- figures
def test_figures_are_those_of_the_pngs_on_a_new_figure_or_into_an_axes(night, model, files):
    import matplotlib.pyplot as plt

    fig = night.plot_hypnogram()
    assert [ax.get_ylabel() for ax in fig.axes] == ["expert", "ISATSleepNet"]
    agreement = night.agreement()
    assert fig._suptitle.get_text() == (f"SC4001E0-PSG: accuracy {100 * agreement['accuracy']:.1f} %, "
                                        f"κ = {agreement['kappa']:.3f} ({agreement['n_epochs']} scored epochs)")
    assert night.plot_hypnogram(expert=False)._suptitle.get_text() == "SC4001E0-PSG: ISATSleepNet hypnogram"
    assert [ax.get_title() for ax in fig.axes] == ["", ""]
    assert len(night.plot_hypnogram(expert=False).axes) == 1
    fig, (top, bottom) = plt.subplots(2, 1)
    assert night.plot_hypnogram(ax=top) is fig
    assert night.plot_hypnodensity(ax=bottom) is fig
    assert top.get_ylabel() == "predicted" and bottom.get_ylabel() == "probability"
    assert "SC4001E0-PSG" in top.get_title() and len(fig.axes) >= 2
    assert "clock time" in bottom.get_xlabel()
    plt.close("all")


# --------------------------------------------------------------------------- MNE and pandas
def test_mne_annotations_are_those_of_the_annotations_file(night, cli_out, files):
    import mne

    annotations = night.to_mne_annotations()
    written = mne.read_annotations(cli_out / "SC4001E0-PSG.annotations.edf")
    def events(a):  # MNE orders annotations by onset; those of one onset in any order
        return sorted(zip(np.round(a.onset, 6), np.round(a.duration, 6), a.description))

    assert events(annotations) == events(written) and len(annotations) > 2
    is_stage = np.array([d.startswith("Sleep stage") for d in annotations.description])
    assert annotations.duration[is_stage].sum() == 3600.0
    is_review = np.array([d == "Review: low confidence" for d in annotations.description])
    assert annotations.duration[is_review].sum() == 30.0 * night.flagged.sum()
    # runs of one stage: each annotation starts where the night's stage changes
    starts = annotations.onset[is_stage] / 30.0
    changes = np.flatnonzero(np.r_[True, night.codes[1:] != night.codes[:-1]])
    np.testing.assert_array_equal(starts, changes)
    # placed on the recording: a Raw of the file takes them at the same times
    raw = mne.io.read_raw_edf(files[0], verbose="error")
    assert annotations.orig_time == raw.info["meas_date"]
    raw.set_annotations(annotations)
    np.testing.assert_allclose(raw.annotations.onset, annotations.onset)


def test_the_data_frame_is_the_csv(night, cli_out):
    rows = read_csv(cli_out / "SC4001E0-PSG.hypnogram.csv")
    df = night.to_dataframe()
    assert list(df.columns) == list(rows[0])
    assert df["review"].dtype == bool and df["epoch"].dtype == np.int64
    for column in ("p_W", "p_REM", "confidence", "onset_s"):
        np.testing.assert_allclose(df[column], [float(r[column]) for r in rows], atol=5.1e-5)
    assert list(df["stage"]) == [r["stage"] for r in rows]


# --------------------------------------------------------------------------- files
def test_write_options_and_the_model_marker(night, tmp_path):
    written = night.write(tmp_path / "out", annotations="both", plots=False, report=False)
    assert [p.name for p in written] == ["SC4001E0-PSG.hypnogram.csv", "SC4001E0-PSG.hypnogram.json",
                                         "SC4001E0-PSG.annotations.edf",
                                         "SC4001E0-PSG.annotations.tsv", "SC4001E0-PSG.sleep_stats.json"]
    assert (tmp_path / "out" / "model.sha1").read_text().split()[0] == night.model.predictor.identity
    rewritten = night.write(tmp_path / "out", annotations="tsv")  # a rewrite removes what it no longer writes
    assert not (tmp_path / "out" / "SC4001E0-PSG.annotations.edf").exists()
    assert {p.name for p in rewritten} == {p.name for p in (tmp_path / "out").iterdir()} - {"model.sha1"}
    assert "annotations= must be one of" in one_line_error(night.write, tmp_path / "out", annotations="xml")
    assert one_line_error(night.write, tmp_path / "out", plots="no") == "plots= must be True or False, not 'no'"


def test_write_refuses_another_models_folder_like_the_command_line(night, files, tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "model.sha1").write_text("0123abcd  other.pt\n")
    assert "another model" in one_line_error(night.write, tmp_path / "out")
    (tmp_path / "file").write_text("")
    assert "is a file" in one_line_error(night.write, tmp_path / "file")
    assert stage_cli(files[0], "--model", files[2], "--out", tmp_path / "out") == 2  # the same refusal


def test_the_figures_are_the_pngs_of_the_command_line(night, cli_out, tmp_path):
    from isatsleepnet.plots import save_figure

    for figure, draw in (("hypnogram", night.plot_hypnogram), ("hypnodensity", night.plot_hypnodensity)):
        png = save_figure(draw(), tmp_path / f"{figure}.png")
        assert png.read_bytes() == (cli_out / f"SC4001E0-PSG.{figure}.png").read_bytes(), figure


def test_review_serves_the_night_written_to_out_and_continues_it(night, tmp_path):
    import urllib.parse
    import urllib.request

    server = night.review(tmp_path / "out", reviewer="ana")
    try:
        base, token = server.url.split("/?token=")
        assert str(server) == server.url and f'href="{server.url}"' in server._repr_html_()  # a notebook's link
        assert (tmp_path / "out" / f"{night.name}.hypnogram.csv").is_file()  # written first
        served = json.loads(urllib.request.urlopen(f"{base}/api/night?token={token}", timeout=10).read())
        assert served["model"] == list(night.stages) and served["version"] == 0
        assert [c["label"] for c in served["channels"]] == night._staged.recording.psg.channel_names
        channel = served["channels"][0]["label"]
        window = urllib.request.urlopen(f"{base}/api/window?start=0&seconds=30&channels="
                                        f"{urllib.parse.quote(channel)}&token={token}", timeout=10).read()
        assert len(window) > 3000 * 4
        server.review.set_stage(0, "N3", version=0)
    finally:
        server.stop()
    again = night.review(tmp_path / "out", reviewer="bo")
    try:
        assert again.review.version == 1 and again.review.state.stages[0] == "N3"
    finally:
        again.stop()


def test_review_writes_this_night_over_another_staging_of_it(model, files, tmp_path):
    """Before: a folder holding an earlier 10-epoch window was served as this 120-epoch night's review."""
    part = model.stage(files[0], start=600, end=900)
    part.write(tmp_path / "out", plots=False, report=False)
    server = model.stage(files[0]).review(tmp_path / "out", reviewer="ana")
    try:
        assert len(read_csv(tmp_path / "out" / f"{part.name}.hypnogram.csv")) == len(server.review.night.stages)
        assert len(server.review.night.stages) > len(part)
    finally:
        server.stop()


@pytest.mark.parametrize("keywords, message", [
    ({"reviewer": ""}, "reviewer= must name who reviews, not ''"),
    ({"port": -5}, "port= must be 0 (a free port) or a port number up to 65535, not -5"),
])
def test_a_bad_review_argument_is_refused_before_anything_is_written(night, tmp_path, keywords, message):
    with pytest.raises(SettingError, match=re.escape(message)):
        night.review(tmp_path / "out", **{"reviewer": "ana", **keywords})
    assert not (tmp_path / "out").exists()


def test_write_goes_to_staged_by_default_and_refuses_no_folder(night, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert {p.parent.name for p in night.write(plots=False, report=False)} == {"staged"}
    with pytest.raises(SettingError, match="out= must be a folder's path, not None"):
        night.write(None)
