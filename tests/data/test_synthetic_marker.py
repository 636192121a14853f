"""`synth` marks its files as synthetic, `prepare` and npz import/export keep the mark."""

from __future__ import annotations

from pathlib import Path

import edfio
import numpy as np
import pytest

from isatsleepnet.data.npz import export_npz, read_npz
from isatsleepnet.data.prepare import prepare_dataset
from isatsleepnet.data.prepare_config import PrepareConfig
from isatsleepnet.data.store import PreparedDataset
from isatsleepnet.data.synthetic import SynthConfig, synthesize
from isatsleepnet.data.synthetic.marker import SYNTHETIC_TOKEN, is_marked_synthetic, synthetic_training_warning
from isatsleepnet.errors import DataError
from tests.conftest import rk_night


@pytest.fixture(scope="module")
def synthetic_store(tmp_path_factory) -> tuple[Path, list]:
    root = tmp_path_factory.mktemp("marked")
    recs = synthesize(root / "raw", SynthConfig(layout="sleep-edf", subjects=2, hours=0.5, seed=5), progress=False)
    results = prepare_dataset(root / "raw", root / "prepared", PrepareConfig(dataset="sleep-edf", trim=False),
                              progress=False)
    assert {r.status for r in results} == {"prepared"}
    return root / "prepared", recs


def test_both_layouts_mark_psg_and_hypnogram_files(tmp_path, synthetic_store):
    for rec in synthetic_store[1]:
        assert is_marked_synthetic(rec.psg) and is_marked_synthetic(rec.hypnogram)
        edf = edfio.read_edf(rec.psg)  # the mark is in the EDF+ subfields, where EDF readers show it
        assert SYNTHETIC_TOKEN in edf.patient.additional and edf.recording.equipment_code == SYNTHETIC_TOKEN
    shhs = synthesize(tmp_path / "shhs", SynthConfig(layout="shhs", subjects=1, hours=0.5, profusion=True),
                      progress=False)[0]
    assert is_marked_synthetic(shhs.psg)
    for xml in (shhs.hypnogram, shhs.profusion):  # XML has no EDF header: a comment says it
        assert SYNTHETIC_TOKEN in xml.read_text().splitlines()[2]


def test_prepare_records_the_mark(synthetic_store, tmp_path, sleep_edf_night):
    for rec in PreparedDataset(synthetic_store[0]):
        assert rec.meta["synthetic"] is True
    sleep_edf_night(tmp_path / "raw", "SC4011", rk_night(5, 5))  # written by edfio, unmarked
    results = prepare_dataset(tmp_path / "raw", tmp_path / "prepared", PrepareConfig(dataset="sleep-edf"),
                              progress=False)
    assert [r.status for r in results] == ["prepared"]
    assert [rec.meta["synthetic"] for rec in PreparedDataset(tmp_path / "prepared")] == [False]


def test_an_unmarked_edf_is_not_synthetic_and_only_the_header_fields_count(tmp_path, write_edf):
    plain = write_edf(tmp_path / "plain.edf", [("EEG Fpz-Cz", np.zeros(3000), 100.0, "uV")])
    assert not is_marked_synthetic(plain)
    in_label = write_edf(tmp_path / "label.edf", [(SYNTHETIC_TOKEN[:16], np.zeros(3000), 100.0, "uV")])
    assert SYNTHETIC_TOKEN[:16].encode() in in_label.read_bytes()[256:]
    assert not is_marked_synthetic(in_label)  # a signal label is not the identification
    data = bytearray(plain.read_bytes())
    data[88 + 40 : 88 + 40 + len(SYNTHETIC_TOKEN)] = SYNTHETIC_TOKEN.encode()  # recording field only
    (tmp_path / "rec.edf").write_bytes(bytes(data))
    assert is_marked_synthetic(tmp_path / "rec.edf")


def test_a_file_too_short_for_an_edf_header_is_a_one_line_error(tmp_path):
    (tmp_path / "short.edf").write_bytes(b"0       X X X X")
    with pytest.raises(DataError, match=r"^short\.edf: not an EDF file: 15 bytes"):
        is_marked_synthetic(tmp_path / "short.edf")
    with pytest.raises(DataError, match="missing.edf: cannot read its EDF header"):
        is_marked_synthetic(tmp_path / "missing.edf")


def test_npz_export_carries_the_mark_and_import_restores_it(synthetic_store, tmp_path):
    written = export_npz(synthetic_store[0], tmp_path / "npz", progress=False)
    config = PrepareConfig(dataset="npz")
    for path in written:
        with np.load(path) as f:
            assert bool(f["synthetic"])
        assert read_npz(path, config)[3]["synthetic"] is True
    with np.load(written[0]) as f:  # the same file as another tool writes it: no flag
        np.savez(tmp_path / "other.npz", **{k: f[k] for k in ("x", "y", "fs", "ch_label")})
    assert read_npz(tmp_path / "other.npz", config)[3]["synthetic"] is False


def test_the_training_warning_needs_synthetic_recordings():
    assert synthetic_training_warning({"synthetic_recordings": 3, "real_recordings": 2}) == (
        "this model was trained on synthetic recordings (3 of 5): its stages of a real recording are not sleep staging")
    assert synthetic_training_warning({"synthetic_recordings": 0, "real_recordings": 2}) is None
    assert synthetic_training_warning({}) is None and synthetic_training_warning(None) is None


def test_reading_the_mark_does_not_load_the_signal_generators():
    """`stage` reads the mark (and model cards its warning) on every run: the package's generators, which
    load scipy.signal and scipy.ndimage (~0.8 s), load only when a night is made."""
    import subprocess
    import sys

    code = ("import sys; import isatsleepnet.data.synthetic.marker as m; "
            "assert 'scipy.signal' not in sys.modules, 'loaded'; "
            "from isatsleepnet.data.synthetic import SubjectProfile, simulate_channels; "
            "assert 'scipy.signal' in sys.modules and callable(simulate_channels) and SubjectProfile; "
            "import isatsleepnet.data.synthetic as s; assert not hasattr(s, 'no_such_name')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
