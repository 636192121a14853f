"""Write simulated nights in the on-disk layouts of Sleep-EDF and SHHS (NSRR).

The files mimic the real ones closely (names, channel labels, sampling rates, record
durations, annotation vocabularies and quirks such as the ``Sleep stage ?`` tail that
overruns the PSG), so that ``prepare`` is exercised exactly as on downloaded data.
Every file is written under a temporary name and renamed, so an interrupted run never
leaves a truncated file that looks valid. Every EDF header carries
:data:`~isatsleepnet.data.synthetic.marker.SYNTHETIC_TOKEN` (patient "additional" and
recording "equipment" fields) and every XML a comment with it, so that `prepare`, and
the models trained on the result, know the data are not recordings of people.
"""

from __future__ import annotations

import datetime as dt
import os
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import edfio
import numpy as np

from isatsleepnet.data.synthetic.hypnogram import EPOCH_SECONDS, MOVEMENT, N1, N2, N3, REM, W, deep_n3_mask, runs
from isatsleepnet.data.synthetic.marker import SYNTHETIC_TOKEN
from isatsleepnet.data.synthetic.other_channels import chin_emg, ecg, heart_rate, respiration, spo2, temperature
from isatsleepnet.data.synthetic.signals import SubjectProfile, simulate_channels

SLEEP_EDF_RATES = {"eeg": 100.0, "eeg2": 100.0, "eog": 100.0}
SHHS_RATES = {"eeg": 125.0, "eeg2": 125.0, "eog": 50.0, "eog2": 50.0}
HYPNOGRAM_LETTERS = "CHJV"
"""Second letter of Sleep-EDF hypnogram names (SC4001EC-Hypnogram.edf), cycled per subject."""
SHHS_START = dt.time(22, 30, 0)

_SLEEP_EDF_TEXT = {W: "Sleep stage W", N1: "Sleep stage 1", N2: "Sleep stage 2", N3: "Sleep stage 3",
                   REM: "Sleep stage R", MOVEMENT: "Movement time"}
_NSRR_CONCEPT = {0: "Wake|0", 1: "Stage 1 sleep|1", 2: "Stage 2 sleep|2", 3: "Stage 3 sleep|3",
                 4: "Stage 4 sleep|4", 5: "REM sleep|5", 6: "Movement|6"}


def _atomic(path: Path, write: Callable[[Path], None]) -> None:
    """Write via a temporary sibling and rename, so readers never see a partial file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _signal(data: np.ndarray, fs: float, label: str, dimension: str, lo: float, hi: float,
            transducer: str = "", prefiltering: str = "") -> edfio.EdfSignal:
    """An EDF signal clipped into its physical range, as a saturating amplifier would."""
    return edfio.EdfSignal(np.clip(data, lo, hi), fs, label=label, transducer_type=transducer,
                           physical_dimension=dimension, physical_range=(lo, hi), prefiltering=prefiltering)


def rk_codes(stages: np.ndarray) -> np.ndarray:
    """R&K codes as in SHHS files: 0 W, 1-4 NREM (4 = deep N3), 5 REM, 6 movement."""
    rk = np.where(stages == REM, 5, stages).astype(int)
    rk[deep_n3_mask(stages)] = 4
    rk[stages == MOVEMENT] = 6
    return rk


# ---------------------------------------------------------------- Sleep-EDF


def sleep_edf_names(subject: int, night: int) -> tuple[str, str]:
    """PSG and hypnogram file names; the hypnogram letter differs, as in the real dataset."""
    code = f"SC4{subject:02d}{night}"
    return f"{code}E0-PSG.edf", f"{code}E{HYPNOGRAM_LETTERS[subject % len(HYPNOGRAM_LETTERS)]}-Hypnogram.edf"


def write_sleep_edf(out_dir: Path, subject: int, night: int, stages: np.ndarray, profile: SubjectProfile,
                    rng: np.random.Generator) -> tuple[Path, Path]:
    """Write one Sleep-EDF cassette night: a 30-s-record PSG and an annotation-only hypnogram."""
    psg_name, hyp_name = sleep_edf_names(subject, night)
    seconds = stages.size * EPOCH_SECONDS
    start = dt.datetime(1989, 3, 1, 22, 0) + dt.timedelta(days=17 * subject + night - 1,
                                                          minutes=int(rng.integers(0, 120)))
    patient = edfio.Patient(code=psg_name[:6], sex="F" if subject % 2 else "M", additional=[SYNTHETIC_TOKEN])
    recording = edfio.Recording(startdate=start.date(), equipment_code=SYNTHETIC_TOKEN)
    sig = simulate_channels(stages, EPOCH_SECONDS, SLEEP_EDF_RATES, profile, rng)
    filt = "HP:0.5Hz LP:100Hz [enhanced cassette BW]"
    signals = [
        _signal(sig["eeg"], 100, "EEG Fpz-Cz", "uV", -200, 200, "Ag-AgCl electrodes", filt),
        _signal(sig["eeg2"], 100, "EEG Pz-Oz", "uV", -200, 200, "Ag-AgCl electrodes", filt),
        _signal(sig["eog"], 100, "EOG horizontal", "uV", -1000, 1000, "Ag-AgCl electrodes", filt),
        _signal(respiration(seconds, 1, rng), 1, "Resp oro-nasal", "", -2048, 2047, "Oral-nasal thermocouple"),
        _signal(chin_emg(stages, EPOCH_SECONDS, 1, rng), 1, "EMG submental", "uV", -5, 500, "Ag-AgCl electrodes",
                "HP:16Hz Rectification LP:0.7Hz"),
        _signal(temperature(seconds, 1, rng), 1, "Temp rectal", "DegC", 34, 40, "Rectal thermistor"),
        _signal(np.zeros(int(seconds)), 1, "Event marker", "", -2048, 2047, "Marker button"),
    ]
    psg = out_dir / psg_name
    edf = edfio.Edf(signals, patient=patient, recording=recording, starttime=start.time(),
                    data_record_duration=EPOCH_SECONDS)
    _atomic(psg, edf.write)

    texts = np.array([_SLEEP_EDF_TEXT[int(s)] for s in stages], dtype=object)
    texts[deep_n3_mask(stages)] = "Sleep stage 4"
    codes = np.unique(texts, return_inverse=True)[1]
    annotations = [edfio.EdfAnnotation(first * EPOCH_SECONDS, length * EPOCH_SECONDS, texts[first])
                   for _, first, length in runs(codes)]
    # Real hypnograms end with an unscored stretch that starts at the PSG end and overruns it.
    tail = EPOCH_SECONDS * int(rng.integers(120, 241))
    annotations.append(edfio.EdfAnnotation(seconds, tail, "Sleep stage ?"))
    hyp = out_dir / hyp_name
    hyp_edf = edfio.Edf([], patient=patient, recording=recording, starttime=start.time(), annotations=annotations)
    _atomic(hyp, hyp_edf.write)
    return psg, hyp


# ---------------------------------------------------------------- SHHS / NSRR


def shhs_names(subject: int, night: int) -> tuple[str, str, str]:
    """EDF, NSRR XML and Profusion XML names (night 1 = shhs1 visit, 2 = shhs2)."""
    stem = f"shhs{night}-{200001 + subject:06d}"
    return f"{stem}.edf", f"{stem}-nsrr.xml", f"{stem}-profusion.xml"


Arousal = tuple[float, float]
"""(start s, duration s)"""
Desaturation = tuple[float, float, float]
"""(start s, duration s, SpO2 nadir %)"""


def _events(stages: np.ndarray, rng: np.random.Generator) -> tuple[list[Arousal], list[Desaturation]]:
    """Non-stage events, so that XML parsers must filter stages by EventType.

    Arousals precede each brief awakening, plus a few that do not change the stage;
    desaturations are scattered over sleep at ~5 per hour.
    """
    arousals = [(max(0.0, first * EPOCH_SECONDS - rng.uniform(3, 10)), float(rng.uniform(3, 15)))
                for code, first, length in runs(stages) if code == W and 0 < first and length <= 3]
    asleep = np.flatnonzero(stages > W)
    hours = asleep.size * EPOCH_SECONDS / 3600.0

    def sleep_epochs(per_hour: float) -> np.ndarray:
        return np.sort(rng.choice(asleep, size=min(asleep.size, rng.poisson(per_hour * hours)), replace=False))

    arousals += [(e * EPOCH_SECONDS + rng.uniform(0, 25), float(rng.uniform(3, 12))) for e in sleep_epochs(4)]
    desats = [(e * EPOCH_SECONDS + rng.uniform(0, 20), float(rng.uniform(10, 45)), round(float(rng.uniform(84, 93)), 1))
              for e in sleep_epochs(5)]
    return sorted(arousals), desats


def _xml_bytes(root: ET.Element) -> bytes:
    root.insert(0, ET.Comment(f" {SYNTHETIC_TOKEN}: simulated by isatsleepnet synth, not a recording of a person "))
    ET.indent(root)
    return b'<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n' + ET.tostring(root, encoding="utf-8") + b"\n"


def _sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    el = ET.SubElement(parent, tag)
    el.text = text
    return el


def nsrr_xml(stages: np.ndarray, arousals: list[Arousal], desats: list[Desaturation], baseline: float) -> bytes:
    """NSRR annotation XML: stage runs interleaved with arousal and desaturation events."""
    root = ET.Element("PSGAnnotation")
    _sub(root, "SoftwareVersion", "Compumedics")
    _sub(root, "EpochLength", "30")
    events = _sub(root, "ScoredEvents")
    first = _sub(events, "ScoredEvent")
    _sub(first, "EventType")
    _sub(first, "EventConcept", "Recording Start Time")
    _sub(first, "Start", "0")
    _sub(first, "Duration", f"{stages.size * EPOCH_SECONDS:.1f}")
    _sub(first, "ClockTime", f"00.00.00 {SHHS_START:%H.%M.%S}")
    rows: list[tuple[float, str, str, float, dict[str, str]]] = []
    for code, start, length in runs(rk_codes(stages)):
        rows.append((start * EPOCH_SECONDS, "Stages|Stages", _NSRR_CONCEPT[code], length * EPOCH_SECONDS, {}))
    for start, duration in arousals:
        rows.append((start, "Arousals|Arousals", "Arousal|Arousal ()", duration, {"SignalLocation": "C3"}))
    for start, duration, nadir in desats:
        rows.append((start, "Respiratory|Respiratory", "SpO2 desaturation|SpO2 desaturation", duration,
                     {"SpO2Nadir": f"{nadir:.1f}", "SpO2Baseline": f"{baseline:.1f}", "SignalLocation": "SaO2"}))
    for start, kind, concept, duration, extra in sorted(rows, key=lambda r: r[0]):
        ev = _sub(events, "ScoredEvent")
        _sub(ev, "EventType", kind)
        _sub(ev, "EventConcept", concept)
        _sub(ev, "Start", f"{start:.1f}")
        _sub(ev, "Duration", f"{duration:.1f}")
        for tag, text in extra.items():
            _sub(ev, tag, text)
    return _xml_bytes(root)


def profusion_xml(stages: np.ndarray, arousals: list[Arousal], desats: list[Desaturation]) -> bytes:
    """Compumedics Profusion XML: one <SleepStage> integer per 30-s epoch."""
    root = ET.Element("CMPStudyConfig")
    _sub(root, "EpochLength", "30")
    events = _sub(root, "ScoredEvents")
    for start, duration in arousals:
        ev = _sub(events, "ScoredEvent")
        for tag, text in (("Name", "Arousal ()"), ("Start", f"{start:.1f}"), ("Duration", f"{duration:.1f}"),
                          ("Input", "C3")):
            _sub(ev, tag, text)
    for start, duration, nadir in desats:
        ev = _sub(events, "ScoredEvent")
        for tag, text in (("Name", "SpO2 desaturation"), ("Start", f"{start:.1f}"), ("Duration", f"{duration:.1f}"),
                          ("LowestSpO2", f"{nadir:.1f}"), ("Input", "SaO2")):
            _sub(ev, tag, text)
    sleep_stages = _sub(root, "SleepStages")
    for code in rk_codes(stages):
        _sub(sleep_stages, "SleepStage", str(int(code)))
    return _xml_bytes(root)


def write_shhs(out_dir: Path, subject: int, night: int, stages: np.ndarray, profile: SubjectProfile,
               rng: np.random.Generator, profusion: bool = False) -> tuple[Path, Path, Path | None]:
    """Write one SHHS night: a 1-s-record EDF, its NSRR XML and optionally a Profusion XML."""
    edf_name, nsrr_name, profusion_name = shhs_names(subject, night)
    seconds = stages.size * EPOCH_SECONDS
    sig = simulate_channels(stages, EPOCH_SECONDS, SHHS_RATES, profile, rng)
    arousals, desats = _events(stages, rng)
    baseline = float(round(rng.uniform(94.5, 97.5), 1))
    hr = heart_rate(stages, EPOCH_SECONDS, rng)
    signals = [
        _signal(spo2(seconds, desats, rng, baseline), 1, "SaO2", "%", 0, 100),
        _signal(hr, 1, "H.R.", "bpm", 0, 250),
        _signal(sig["eeg2"], 125, "EEG(sec)", "uV", -250, 250),
        _signal(ecg(hr, 125, rng), 125, "ECG", "mV", -1.25, 1.25),
        _signal(chin_emg(stages, EPOCH_SECONDS, 125, rng), 125, "EMG", "uV", -100, 100),
        _signal(sig["eog"], 50, "EOG(L)", "uV", -500, 500),
        _signal(sig["eog2"], 50, "EOG(R)", "uV", -500, 500),
        _signal(sig["eeg"], 125, "EEG", "uV", -250, 250),
    ]
    edf = edfio.Edf(signals, patient=edfio.Patient(additional=[SYNTHETIC_TOKEN]),
                    recording=edfio.Recording(startdate=dt.date(1985, 1, 1), equipment_code=SYNTHETIC_TOKEN),
                    starttime=SHHS_START, data_record_duration=1.0)
    psg = out_dir / edf_name
    _atomic(psg, edf.write)
    nsrr = out_dir / nsrr_name
    _atomic(nsrr, lambda p: p.write_bytes(nsrr_xml(stages, arousals, desats, baseline)))
    extra = None
    if profusion:
        extra = out_dir / profusion_name
        _atomic(extra, lambda p: p.write_bytes(profusion_xml(stages, arousals, desats)))
    return psg, nsrr, extra
