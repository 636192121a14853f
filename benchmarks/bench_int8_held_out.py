"""int8 against float32 for a model trained on real signals, on real epochs it never saw.

Not a test. The one real night here, SC4001, is cut at epoch boundaries inside its sleep
period (first to last epoch the expert scored as sleep) into three recordings: A, from the
start of the recording to the end of the first third of the sleep period; B, the middle
third; C, the rest, to the end of the recording. They are prepared as the `edf` dataset
(Fpz-Cz and the horizontal EOG, `--trim`: the sleep period and 30 min on either side), a
model is trained on A and selected on B (`train --train-subjects partA --val-subjects
partB`), exported (`export`) and quantised (`export --int8`, calibrated on its own training
data, A). The table gives how far the int8 model stages like the float one on every whole
epoch of C, which training, selection and calibration never saw, and of B (seen by
selection only), with the same columns as ``bench_int8.py``.

A model trained on a third of one night is not a model of sleep: its stages say nothing of
anyone's sleep, and no accuracy is reported. What it gives the quantisation is a network
whose weights were fitted to real EEG and EOG, staging real epochs of the kind it was
trained and calibrated on, where ``bench_int8.py``'s synthetic-trained model meets real
signals it never saw the like of.

    python benchmarks/bench_int8_held_out.py --data-dir /work/shared/data/physionet-sleep-data \\
        --work /tmp/int8-held-out

Each step keeps its output in ``--work``; a run started again continues where it stopped.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
from pathlib import Path

from bench_int8 import HEADER, agreement_row, stage_probabilities

PSG, HYPNOGRAM = "SC4001E0-PSG.edf", "SC4001EC-Hypnogram.edf"
SLEEP = ("Sleep stage 1", "Sleep stage 2", "Sleep stage 3", "Sleep stage 4", "Sleep stage R")
KEEP = ("EEG Fpz-Cz", "EOG horizontal")


def cut_points(hypnogram: Path, epoch_s: float = 30.0) -> list[float]:
    """Seconds where A ends and C begins: the sleep period cut in thirds on the 30-s grid."""
    import edfio

    spans = [(a.onset, a.onset + a.duration) for a in edfio.read_edf(hypnogram).annotations if a.text in SLEEP]
    first, last = min(s for s, _ in spans) / epoch_s, max(e for _, e in spans) / epoch_s
    third = (last - first) / 3
    return [epoch_s * round(first + third), epoch_s * round(first + 2 * third)]


def write_pieces(data_dir: Path, out: Path) -> list[tuple[str, float, float]]:
    """partA/B/C.edf and their -Hypnogram.edf in ``out``: the night's two channels and its stages, cut."""
    import edfio

    hypnogram = edfio.read_edf(data_dir / HYPNOGRAM)
    start = dt.datetime.combine(hypnogram.startdate, hypnogram.starttime)
    duration = edfio.read_edf(data_dir / PSG, lazy_load_data=True).duration
    bounds = [0.0, *cut_points(data_dir / HYPNOGRAM), duration]
    pieces = list(zip(("partA", "partB", "partC"), bounds[:-1], bounds[1:]))
    out.mkdir(parents=True, exist_ok=True)
    for name, lo, hi in pieces:
        if (out / f"{name}-Hypnogram.edf").is_file():
            continue
        psg = edfio.read_edf(data_dir / PSG)
        psg.drop_signals([s.label for s in psg.signals if s.label not in KEEP])
        psg.slice_between_seconds(lo, hi)
        stages = [edfio.EdfAnnotation(max(a.onset, lo) - lo, min(a.onset + a.duration, hi) - max(a.onset, lo), a.text)
                  for a in hypnogram.annotations if min(a.onset + a.duration, hi) > max(a.onset, lo)]
        at = start + dt.timedelta(seconds=lo)
        psg.write(out / f"{name}.edf")
        edfio.Edf([], annotations=stages, starttime=at.time(),
                  recording=edfio.Recording(startdate=at.date())).write(out / f"{name}-Hypnogram.edf")
    return pieces


def main(argv: list[str] | None = None) -> None:
    from isatsleepnet.cli.main import main as cli

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", type=Path, required=True, help=f"folder with {PSG} and {HYPNOGRAM}")
    p.add_argument("--work", type=Path, help="folder for the pieces, the model and its exports (default: a temporary one)")
    p.add_argument("--epochs", type=int, default=30, help="training epochs (default 30)")
    p.add_argument("--model-size", choices=["paper", "small"], default="paper", help="network size (default paper)")
    p.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    args = p.parse_args(argv)
    work = Path(args.work or tempfile.mkdtemp(prefix="bench-int8-held-out-"))
    pieces = write_pieces(args.data_dir, work / "data")
    print("pieces of SC4001: " + ", ".join(f"{n} {lo / 3600:.2f}-{hi / 3600:.2f} h" for n, lo, hi in pieces), flush=True)
    steps = [
        (work / "prep" / "manifest.csv", ["prepare", "--dataset", "edf", "--data-dir", str(work / "data"), "--out",
                                          str(work / "prep"), "--eeg", KEEP[0], "--eog", KEEP[1], "--trim", "--quiet"]),
        (work / "run" / "model.pt", ["train", "--data", str(work / "prep"), "--out", str(work / "run"),
                                     "--train-subjects", "partA", "--val-subjects", "partB", "--epochs",
                                     str(args.epochs), "--model-size", args.model_size, "--seed", str(args.seed),
                                     "--quiet"]),
        (work / "float.onnx", ["export", "--model", str(work / "run" / "model.pt"), "--onnx", str(work / "float.onnx")]),
        (work / "int8.onnx", ["export", "--model", str(work / "run" / "model.pt"), "--onnx", str(work / "int8.onnx"),
                              "--int8"]),
    ]
    for done, command in steps:
        if not done.is_file() and cli(command) != 0:
            raise SystemExit(f"isatsleepnet {command[0]} failed")
    print(f"{'night':24s} {HEADER}")
    for name in ("partC", "partB"):
        night = work / "data" / f"{name}.edf"
        a, b = stage_probabilities(work / "float.onnx", night), stage_probabilities(work / "int8.onnx", night)
        label = f"{name} ({'held out' if name == 'partC' else 'selection'})"
        print(f"{label:24s} {agreement_row(a, b)}", flush=True)


if __name__ == "__main__":
    main()
