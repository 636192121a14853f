"""The staging flags, spelled and meaning the same in `stage` and in `review --model`.

Both commands stage through the same library call (:func:`~isatsleepnet.inference.stage.stage_recordings`)
with the same :class:`~isatsleepnet.inference.options.StageOptions`; this module is the one place that
turns those options into flags and back. `stage` pairs any number of recordings with hypnograms
(``--hypnogram`` repeated, or ``auto``); `review` stages one recording and names its one hypnogram itself.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from isatsleepnet.cli.engine_options import add_engine_arguments
from isatsleepnet.cli.flags import QUIET_HELP, flag
from isatsleepnet.cli.prepare import STAGE_CODES_HELP
from isatsleepnet.data.labels import STAGE_CODINGS
from isatsleepnet.errors import IsatSleepNetError

HYPNOGRAM_HELP = ("expert hypnogram (EDF+, NSRR/Profusion XML, CSV/TSV, TXT) to compare with: one per recording, in "
                  "order; or 'auto' to look beside each recording")


def add_staging_arguments(p: argparse.ArgumentParser, *, hypnogram: bool = True) -> dict[str, str]:
    """Every flag of a staging but the recordings, --model and --out; returns each one's destination and flag.

    ``hypnogram``: add stage's repeatable ``--hypnogram`` (review names its own, one file).

    Examples
    --------
    >>> p = argparse.ArgumentParser()
    >>> add_staging_arguments(p)["assume_unit"]
    '--assume-unit'
    """
    flags: dict[str, str] = {}

    def add(*names: str, **kwargs) -> None:
        action = p.add_argument(*names, **kwargs)
        flags[action.dest] = action.option_strings[0]

    add("--backend", choices=["torch", "onnx"],
        help="inference engine (default: onnx for a .onnx model, torch otherwise); "
             "onnx with a .pt model exports it first, which takes a while")
    add("--eeg", type=_names, metavar="LABEL", help="label of the first EEG channel, or a derivation A-B formed from "
        "two channels (C4-M1 from C4 and M1/A1) where no channel carries it; comma-separated alternatives")
    add("--eeg2", type=_names, metavar="LABEL", help="label of the second EEG channel")
    add("--eog", type=_names, metavar="LABEL", help="label of the EOG channel")
    add("--channel", type=_role_channel, action="append", default=[], metavar="ROLE=LABEL",
        help="label for any model role (e.g. eog2=E2-M1); repeatable")
    if hypnogram:
        add("--hypnogram", action="append", metavar="FILE", help=HYPNOGRAM_HELP)
    add("--stage-codes", choices=STAGE_CODINGS, help=STAGE_CODES_HELP)
    add("--start", type=float, metavar="SECONDS",
        help="stage from this time (seconds from the recording start; rounded up to a whole epoch)")
    add("--end", type=float, metavar="SECONDS", help="stage up to this time (seconds from the recording start)")
    add("--lights", action="store_true",
        help="stage only from the recording's 'Lights off' to its 'Lights on' EDF+ annotation, so that time in bed "
             "and sleep latency count from lights off (a missing marker: that end of the recording)")
    add("--trim", action="store_true",
        help="stage only from --trim-minutes before the expert's first sleep epoch to after the last "
             "(Sleep-EDF's usual trimming; needs --hypnogram)")
    add("--trim-minutes", type=float, default=30.0, help="wake kept around sleep with --trim (default 30)")
    add("--min-confidence", type=float, default=0.6,
        help="flag epochs whose confidence is below this for review (0-1, default 0.6)")
    add("--assume-unit", choices=["uV", "mV", "V"], help="unit of channels whose EDF header leaves the physical "
                                                         "dimension blank")
    add("--batch-size", type=int, default=64,
        help="epochs per forward pass (default 64); an ONNX model runs at most 16 at a time on each core, which "
             "measured fastest")
    flags |= add_output_arguments(p)
    add("--quiet", action="store_true", help=QUIET_HELP)
    flags |= add_engine_arguments(p, workers=False)
    return flags


def add_output_arguments(p: argparse.ArgumentParser) -> dict[str, str]:
    """One flag per setting of the output table: --no-SETTING for one on by default, --SETTING otherwise,
    --SETTING CHOICE for a setting that picks among files; returns each one's destination and flag."""
    from isatsleepnet.inference.output_formats import output_settings

    flags = {}
    for setting in output_settings().values():
        spelled = flag(setting.name)
        if setting.choices:
            p.add_argument(spelled, dest=setting.name, choices=[*setting.choices, setting.all_choices],
                           default=setting.default, help=setting.help)
        elif setting.default:
            spelled = "--no-" + spelled.removeprefix("--")
            p.add_argument(spelled, dest=setting.name, action="store_false", help=setting.help)
        else:
            p.add_argument(spelled, dest=setting.name, action="store_true", help=setting.help)
        flags[setting.name] = spelled
    return flags


def _names(value: str) -> list[str]:
    names = [v.strip() for v in value.split(",") if v.strip()]
    return names or [""]  # nothing named: staging says what the model needs for this input instead


def _role_channel(value: str) -> tuple[str, list[str]]:
    role, sep, labels = value.partition("=")
    if not sep or not role.strip():
        raise argparse.ArgumentTypeError(f"expected ROLE=LABEL, got {value!r}")
    return role.strip(), _names(labels)


def options_from_args(args: argparse.Namespace):  # noqa: ANN201 - StageOptions, imported lazily
    """The StageOptions of the flags (``args.hypnogram``: stage's list of FILE or ``auto``, or None)."""
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
    from isatsleepnet.inference.options import StageOptions
    from isatsleepnet.inference.output_formats import output_settings

    own = {f.name for f in dataclasses.fields(StageOptions)}
    values = {name: getattr(args, name) for name in output_settings()}
    return {**{k: v for k, v in values.items() if k in own},
            "outputs": {k: v for k, v in values.items() if k not in own}}
