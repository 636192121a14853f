"""`isatsleepnet synth`: write a synthetic PSG cohort to try the pipeline without real data."""

from __future__ import annotations

import argparse

import numpy as np

from isatsleepnet import STAGES
from isatsleepnet.cli.flags import RenamedFlag, renamed
from isatsleepnet.cli.output_paths import output_folder
from isatsleepnet.data.synthetic import LAYOUTS, SynthConfig, synthesize
from isatsleepnet.errors import IsatSleepNetError

_DESCRIPTION = (
    "Write synthetic polysomnography recordings (EDF signals plus hypnograms) in the file "
    "layout of Sleep-EDF or SHHS, for trying out `prepare`, training and the demo without "
    "downloading data. The signals carry textbook stage cues (alpha, spindles, delta, eye "
    "movements) but are SYNTHETIC TEST DATA: never report results obtained on them as "
    "sleep-staging performance."
)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``synth`` subcommand."""
    parser = subparsers.add_parser(
        "synth", help="write synthetic PSG test data (Sleep-EDF or SHHS layout)", description=_DESCRIPTION
    )
    parser.add_argument(
        "--layout", choices=LAYOUTS, default="sleep-edf",
        help="file layout to imitate: 'sleep-edf' writes SC4ssNE0-PSG.edf + SC4ssNEx-Hypnogram.edf "
             "(100-Hz EEG Fpz-Cz, EEG Pz-Oz, EOG), 'shhs' writes shhsN-2000xx.edf + NSRR XML "
             "(125-Hz EEG/EEG(sec), 50-Hz EOG(L)/EOG(R)) (default: %(default)s)",
    )
    parser.add_argument("--out", required=True, type=output_folder, metavar="DIR",
                        help="folder to write into (created if missing; existing files of the same name are replaced)")
    parser.add_argument("--n-subjects", dest="subjects", type=int, default=4, metavar="N",
                        help="number of simulated people, each with their own amplitudes, alpha frequency "
                             "and sleep architecture (default: %(default)s)")
    parser.add_argument("--n-nights", dest="nights", type=int, choices=(1, 2), default=1,
                        help="recordings per subject; two nights of one subject share the subject's traits, "
                             "as in Sleep-EDF (default: %(default)s)")
    # their spellings before 0.1.1
    parser.add_argument("--subjects", dest="subjects", type=int, action=RenamedFlag, new="--n-subjects",
                        why="a count; --subjects names subjects in download, evaluate, augment and train-gan")
    parser.add_argument("--nights", dest="nights", type=int, choices=(1, 2), action=RenamedFlag, new="--n-nights",
                        why="a count; --nights names nights in download")
    parser.add_argument("--hours", type=float, default=8.0, metavar="H",
                        help="length of each recording in hours, wake before and after sleep included; "
                             "at least one 30-s epoch (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, metavar="S",
                        help="random seed; the same seed writes identical files (default: %(default)s)")
    parser.add_argument("--profusion", action="store_true",
                        help="shhs layout only: also write the Compumedics Profusion XML "
                             "(shhsN-ID-profusion.xml, one stage per epoch) beside the NSRR XML")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Generate the cohort and print what was written."""
    try:
        config = SynthConfig(layout=args.layout, subjects=args.subjects, nights=args.nights,
                             hours=args.hours, seed=args.seed, profusion=args.profusion)
    except IsatSleepNetError as exc:  # the counts' flags are --n-subjects and --n-nights
        raise renamed(exc, subjects="n_subjects", nights="n_nights") from None
    recordings = synthesize(args.out, config, progress=True)
    files = sum(2 + (r.profusion is not None) for r in recordings)
    codes = np.concatenate([r.stages for r in recordings])
    counts = ", ".join(f"{name} {int(np.sum(codes == k))}" for k, name in enumerate(STAGES))
    print(f"wrote {len(recordings)} {config.layout} recordings ({files} files) to {args.out}")
    print(f"epochs per stage: {counts}, movement {int(np.sum(codes < 0))}")
    print("synthetic TEST data: use it to exercise the pipeline, never report results on it")
    return 0
