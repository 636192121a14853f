import numpy as np
import pytest

from isatsleepnet.data.hashing import sha1_of
from isatsleepnet.data.prepare import prepare_dataset, summary_table
from isatsleepnet.data.prepare_config import PrepareConfig
from isatsleepnet.data.store import PreparedDataset
from isatsleepnet.errors import IsatSleepNetError
from tests.conftest import rk_night

SC4001_PSG_SHA1 = "adabd3b01fc7bb75c523a974f38ee3ae4e57b40f"


def test_real_sc4001_trimmed_counts(sleep_edf_dir, tmp_path):
    results = prepare_dataset(sleep_edf_dir, tmp_path, PrepareConfig(dataset="sleep-edf-20"), progress=False)
    assert [(r.recording, r.status) for r in results] == [("SC4001E0", "prepared")]
    rec = PreparedDataset(tmp_path)["SC4001E0"]
    assert rec.meta["stage_counts"] == {"W": 188, "N1": 58, "N2": 250, "N3": 220, "REM": 125}
    assert rec.epochs.shape == (841, 3, 3000) and rec.epochs.dtype == np.float32
    assert rec.channels == ["EEG Fpz-Cz", "EEG Pz-Oz", "EOG horizontal"]
    assert rec.subject == "SC400" and rec.night == 1
    assert rec.meta["source_sha1"] == SC4001_PSG_SHA1
    # µV, not V: EEG of a sleeping adult has a standard deviation of tens of µV.
    assert 5 < float(np.std(rec.epochs[:, 0])) < 100


def test_real_sc4001_untrimmed_drops_unscored_tail(sleep_edf_dir, tmp_path):
    prepare_dataset(sleep_edf_dir, tmp_path, PrepareConfig(dataset="sleep-edf-20", trim=False), progress=False)
    rec = PreparedDataset(tmp_path)["SC4001E0"]
    assert rec.meta["stage_counts"] == {"W": 1997, "N1": 58, "N2": 250, "N3": 220, "REM": 125}
    assert rec.n_epochs == 2650  # the 230 '?' epochs lie past the PSG's end and are dropped


def test_real_sc4001_matches_mne(sleep_edf_dir, tmp_path):
    mne = pytest.importorskip("mne")
    prepare_dataset(sleep_edf_dir, tmp_path, PrepareConfig(dataset="sleep-edf-20"), progress=False)
    rec = PreparedDataset(tmp_path)["SC4001E0"]
    raw = mne.io.read_raw_edf(sleep_edf_dir / "SC4001E0-PSG.edf", verbose="error")
    k = 400
    start = int(rec.onsets[k] * 100)
    ref = raw.get_data(picks=rec.channels, start=start, stop=start + 3000) * 1e6
    np.testing.assert_allclose(rec.epochs[k], ref, atol=1e-3)


def test_sleep_edf_subject_sets(tmp_path, sleep_edf_night):
    raw = tmp_path / "raw"
    for code in ("SC4001", "SC4002", "SC4191", "SC4201", "ST7011", "ST7022"):
        sleep_edf_night(raw, code, rk_night(5, 5))
    # Sleep Telemetry's own names: ST7011J0-PSG.edf with ST7011JP-Hypnogram.edf
    (raw / "ST7022E0-PSG.edf").rename(raw / "ST7022J0-PSG.edf")
    (raw / "ST7022EC-Hypnogram.edf").rename(raw / "ST7022JP-Hypnogram.edf")
    names = lambda ds: sorted(r.recording for r in prepare_dataset(raw, tmp_path / ds, PrepareConfig(dataset=ds), progress=False))
    assert names("sleep-edf-20") == ["SC4001E0", "SC4002E0", "SC4191E0"]
    assert names("sleep-edf-78") == ["SC4001E0", "SC4002E0", "SC4191E0", "SC4201E0"]
    assert names("sleep-edf-st") == ["ST7011E0", "ST7022J0"]
    assert names("sleep-edf") == ["SC4001E0", "SC4002E0", "SC4191E0", "SC4201E0", "ST7011E0", "ST7022J0"]
    ds = PreparedDataset(tmp_path / "sleep-edf")
    assert ds["SC4002E0"].subject == ds["SC4001E0"].subject == "SC400"
    assert ds["SC4002E0"].night == 2 and ds["ST7011E0"].subject == "ST701"
    st = PreparedDataset(tmp_path / "sleep-edf-st")
    assert (st["ST7022J0"].subject, st["ST7022J0"].night, st["ST7022J0"].meta["trimmed"]) == ("ST702", 2, True)
    assert st["ST7022J0"].meta["hypnogram"] == "ST7022JP-Hypnogram.edf"


def test_a_dataset_without_its_files_says_which_names_it_looked_for(tmp_path, sleep_edf_night):
    sleep_edf_night(tmp_path / "raw", "SC4001", rk_night(3, 3))
    with pytest.raises(IsatSleepNetError, match=r"no Sleep-EDF PSG files \(ST7ssNJ0-PSG.edf\) found"):
        prepare_dataset(tmp_path / "raw", tmp_path / "out", PrepareConfig(dataset="sleep-edf-st"), progress=False)


def test_trimming_is_configurable(tmp_path, sleep_edf_night):
    sleep_edf_night(tmp_path / "raw", "SC4001", rk_night(100, 100))
    n = lambda **kw: PreparedDataset(tmp_path / str(kw))["SC4001E0"].n_epochs if prepare_dataset(
        tmp_path / "raw", tmp_path / str(kw), PrepareConfig(**kw), progress=False) else None
    assert n(trim=True) == 13 + 120  # 14 sleep epochs, 1 movement dropped, 60 + 60 wake
    assert n(trim=True, trim_minutes=10) == 13 + 40
    assert n(trim=False) == 200 + 13


def test_shhs_layout_resampled_to_one_rate(tmp_path, write_edf):
    raw = tmp_path / "shhs" / "edfs"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(1)
    minutes = 20
    t125 = np.arange(minutes * 60 * 125) / 125
    write_edf(raw / "shhs1-200077.edf", [
        ("EEG 2", 20 * np.sin(2 * np.pi * 2 * t125), 125.0, "uV"),
        ("ECG", rng.normal(0, 0.5, len(t125)), 125.0, "mV"),
        ("EOG(L)", rng.normal(0, 30, minutes * 60 * 50), 50.0, "uV"),
        ("EEG", 40 * np.sin(2 * np.pi * 10 * t125), 125.0, "uV"),
    ], record_seconds=1.0)
    xml_dir = tmp_path / "shhs" / "annotations-events-nsrr"
    xml_dir.mkdir()
    events = "".join(
        f"<ScoredEvent><EventType>Stages|Stages</EventType><EventConcept>{c}</EventConcept>"
        f"<Start>{s}</Start><Duration>{d}</Duration></ScoredEvent>"
        for c, s, d in [("Wake|0", 0, 300), ("Stage 2 sleep|2", 300, 600), ("REM sleep|5", 900, 300)]
    )
    (xml_dir / "shhs1-200077-nsrr.xml").write_text(f"<PSGAnnotation><ScoredEvents>{events}</ScoredEvents></PSGAnnotation>")
    results = prepare_dataset(tmp_path / "shhs", tmp_path / "out", PrepareConfig(dataset="shhs"), progress=False)
    assert results[0].status == "prepared", results[0].error
    rec = PreparedDataset(tmp_path / "out")["shhs1-200077"]
    assert rec.channels == ["EEG", "EEG 2", "EOG(L)"] and rec.subject == "200077" and rec.night == 1
    assert rec.epochs.shape == (40, 3, 3000) and rec.sampling_rate == 100.0
    assert rec.meta["stage_counts"] == {"W": 10, "N1": 0, "N2": 20, "N3": 0, "REM": 10}
    spectrum = np.abs(np.fft.rfft(rec.epochs[20, 0]))
    assert np.argmax(spectrum) == 300  # 10 Hz in a 30-s epoch survives 125 → 100 Hz


def test_generic_edf_with_csv_hypnogram_and_chosen_channels(tmp_path, write_edf):
    rng = np.random.default_rng(2)
    write_edf(tmp_path / "raw" / "night01.edf", [
        ("C4-M1", rng.normal(0, 20, 256 * 300), 256.0, "uV"),
        ("E1-M2", rng.normal(0, 0.05, 256 * 300), 256.0, "mV"),
    ]) if (tmp_path / "raw").mkdir() is None else None
    (tmp_path / "raw" / "night01.csv").write_text("stage\n" + "\n".join(["W", "N1", "N2", "N2", "N3", "N3", "REM", "W", "W", "W"]) + "\n")
    config = PrepareConfig(dataset="edf", eeg=["C4-M1"], eog=["E1-M2"], trim=False)
    results = prepare_dataset(tmp_path / "raw", tmp_path / "out", config, progress=False)
    assert results[0].status == "prepared", results[0].error
    rec = PreparedDataset(tmp_path / "out")["night01"]
    assert rec.epochs.shape == (10, 2, 3000) and rec.meta["roles"] == ["eeg", "eog"]
    assert 30 < np.std(rec.epochs[:, 1]) < 70  # 0.05 mV became ~50 µV


def test_generic_edf_needs_an_eeg_channel():
    with pytest.raises(IsatSleepNetError, match="eeg= must name at least one channel \\(its label\\): dataset 'edf' has no fixed channel labels"):
        PrepareConfig(dataset="edf")


def test_bandpass_filter_from_config(tmp_path, sleep_edf_night):
    sleep_edf_night(tmp_path / "raw", "SC4001", rk_night(3, 3))
    prepare_dataset(tmp_path / "raw", tmp_path / "f", PrepareConfig(dataset="sleep-edf", bandpass=(0.3, 5.0)), progress=False)
    prepare_dataset(tmp_path / "raw", tmp_path / "n", PrepareConfig(dataset="sleep-edf"), progress=False)
    filtered, plain = PreparedDataset(tmp_path / "f")["SC4001E0"].epochs, PreparedDataset(tmp_path / "n")["SC4001E0"].epochs
    assert np.std(filtered) < 0.5 * np.std(plain)  # white noise loses most of its 0-50 Hz band


def test_bad_inputs_fail_alone_with_one_line_each(tmp_path, sleep_edf_night, write_edf):
    raw = tmp_path / "raw"
    sleep_edf_night(raw, "SC4001", rk_night(5, 5))                       # good
    psg, _ = sleep_edf_night(raw, "SC4011", rk_night(5, 5))              # truncated
    psg.write_bytes(psg.read_bytes()[:-5000])
    psg, _ = sleep_edf_night(raw, "SC4021", rk_night(5, 5))              # missing channel
    write_edf(psg, [("EEG Fpz-Cz", np.zeros(3000 * 30), 100.0, "uV")])
    _, hyp = sleep_edf_night(raw, "SC4031", rk_night(5, 5))              # hypnogram of a longer night
    sleep_edf_night(tmp_path / "other", "SC4031", rk_night(50, 50))
    hyp.write_bytes((tmp_path / "other" / hyp.name).read_bytes())
    sleep_edf_night(raw, "SC4041", rk_night(5, 5)[:-1] + ["Sleep stage 5"])  # unknown label
    psg, _ = sleep_edf_night(raw, "SC4051", rk_night(5, 5))              # empty file
    psg.write_bytes(b"")
    (raw / "SC4061E0-PSG.edf").write_bytes(psg.read_bytes())             # no hypnogram

    out = tmp_path / "out"
    results = {r.recording: r for r in prepare_dataset(raw, out, PrepareConfig(dataset="sleep-edf"), progress=False)}
    assert results.pop("SC4001E0").status == "prepared"
    errors = {name: r.error for name, r in results.items()}
    assert all(r.status == "failed" for r in results.values())
    assert errors["SC4011E0"].startswith("SC4011E0-PSG.edf: truncated")
    assert errors["SC4021E0"].startswith("SC4021E0-PSG.edf: missing eeg2 channel 'EEG Pz-Oz' and eog channel 'EOG horizontal'; channels present: 'EEG Fpz-Cz'")
    assert errors["SC4031E0"].startswith("SC4031EC-Hypnogram.edf: hypnogram overruns the PSG")
    assert errors["SC4041E0"] == "SC4041EC-Hypnogram.edf: unknown stage label 'Sleep stage 5' at 690 s"
    assert errors["SC4051E0"] == "SC4051E0-PSG.edf: empty file"
    assert errors["SC4061E0"].startswith("SC4061E0-PSG.edf: no hypnogram named SC4061??-Hypnogram.edf")
    assert all("\n" not in e for e in errors.values())
    # nothing half-written: only the good recording has a store, no temporaries are left
    assert sorted(p.name for p in (out / "recordings").iterdir()) == ["SC4001E0"]
    assert "6 failed" in summary_table(list(results.values()))


def test_resume_skips_prepared_and_clears_debris(tmp_path, sleep_edf_night):
    for code in ("SC4001", "SC4011", "SC4021"):
        sleep_edf_night(tmp_path / "raw", code, rk_night(3, 3))
    out = tmp_path / "out"
    config = PrepareConfig(dataset="sleep-edf")
    assert {r.status for r in prepare_dataset(tmp_path / "raw", out, config, progress=False)} == {"prepared"}
    stamp = (out / "recordings" / "SC4001E0" / "epochs.npy").stat().st_mtime_ns
    # a killed run leaves a temporary folder and misses a recording
    import shutil
    shutil.rmtree(out / "recordings" / "SC4011E0")
    (out / "recordings" / ".tmp-SC4011E0.abc").mkdir()
    statuses = {r.recording: r.status for r in prepare_dataset(tmp_path / "raw", out, config, progress=False)}
    assert statuses == {"SC4001E0": "skipped", "SC4011E0": "prepared", "SC4021E0": "skipped"}
    assert (out / "recordings" / "SC4001E0" / "epochs.npy").stat().st_mtime_ns == stamp
    assert sorted(p.name for p in (out / "recordings").iterdir()) == ["SC4001E0", "SC4011E0", "SC4021E0"]
    assert len(PreparedDataset(out).manifest) == 3
    statuses = {r.status for r in prepare_dataset(tmp_path / "raw", out, config, overwrite=True, progress=False)}
    assert statuses == {"prepared"}


def test_resume_refuses_other_settings(tmp_path, sleep_edf_night):
    sleep_edf_night(tmp_path / "raw", "SC4001", rk_night(3, 3))
    prepare_dataset(tmp_path / "raw", tmp_path / "out", PrepareConfig(dataset="sleep-edf"), progress=False)
    with pytest.raises(IsatSleepNetError, match="prepared with other settings"):
        prepare_dataset(tmp_path / "raw", tmp_path / "out", PrepareConfig(dataset="sleep-edf", sampling_rate=50), progress=False)


def test_parallel_jobs_give_the_same_result(tmp_path, sleep_edf_night):
    for i, code in enumerate(("SC4001", "SC4011", "SC4021")):
        sleep_edf_night(tmp_path / "raw", code, rk_night(3, 3), seed=i)
    config = PrepareConfig(dataset="sleep-edf")
    prepare_dataset(tmp_path / "raw", tmp_path / "one", config, jobs=1, progress=False)
    prepare_dataset(tmp_path / "raw", tmp_path / "two", config, jobs=2, progress=False)
    for name in ("SC4001E0", "SC4011E0", "SC4021E0"):
        a, b = PreparedDataset(tmp_path / "one")[name], PreparedDataset(tmp_path / "two")[name]
        np.testing.assert_array_equal(a.epochs, b.epochs)
        np.testing.assert_array_equal(a.labels, b.labels)
    assert sha1_of(tmp_path / "one" / "manifest.csv") == sha1_of(tmp_path / "two" / "manifest.csv")


def test_a_discontinuous_edf_plus_d_is_refused_by_prepare(tmp_path, sleep_edf_night):
    psg, _ = sleep_edf_night(tmp_path / "raw", "SC4001", rk_night(3, 3))
    data = bytearray(psg.read_bytes())
    data[192:197] = b"EDF+D"
    psg.write_bytes(bytes(data))
    (result,) = prepare_dataset(tmp_path / "raw", tmp_path / "out", PrepareConfig(dataset="sleep-edf"), progress=False)
    assert result.status == "failed"
    assert result.error.startswith("SC4001E0-PSG.edf: discontinuous EDF+D: prepare needs a continuous recording")


def test_stage_codes_leave_earlier_fingerprints_alone_and_are_validated():
    # fingerprints of datasets prepared before stage_codes existed (values from that version)
    assert PrepareConfig().fingerprint() == "724adf7f3691"
    assert PrepareConfig(dataset="edf", eeg=["C4-M1"]).fingerprint() == "a9abe482f551"
    chosen = {c: PrepareConfig(stage_codes=c).fingerprint() for c in ("aasm", "rk")}
    assert len({*chosen.values(), PrepareConfig().fingerprint()}) == 3  # a choice changes the stored labels
    assert PrepareConfig(stage_codes="rk").stage_codes == "rk"
    with pytest.raises(IsatSleepNetError, match=r"stage_codes= must be one of aasm, rk \(got 'AASM'\)"):
        PrepareConfig(stage_codes="AASM")


def test_trim_that_is_not_true_false_or_none_is_refused():
    """Before: `isn.prepare(..., trim="no")` trimmed ("no" is true) and recorded "no"."""
    from isatsleepnet.errors import SettingError

    with pytest.raises(SettingError, match="trim= must be True, False or None .*, not 'no'"):
        PrepareConfig(dataset="sleep-edf", trim="no")
    assert PrepareConfig(dataset="sleep-edf", trim=None).trims == PrepareConfig(dataset="sleep-edf").trims
