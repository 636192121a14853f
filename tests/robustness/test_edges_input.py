"""Inputs that look valid and are not: each is refused in one line, or read with a note and a warning.

An EDF whose header misstates a signal's samples per record (the data size is
then not the announced records), a derivation whose reference half is flat (the
derivation then looks alive), a CSV hypnogram with a column named twice or a
quoted header, and an output folder given as an empty string.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from isatsleepnet.cli.main import build_parser, main
from isatsleepnet.cli.output_paths import output_file, output_folder
from isatsleepnet.data.readers.edf import EdfRecording
from isatsleepnet.data.store import PreparedDataset
from isatsleepnet.errors import DataError
from tests.edf_bytes import patch_main_field, patch_signal_field
from tests.inference import trained_model
from tests.robustness import (
    CHANNELS,
    assert_no_debris,
    assert_one_error,
    error_lines,
    night,
    prepare_args,
    run_cli,
    stages_csv,
)

QUIET_STAGE = ("--threads", "1", "--no-plots", "--no-report", "--quiet")


@pytest.fixture
def model(tmp_path_factory) -> Path:
    """The session's tiny model trained on synthetic Sleep-EDF nights (tests/inference)."""
    return trained_model(tmp_path_factory.getbasetemp())[0]


# --------------------------------------------------------------------------- 1. data size vs header
# 3 channels x 3000 samples x 2 bytes = 18000 bytes per record, 6 records; the header says 2999 for the
# first channel: 17998-byte records, 6 of them make 107988 bytes, 12 fewer than the file holds
MISSTATED = (r"mis\.edf: 108000 bytes of data, but the header's 6 data records of 17998 bytes make 107988: "
             r"a samples-per-record or record-count field of the header misstates the file")


def _misstated(write_edf, folder: Path) -> Path:  # noqa: ANN001 - the write_edf fixture
    path = night(write_edf, folder, "mis", seed=1)
    return patch_signal_field(path, 0, "samples_per_record", "2999")


def _never_closed(write_edf, folder: Path) -> Path:  # noqa: ANN001
    """7 records written, the recorder stopped 5000 bytes before the end of the last and left -1 as the count."""
    path = night(write_edf, folder, "open", n_epochs=7, seed=2)
    path.write_bytes(path.read_bytes()[:-5000])
    patch_main_field(path, "n_records", "-1")
    stages_csv(folder / "open.csv", 6, seed=2)  # the 6 whole epochs
    return path


DROPPED = ("the header's record count is -1 (the recording was not closed): 6 whole data records read, a last "
           "partial record of 13000 of 18000 bytes dropped")


def test_the_reader_refuses_a_data_size_that_is_not_the_announced_records(write_edf, tmp_path):
    path = _misstated(write_edf, tmp_path)
    with pytest.raises(DataError, match=f"^{MISSTATED}$"):
        EdfRecording.open(path)
    good = EdfRecording.open(night(write_edf, tmp_path, "good"))  # exact size: as before
    assert good.header.n_records == 6 and good.notes == []


def test_a_misstated_samples_per_record_is_refused_by_prepare_and_stage(write_edf, tmp_path, capsys, model):
    raw = tmp_path / "raw"
    _misstated(write_edf, raw)
    night(write_edf, raw, "good", seed=3)
    out = tmp_path / "prepared"
    code, _, err = run_cli(prepare_args(raw, out), capsys)
    assert code == 1
    assert_one_error(err, "mis.edf:", MISSTATED)
    assert len(error_lines(err)) == 1
    assert PreparedDataset(out).names == ["good"]
    assert_no_debris(out)

    staged = tmp_path / "staged"
    code, _, err = run_cli(["stage", raw / "mis.edf", "--model", model, "--out", staged, *QUIET_STAGE], capsys)
    assert code == 1
    assert_one_error(err, "mis.edf:", MISSTATED)
    assert len(error_lines(err)) == 1
    assert not list(staged.glob("mis.*"))
    assert_no_debris(staged)


def test_a_recording_never_closed_loses_its_partial_record_with_a_note(write_edf, tmp_path, capsys, model):
    raw = tmp_path / "raw"
    path = _never_closed(write_edf, raw)
    rec = EdfRecording.open(path)
    assert rec.header.n_records == 6 and rec.notes == [DROPPED]

    out = tmp_path / "prepared"
    code, stdout, err = run_cli(prepare_args(raw, out), capsys)
    assert code == 0, err
    assert f"note: open: {DROPPED}" in stdout
    assert PreparedDataset(out)["open"].meta["notes"] == [DROPPED]

    staged = tmp_path / "staged"
    code, _, err = run_cli(["stage", path, "--model", model, "--out", staged, *QUIET_STAGE], capsys)
    assert code == 0, err
    assert f"note: open.edf: {DROPPED}" in err
    summary = json.loads((staged / "open.sleep_stats.json").read_text())
    assert DROPPED in summary["notes"]


def test_a_recording_never_closed_with_a_misstated_samples_per_record_is_refused(write_edf, tmp_path):
    path = _never_closed(write_edf, tmp_path)
    patch_signal_field(path, 0, "samples_per_record", "2999")  # the size check that would catch it is missing
    with pytest.raises(DataError, match=r"^open\.edf: the header's record count is -1 and signal 'EEG Fpz-Cz' declares "
                                        r"2999 samples per 30-s record \(99\.9667 Hz, just off a whole rate\), "
                                        r"with \d+ bytes left over"):
        EdfRecording.open(path)


# --------------------------------------------------------------------------- 2. a flat half of a derivation
def _flat_half(write_edf, folder: Path, flat: str, how: str) -> Path:  # noqa: ANN001
    """Fpz and Cz recorded against a common reference; ``flat`` of them is flat ("zeros") or near-flat."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(4)
    n = 6 * 3000
    halves = {"Fpz": rng.normal(0, 20, n), "Cz": rng.normal(0, 20, n)}
    halves[flat] = np.zeros(n) if how == "zeros" else rng.normal(0, 0.3, n)  # 0.3 µV: a shorted input's noise
    signals = [(label, x, 100.0, "uV") for label, x in halves.items()]
    signals += [(label, rng.normal(0, 20, n), 100.0, "uV") for label in CHANNELS[1:]]
    path = write_edf(folder / "ref.edf", signals)
    stages_csv(folder / "ref.csv", 6)
    return path


def _half_note(flat: str) -> str:
    return f"eeg: channel {flat!r} (half of the derivation 'Fpz-Cz') is flat in 6 of 6 epochs"


def _half_warning(flat: str) -> str:
    other = "Fpz" if flat == "Cz" else "Cz"
    return (f"eeg: channel {flat!r} is flat in 6 of 6 epochs (an electrode off?), so the derivation 'Fpz-Cz' "
            f"carries {other!r} alone there: the stages of those epochs may be unreliable")


HALVES = [("Cz", "zeros"), ("Fpz", "zeros"), ("Cz", "near")]


@pytest.mark.parametrize("flat, how", HALVES)
def test_prepare_notes_a_flat_half_of_a_derivation(write_edf, tmp_path, capsys, flat, how):
    raw = tmp_path / "raw"
    _flat_half(write_edf, raw, flat, how)
    out = tmp_path / "prepared"
    code, stdout, err = run_cli(["prepare", "--dataset", "edf", "--data-dir", raw, "--out", out, "--eeg", "Fpz-Cz",
                                 "--eeg2", "EEG Pz-Oz", "--eog", "EOG horizontal", "--quiet"], capsys)
    assert code == 0, err
    assert f"note: ref: {_half_note(flat)}" in stdout
    assert _half_note(flat) in PreparedDataset(out)["ref"].meta["notes"]


@pytest.mark.parametrize("flat, how", HALVES)
def test_stage_notes_and_warns_of_a_flat_half_of_a_derivation(write_edf, tmp_path, capsys, model, flat, how):
    path = _flat_half(write_edf, tmp_path / "raw", flat, how)
    out = tmp_path / "staged"
    code, _, err = run_cli(["stage", path, "--eeg", "Fpz-Cz", "--model", model, "--out", out, *QUIET_STAGE], capsys)
    assert code == 0, err
    assert f"note: ref.edf: {_half_note(flat)}" in err
    assert f"warning: ref.edf: {_half_warning(flat)}" in err
    summary = json.loads((out / "ref.sleep_stats.json").read_text())
    assert _half_warning(flat) in summary["warnings"]


def test_the_api_warns_of_a_flat_half_as_of_a_flat_channel(write_edf, tmp_path, model):
    import torch

    import isatsleepnet as isn

    threads = torch.get_num_threads()
    try:
        staging = isn.load_model(model, threads=1)
        night_ = staging.stage(_flat_half(write_edf, tmp_path / "half", "Cz", "zeros"), eeg="Fpz-Cz")
        assert _half_note("Cz") in night_.notes
        assert _half_warning("Cz") in night_.warnings
        x = np.random.default_rng(5).normal(0, 20, 6 * 3000)
        plain = write_edf(tmp_path / "plain.edf", [("EEG Fpz-Cz", x, 100.0, "uV"), ("EEG Pz-Oz", x, 100.0, "uV"),
                                                   ("EOG horizontal", np.r_[x[:3000], np.zeros(5 * 3000)], 100.0,
                                                    "uV")])
        night_ = staging.stage(plain)
        assert "eog: channel 'EOG horizontal' is flat in 5 of 6 epochs" in night_.notes
        assert ("eog: channel 'EOG horizontal' is flat in 5 of 6 epochs (an electrode off?): the stages of those "
                "epochs may be unreliable") in night_.warnings
    finally:
        torch.set_num_threads(threads)


# --------------------------------------------------------------------------- 3. CSV hypnogram headers
STAGES = ["W", "N1", "N2", "N3", "REM", "W"]


@pytest.mark.parametrize("header, message", [
    ("stage,confidence,stage", "'stage' (column 1) and 'stage' (column 3) both name the stage"),
    ("Stage,onset, STAGE ", "'Stage' (column 1) and 'STAGE' (column 3) both name the stage"),  # case, spaces ignored
    ("onset,stage,Onset", "'onset' (column 1) and 'Onset' (column 3) both name the onset"),
    ("stage\tonset_s\tonset_s", "'onset_s' (column 2) and 'onset_s' (column 3) both name the onset"),
    ("onset,stage,time", "'onset' (column 1) and 'time' (column 3) both name the onset"),  # two synonyms
    ("stage,onset,label", "'stage' (column 1) and 'label' (column 3) both name the stage"),
    ("score,onset,stage,label", "'score' (column 1) and 'stage' (column 3) and 'label' (column 4) all name the stage"),
])
def test_a_column_named_twice_is_refused_as_ambiguous(tmp_path, header, message):
    import isatsleepnet as isn

    delimiter = "\t" if "\t" in header else ","
    width = len(header.split(delimiter))
    rows = [delimiter.join([s, str(30 * i), s, s][:width]) for i, s in enumerate(STAGES)]
    path = tmp_path / "dup.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    with pytest.raises(DataError, match=rf"^dup\.csv: ambiguous header: {re.escape(message)}; keep one$"):
        isn.read_hypnogram(path)


@pytest.mark.parametrize("text", [
    '"stage"\n' + "\n".join(f'"{s}"' for s in STAGES),
    '"stage"\n' + "\n".join(STAGES),
    '"onset","stage"\n' + "\n".join(f'{30 * i},"{s}"' for i, s in enumerate(STAGES)),
    '"onset", "stage"\n' + "\n".join(f"{30 * i}, {s}" for i, s in enumerate(STAGES)),
    '"onset"\t"stage"\n' + "\n".join(f"{30 * i}\t{s}" for i, s in enumerate(STAGES)),
    '"onset" "sleep stage" "stage"\n' + "\n".join(f'{30 * i} "Sleep stage {s}" {s}' for i, s in enumerate(STAGES)),
])
def test_a_quoted_header_is_read(tmp_path, text):
    import isatsleepnet as isn

    path = tmp_path / "quoted.csv"
    path.write_text(text + "\n")
    assert isn.read_hypnogram(path).to_epochs(6, 30.0).tolist() == [0, 1, 2, 3, 4, 0]


def test_stage_with_a_hypnogram_refuses_a_column_named_twice_and_reads_a_quoted_header(write_edf, tmp_path, capsys,
                                                                                       model):
    psg = night(write_edf, tmp_path / "raw", "n")
    dup = tmp_path / "dup.csv"
    dup.write_text("stage,stage\n" + "\n".join(f"{s},{s}" for s in STAGES) + "\n")
    out = tmp_path / "staged"
    code, _, err = run_cli(["stage", psg, "--hypnogram", dup, "--model", model, "--out", out, *QUIET_STAGE], capsys)
    assert code == 1
    assert_one_error(err, "dup.csv:", r"ambiguous header: 'stage' \(column 1\) and 'stage' \(column 2\) both name "
                                      r"the stage; keep one")
    assert not list(out.glob("n.*"))

    quoted = tmp_path / "quoted.csv"
    quoted.write_text('"onset","stage"\n' + "\n".join(f'{30 * i},"{s}"' for i, s in enumerate(STAGES)) + "\n")
    code, stdout, err = run_cli(["stage", psg, "--hypnogram", quoted, "--model", model, "--out", out, *QUIET_STAGE],
                                capsys)
    assert code == 0, err
    lines = (out / "n.hypnogram.csv").read_text().splitlines()
    expert = lines[0].split(",").index("expert")
    assert [line.split(",")[expert] for line in lines[1:]] == ["W", "N1", "N2", "N3", "REM", "W"]


# --------------------------------------------------------------------------- 4. --out ""
# every command that writes, with its other required arguments (never reached: --out is refused first)
OUTPUTS = {
    "synth": ["synth"],
    "prepare": ["prepare", "--dataset", "edf", "--data-dir", "raw"],
    "export-npz": ["export-npz", "--data", "prepared"],
    "train-gan": ["train-gan", "--data", "prepared"],
    "augment": ["augment", "--data", "prepared"],
    "train": ["train", "--data", "prepared"],
    "cv": ["cv", "--data", "prepared", "--protocol", "kfold"],
    "evaluate": ["evaluate", "--model", "model.pt", "--data", "prepared"],
    "compare": ["compare", "run"],
    "stage": ["stage", "night.edf", "--model", "model.pt"],
    "demo": ["demo"],
    "export": ["export", "--model", "model.pt"],
    "download": ["download", "sleep-edf-20"],
    "review": ["review", "night.edf", "--model", "model.pt"],
}
OUTPUT_OPTIONS = {"export": "--onnx"}  # the others: --out
FILES = {"compare", "export"}  # an output file; the others name a folder


def test_every_output_option_refuses_an_empty_name():
    """Each command's --out (and export --onnx) goes through one of the two types, and the test below covers it."""
    import argparse

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    with_output = {}
    for name, sub in commands.items():
        for action in sub._actions:
            if {"--out", "--onnx"} & set(action.option_strings):
                with_output[name] = action.type
    assert set(with_output) == set(OUTPUTS)
    for name, kind in with_output.items():
        assert kind is (output_file if name in FILES else output_folder), name


@pytest.mark.parametrize("value", ["", "   "])
@pytest.mark.parametrize("command", sorted(OUTPUTS))
def test_an_empty_output_name_is_refused_before_any_work(tmp_path, monkeypatch, capsys, command, value):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        main([*OUTPUTS[command], OUTPUT_OPTIONS.get(command, "--out"), value])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    what = "file" if command in FILES else "folder"
    blank = "an empty string" if not value else f"blank ({value!r})"
    option = OUTPUT_OPTIONS.get(command, "--out")
    assert err.strip().splitlines()[-1] == f"isatsleepnet {command}: error: argument {option}: must name a {what}, " \
                                           f"not {blank}"
    assert list(tmp_path.iterdir()) == []  # nothing written where the command was run
