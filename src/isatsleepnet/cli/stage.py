"""`isatsleepnet stage`: stage new recordings (EDF/EDF+/BDF, or any registered signal format) with a trained model.

The files it writes, their flags and the lines of --help that list them come from the output table
(:data:`~isatsleepnet.inference.output_formats.OUTPUT_FORMATS`); the file formats it reads from the
signal table (:data:`~isatsleepnet.data.readers.formats.SIGNAL_FORMATS`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from isatsleepnet.cli.engine_options import engine_from_args
from isatsleepnet.cli.flags import flag
from isatsleepnet.cli.output_paths import output_folder
from isatsleepnet.cli.staging_options import add_staging_arguments, options_from_args

DESCRIPTION = """\
Stage every whole 30-s epoch of one or more recordings ({signal_files},
or folders searched recursively) with a model file, and write for each recording
NAME into OUT:

{output_files}

Channels: by default the ones the model was trained on, found by exact label or
an alias (Fpz-Cz = EEG Fpz-Cz, C4 = EEG C4; SHHS's EEG(sec) = EEG2 = EEG 2 ...), the
same rules as `prepare`; name others
with --eeg/--eeg2/--eog. A name A-B that no channel carries is derived from two
channels (C4-M1 = C4 minus M1 or A1; EEG/EOG prefixes and -REF suffixes ignored).
Every input of the model must be given: none cannot leave one out.
They are converted to µV from the EDF header and
resampled to the model's rate; a channel slower than 0.6 x (EEG) or 0.5 x (EOG)
the model's rate is refused. A final partial epoch is ignored and reported.
Epochs whose confidence (1 - normalised entropy of the probabilities) is below
--min-confidence are flagged for review.

Warnings (`warning: NAME: ...`, also in the JSON and on top of the report) say
when the stages deserve less trust: a model trained on synthetic recordings, a
recording unlike the model's training data, a channel of another kind standing
in for the trained one. Epochs with non-finite input or output are not staged.

The terminal summary lists each recording's epochs, TST, sleep efficiency and
review share; with --hypnogram a line per recording gives its agreement with the
expert (accuracy, Cohen's kappa, macro-F1 over the scored epochs). Times: onsets
count from the recording start, the figures from the staged window's start (see
docs/staging.md, Time axis).

A recording that fails is reported in one line and the others go on; the exit
code is 1 when any failed. Nothing is half-written: each recording's files
appear together when all are complete. OUT holds one model's stagings
(OUT/model.sha1) and one `stage` run at a time."""


def output_files_text() -> str:
    """The files `stage` can write, one entry of the output table each, as --help lists them."""
    from isatsleepnet.inference.output_formats import OUTPUT_FORMATS

    lines = []
    for entry in OUTPUT_FORMATS.values():
        text = entry.help.splitlines() or [""]
        when = ""
        if entry.setting and (entry.choice or not entry.default):  # on with a flag, or with a flag's choice
            when = f" ({flag(entry.setting)}{' ' + entry.choice if entry.choice else ''})"
        elif entry.setting:  # on by default: the flag that turns it off
            when = f" (off: --no-{flag(entry.setting).removeprefix('--')})"
        if when and len(text[-1]) + len(when) > 74:  # the flag on a line of its own rather than past 100 columns
            text, when = [*text, when.strip()], ""
        text[-1] += when
        lines.append(f"  {'NAME' + entry.suffix:<22}  {text[0]}")
        lines += [f"  {'':<22}  {more}" for more in text[1:]]
    return "\n".join(lines)


def description() -> str:
    """--help's text, with the files of the output table and the file formats of the signal table."""
    from isatsleepnet.data.readers.formats import signal_file_titles

    return DESCRIPTION.format(output_files=output_files_text(), signal_files=signal_file_titles())


EPILOG = """\
examples:
  isatsleepnet stage night.edf --model runs/edf20/fold_00/model.pt --out staged/
  isatsleepnet stage SC4001E0-PSG.edf --hypnogram SC4001EC-Hypnogram.edf --trim --model model.pt --out staged/
  isatsleepnet stage recordings/ --hypnogram auto --model model.onnx --out staged/
  isatsleepnet stage psg.bdf --eeg C4-M1 --eeg2 C3-M2 --eog E1-M2 --model model.pt --out staged/"""


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "stage",
        help="stage raw recordings with a model: hypnogram CSV, annotations, plots, sleep statistics, report",
        description=description(),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("recordings", nargs="+", type=Path, metavar="RECORDING",
                   help="recording file (see above), or a folder searched recursively for them")
    p.add_argument("--model", type=Path, required=True,
                   help="model file: model.pt from `train`/`cv`, or a .onnx file from `isatsleepnet export`")
    p.add_argument("--out", type=output_folder, required=True, help="output folder (created; files of the same name are replaced)")
    add_staging_arguments(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from isatsleepnet.inference.outputs import summary_table
    from isatsleepnet.inference.predictor import load_predictor
    from isatsleepnet.inference.out_folder import out_folder
    from isatsleepnet.inference.stage import stage_recordings

    options = options_from_args(args)
    engine = engine_from_args(args)
    with out_folder(args.out):  # checked before the model is loaded (or exported); left out if nothing staged
        predictor = load_predictor(args.model, backend=args.backend, engine=engine)
        results = stage_recordings(args.recordings, predictor, args.out, options,
                                   progress=False if args.quiet else None, debug=getattr(args, "debug", False),
                                   spell=flag)
    print(summary_table(results))
    if any(r.status != "failed" for r in results):
        print(f"outputs: {args.out}")
    return 1 if any(r.status == "failed" for r in results) else 0
