"""Published results of the ISATSleepNet paper, and when a report may put them beside a run.

Why a check: the paper's numbers are those of its datasets. Beside a run on other data
(a ``shhs`` protocol over Sleep-EDF recordings) they read as a comparison that was never
made, so they stand beside a run only when the prepared dataset's manifest says that every
recording is of the protocol's dataset (:func:`paper_comparison`).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from isatsleepnet.errors import SettingError

PAPER_RESULTS: dict[str, dict[str, float]] = {
    # accuracy %, kappa, macro-F1 %, macro G-mean %, per-class F1 %
    "sleep-edf-20": {"accuracy": 89.1, "kappa": 0.835, "macro_f1": 83.3, "macro_gmean": 89.9,
                     "W": 96.1, "N1": 58.1, "N2": 86.7, "N3": 89.8, "REM": 85.8},
    "sleep-edf-78": {"accuracy": 87.1, "kappa": 0.805, "macro_f1": 80.2, "macro_gmean": 88.3,
                     "W": 97.0, "N1": 53.3, "N2": 84.0, "N3": 86.1, "REM": 80.6},
    "shhs": {"accuracy": 89.7, "kappa": 0.856, "macro_f1": 84.4, "macro_gmean": 88.7,
             "W": 94.5, "N1": 56.9, "N2": 90.8, "N3": 89.8, "REM": 90.0},
}


def prepared_datasets(data_root: str | Path) -> set[str]:
    """The datasets a prepared dataset's recordings were prepared as (its manifest's ``dataset`` column).

    An empty name stands for a recording that records none (a store written by other code).
    """
    from isatsleepnet.data.store import PreparedDataset

    return {row.get("dataset") or "" for row in PreparedDataset(data_root).manifest}


def _named(datasets: Iterable[str]) -> str:
    """``sleep-edf`` or ``sleep-edf, shhs``; a recording without a name as ``no recorded dataset``."""
    names = sorted({name or "no recorded dataset" for name in datasets})
    return ", ".join(names) or "no recordings"


def paper_comparison(protocol: str | None, datasets: Iterable[str] | None) -> tuple[dict[str, float] | None, str]:
    """The paper's numbers to show beside a run of ``protocol`` on data prepared as ``datasets``, or None with
    the report's line saying why they are not shown (``""`` when they are).

    ``datasets`` None: the run's data could not be read, so which dataset it is is unknown.

    Examples
    --------
    >>> paper_comparison("shhs", {"shhs"})[0]["accuracy"]
    89.7
    >>> paper_comparison("shhs", {"sleep-edf"})
    (None, "The paper's shhs numbers are not shown: they are for shhs data, and this run's data were prepared as sleep-edf.")
    >>> paper_comparison(None, {"shhs"})[1]
    'No evaluation protocol was named, so no paper numbers are shown (the paper reports numbers for shhs, sleep-edf-20, sleep-edf-78).'
    """
    known = ", ".join(sorted(PAPER_RESULTS))
    if protocol is None:
        return None, f"No evaluation protocol was named, so no paper numbers are shown (the paper reports numbers for {known})."
    numbers = PAPER_RESULTS.get(protocol)
    if numbers is None:
        return None, f"The paper reports no numbers for protocol {protocol!r}, only for {known}."
    if datasets is None:
        return None, (f"The paper's {protocol} numbers are not shown: the run's prepared data could not be read to "
                      f"confirm that they are {protocol} data.")
    datasets = set(datasets)
    if datasets != {protocol}:
        return None, (f"The paper's {protocol} numbers are not shown: they are for {protocol} data, and this run's "
                      f"data were prepared as {_named(datasets)}.")
    return numbers, ""


def check_paper_protocol(protocol: str | None, data_root: str | Path) -> None:
    """Refuse a ``protocol`` whose only use is to put the paper's numbers beside a run, for data of another
    dataset (`evaluate`): one line, before the model is loaded.

    Examples
    --------
    >>> check_paper_protocol("shhs", "prepared/edf20")  # doctest: +SKIP
    Traceback (most recent call last):
    isatsleepnet.errors.SettingError: protocol= shhs: the paper's shhs numbers are for shhs data, and ...
    """
    if protocol not in PAPER_RESULTS:  # no numbers to show: the report says so
        return
    datasets = prepared_datasets(data_root)
    if paper_comparison(protocol, datasets)[0] is not None:
        return
    fitting = sorted(datasets & set(PAPER_RESULTS)) if len(datasets) == 1 else []
    instead = f"give {{protocol}} {fitting[0]}" if fitting else "leave out {protocol}"
    raise SettingError("protocol", f"{protocol}: the paper's {protocol} numbers are for {protocol} data, and "
                                   f"{data_root} was prepared as {_named(datasets)}; {instead}")
