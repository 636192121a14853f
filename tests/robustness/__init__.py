"""The robustness suite: every bad input and fault a careless or hostile user can produce.

Each test builds its inputs on the fly (small files, hand-made header bytes),
runs the command as a user would, and checks the exit code, one line that
names the file and the problem, no traceback, no partial or temporary files
left behind, and that the other recordings of the run are still done.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from isatsleepnet.atomic import TMP_PREFIX
from isatsleepnet.cli.main import main
from isatsleepnet.locking import LOCK_FILE

CHANNELS = ("EEG Fpz-Cz", "EEG Pz-Oz", "EOG horizontal")


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:  # noqa: ANN001 - pytest's capsys
    """Exit code, stdout and stderr of ``isatsleepnet ARGV``, run in this process."""
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if "error:" in line]


def assert_one_error(err: str, name: str, problem: str) -> None:
    """Exactly one error line names ``name`` and matches ``problem`` (a regex); no traceback anywhere."""
    assert "Traceback" not in err, err
    hits = [line for line in error_lines(err) if name in line]
    assert len(hits) == 1, (name, err)
    assert re.search(problem, hits[0]), (problem, hits[0])


def assert_no_debris(folder: Path) -> None:
    """No temporary file or folder, and no lock, anywhere under ``folder``."""
    left = [p for p in Path(folder).rglob("*") if p.name.startswith(TMP_PREFIX) or p.name == LOCK_FILE]
    assert not left, left


def stages_csv(path: Path, n_epochs: int, seed: int = 0) -> Path:
    """A one-stage-per-epoch CSV hypnogram with every stage present."""
    labels = np.array(["W", "N1", "N2", "N3", "REM"])[np.random.default_rng(seed).integers(0, 5, n_epochs)]
    path.write_text("stage\n" + "\n".join(labels) + "\n")
    return path


def night(write_edf, folder: Path, name: str, n_epochs: int = 6, *, fs: float = 100.0,  # noqa: ANN001
          labels: tuple[str, ...] = CHANNELS, rates: dict[str, float] | None = None, seed: int = 0) -> Path:
    """A small EDF with a CSV hypnogram beside it (STEM.csv), for `prepare --dataset edf` and `stage`."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    signals = []
    for label in labels:
        rate = (rates or {}).get(label, fs)
        signals.append((label, rng.normal(0, 20, int(n_epochs * 30 * rate)), rate, "uV"))
    path = write_edf(folder / f"{name}.edf", signals)
    stages_csv(folder / f"{name}.csv", n_epochs, seed)
    return path


def prepare_args(data: Path, out: Path, *extra: str) -> list[str]:
    return ["prepare", "--dataset", "edf", "--data-dir", data, "--out", out, "--eeg", "EEG Fpz-Cz",
            "--eeg2", "EEG Pz-Oz", "--eog", "EOG horizontal", "--quiet", *extra]


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0
