"""Benchmark: preparing a night with `isatsleepnet prepare` vs a plain MNE loop.

Not a test. Each measurement runs in a fresh subprocess so that its peak
memory (RSS growth over the interpreter with both libraries imported) is its
own (VmHWM of the child); times are medians over ``--repeats`` runs, and the ratio compares the two
methods measured in the same invocation on the same machine.

Cases: the real SC4001 night (EDF 22 h, 3 channels at 100 Hz + hypnogram EDF+),
and a synthetic 8-h SHHS night (EEG at 125 Hz, EOG at 50 Hz, NSRR XML).

    python benchmarks/bench_prepare.py --data-dir ../shared/data/physionet-sleep-data
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, sys, time, tempfile
from pathlib import Path
import numpy as np, mne, edfio, scipy.signal, defusedxml.ElementTree as ET
from isatsleepnet.data.prepare import prepare_dataset
from isatsleepnet.data.prepare_config import PrepareConfig

method, case, data_dir = sys.argv[1], sys.argv[2], Path(sys.argv[3])
mne.set_log_level("ERROR")

def status_mib(field):
    # VmHWM (peak RSS) starts afresh at exec, unlike ru_maxrss, which inherits the parent's peak.
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024

def mne_sleep_edf(out):
    psg = next(data_dir.glob("*-PSG.edf")); hyp = next(data_dir.glob("*-Hypnogram.edf"))
    raw = mne.io.read_raw_edf(psg, preload=True)
    raw.pick(["EEG Fpz-Cz", "EEG Pz-Oz", "EOG horizontal"])
    raw.set_annotations(mne.read_annotations(hyp), emit_warning=False)
    mapping = {"Sleep stage W": 0, "Sleep stage 1": 1, "Sleep stage 2": 2, "Sleep stage 3": 3,
               "Sleep stage 4": 3, "Sleep stage R": 4}
    events, _ = mne.events_from_annotations(raw, event_id=mapping, chunk_duration=30.0)
    y = events[:, 2]
    sleep = np.flatnonzero(y != 0)
    keep = events[max(sleep[0] - 60, 0): sleep[-1] + 61]
    ep = mne.Epochs(raw, keep, tmin=0.0, tmax=30.0 - 1 / raw.info["sfreq"], baseline=None, preload=True)
    np.savez(out / "x.npz", x=(ep.get_data() * 1e6).astype(np.float32), y=ep.events[:, 2])
    return len(ep)

def mne_shhs(out):
    psg = next(data_dir.glob("*.edf")); xml = next(data_dir.glob("*-nsrr.xml"))
    raw = mne.io.read_raw_edf(psg, preload=True)  # MNE brings mixed rates to the highest one
    raw.pick(["EEG", "EEG(sec)", "EOG(L)"])
    raw.resample(100.0)
    onsets, durations, texts = [], [], []
    for ev in ET.parse(xml).getroot().iter("ScoredEvent"):
        if (ev.findtext("EventType") or "").startswith("Stages"):
            onsets.append(float(ev.findtext("Start"))); durations.append(float(ev.findtext("Duration")))
            texts.append(ev.findtext("EventConcept"))
    raw.set_annotations(mne.Annotations(onsets, durations, texts), emit_warning=False)
    mapping = {"Wake|0": 0, "Stage 1 sleep|1": 1, "Stage 2 sleep|2": 2, "Stage 3 sleep|3": 3,
               "Stage 4 sleep|4": 3, "REM sleep|5": 4}
    mapping = {k: v for k, v in mapping.items() if k in set(texts)}
    events, _ = mne.events_from_annotations(raw, event_id=mapping, chunk_duration=30.0)
    ep = mne.Epochs(raw, events, tmin=0.0, tmax=30.0 - 1 / 100.0, baseline=None, preload=True)
    np.savez(out / "x.npz", x=(ep.get_data() * 1e6).astype(np.float32), y=ep.events[:, 2])
    return len(ep)

def ours(out):
    dataset = "sleep-edf-20" if case == "sleep-edf" else "shhs"
    [res] = prepare_dataset(data_dir, out, PrepareConfig(dataset=dataset), progress=False)
    assert res.status == "prepared", res.error
    return res.n_epochs

base = status_mib("VmRSS")
with tempfile.TemporaryDirectory() as tmp:
    t0 = time.perf_counter()
    fn = ours if method == "isatsleepnet" else (mne_sleep_edf if case == "sleep-edf" else mne_shhs)
    n = fn(Path(tmp))
    seconds = time.perf_counter() - t0
peak = status_mib("VmHWM")
print(json.dumps({"seconds": seconds, "peak_mib": peak - base, "epochs": n}))
"""


def measure(method: str, case: str, data_dir: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, method, case, str(data_dir)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, required=True, help="folder with SC4001E0-PSG.edf and its hypnogram")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    from isatsleepnet.data.synthetic import SynthConfig, synthesize

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        shhs_dir = Path(tmp) / "shhs"
        synthesize(shhs_dir, SynthConfig(layout="shhs", subjects=1, hours=8.0, seed=0), progress=False)
        cases = [("sleep-edf", args.data_dir, "SC4001 (22 h EDF, 841 epochs kept)"),
                 ("shhs", shhs_dir, "synthetic SHHS night (8 h)")]
        for case, folder, label in cases:
            result = {}
            for method in ("mne-loop", "isatsleepnet"):
                runs = [measure(method, case, folder) for _ in range(args.repeats)]
                result[method] = {
                    "median_s": statistics.median(r["seconds"] for r in runs),
                    "peak_mib": statistics.median(r["peak_mib"] for r in runs),
                    "epochs": runs[0]["epochs"],
                }
            rows.append({"case": label, **result})

    print(f"prepare one night, median of {args.repeats} runs, each in a fresh process")
    print(f"{'case':40s} {'method':13s} {'epochs':>6s} {'time s':>8s} {'peak MiB':>9s}")
    for row in rows:
        for method in ("mne-loop", "isatsleepnet"):
            r = row[method]
            print(f"{row['case']:40s} {method:13s} {r['epochs']:6d} {r['median_s']:8.2f} {r['peak_mib']:9.0f}")
        speed = row["mne-loop"]["median_s"] / row["isatsleepnet"]["median_s"]
        memory = row["mne-loop"]["peak_mib"] / max(row["isatsleepnet"]["peak_mib"], 1e-9)
        print(f"{'':40s} ratio: {speed:.1f}x faster, {memory:.1f}x less peak memory")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
