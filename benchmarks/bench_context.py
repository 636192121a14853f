"""Context across epochs: what it changes in a run's test predictions, and what it costs when staging.

Two parts, each optional:

* ``--runs RUN [RUN ...]``: cross-validation run folders (from `isatsleepnet cv`,
  with and without ``--context``, on the same folds); for each, the mean over
  folds of the validation macro-F1 its models were selected by (the column to
  choose a setting by: validation subjects only), and, pooled over its
  test predictions: accuracy, kappa, macro-F1, per-class F1, and the accuracy on
  *transition* epochs, those whose expert stage differs from the previous or the
  next recorded epoch's (consecutive on the recording's grid), where the paper's
  per-epoch network is weakest. Nothing is computed on training or validation
  subjects: these are the folds' test predictions.
* ``--timing``: staging time of N epochs (random µV, the speed does not depend on
  the values) through the one predictor, a per-epoch model against the same model
  with a context head (random weights), medians of ``--repeats`` runs in this
  process, and the ratio.

Example::

    python benchmarks/bench_context.py --runs /tmp/demo_paper/run /tmp/ctx/c21 --timing --epochs 841
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from isatsleepnet import STAGES


def transition_mask(labels: np.ndarray, onsets: np.ndarray, epoch_seconds: float = 30.0) -> np.ndarray:
    """Epochs whose stage differs from a consecutive neighbour's (neighbours: onsets one epoch apart)."""
    n = len(labels)
    mask = np.zeros(n, dtype=bool)
    if n < 2:
        return mask
    step = np.isclose(np.diff(onsets), epoch_seconds)
    change = step & (labels[1:] != labels[:-1])
    mask[1:] |= change
    mask[:-1] |= change
    return mask


def run_summary(run: Path) -> dict:
    from isatsleepnet.evaluation.metrics import compute_metrics
    from isatsleepnet.evaluation.predictions import load_all

    truth, predicted, near = [], [], []
    folds = sorted(p for p in run.glob("fold_*") if (p / "DONE").is_file())
    if not folds:
        raise SystemExit(f"{run}: no finished fold (fold_*/DONE)")
    for fold in folds:
        for p in load_all(fold / "predictions"):
            truth.append(p.y_true)
            predicted.append(p.y_pred)
            near.append(transition_mask(p.y_true, p.onsets))
    from isatsleepnet.model.file import load_model_file

    # the selection criterion: each fold's validation macro-F1 (its validation subjects, never its test ones)
    validation = [load_model_file(fold / "model.pt").metrics.get("validation", {}).get("macro_f1") for fold in folds
                  if (fold / "model.pt").is_file()]
    validation = [v for v in validation if v is not None]
    y, yhat, t = np.concatenate(truth), np.concatenate(predicted), np.concatenate(near)
    m = compute_metrics(y, yhat)
    config = json.loads((run / "config.json").read_text()) if (run / "config.json").is_file() else {}
    context = int(config.get("train", {}).get("model", {}).get("context", 0) or 0)
    return {"run": run.name, "context": context, "folds": len(folds), "epochs": len(y),
            "validation_macro_f1": float(np.mean(validation)) if validation else float("nan"), "accuracy": m["accuracy"],
            "kappa": m["kappa"], "macro_f1": m["macro_f1"], "per_class_f1": m["per_class_f1"],
            "transition_epochs": int(t.sum()), "transition_accuracy": float((y[t] == yhat[t]).mean()) if t.any() else
            float("nan")}


def print_runs(rows: list[dict]) -> None:
    head = (f"{'run':<14} {'context':>7} {'val MF1':>7} {'epochs':>6} {'Acc':>5} {'kappa':>6} {'MF1':>5} "
            + " ".join(f"{s:>5}" for s in STAGES) + f" {'trans. n':>8} {'trans. Acc':>10}")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['run']:<14} {r['context']:>7} {100 * r['validation_macro_f1']:7.1f} {r['epochs']:>6} "
              f"{100 * r['accuracy']:5.1f} {r['kappa']:6.3f} "
              f"{100 * r['macro_f1']:5.1f} " + " ".join(f"{100 * r['per_class_f1'][s]:5.1f}" for s in STAGES)
              + f" {r['transition_epochs']:>8} {100 * r['transition_accuracy']:10.1f}")


def timing(n_epochs: int, repeats: int, threads: int | None, size: str, context: int) -> None:
    import torch

    from isatsleepnet.inference.predictor import load_predictor
    from isatsleepnet.model import MODEL_SIZES, ModelConfig
    from isatsleepnet.model.context import build_network
    from isatsleepnet.model.file import ModelFile

    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(0)
    base = {"roles": ("eeg", "eeg2", "eog"), "n_samples": 3000, "sampling_rate": 100.0, **MODEL_SIZES[size]}
    folder = Path(tempfile.mkdtemp(prefix="bench-context-"))
    paths = {}
    for name, extra in (("per-epoch", {}), (f"context {context}", {"context": context})):
        config = {**base, **extra}
        network = build_network(ModelConfig(**config))
        paths[name] = folder / f"{name.replace(' ', '-')}.pt"
        ModelFile(model_config={k: list(v) if isinstance(v, tuple) else v for k, v in config.items()},
                  state_dict=network.state_dict(), channels=["EEG Fpz-Cz", "EEG Pz-Oz", "EOG horizontal"],
                  roles=["eeg", "eeg2", "eog"], sampling_rate=100.0, epoch_seconds=30.0,
                  normalize="epoch-zscore").save(paths[name])
    x = np.random.default_rng(0).normal(0, 30, (n_epochs, 3, 3000)).astype(np.float32)
    times: dict[str, list[float]] = {name: [] for name in paths}
    predictors = {name: load_predictor(path, threads=threads) for name, path in paths.items()}
    for name, predictor in predictors.items():  # warm-up (FFT plans, first-call allocations)
        predictor.probabilities(x[:64])
    for _ in range(repeats):  # interleaved, so that a change in the machine's load hits both
        for name, predictor in predictors.items():
            t0 = time.perf_counter()
            predictor.probabilities(x, 64, np.arange(n_epochs))
            times[name].append(time.perf_counter() - t0)
    base_s = statistics.median(times["per-epoch"])
    print(f"\nstaging {n_epochs} epochs through the predictor ({size} size, median of {repeats}):")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"  {name:<12} {median:7.2f} s  {n_epochs / median:7.1f} epochs/s  {median / base_s:5.3f}x the per-epoch time")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=Path, nargs="*", default=[], help="cv run folders to compare")
    parser.add_argument("--timing", action="store_true", help="time staging with and without a context head")
    parser.add_argument("--epochs", type=int, default=841, help="epochs staged in the timing (default 841)")
    parser.add_argument("--context", type=int, default=21, help="context window of the timed model (default 21)")
    parser.add_argument("--model-size", choices=("paper", "small"), default="paper")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    import os
    import subprocess

    info = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    model = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("Model name")), "?")
    print(f"machine: {model}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start")
    if args.runs:
        print_runs([run_summary(run) for run in args.runs])
    if args.timing:
        timing(args.epochs, args.repeats, args.threads, args.model_size, args.context)
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
