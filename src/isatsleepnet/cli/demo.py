"""`isatsleepnet demo`: the whole pipeline on a synthetic cohort, end to end on a CPU.

synth → prepare → subject-wise cross-validation → report → stage a night of a
subject that no fold saw. The training schedule is shortened (a few epochs, a
larger learning rate) so that it finishes in minutes; the paper's schedule is
what `cv` uses by default.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

# Short schedule for minutes on a CPU instead of the paper's 100 epochs at 5e-5.
DEMO_TRAINING = {"learning_rate": 1e-3, "batch_size": 32, "accumulate_grad_batches": 1, "early_stopping_patience": 3}


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "demo",
        help="run the pipeline end to end on a synthetic cohort",
        description=(
            "Write a synthetic Sleep-EDF-like cohort (TEST data, never results) to OUT/raw, prepare it "
            "into OUT/prepared, cross-validate ISATSleepNet subject-wise (k folds, a short schedule) "
            "into OUT/run, then stage the night of one more synthetic subject, kept out of the "
            "cross-validation, with fold 0's model into OUT/staged, and print where the reports are. "
            "A few minutes on a 2-core CPU with the defaults. Rerunning continues where it stopped."
        ),
        epilog="example: isatsleepnet demo --out demo",
    )
    p.add_argument("--out", type=Path, default=Path("isatsleepnet-demo"), help="output folder (default ./isatsleepnet-demo)")
    p.add_argument("--subjects", type=int, default=6,
                   help="synthetic subjects cross-validated (default 6); one more is made for staging")
    p.add_argument("--hours", type=float, default=3.0, help="length of each synthetic recording in hours (default 3)")
    p.add_argument("--folds", type=int, default=3, help="cross-validation folds (default 3)")
    p.add_argument("--epochs", type=int, default=4, help="training epochs per fold (default 4)")
    p.add_argument("--model-size", choices=("paper", "small"), default="paper",
                   help="paper (default) or small (every width halved: faster training and staging)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--jobs", type=int, default=2, help="recordings prepared in parallel (default 2)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch (default: all cores)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from isatsleepnet.locking import ensure_writable_folder, folder_lock

    ensure_writable_folder(args.out)
    with folder_lock(args.out, "demo"):
        return _demo(args)


def _demo(args: argparse.Namespace) -> int:
    """The demo's four steps, with ``args.out`` held."""
    from isatsleepnet.data.prepare import prepare_dataset, summary_table
    from isatsleepnet.data.prepare_config import PrepareConfig
    from isatsleepnet.data.synthetic import SynthConfig, synthesize
    from isatsleepnet.errors import IsatSleepNetError
    from isatsleepnet.model import model_size_options
    from isatsleepnet.training.config import TrainConfig
    from isatsleepnet.training.cv import cross_validate, fold_dir

    if args.subjects < 2 or args.folds < 2 or args.subjects < args.folds:
        raise IsatSleepNetError("the demo needs --folds >= 2 and at least as many --subjects as folds")
    started = time.perf_counter()
    raw, heldout, prepared = args.out / "raw", args.out / "heldout", args.out / "prepared"
    run_dir, staged = args.out / "run", args.out / "staged"
    print(f"[1/4] synth: {args.subjects} + 1 held-out subject(s) x {args.hours:g} h -> {raw}", flush=True)
    synthesize(raw, SynthConfig(layout="sleep-edf", subjects=args.subjects + 1, hours=args.hours, seed=args.seed),
               progress=not args.quiet)
    night = _hold_out_last_subject(raw, heldout, args.subjects)
    print(f"[2/4] prepare -> {prepared}", flush=True)
    results = prepare_dataset(raw, prepared, PrepareConfig(dataset="sleep-edf"), jobs=args.jobs,
                              progress=False if args.quiet else None)
    print(summary_table(results))
    if any(r.status == "failed" for r in results):
        raise IsatSleepNetError("preparing the synthetic cohort failed (see the errors above)")
    print(f"[3/4] cv: {args.folds} subject-wise folds, {args.epochs} epochs each -> {run_dir}", flush=True)
    config = TrainConfig(max_epochs=args.epochs, seed=args.seed, threads=args.threads,
                         model=model_size_options(args.model_size), **DEMO_TRAINING)
    metrics = cross_validate(prepared, run_dir, protocol="kfold", n_folds=args.folds, config=config,
                             progress=not args.quiet)
    model = fold_dir(run_dir, 0) / "model.pt"
    print(f"[4/4] stage the held-out night {night.name} with {model} -> {staged}", flush=True)
    stage_summary = _stage_heldout(night, model, staged, quiet=args.quiet, threads=args.threads)

    p = metrics["pooled"]
    minutes = (time.perf_counter() - started) / 60
    print(f"\ndemo finished in {minutes:.1f} min. Synthetic test data: these numbers only show the pipeline works.")
    print(f"  cross-validation, pooled over {p['n_epochs']} test epochs: accuracy {100 * p['accuracy']:.1f} %, "
          f"kappa {p['kappa']:.3f}, macro-F1 {100 * p['macro_f1']:.1f} %")
    print(f"  report:  {run_dir / 'report.md'}")
    print(f"  figures: {run_dir / 'figures'} (confusion matrix, learning curves, hypnograms)")
    agreement = (stage_summary.get("expert") or {}).get("agreement") or {}
    if agreement:
        print(f"  held-out night {night.stem}: accuracy {100 * agreement['accuracy']:.1f} %, "
              f"kappa {agreement['kappa']:.3f} against its synthetic hypnogram")
    name = night.stem
    print(f"  staged:  {staged / (name + '.report.html')} (sleep report)")
    print(f"           {staged / (name + '.hypnogram.csv')}, {name}.hypnogram.png, {name}.hypnodensity.png")
    return 0


def _hold_out_last_subject(raw: Path, heldout: Path, subject: int) -> Path:
    """Move subject ``subject``'s files out of the cohort; returns its PSG file.

    Done before preparing, so no fold can train, select or test on it.
    """
    heldout.mkdir(parents=True, exist_ok=True)
    for path in sorted(raw.glob(f"SC4{subject:02d}*")):
        shutil.move(str(path), heldout / path.name)
    psgs = sorted(heldout.glob(f"SC4{subject:02d}*-PSG.edf"))
    if not psgs:
        from isatsleepnet.errors import IsatSleepNetError

        raise IsatSleepNetError(f"{heldout}: the held-out subject's PSG is missing; delete {raw.parent} and rerun")
    return psgs[0]


def _stage_heldout(night: Path, model: Path, out: Path, *, quiet: bool, threads: int | None) -> dict:
    from isatsleepnet.errors import IsatSleepNetError
    from isatsleepnet.inference.options import StageOptions
    from isatsleepnet.inference.predictor import load_predictor
    from isatsleepnet.inference.stage import stage_recordings

    predictor = load_predictor(model, threads=threads)
    result, = stage_recordings([night], predictor, out, StageOptions(auto_hypnogram=True), progress=not quiet)
    if result.status != "staged":
        raise IsatSleepNetError(f"staging the held-out night failed: {result.error}")
    return result.summary
