"""The signal format table and the Recording protocol: every reader offers what the pipeline reads.

The worked example of docs/architecture.md ("Adding a signal file format") runs here: a
test-only format, a NumPy ``.npz`` archive (data, rate, labels, unit), is registered with
its own reader, staged through the command line (named directly and found in a folder),
then removed.
"""

from __future__ import annotations

import doctest
from pathlib import Path

import numpy as np
import pytest

import isatsleepnet.data.readers.formats as formats
from isatsleepnet.cli.main import main
from isatsleepnet.data.readers.edf import EdfRecording
from isatsleepnet.data.readers.formats import (
    SIGNAL_FORMATS,
    SignalFormat,
    open_recording,
    register_signal_format,
    signal_format_of,
    signal_suffixes,
    unregister_signal_format,
)
from isatsleepnet.data.readers.memory import MemoryRecording
from isatsleepnet.data.readers.recording import RECORDING_MEMBERS, Recording, is_recording
from isatsleepnet.errors import DataError, IsatSleepNetError
from tests.inference import SLEEP_EDF_NAMES, trained_model, write_night


# ---------------------------------------------------------------------------- the worked example's reader
def read_npz(path: Path) -> Recording:
    """A recording saved with ``np.savez(path, data=(channels, samples), sfreq=..., ch_names=[...], unit="uV")``."""
    try:
        with np.load(path) as archive:
            data, sfreq = archive["data"], float(archive["sfreq"])
            names, unit = [str(n) for n in archive["ch_names"]], str(archive["unit"])
    except (OSError, ValueError, KeyError) as exc:
        raise DataError(path, f"not a recording archive ({exc})") from None
    return MemoryRecording.from_arrays(data, sfreq, names, units=unit, name=str(path))


NPZ = SignalFormat("npz", "NumPy archive", read_npz, (".npz",))


@pytest.fixture
def npz_format():
    register_signal_format(NPZ)
    yield NPZ
    unregister_signal_format("npz")


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return trained_model(tmp_path_factory.getbasetemp())[0]


def _save_npz(path: Path, data: np.ndarray, fs: float = 100.0) -> Path:
    np.savez(path, data=data, sfreq=fs, ch_names=np.array(SLEEP_EDF_NAMES), unit="uV")
    return path


# ---------------------------------------------------------------------------- the protocol
def test_every_reader_is_a_recording(write_edf, tmp_path):
    import mne

    psg = write_night(write_edf, tmp_path / "n.edf", 2)
    edf = open_recording(psg)
    assert isinstance(edf, EdfRecording) and isinstance(edf, Recording)
    arrays = MemoryRecording.from_arrays(np.zeros((1, 3000)), 100.0, ["C4"])
    assert isinstance(arrays, Recording) and open_recording(arrays) is arrays
    raw = mne.io.RawArray(np.full((1, 3000), 2e-5), mne.create_info(["C4"], 100.0, "eeg"), verbose="error")
    adapted = open_recording(raw)  # the mne Raw entry of the table
    assert isinstance(adapted, MemoryRecording) and isinstance(adapted, Recording)
    assert float(adapted.read_samples(adapted.signal("C4"), 0, 1)[0]) == pytest.approx(20.0)
    # what the pipeline reads agrees between the EDF reader and its MNE Raw
    from_mne = open_recording(mne.io.read_raw_edf(psg, preload=True, verbose="error"))
    signal = edf.signal(SLEEP_EDF_NAMES[0])
    np.testing.assert_allclose(from_mne.read_samples(from_mne.signal(SLEEP_EDF_NAMES[0]), 0, 100),
                               edf.read_samples(signal, 0, 100), atol=1e-6)
    assert not isinstance(object(), Recording) and not isinstance(psg, Recording)


def test_asking_whether_an_edf_is_a_recording_reads_nothing(write_edf, tmp_path):
    assert set(RECORDING_MEMBERS) == {name for name in vars(Recording) if not name.startswith("_")}
    edf = EdfRecording.open(write_night(write_edf, tmp_path / "n.edf", 1, annotations=[(0.0, 0.0, "Lights off")]))
    assert is_recording(edf) and open_recording(edf) is edf
    assert "annotations" not in vars(edf) and "_edfio" not in vars(edf)  # cached properties left unread


def test_the_table_chooses_readers_by_suffix(tmp_path):
    assert signal_suffixes() == (".edf", ".rec", ".bdf") and list(SIGNAL_FORMATS) == ["edf", "bdf", "mne_raw"]
    assert signal_format_of("x.EDF").name == "edf" and signal_format_of("x.rec").name == "edf"
    assert signal_format_of("x.bdf").name == "bdf" and signal_format_of("x.xml") is None
    with pytest.raises(DataError, match="file not found"):
        open_recording(tmp_path / "missing.edf")
    (tmp_path / "night.dat").write_bytes(b"0" * 30)  # no entry claims it: read as EDF, whose check says why not
    with pytest.raises(DataError, match="not an EDF"):
        open_recording(tmp_path / "night.dat")
    with pytest.raises(IsatSleepNetError, match="cannot read a recording from a dict"):
        open_recording({"data": []})


def test_clashing_or_bad_entries_are_refused():
    with pytest.raises(IsatSleepNetError, match=r"\.bdf is read by bdf"):
        register_signal_format(SignalFormat("bdf2", "BDF again", read_npz, (".BDF",)))
    with pytest.raises(IsatSleepNetError, match="already registered"):
        register_signal_format(SignalFormat("edf", "EDF again", read_npz, (".edf2",)))
    with pytest.raises(IsatSleepNetError, match="not both"):
        SignalFormat("both", "both", read_npz, (".x",), accepts=callable)
    with pytest.raises(IsatSleepNetError, match="no signal format 'npz'"):
        unregister_signal_format("npz")
    assert list(SIGNAL_FORMATS) == ["edf", "bdf", "mne_raw"]


def test_the_examples_of_the_table_modules_run():
    import isatsleepnet.data.readers.recording as recording

    for module in (formats, recording):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0 and result.attempted > 0


# ---------------------------------------------------------------------------- the worked example
def test_a_registered_signal_format_is_staged_through_the_command_line(npz_format, write_edf, model, tmp_path,
                                                                       capsys):
    (tmp_path / "edf").mkdir()
    psg = write_night(write_edf, tmp_path / "edf" / "n.edf", 4)
    edf = EdfRecording.open(psg)
    data = np.stack([edf.read_samples(s, 0, edf.n_samples(s)) for s in edf.signals])
    folder = tmp_path / "npz"
    folder.mkdir()
    night = _save_npz(folder / "n.npz", data)
    assert ".npz" in signal_suffixes() and isinstance(open_recording(night), Recording)
    common = ["--model", str(model), "--threads", "1", "--quiet", "--no-plots", "--no-report"]
    assert main(["stage", str(night), "--out", str(tmp_path / "a"), *common]) == 0
    assert main(["stage", str(psg), "--out", str(tmp_path / "b"), *common]) == 0
    from_npz = (tmp_path / "a" / "n.hypnogram.csv").read_text()
    assert from_npz == (tmp_path / "b" / "n.hypnogram.csv").read_text()  # the same µV: the same stages
    assert main(["stage", str(folder), "--out", str(tmp_path / "c"), *common]) == 0  # found in a folder
    assert (tmp_path / "c" / "n.hypnogram.csv").read_text() == from_npz
    (folder / "bad.npz").write_bytes(b"not an archive")
    assert main(["stage", str(folder / "bad.npz"), "--out", str(tmp_path / "d"), *common]) == 1
    err = capsys.readouterr().err
    assert "bad.npz: not a recording archive" in err and "Traceback" not in err
