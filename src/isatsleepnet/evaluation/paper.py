"""Published results of the ISATSleepNet paper (SPEC), for side-by-side reports."""

from __future__ import annotations

PAPER_RESULTS: dict[str, dict[str, float]] = {
    # accuracy %, kappa, macro-F1 %, macro G-mean %, per-class F1 %
    "sleep-edf-20": {"accuracy": 89.1, "kappa": 0.835, "macro_f1": 83.3, "macro_gmean": 89.9,
                     "W": 96.1, "N1": 58.1, "N2": 86.7, "N3": 89.8, "REM": 85.8},
    "sleep-edf-78": {"accuracy": 87.1, "kappa": 0.805, "macro_f1": 80.2, "macro_gmean": 88.3,
                     "W": 97.0, "N1": 53.3, "N2": 84.0, "N3": 86.1, "REM": 80.6},
    "shhs": {"accuracy": 89.7, "kappa": 0.856, "macro_f1": 84.4, "macro_gmean": 88.7,
             "W": 94.5, "N1": 56.9, "N2": 90.8, "N3": 89.8, "REM": 90.0},
}
