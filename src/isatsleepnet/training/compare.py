"""Side-by-side table of several runs (ablations, augmentation modes), from their metrics.json."""

from __future__ import annotations

import json
from pathlib import Path

from isatsleepnet import STAGES
from isatsleepnet.augment.config import describe
from isatsleepnet.errors import IsatSleepNetError


def _setting(config: dict) -> str:
    """What else distinguishes a run: its model overrides (ablations, sizes)."""
    from isatsleepnet.model import MODEL_SIZES

    overrides = {k: v for k, v in config.get("train", {}).get("model", {}).items() if k != "context"}
    parts = []
    for size, options in MODEL_SIZES.items():  # a named size reads better than its seven widths
        if options and all(overrides.get(k) == v for k, v in options.items()):
            parts.append(f"size={size}")
            overrides = {k: v for k, v in overrides.items() if k not in options}
    parts += [f"{key}={value}" for key, value in sorted(overrides.items())]
    return ", ".join(parts) or "paper defaults"


def _augment(config: dict) -> str:
    """How the run's training data were augmented: none, transforms (N1), gan (N1, 100 GAN epochs)."""
    return describe(config.get("augment"), config.get("gan"))


def _context(config: dict) -> int:
    """The run's context window in epochs (0: the paper's per-epoch network)."""
    return int(config.get("train", {}).get("model", {}).get("context", 0) or 0)


def comparison_table(runs: list[Path]) -> str:
    header = ("| run | augment | context | setting | folds | test epochs | Acc | κ | MF1 | MGm | "
              + " | ".join(STAGES) + " |")
    lines = [header, "|---" * (10 + len(STAGES)) + "|"]
    for run in runs:
        metrics_path, config_path = run / "metrics.json", run / "config.json"
        if not metrics_path.is_file():
            raise IsatSleepNetError(f"{run}: no metrics.json (run `isatsleepnet cv` or `evaluate` first)")
        m = json.loads(metrics_path.read_text())
        config = json.loads(config_path.read_text()) if config_path.is_file() else {}
        p = m["pooled"]
        lines.append(
            f"| {run.name} | {_augment(config)} | {_context(config)} | {_setting(config)} | {m.get('n_folds_evaluated', 1)} | {p['n_epochs']} | "
            f"{100 * p['accuracy']:.1f} | {p['kappa']:.3f} | {100 * p['macro_f1']:.1f} | {100 * p['macro_gmean']:.1f} | "
            + " | ".join(f"{100 * p['per_class_f1'][s]:.1f}" for s in STAGES) + " |"
        )
    return "\n".join(lines) + "\n"
