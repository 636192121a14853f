"""`isatsleepnet prepare`: raw recordings (EDF + hypnograms) → prepared 30-s epochs."""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path

from isatsleepnet.cli.flags import QUIET_HELP, flag, named_as_in_file
from isatsleepnet.cli.output_paths import output_folder
from isatsleepnet.config import read_config_file, replace_from
from isatsleepnet.data.labels import STAGE_CODINGS
from isatsleepnet.data.datasets import DATASETS, help_lines
from isatsleepnet.data.prepare_config import PrepareConfig

_DESCRIPTION = """\
Turn raw polysomnography recordings into a prepared dataset of 30-s epochs:
one memory-mapped store per recording (epochs in µV, stage labels W/N1/N2/N3/REM,
onsets, metadata) and a manifest.csv with one row per recording.

Datasets (and their evaluation protocol, for `isatsleepnet cv --protocol`):
{datasets}

Recordings already prepared in OUT are skipped (an interrupted run resumes);
a recording that fails is reported in one line and the others go on. The exit
code is 1 when any recording failed. Two files that would be stored under one
recording name (night.edf in two folders, or two reviewed copies of one night) are
refused before any work."""


def description() -> str:
    """The command's help text, its "Datasets:" block read from the table of datasets."""
    lines = []
    for line in help_lines():
        name_width = len(line) - len(line.split("  ", 1)[1].lstrip())
        lines += textwrap.wrap(line, 86, initial_indent="  ", subsequent_indent=" " * (2 + name_width),
                               break_on_hyphens=False)
    return _DESCRIPTION.format(datasets="\n".join(lines))


EPILOG = """\
examples:
  isatsleepnet prepare --dataset sleep-edf-20 --data-dir ~/mne_data --out prepared/edf20 --jobs 2
  isatsleepnet prepare --dataset shhs --data-dir /data/shhs --out prepared/shhs --jobs 8
  isatsleepnet prepare --dataset edf --data-dir night.edf --eeg C4-M1 --eog E1-M2 --eeg2 none --out prepared/mine"""


STAGE_CODES_HELP = (
    "how bare integer stages in CSV/TSV/EDF+ hypnograms are numbered: aasm (0-4, 4 = REM, -1/-2 unscored; "
    "YASA, DeepSleepNet) or rk (R&K 0-5, 4 = stage 4 = N3, 5 = REM, 6 movement, 9 unscored; SHHS). Default: "
    "decided per file from its codes (a 5, 6 or 9 means rk, a negative code aasm, 0-3 alone read alike); a "
    "file with 4s and none of those is refused. NSRR/Profusion XML are always R&K"
)
"""Help of ``--stage-codes``, shared by `prepare` and `stage`."""


def _channels(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _band(value: str) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in value.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LOW,HIGH in Hz, got {value!r}") from None
    return low, high


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "prepare",
        help="turn raw EDF recordings and hypnograms into prepared 30-s epochs",
        description=description(),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--dataset", choices=list(DATASETS), required=True, help="which dataset layout to read (see above)")
    p.add_argument("--data-dir", type=Path, required=True, help="folder searched recursively for recordings (or one EDF file with --dataset edf)")
    p.add_argument("--out", type=output_folder, required=True, help="output folder of the prepared dataset")
    p.add_argument("--config", type=Path, help="TOML or JSON file with prepare settings (a [prepare] table or top-level keys); flags override it")
    p.add_argument("--jobs", type=int, default=1, help="recordings prepared in parallel (default 1; at most the cores "
                                                          "this process may use)")
    p.add_argument("--overwrite", action="store_true",
                   help="prepare again recordings that are already in OUT (with other settings: the recordings "
                        "of OUT whose files are not in --data-dir are removed, so that OUT never mixes two settings)")
    p.add_argument("--sampling-rate", type=float, help="rate every channel is resampled to, Hz (default 100: 3000 samples per 30-s epoch)")
    p.add_argument("--epoch-seconds", type=float, help="epoch length in seconds (default 30)")
    trimmed = ", ".join(name for name, entry in DATASETS.items() if entry.trim)
    whole = ", ".join(name for name, entry in DATASETS.items() if not entry.trim)
    trim = p.add_mutually_exclusive_group()
    trim.add_argument("--trim", dest="trim", action="store_true", default=None,
                      help=f"keep only --trim-minutes of wake around sleep (the default for {trimmed})")
    trim.add_argument("--no-trim", dest="trim", action="store_false", help=f"keep the whole night (the default for {whole})")
    p.add_argument("--trim-minutes", type=float, help="wake kept before the first and after the last sleep epoch when trimming (default 30)")
    p.add_argument("--eeg", type=_channels, help="label of the first EEG channel: exact, or an alias (C4 = EEG C4, Fpz-Cz = EEG Fpz-Cz), or a derivation A-B formed from two channels (C4-M1 from C4 and M1/A1); comma-separated alternatives, tried in order (dataset default otherwise)")
    p.add_argument("--eeg2", type=_channels, help="label of the second EEG channel, as --eeg; 'none' to leave it out")
    p.add_argument("--eog", type=_channels, help="label of the EOG channel, as --eeg; 'none' to leave it out")
    p.add_argument("--bandpass", type=_band, metavar="LOW,HIGH", help="zero-phase Butterworth band-pass in Hz (default: none)")
    p.add_argument("--notch", type=float, metavar="HZ",
                   help="notch filter at HZ (50 or 60 Hz mains), applied after resampling: only with a "
                        "--sampling-rate above twice HZ (at the default 100 Hz the resampler's low-pass already "
                        "removes mains) (default: none)")
    p.add_argument("--assume-unit", choices=["uV", "mV", "V"],
                   help="unit of channels whose EDF header leaves the physical dimension blank")
    p.add_argument("--subject-pattern", metavar="REGEX", help="(edf, reviewed, npz) regex on the file stem with a group (?P<subject>...) and an optional "
                        "(?P<night>...) of digits")
    p.add_argument("--stage-codes", choices=STAGE_CODINGS, help=STAGE_CODES_HELP)
    p.add_argument("--quiet", action="store_true", help=QUIET_HELP)
    p.set_defaults(run=run)


_FLAG_FIELDS = ("sampling_rate", "epoch_seconds", "trim", "trim_minutes", "eeg", "eeg2", "eog",
                "bandpass", "notch", "assume_unit", "subject_pattern", "stage_codes")


def config_from_args(args: argparse.Namespace) -> PrepareConfig:
    """The settings of the config file, then --dataset, then the other flags, made (and checked) at once."""
    values = read_config_file(args.config, "prepare") if args.config else {}
    from_file = {k for k in values if k not in _FLAG_FIELDS or getattr(args, k) is None}
    values["dataset"] = args.dataset
    values.update({k: getattr(args, k) for k in _FLAG_FIELDS if getattr(args, k) is not None})
    with named_as_in_file(args.config, from_file):  # a bad value of the file: said as its key, naming the file
        return replace_from(PrepareConfig(), values, source=str(args.config) if args.config else "prepare")


def run(args: argparse.Namespace) -> int:
    from isatsleepnet.data.prepare import prepare_dataset, summary_table

    config = config_from_args(args)
    results = prepare_dataset(
        args.data_dir, args.out, config,
        jobs=args.jobs, overwrite=args.overwrite,
        progress=False if args.quiet else None, debug=args.debug, spell=flag,
    )
    print(summary_table(results))
    print(f"prepared dataset: {args.out}  (manifest: {args.out / 'manifest.csv'})")
    return 1 if any(r.status == "failed" for r in results) else 0
