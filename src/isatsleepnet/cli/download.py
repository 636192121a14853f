"""`isatsleepnet download`: fetch a public dataset into MNE's cache layout, every file checked."""

from __future__ import annotations

import argparse

from isatsleepnet.cli.flags import QUIET_HELP
from isatsleepnet.cli.output_paths import output_folder
from isatsleepnet.data.datasets import DATASETS

DESCRIPTION = """\
Download the files of a public dataset's protocol, exactly those, into the folder
layout of MNE's data cache, so that `isatsleepnet prepare --data-dir OUT` and MNE
itself find them:

  OUT/physionet-sleep-data/SC4001E0-PSG.edf
  OUT/physionet-sleep-data/SC4001EC-Hypnogram.edf
  ...

Datasets:
{datasets}

Subjects and nights are numbered by the digits in the file names: SC4ssN and ST7ssN
are subject ss, night N (SC4001 = subject 0, night 1; ST7011 = subject 1, night 1).

Every file is checked against the SHA1 in the checksum table shipped with
isatsleepnet; a file that fails is deleted and reported, never kept under its
name. Files already there and intact are skipped, and an interrupted download
(NAME.part) resumes where it stopped: run the same command again."""

EPILOG = """\
examples:
  isatsleepnet download sleep-edf-20 --out ~/mne_data
  isatsleepnet download sleep-edf-20 --out ~/mne_data --subjects 0 --nights 1
  isatsleepnet download sleep-edf-78 --out /data/mne --subjects 0-9,20 --mirror https://mirror.example.org/physionet/

next:
  isatsleepnet prepare --dataset sleep-edf-20 --data-dir ~/mne_data --out prepared/edf20"""


LARGEST_NUMBER = 999
"""Subject and night numbers are at most three digits in every downloadable dataset's file names."""


def numbers(value: str, *, example: str = "numbers such as 0,1,5-7") -> list[int]:
    """``"0,1,5-7"`` -> ``[0, 1, 5, 6, 7]``: comma-separated whole numbers and ascending ranges.

    Ranges are checked before they are expanded, so ``0-1000000000`` is refused, not listed.
    ``example`` says in an error what was expected.
    """
    found: list[int] = []
    items = [v.strip() for v in value.split(",")]
    if any(not item for item in items):
        raise argparse.ArgumentTypeError(f"expected {example}, got an empty item in {value!r}")
    for item in items:
        low, dash, high = item.partition("-")
        try:
            first, last = (int(low), int(high)) if dash else (int(item), int(item))
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {example}, got {item!r}") from None
        if min(first, last) < 0 or max(first, last) > LARGEST_NUMBER:
            raise argparse.ArgumentTypeError(f"{item!r} is outside 0-{LARGEST_NUMBER}")
        if first > last:
            raise argparse.ArgumentTypeError(f"{item!r} is a descending range: write {last}-{first}")
        found += [n for n in range(first, last + 1) if n not in found]
    return found


def nights(value: str) -> list[int]:
    """``--nights``: :func:`numbers`, with an example of nights (1 or 2) in its errors.

    Examples
    --------
    >>> nights("1,2")
    [1, 2]
    >>> nights("x")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: expected nights such as 1 or 1,2, got 'x'
    """
    return numbers(value, example="nights such as 1 or 1,2")


def dataset_lines() -> list[str]:
    """One line per dataset of the table that can be downloaded, or says how to get it."""
    from isatsleepnet.data.download import remote_files

    entries = [e for e in DATASETS.values() if e.download or e.access]
    width = max((len(e.name) for e in entries), default=0)
    lines = []
    for entry in entries:
        if entry.download:
            count = len(remote_files(entry.name))
            what, files = entry.description.split(";")[0], f"{count} file{'' if count == 1 else 's'}"
            what = f"{what[:-1]}, {files})" if what.endswith(")") else f"{what} ({files})"
        else:
            what = f"not downloadable here: needs {entry.access.split(';')[0]}"
        lines.append(f"  {entry.name.ljust(width)}  {what}")
    return lines


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "download",
        help="download Sleep-EDF (20, 78 or telemetry) into MNE's cache layout, checked file by file",
        description=DESCRIPTION.format(datasets="\n".join(dataset_lines())),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    public = [entry.name for entry in DATASETS.values() if entry.download]
    access = [entry.name for entry in DATASETS.values() if not entry.download and entry.access]
    p.add_argument("dataset", metavar="DATASET",
                   help=", ".join(public) + (f" ({', '.join(access)}: how to get it)" if access else ""))
    p.add_argument("--out", type=output_folder, required=True,
                   help="root of the MNE-style data folder, e.g. ~/mne_data (files go to OUT/physionet-sleep-data/)")
    p.add_argument("--subjects", type=numbers, metavar="LIST",
                   help="only these subjects, e.g. 0,1,5-9 (numbered by the file names' digits; default: all of the protocol)")
    p.add_argument("--nights", type=nights, metavar="LIST", help="only these nights, 1 and/or 2 (default: both)")
    p.add_argument("--mirror", metavar="URL",
                   help="address that replaces https://physionet.org/files/ (the rest of each path, "
                        "sleep-edfx/1.0.0/..., stays): an institutional mirror")
    p.add_argument("--quiet", action="store_true", help=QUIET_HELP)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from isatsleepnet.data.download import download
    from isatsleepnet.errors import IsatSleepNetError, SettingError

    try:
        result = download(args.dataset, args.out, subjects=args.subjects, nights=args.nights,
                          mirror=args.mirror, progress=not args.quiet)
    except SettingError as exc:
        if exc.setting != "dataset":
            raise
        raise IsatSleepNetError(f"DATASET {exc.problem}") from None  # the positional argument, not a --dataset flag
    print(f"{len(result.downloaded)} file(s) downloaded, {len(result.present)} already there; "
          f"all {len(result.files)} match their SHA1: {result.folder}")
    print(f"next: isatsleepnet prepare --dataset {args.dataset} --data-dir {args.out} --out prepared/{args.dataset}")
    return 0
