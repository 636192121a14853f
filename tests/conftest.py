"""Shared fixtures: the real Sleep-EDF night (if configured) and small EDF factories.

The real-data tests read SC4001 from a folder laid out like MNE's data cache
(``<folder>/physionet-sleep-data/SC4001E0-PSG.edf``), given by ``--data-dir``
or the ``ISATSLEEPNET_TEST_DATA`` environment variable (``MNE_DATA`` also
works). Without it they are skipped; CI sets it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import edfio
import numpy as np
import pytest

SC4001 = ("SC4001E0-PSG.edf", "SC4001EC-Hypnogram.edf")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--data-dir",
        default=None,
        help="folder holding physionet-sleep-data/ with SC4001 (MNE cache layout)",
    )


@pytest.fixture(scope="session")
def sleep_edf_dir(pytestconfig: pytest.Config) -> Path:
    """Folder with the real SC4001E0 PSG and its hypnogram."""
    root = (
        pytestconfig.getoption("--data-dir")
        or os.environ.get("ISATSLEEPNET_TEST_DATA")
        or os.environ.get("MNE_DATA")
    )
    if not root:
        pytest.skip("real Sleep-EDF data not configured (--data-dir or ISATSLEEPNET_TEST_DATA)")
    folder = Path(root).expanduser() / "physionet-sleep-data"
    missing = [name for name in SC4001 if not (folder / name).is_file()]
    if missing:
        pytest.fail(f"real-data folder {folder} is configured but lacks {', '.join(missing)}")
    return folder


EdfWriter = Callable[..., Path]


@pytest.fixture
def write_edf() -> EdfWriter:
    """Write a small EDF: ``write_edf(path, [(label, data, fs, unit), ...], annotations=[...])``."""

    def _write(
        path: Path,
        signals: list[tuple[str, np.ndarray, float, str]],
        annotations: list[tuple[float, float, str]] | None = None,
        record_seconds: float = 30.0,
    ) -> Path:
        edf_signals = []
        for label, data, fs, unit in signals:
            data = np.asarray(data, dtype=np.float64)
            lim = float(np.abs(data).max()) * 1.01 + 1e-9
            edf_signals.append(
                edfio.EdfSignal(data, fs, label=label, physical_dimension=unit, physical_range=(-lim, lim))
            )
        anns = [edfio.EdfAnnotation(o, d, t) for o, d, t in (annotations or [])]
        edfio.Edf(edf_signals, annotations=anns or None, data_record_duration=record_seconds).write(path)
        return path

    return _write


@pytest.fixture
def write_hypnogram_edf() -> EdfWriter:
    """An EDF+ file that holds only stage annotations, like a Sleep-EDF hypnogram."""

    def _write(path: Path, stages: list[tuple[float, float, str]]) -> Path:
        anns = [edfio.EdfAnnotation(o, d, t) for o, d, t in stages]
        edfio.Edf([], annotations=anns).write(path)
        return path

    return _write


@pytest.fixture
def sleep_edf_night(write_edf, write_hypnogram_edf) -> Callable[..., tuple[Path, Path]]:
    """A small Sleep-EDF-style night: ``sleep_edf_night(folder, "SC4011", stages=[...])``.

    Stages are R&K annotation texts, one per 30-s epoch; the PSG holds the three
    Sleep-EDF channels at 100 Hz plus a 1-Hz channel, and the hypnogram ends with
    a ``Sleep stage ?`` tail that overruns the PSG, as the real files do.
    """

    def _make(folder: Path, code: str, stages: list[str], *, seed: int = 0) -> tuple[Path, Path]:
        folder.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(seed)
        n = len(stages) * 3000
        psg = write_edf(folder / f"{code}E0-PSG.edf", [
            ("EEG Fpz-Cz", rng.normal(0, 20, n), 100.0, "uV"),
            ("EEG Pz-Oz", rng.normal(0, 15, n), 100.0, "uV"),
            ("EOG horizontal", rng.normal(0, 40, n), 100.0, "uV"),
            ("Temp rectal", np.full(len(stages) * 30, 36.5) + rng.normal(0, 0.01, len(stages) * 30), 1.0, "DegC"),
        ])
        runs, start = [], 0
        for i in range(1, len(stages) + 1):
            if i == len(stages) or stages[i] != stages[start]:
                runs.append((start * 30.0, (i - start) * 30.0, stages[start]))
                start = i
        runs.append((len(stages) * 30.0, 3600.0, "Sleep stage ?"))
        hyp = write_hypnogram_edf(folder / f"{code}EC-Hypnogram.edf", runs)
        return psg, hyp

    return _make


def rk_night(wake_before: int = 70, wake_after: int = 70) -> list[str]:
    """R&K stage texts of a tiny night: wake, a sleep block with every stage, wake."""
    sleep = ["Sleep stage 1"] * 2 + ["Sleep stage 2"] * 4 + ["Sleep stage 3", "Sleep stage 4"] + \
        ["Movement time"] + ["Sleep stage 2"] * 2 + ["Sleep stage R"] * 3
    return ["Sleep stage W"] * wake_before + sleep + ["Sleep stage W"] * wake_after


@pytest.fixture(scope="module")
def one_torch_thread():
    """One torch thread for a test module: tiny networks gain nothing from more, and on a
    busy 2-core machine spinning threads make them many times slower."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def prepare_synthetic(root: Path, *, subjects: int, hours: float, seed: int, sampling_rate: float = 100.0) -> Path:
    """A synthetic Sleep-EDF-layout cohort written to ``root/raw`` and prepared into ``root/prepared``."""
    from isatsleepnet.data.prepare import prepare_dataset
    from isatsleepnet.data.prepare_config import PrepareConfig
    from isatsleepnet.data.synthetic import SynthConfig, synthesize

    synthesize(root / "raw", SynthConfig(layout="sleep-edf", subjects=subjects, hours=hours, seed=seed), progress=False)
    results = prepare_dataset(root / "raw", root / "prepared",
                              PrepareConfig(dataset="sleep-edf", sampling_rate=sampling_rate), progress=False)
    assert {r.status for r in results} == {"prepared"}, [r.error for r in results]
    return root / "prepared"


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread_by_default():
    """Tests run tiny networks on a shared 2-core machine: one torch thread unless a test asks for more.

    Commands are run with their default engine (no --threads) in most tests, so the
    default thread count is one here, set once rather than in every call
    (tests/robustness/test_busy_machine.py checks the real default).
    """
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    with pytest.MonkeyPatch.context() as patch:
        # an engine without --threads takes the usable cores: one here too
        patch.setattr("isatsleepnet.engine.default_threads", lambda: 1)
        # the suite itself loads the machine: no "this machine is busy" note in commands' output
        patch.setattr("isatsleepnet.cli.main.busy_machine", lambda: None)
        yield
    torch.set_num_threads(before)
