"""The demo: the whole pipeline on a synthetic cohort, end to end on a CPU (behind `isatsleepnet demo`).

synth → prepare → subject-wise cross-validation → report → stage a night of a
subject that no fold saw. The training schedule is shortened (a few epochs, a
larger learning rate) so that it finishes in minutes; the paper's schedule is
what `cv` uses by default. Synthetic data: the numbers show that the pipeline
works, never how well real sleep is staged.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from isatsleepnet.checks import whole_number
from isatsleepnet.engine import Engine
from isatsleepnet.errors import IsatSleepNetError, SettingError, keyword, with_settings_renamed

if TYPE_CHECKING:
    from isatsleepnet.data.synthetic import SynthConfig
    from isatsleepnet.training.config import TrainConfig

logger = logging.getLogger(__name__)

# Short schedule for minutes on a CPU instead of the paper's 100 epochs at 5e-5.
DEMO_TRAINING = {"learning_rate": 1e-3, "batch_size": 32, "accumulate_grad_batches": 1, "early_stopping_patience": 3}


@dataclass
class DemoResult:
    """Where the demo wrote what, and the figures it printed."""

    out: Path
    run: Path
    staged: Path
    night: Path
    metrics: dict[str, Any]
    stage_summary: dict[str, Any]
    minutes: float


def run_demo(out: str | Path, *, subjects: int = 6, hours: float = 3.0, folds: int = 3, epochs: int = 4,
             model_size: str = "paper", seed: int = 0, jobs: int = 2, engine: Engine | None = None,
             progress: bool = True, spell: Callable[[str], str] = keyword) -> DemoResult:
    """Synthesize, prepare, cross-validate and stage a held-out night in ``out``; a rerun continues.

    Each step is a status line of the ``isatsleepnet`` logger (shown by the command line); a failed
    recording's line names settings as ``spell`` spells them (the command line's flags, say).

    Examples
    --------
    >>> result = run_demo("demo", subjects=2, hours=0.5, folds=2, epochs=1)  # doctest: +SKIP
    """
    from isatsleepnet.data.prepare import prepare_dataset, summary_table
    from isatsleepnet.data.prepare_config import PrepareConfig
    from isatsleepnet.data.synthetic import synthesize
    from isatsleepnet.inference.out_folder import out_folder
    from isatsleepnet.locking import folder_lock
    from isatsleepnet.training.cv import cross_validate, fold_dir

    synth, config = demo_settings(subjects=subjects, hours=hours, folds=folds, epochs=epochs, model_size=model_size,
                                  seed=seed, jobs=jobs)  # every setting, before a file is written
    subjects, folds, jobs, epochs, hours = int(subjects), int(folds), int(jobs), int(epochs), float(hours)  # numpy's
    engine = engine or Engine()
    engine.check_training()  # before minutes of synthesis and preparation
    # out_folder: a demo refused before its first file (a busy folder, say) leaves no folder it made
    with out_folder(out) as out, folder_lock(out, "demo", clean=True):  # clean: what a killed run was writing
        started = time.perf_counter()
        raw, heldout, prepared = out / "raw", out / "heldout", out / "prepared"
        run_dir, staged = out / "run", out / "staged"
        logger.info("[1/4] synth: %d + 1 held-out subject(s) x %g h -> %s", subjects, hours, raw)
        synthesize(raw, synth, progress=progress)
        night = _hold_out_last_subject(raw, heldout, subjects)
        logger.info("[2/4] prepare -> %s", prepared)
        results = prepare_dataset(raw, prepared, PrepareConfig(dataset="sleep-edf"), jobs=jobs,
                                  progress=None if progress else False, spell=spell)
        logger.info("%s", summary_table(results))
        if any(r.status == "failed" for r in results):
            raise IsatSleepNetError("preparing the synthetic cohort failed (see the errors above)")
        logger.info("[3/4] cv: %d subject-wise folds, %d epochs each -> %s", folds, epochs, run_dir)
        metrics = cross_validate(prepared, run_dir, protocol="kfold", n_folds=folds, config=config, engine=engine,
                                 progress=progress)
        model = fold_dir(run_dir, 0) / "model.pt"
        logger.info("[4/4] stage the held-out night %s with %s -> %s", night.name, model, staged)
        summary = _stage_heldout(night, model, staged, progress=progress, engine=engine, spell=spell)
    return DemoResult(out, run_dir, staged, night, metrics, summary, (time.perf_counter() - started) / 60)


def demo_settings(*, subjects: int, hours: float, folds: int, epochs: int, model_size: str, seed: int,
                  jobs: int) -> tuple[SynthConfig, TrainConfig]:
    """The demo's synthesis and training settings, each checked (one line naming it), before any work.

    Why all at once: the demo synthesises and prepares for minutes before it trains; a setting that
    training refuses (``epochs=0``) must stop it before the first file, not after.

    Examples
    --------
    >>> demo_settings(subjects=6, hours=3.0, folds=3, epochs=0, model_size="paper", seed=0, jobs=2)
    Traceback (most recent call last):
    ...
    isatsleepnet.errors.SettingError: epochs= must be a whole number of at least 1, not 0
    """
    from isatsleepnet.data.synthetic import SynthConfig
    from isatsleepnet.model import model_size_options
    from isatsleepnet.training.config import TrainConfig

    for name, value, least in (("subjects", subjects, 2), ("folds", folds, 2), ("jobs", jobs, 1)):
        whole_number(name, value, least=least)  # np.int64 too
    if subjects < folds:
        raise IsatSleepNetError(f"the demo needs at least as many {{subjects}} as folds ({subjects} subjects, "
                                f"{{folds}} {folds})")
    if subjects > 99:  # one more is made for staging, and the sleep-edf layout numbers 100 subjects
        raise SettingError("subjects", f"must be at most 99 (the demo makes one more to stage), not {subjects}")
    synth = SynthConfig(layout="sleep-edf", subjects=subjects + 1, hours=hours, seed=seed)
    try:
        config = TrainConfig(max_epochs=epochs, seed=seed, model=model_size_options(model_size), **DEMO_TRAINING)
    except IsatSleepNetError as exc:
        raise with_settings_renamed(exc, max_epochs="epochs") from None
    return synth, config


def _hold_out_last_subject(raw: Path, heldout: Path, subject: int) -> Path:
    """Move subject ``subject``'s files out of the cohort; returns its PSG file.

    Done before preparing, so no fold can train, select or test on it.
    """
    heldout.mkdir(parents=True, exist_ok=True)
    for path in sorted(raw.glob(f"SC4{subject:02d}*")):
        shutil.move(str(path), heldout / path.name)
    psgs = sorted(heldout.glob(f"SC4{subject:02d}*-PSG.edf"))
    if not psgs:
        raise IsatSleepNetError(f"{heldout}: the held-out subject's PSG is missing; delete {raw.parent} and rerun")
    return psgs[0]


def _stage_heldout(night: Path, model: Path, out: Path, *, progress: bool, engine: Engine,
                   spell: Callable[[str], str]) -> dict:
    from isatsleepnet.inference.options import StageOptions
    from isatsleepnet.inference.predictor import load_predictor
    from isatsleepnet.inference.stage import stage_recordings

    predictor = load_predictor(model, engine=engine)
    result, = stage_recordings([night], predictor, out, StageOptions(auto_hypnogram=True), progress=progress,
                               spell=spell)
    if result.status != "staged":
        raise IsatSleepNetError(f"staging the held-out night failed: {result.error}")
    return result.summary
