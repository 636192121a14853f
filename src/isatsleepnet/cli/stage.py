"""`isatsleepnet stage`: stage new recordings (EDF/EDF+/BDF, or any registered signal format) with a trained model.

The files it writes, their flags and the lines of --help that list them come from the output table
(:data:`~isatsleepnet.inference.output_formats.OUTPUT_FORMATS`); the file formats it reads from the
signal table (:data:`~isatsleepnet.data.readers.formats.SIGNAL_FORMATS`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from isatsleepnet.cli.engine_options import add_engine_arguments, engine_from_args
from isatsleepnet.cli.flags import flag
from isatsleepnet.cli.output_paths import output_folder
from isatsleepnet.cli.prepare import STAGE_CODES_HELP
from isatsleepnet.data.labels import STAGE_CODINGS

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
        when = f" ({flag(entry.setting)}{' ' + entry.choice if entry.choice else ''})" if (
            entry.setting and (entry.choice or not entry.default)) else ""
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


def add_output_arguments(p: argparse.ArgumentParser) -> None:
    """One flag per setting of the output table: --no-SETTING for one on by default, --SETTING otherwise,
    --SETTING CHOICE for a setting that picks among files."""
    from isatsleepnet.inference.output_formats import output_settings

    for setting in output_settings().values():
        spelled = flag(setting.name)
        if setting.choices:
            p.add_argument(spelled, dest=setting.name, choices=[*setting.choices, setting.all_choices],
                           default=setting.default, help=setting.help)
        elif setting.default:
            p.add_argument("--no-" + spelled.removeprefix("--"), dest=setting.name, action="store_false",
                           help=setting.help)
        else:
            p.add_argument(spelled, dest=setting.name, action="store_true", help=setting.help)

EPILOG = """\
examples:
  isatsleepnet stage night.edf --model runs/edf20/fold_00/model.pt --out staged/
  isatsleepnet stage SC4001E0-PSG.edf --hypnogram SC4001EC-Hypnogram.edf --trim --model model.pt --out staged/
  isatsleepnet stage recordings/ --hypnogram auto --model model.onnx --out staged/
  isatsleepnet stage psg.bdf --eeg C4-M1 --eeg2 C3-M2 --eog E1-M2 --model model.pt --out staged/"""


def _names(value: str) -> list[str]:
    names = [v.strip() for v in value.split(",") if v.strip()]
    return names or [""]  # nothing named: staging says what the model needs for this input instead


def _role_channel(value: str) -> tuple[str, list[str]]:
    role, sep, labels = value.partition("=")
    if not sep or not role.strip():
        raise argparse.ArgumentTypeError(f"expected ROLE=LABEL, got {value!r}")
    return role.strip(), _names(labels)


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
    p.add_argument("--backend", choices=["torch", "onnx"],
                   help="inference engine (default: onnx for a .onnx model, torch otherwise); "
                        "onnx with a .pt model exports it first, which takes a while")
    p.add_argument("--eeg", type=_names, metavar="LABEL", help="label of the first EEG channel, or a derivation A-B formed from two channels "
                   "(C4-M1 from C4 and M1/A1) where no channel carries it; comma-separated alternatives")
    p.add_argument("--eeg2", type=_names, metavar="LABEL", help="label of the second EEG channel")
    p.add_argument("--eog", type=_names, metavar="LABEL", help="label of the EOG channel")
    p.add_argument("--channel", type=_role_channel, action="append", default=[], metavar="ROLE=LABEL",
                   help="label for any model role (e.g. eog2=E2-M1); repeatable")
    p.add_argument("--hypnogram", action="append", metavar="FILE",
                   help="expert hypnogram (EDF+, NSRR/Profusion XML, CSV/TSV) to compare with: one per recording, "
                        "in order; or 'auto' to look beside each recording")
    p.add_argument("--stage-codes", choices=STAGE_CODINGS, help=STAGE_CODES_HELP)
    p.add_argument("--start", type=float, metavar="SECONDS",
                   help="stage from this time (seconds from the recording start; rounded up to a whole epoch)")
    p.add_argument("--end", type=float, metavar="SECONDS", help="stage up to this time (seconds from the recording start)")
    p.add_argument("--lights", action="store_true",
                   help="stage only from the recording's 'Lights off' to its 'Lights on' EDF+ annotation, so that "
                        "time in bed and sleep latency count from lights off (a missing marker: that end of the "
                        "recording)")
    p.add_argument("--trim", action="store_true",
                   help="stage only from --trim-minutes before the expert's first sleep epoch to after the last "
                        "(Sleep-EDF's usual trimming; needs --hypnogram)")
    p.add_argument("--trim-minutes", type=float, default=30.0, help="wake kept around sleep with --trim (default 30)")
    p.add_argument("--min-confidence", type=float, default=0.6,
                   help="flag epochs whose confidence is below this for review (0-1, default 0.6)")
    p.add_argument("--assume-unit", choices=["uV", "mV", "V"],
                   help="unit of channels whose EDF header leaves the physical dimension blank")
    p.add_argument("--batch-size", type=int, default=64,
                   help="epochs per forward pass (default 64); an ONNX model runs at most 16 at a time on each "
                        "core, which measured fastest")
    add_output_arguments(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_engine_arguments(p, workers=False)
    p.set_defaults(run=run)


def options_from_args(args: argparse.Namespace):  # noqa: ANN201 - StageOptions, imported lazily
    from isatsleepnet.errors import IsatSleepNetError
    from isatsleepnet.inference.options import StageOptions

    channels: dict[str, list[str]] = {}
    for role in ("eeg", "eeg2", "eog"):
        if getattr(args, role):
            channels[role] = getattr(args, role)
    for role, labels in args.channel:
        if role in channels:
            raise IsatSleepNetError(f"channel for {role} given twice")
        channels[role] = labels
    hypnograms = args.hypnogram
    auto = bool(hypnograms) and [h.lower() for h in hypnograms] == ["auto"]
    if hypnograms and not auto and any(h.lower() == "auto" for h in hypnograms):
        raise IsatSleepNetError("--hypnogram auto cannot be mixed with hypnogram files")
    return StageOptions(
        channels=channels,
        hypnograms=None if (auto or not hypnograms) else [Path(h) for h in hypnograms],
        auto_hypnogram=auto,
        start_s=args.start,
        end_s=args.end,
        lights=args.lights,
        trim=args.trim,
        trim_minutes=args.trim_minutes,
        min_confidence=args.min_confidence,
        assume_unit=args.assume_unit,
        stage_codes=args.stage_codes,
        batch_size=args.batch_size,
        **output_options(args),
    )


def output_options(args: argparse.Namespace) -> dict:
    """The output table's settings from the flags: StageOptions' own fields, the rest as ``outputs``."""
    import dataclasses

    from isatsleepnet.inference.options import StageOptions
    from isatsleepnet.inference.output_formats import output_settings

    own = {f.name for f in dataclasses.fields(StageOptions)}
    values = {name: getattr(args, name) for name in output_settings()}
    return {**{k: v for k, v in values.items() if k in own},
            "outputs": {k: v for k, v in values.items() if k not in own}}


def run(args: argparse.Namespace) -> int:
    from isatsleepnet.cli.flags import flag
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
