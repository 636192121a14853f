"""`isatsleepnet export-npz`: prepared recordings → DeepSleepNet/AttnSleep npz files."""

from __future__ import annotations

import argparse
from pathlib import Path

from isatsleepnet.cli.flags import QUIET_HELP
from isatsleepnet.cli.output_paths import output_folder


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "export-npz",
        help="write prepared recordings as DeepSleepNet/AttnSleep npz files",
        description=(
            "Write one <recording>.npz per prepared recording with x (epochs x samples x channels, µV), "
            "y (0..4 = W, N1, N2, N3, REM), fs and ch_label, the layout DeepSleepNet, TinySleepNet and "
            "AttnSleep read, plus onsets (each epoch's onset in s, gaps kept), roles and trimmed, which they "
            "ignore. Every recording is checked before any file is written. Import goes the other way with "
            "`prepare --dataset npz`."
        ),
        epilog="example: isatsleepnet export-npz --data prepared/edf20 --out npz/fpz --channels 'EEG Fpz-Cz'",
    )
    p.add_argument("--data", type=Path, required=True, help="prepared dataset folder")
    p.add_argument("--out", type=output_folder, required=True, help="folder for the npz files")
    p.add_argument("--channels", help="comma-separated channel names to export (default: all); one channel gives x of shape epochs x samples x 1")
    p.add_argument("--quiet", action="store_true", help=QUIET_HELP)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from isatsleepnet.data.npz import export_npz

    channels = [c.strip() for c in args.channels.split(",")] if args.channels else None
    written = export_npz(args.data, args.out, channels=channels, progress=False if args.quiet else None)
    print(f"wrote {len(written)} npz file(s) to {args.out}")
    return 0
