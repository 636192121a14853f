"""The synthetic PSG must look like sleep: realistic hypnograms, real stage cues, real files."""

from __future__ import annotations


import defusedxml.ElementTree as DET
import edfio
import numpy as np
import pytest
from scipy.signal import butter, hilbert, sosfiltfilt, welch

from isatsleepnet.data.synthetic import SynthConfig, synthesize
from isatsleepnet.data.synthetic.hypnogram import MOVEMENT, deep_n3_mask, mark_movement, runs, simulate_hypnogram
from isatsleepnet.data.synthetic.signals import SubjectProfile, simulate_channels
from isatsleepnet.errors import IsatSleepNetError

W, N1, N2, N3, REM = range(5)
FS = 100
BLOCK = 12  # epochs per stage in the cue tests
SLEEP_EDF_STAGE = {"Sleep stage W": W, "Sleep stage 1": N1, "Sleep stage 2": N2, "Sleep stage 3": N3,
                   "Sleep stage 4": N3, "Sleep stage R": REM, "Movement time": MOVEMENT}
NSRR_STAGE = {0: W, 1: N1, 2: N2, 3: N3, 4: N3, 5: REM, 6: MOVEMENT}


# ---------------------------------------------------------------- hypnograms


def _night(seed: int) -> np.ndarray:
    return simulate_hypnogram(960, np.random.default_rng(seed))


@pytest.mark.parametrize("seed", range(8))
def test_hypnogram_has_the_architecture_of_a_night(seed):
    h = _night(seed)
    assert h.shape == (960,) and set(np.unique(h)) == {W, N1, N2, N3, REM}
    asleep = np.flatnonzero(h > W)
    onset, final = asleep[0], asleep[-1]
    assert 20 <= onset <= 60, "sleep-onset latency of 10-30 min"
    assert np.all(h[:onset] == W) and np.all(h[final + 1:] == W) and final < 950
    sleep = h[onset:final + 1]
    n1_fraction = np.mean(sleep[sleep > W] == N1)
    assert 0.03 <= n1_fraction <= 0.12
    middle = (onset + final) / 2
    assert np.mean(np.flatnonzero(h == N3) < middle) >= 0.75, "N3 concentrated early"
    assert np.mean(np.flatnonzero(h == REM) > middle) >= 0.55, "REM concentrated late"


def test_hypnogram_cycles_and_transitions():
    entries = {N3: [], N1: []}
    for seed in range(8):
        h = _night(seed)
        # REM episodes (REM runs less than 15 min apart) recur every ~90 min and lengthen.
        rem = [(start, length) for code, start, length in runs(h) if code == REM]
        episodes = [list(rem[0])]
        for start, length in rem[1:]:
            if start - (episodes[-1][0] + episodes[-1][1]) < 30:
                episodes[-1][1] = start + length - episodes[-1][0]
            else:
                episodes.append([start, length])
        assert 3 <= len(episodes) <= 6
        assert episodes[-1][1] + episodes[-2][1] > 2 * episodes[0][1]
        for a, b in zip(h[:-1], h[1:]):
            if a != b and b in entries:
                entries[b].append(a)
            if a == N1 and b != N1:
                entries.setdefault("after_n1", []).append(b)
    assert np.mean(np.array(entries[N3]) == N2) >= 0.8, "N3 is entered from N2"
    assert np.mean(np.array(entries[N1]) == W) >= 0.5, "N1 mostly follows wake (sleep onset, arousals)"
    assert np.mean(np.array(entries["after_n1"]) == N2) >= 0.6, "N1 mostly leads to N2"


def test_hypnogram_edge_cases_and_movement():
    rng = np.random.default_rng(0)
    assert np.all(simulate_hypnogram(5, rng) == W)
    short = simulate_hypnogram(120, rng)  # one hour: compressed cycles still reach REM
    assert short.size == 120 and REM in short and N3 in short
    with pytest.raises(ValueError):
        simulate_hypnogram(0, rng)
    h = _night(1)
    moved = mark_movement(h, np.random.default_rng(1), 3)
    changed = np.flatnonzero(moved != h)
    assert changed.size == 3 and np.all(moved[changed] == MOVEMENT) and np.all(h[changed] == W)
    asleep = np.flatnonzero(h > W)
    assert asleep[0] < changed.min() and changed.max() < asleep[-1]


def test_deep_n3_is_the_middle_of_long_runs():
    stages = np.array([2, 3, 3, 3, 3, 3, 3, 3, 3, 2, 3, 3, 2])
    assert deep_n3_mask(stages).tolist() == [False, False, False, True, True, True, True, False, False,
                                            False, False, False, False]


# ---------------------------------------------------------------- signal cues


def _cue_night(seed: int) -> tuple[np.ndarray, dict[str, np.ndarray], SubjectProfile]:
    rng = np.random.default_rng(seed)
    stages = np.repeat([W, N1, N2, N3, REM], BLOCK)
    profile = SubjectProfile.draw(rng)
    return stages, simulate_channels(stages, 30.0, {"eeg": FS, "eeg2": FS, "eog": FS}, profile, rng), profile


@pytest.fixture(scope="module", params=[0, 1])
def cue_night(request):
    return _cue_night(request.param)


def _epochs(x: np.ndarray) -> np.ndarray:
    return x.reshape(-1, 30 * FS)


def _band_power(x: np.ndarray, lo: float, hi: float, relative_to: tuple[float, float] | None = None) -> np.ndarray:
    f, p = welch(_epochs(x), fs=FS, nperseg=4 * FS, axis=-1)
    band = p[:, (f >= lo) & (f < hi)].sum(-1)
    if relative_to is None:
        return band * (f[1] - f[0])
    return band / p[:, (f >= relative_to[0]) & (f < relative_to[1])].sum(-1)


def _by_stage(values: np.ndarray, stages: np.ndarray) -> dict[int, float]:
    """Mean per stage over epochs away from block edges (those blend two stages by design)."""
    core = np.tile(np.r_[False, np.ones(BLOCK - 2, bool), False], 5)
    return {k: float(np.mean(values[(stages == k) & core])) for k in range(5)}


def test_signals_have_exact_lengths_per_rate():
    stages = np.array([W, N2, N3, REM])
    out = simulate_channels(stages, 30.0, {"eeg": 125, "eeg2": 125, "eog": 50, "eog2": 50},
                            SubjectProfile(), np.random.default_rng(0))
    assert {k: v.size for k, v in out.items()} == {"eeg": 15000, "eeg2": 15000, "eog": 6000, "eog2": 6000}
    assert all(np.all(np.isfinite(v)) for v in out.values())
    with pytest.raises(ValueError):
        simulate_channels(stages, 30.0, {"emg": 100}, SubjectProfile(), np.random.default_rng(0))


def test_amplitudes_are_physiological(cue_night):
    stages, sig, _ = cue_night
    rms = _by_stage(_epochs(sig["eeg"]).std(-1), stages)
    assert all(5 < v < 60 for k, v in rms.items() if k != N3), rms
    assert rms[N3] > rms[N2] > rms[REM]
    eog_range = _by_stage(np.ptp(_epochs(sig["eog"]), -1), stages)
    assert 100 < eog_range[REM] < 800 and eog_range[N2] < 100


def test_alpha_marks_wake_on_the_posterior_channel(cue_night):
    stages, sig, _ = cue_night
    alpha = _by_stage(_band_power(sig["eeg2"], 8.0, 12.5, (0.5, 30.0)), stages)
    assert alpha[W] > 3 * alpha[N2] and alpha[W] > 3 * alpha[N3]
    frontal = _by_stage(_band_power(sig["eeg"], 8.0, 12.5), stages)
    posterior = _by_stage(_band_power(sig["eeg2"], 8.0, 12.5), stages)
    assert posterior[W] > frontal[W]


def test_spindles_mark_n2(cue_night):
    stages, sig, _ = cue_night
    sigma = _by_stage(_band_power(sig["eeg"], 11.0, 16.0, (0.5, 30.0)), stages)
    assert sigma[N2] > 1.5 * sigma[N1] and sigma[N2] > 1.5 * sigma[REM]


def test_high_amplitude_delta_marks_n3(cue_night):
    stages, sig, _ = cue_night
    delta = _by_stage(_band_power(sig["eeg"], 0.5, 2.0), stages)
    assert delta[N3] == max(delta.values()) and delta[N3] > 3 * delta[N2]
    # Fraction of each epoch with >75 µV peak-to-peak slow waves (envelope > 37.5 µV).
    slow = sosfiltfilt(butter(3, [0.5, 2.0], "bandpass", fs=FS, output="sos"), sig["eeg"])
    fraction = _epochs(np.abs(hilbert(slow)) > 37.5).mean(-1)
    core_n3 = fraction[np.tile(np.r_[False, np.ones(BLOCK - 2, bool), False], 5) & (stages == N3)]
    assert np.median(core_n3) >= 0.25 and np.percentile(core_n3, 10) >= 0.15
    assert np.median(fraction[stages == N2]) < 0.2 and np.max(fraction[stages == W]) < 0.1


def test_eye_movements_mark_n1_rem_and_wake(cue_night):
    stages, sig, _ = cue_night
    rolling = _by_stage(_band_power(sig["eog"], 0.1, 0.5), stages)
    assert rolling[N1] > 3 * rolling[N2] and rolling[N1] > 3 * rolling[N3]
    eog = sosfiltfilt(butter(4, [0.3, 8.0], "bandpass", fs=FS, output="sos"), sig["eog"])
    fast = np.abs(np.diff(eog, append=eog[-1])) * FS > 800  # µV/s: saccades, REMs, blinks
    sharp = _by_stage(np.sum(np.diff(_epochs(fast).astype(int), axis=-1) == 1, axis=-1), stages)
    quiet = max(sharp[N2], sharp[N3], 0.5)
    assert sharp[W] > 3 * quiet and sharp[REM] > 3 * quiet


def test_right_eog_mirrors_eye_movements():
    stages = np.repeat([N3, REM], 10)
    out = simulate_channels(stages, 30.0, {"eeg": 125, "eeg2": 125, "eog": 50, "eog2": 50},
                            SubjectProfile(), np.random.default_rng(4))
    left, right = out["eog"].reshape(20, -1), out["eog2"].reshape(20, -1)
    corr = np.array([np.corrcoef(a, b)[0, 1] for a, b in zip(left, right)])
    assert np.mean(corr[13:]) < -0.3, "eye movements are opposite on the two EOG leads"
    assert np.mean(corr[:7]) > 0.3, "EEG picked up by both leads is in phase"


def test_subjects_differ():
    profiles = [SubjectProfile.draw(np.random.default_rng(s)) for s in range(40)]
    freqs = np.array([p.alpha_freq for p in profiles])
    assert freqs.min() >= 8.5 and freqs.max() <= 11.5 and freqs.std() > 0.5
    assert len({p.amplitude for p in profiles}) == 40
    night = profiles[0].for_night(np.random.default_rng(1))
    assert abs(night.alpha_freq - profiles[0].alpha_freq) < 0.7 and night.alpha_freq != profiles[0].alpha_freq

    stages = np.full(20, W)
    peaks, rms = [], []
    for profile in (SubjectProfile(alpha_freq=9.0, amplitude=0.85), SubjectProfile(alpha_freq=11.0, amplitude=1.2)):
        eeg2 = simulate_channels(stages, 30.0, {"eeg2": FS}, profile, np.random.default_rng(2))["eeg2"]
        f, p = welch(eeg2, fs=FS, nperseg=8 * FS)
        band = (f >= 7) & (f <= 13)
        peaks.append(f[band][np.argmax(p[band])])
        rms.append(eeg2.std())
    assert abs(peaks[0] - 9.0) < 0.4 and abs(peaks[1] - 11.0) < 0.4
    assert rms[1] > 1.2 * rms[0]


# ---------------------------------------------------------------- files


def _edf_stages(annotations, n_epochs: int) -> tuple[np.ndarray, list]:
    stage_ann = [a for a in annotations if a.text != "Sleep stage ?"]
    codes = np.concatenate([np.full(int(a.duration // 30), SLEEP_EDF_STAGE[a.text]) for a in stage_ann])
    return codes[:n_epochs], stage_ann


def test_sleep_edf_files_read_back(tmp_path):
    recs = synthesize(tmp_path, SynthConfig(subjects=2, nights=2, hours=1.5, seed=5), progress=False)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["SC4001E0-PSG.edf", "SC4001EC-Hypnogram.edf", "SC4002E0-PSG.edf", "SC4002EC-Hypnogram.edf",
                     "SC4011E0-PSG.edf", "SC4011EH-Hypnogram.edf", "SC4012E0-PSG.edf", "SC4012EH-Hypnogram.edf"]
    assert [(r.subject, r.night) for r in recs] == [(0, 1), (0, 2), (1, 1), (1, 2)]
    for rec in recs:
        psg = edfio.read_edf(rec.psg)
        assert psg.labels == ("EEG Fpz-Cz", "EEG Pz-Oz", "EOG horizontal", "Resp oro-nasal", "EMG submental",
                              "Temp rectal", "Event marker")
        assert [s.sampling_frequency for s in psg.signals] == [100, 100, 100, 1, 1, 1, 1]
        assert [s.physical_dimension for s in psg.signals] == ["uV", "uV", "uV", "", "uV", "DegC", ""]
        assert psg.data_record_duration == 30 and psg.duration == 1.5 * 3600
        eeg = psg.signals[0].data
        assert eeg.size == 540_000 and 5 < eeg.std() < 60 and np.abs(eeg).max() <= 200.5
        hyp = edfio.read_edf(rec.hypnogram)
        assert hyp.num_signals == 0 and hyp.startdatetime == psg.startdatetime
        texts = {a.text for a in hyp.annotations}
        assert texts <= set(SLEEP_EDF_STAGE) | {"Sleep stage ?"} and "Movement time" in texts
        codes, stage_ann = _edf_stages(hyp.annotations, rec.stages.size)
        np.testing.assert_array_equal(codes, rec.stages)
        assert stage_ann[0].onset == 0 and all(
            b.onset == a.onset + a.duration for a, b in zip(stage_ann[:-1], stage_ann[1:]))
        last = hyp.annotations[-1]
        assert last.text == "Sleep stage ?" and last.onset == psg.duration and last.duration >= 3600
    assert len({edfio.read_edf(r.psg).startdatetime for r in recs}) == 4


def test_shhs_files_read_back(tmp_path):
    (rec,) = synthesize(tmp_path, SynthConfig(layout="shhs", subjects=1, hours=2.0, seed=3, profusion=True),
                        progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "shhs1-200001-nsrr.xml", "shhs1-200001-profusion.xml", "shhs1-200001.edf"]
    edf = edfio.read_edf(rec.psg)
    assert edf.labels == ("SaO2", "H.R.", "EEG(sec)", "ECG", "EMG", "EOG(L)", "EOG(R)", "EEG")
    assert [s.sampling_frequency for s in edf.signals] == [1, 1, 125, 125, 125, 50, 50, 125]
    assert [s.physical_dimension for s in edf.signals] == ["%", "bpm", "uV", "mV", "uV", "uV", "uV", "uV"]
    assert edf.data_record_duration == 1 and edf.duration == 7200 and edf.starttime.isoformat() == "22:30:00"

    root = DET.parse(rec.hypnogram).getroot()
    assert root.tag == "PSGAnnotation" and root.findtext("EpochLength") == "30"
    events = root.find("ScoredEvents").findall("ScoredEvent")
    assert events[0].findtext("EventConcept") == "Recording Start Time"
    assert float(events[0].findtext("Duration")) == 7200 and events[0].findtext("ClockTime") == "00.00.00 22.30.00"
    stage_events = [e for e in events if e.findtext("EventType") == "Stages|Stages"]
    others = {e.findtext("EventType") for e in events[1:]} - {"Stages|Stages"}
    assert others == {"Arousals|Arousals", "Respiratory|Respiratory"}
    assert all(e.find("SpO2Nadir") is not None for e in events if e.findtext("EventType") == "Respiratory|Respiratory")
    codes = np.concatenate([
        np.full(int(float(e.findtext("Duration")) // 30), NSRR_STAGE[int(e.findtext("EventConcept").split("|")[1])])
        for e in stage_events])
    np.testing.assert_array_equal(codes, rec.stages)
    starts = [float(e.findtext("Start")) for e in stage_events]
    assert starts[0] == 0 and starts == sorted(starts)

    profusion = DET.parse(rec.profusion).getroot()
    assert profusion.tag == "CMPStudyConfig" and profusion.findtext("EpochLength") == "30"
    rk = [int(s.text) for s in profusion.find("SleepStages").findall("SleepStage")]
    np.testing.assert_array_equal([NSRR_STAGE[c] for c in rk], rec.stages)

    # The SaO2 channel dips at the scored desaturations.
    sao2 = edf.signals[0].data
    for e in events:
        if e.findtext("EventType") == "Respiratory|Respiratory":
            start, duration = float(e.findtext("Start")), float(e.findtext("Duration"))
            assert sao2[int(start):int(start + duration) + 10].min() <= float(e.findtext("SpO2Nadir")) + 1.5


def test_same_seed_same_files_other_seed_other_files(tmp_path):
    for layout in ("sleep-edf", "shhs"):
        dirs = [tmp_path / f"{layout}-{i}" for i in range(3)]
        for d, seed in zip(dirs, (7, 7, 8)):
            synthesize(d, SynthConfig(layout=layout, subjects=1, hours=1.0, seed=seed), progress=False)
        for path in sorted(dirs[0].iterdir()):
            assert path.read_bytes() == (dirs[1] / path.name).read_bytes()
        psg = next(p for p in sorted(dirs[0].iterdir()) if p.suffix == ".edf" and "Hypnogram" not in p.name)
        assert psg.read_bytes() != (dirs[2] / psg.name).read_bytes()


def test_a_subject_does_not_depend_on_cohort_size(tmp_path):
    small = synthesize(tmp_path / "a", SynthConfig(subjects=1, hours=1.0, seed=2), progress=False)
    large = synthesize(tmp_path / "b", SynthConfig(subjects=2, hours=1.0, seed=2), progress=False)
    assert small[0].psg.read_bytes() == large[0].psg.read_bytes()
    assert not np.array_equal(large[0].stages, large[1].stages)


@pytest.mark.parametrize("values, setting", [
    ({"subjects": 0}, "subjects"),
    ({"subjects": 101}, "subjects"),
    ({"hours": 0.001}, "hours"),
    ({"hours": 49.0}, "hours"),
    ({"nights": 3}, "nights"),
    ({"layout": "mass"}, "layout"),
    ({"profusion": True}, "profusion"),
    ({"seed": -1}, "seed"),
])
def test_bad_configs_are_user_errors(values, setting):
    """Refused as the configuration is made, before synthesize could write a file."""
    with pytest.raises(IsatSleepNetError) as info:
        SynthConfig(**values)
    assert info.value.settings == (setting,) and str(info.value).startswith(f"{setting}= ")


def test_one_epoch_is_enough(tmp_path):
    (rec,) = synthesize(tmp_path, SynthConfig(subjects=1, hours=30 / 3600), progress=False)
    assert rec.stages.tolist() == [W]
    assert edfio.read_edf(rec.psg).duration == 30
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
