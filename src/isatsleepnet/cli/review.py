"""`isatsleepnet review`: review and correct a staged night in the browser."""

from __future__ import annotations

import argparse
import getpass
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from isatsleepnet.cli.output_paths import output_folder
from isatsleepnet.errors import IsatSleepNetError

if TYPE_CHECKING:
    from isatsleepnet.review.serve import ReviewServer

DESCRIPTION = """\
Open a staged night in the browser to review it: step from one low-confidence epoch
to the next, look at the signals behind it, and set its stage. STAGED is what
`isatsleepnet stage` wrote for one recording: its NAME.hypnogram.csv, or a folder
of them (the page lists its nights with their progress and moves between them); the recording it was staged from must still be where the staging found it
(and unchanged: its SHA1 is checked). STAGED may also be a recording (EDF/BDF) with
--model: it is staged into --out first (or its staging there is reopened).

Every edit is on disk before the page shows it (NAME.review.jsonl, one line per edit),
and the reviewed hypnogram is rewritten beside the staged files after each:
  NAME.reviewed.csv   per epoch the model's stage, the final stage, reviewed or not, by whom
  NAME.reviewed.edf   the final stages as EDF+ annotations
  NAME.reviewed.tsv   the same as an events table (onset, duration, trial_type)
Reopening a night continues its review, undo history included. The recording and
the staged files are never changed.

The server listens on 127.0.0.1 (this machine only) on a free port; the printed
address carries a random token, and a request without it is refused. Ctrl+C (or `kill PID`) stops it."""

EPILOG = """\
keys on the page: W/0 1 2 3 R/5 set the stage; Left/Right step; PageUp/PageDown page;
] and [ next/previous flagged epoch; Ctrl+Z / Ctrl+Y undo/redo; ? all keys

examples:
  isatsleepnet review staged/SC4001E0-PSG.hypnogram.csv
  isatsleepnet review staged/ --reviewer ana --no-browser
  isatsleepnet review night.edf --model model.pt --out staged/
  isatsleepnet review staged/night.hypnogram.csv --hypnogram scorer2.xml"""


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("review", help="review and correct a staged night in the browser",
                              description=DESCRIPTION, epilog=EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("staged", type=Path, metavar="STAGED",
                   help="NAME.hypnogram.csv written by `stage`, a folder holding one, or a recording (with --model)")
    p.add_argument("--model", type=Path, help="stage the recording STAGED with this model first (model.pt or .onnx)")
    p.add_argument("--out", type=output_folder, default=Path("staged"),
                   help="with --model: the folder the staging and the review go to (default: staged)")
    p.add_argument("--hypnogram", type=Path, metavar="FILE",
                   help="a second scorer's hypnogram to compare with (EDF+, XML, CSV or TSV)")
    for role in ("eeg", "eeg2", "eog"):
        p.add_argument(f"--{role}", help=f"with --model: the {role.upper()} channel, as `stage --{role}`")
    p.add_argument("--reviewer", default=None,
                   help="name written with every edit (default: your login name)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only; another one is warned about)")
    p.add_argument("--port", type=int, default=0, help="port to listen on (default 0: a free one)")
    p.add_argument("--no-browser", dest="browser", action="store_false",
                   help="only print the address, do not open a browser")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from isatsleepnet.review.serve import open_nights, start_server

    reviewer = args.reviewer if args.reviewer is not None else _login()
    server = _stage_and_serve(args, reviewer) if args.model is not None else None
    if server is None:
        if args.model is None and any(getattr(args, role) for role in ("eeg", "eeg2", "eog")):
            raise IsatSleepNetError("{eeg}, {eeg2} and {eog} choose the channels of a staging: give --model too")
        nights = open_nights(args.staged, reviewer=reviewer, second_scorer=args.hypnogram)
        try:
            server = start_server(nights, host=args.host, port=args.port)
        except BaseException:
            for review, _ in nights:
                review.close()
            raise
    main_thread = threading.current_thread() is threading.main_thread()  # only there can a handler be set
    previous = signal.signal(signal.SIGTERM, _interrupted) if main_thread else None  # `kill PID`: as Ctrl+C
    try:  # Ctrl+C is how a review ends, whenever it comes: every edit is already on disk
        _announce(server, args.browser)
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        if main_thread:
            signal.signal(signal.SIGTERM, previous)
    for review in server.reviews:
        print(f"review saved: {review.path('.reviewed.csv')}")
    return 0


def _interrupted(signum: int, frame: object) -> None:
    """SIGTERM, as a service manager or `kill` sends it: the same clean stop as Ctrl+C."""
    raise KeyboardInterrupt


def _announce(server: ReviewServer, browser: bool) -> None:
    """Print each night's progress and the page's address (on a line of its own); open the browser."""
    for review in server.reviews:
        progress = review.progress()
        print(f"reviewing {review.night.name} as {review.reviewer}: {progress['flagged_reviewed']} of "
              f"{progress['flagged']} flagged epochs reviewed, {review.version} edit(s) so far")
        if review.journal.recovered_bytes:
            print(f"note: the last edit line of {review.journal.path.name} was cut by a kill and is dropped "
                  "(every edit the page had shown as saved is kept)")
    print("open this address (Ctrl+C stops the server):")
    print(server.url, flush=True)
    if browser:
        import webbrowser

        webbrowser.open(server.url)


def _stage_and_serve(args: argparse.Namespace, reviewer: str) -> ReviewServer | None:
    """Stage the recording ``args.staged`` with ``args.model`` into ``args.out`` and serve it; None (and
    ``args.staged`` pointed at it) when it was staged there before."""
    from isatsleepnet.api.model import load_model
    from isatsleepnet.data.readers.formats import signal_format_of

    if signal_format_of(args.staged) is None or not args.staged.is_file():
        raise IsatSleepNetError(f"{args.staged}: --model stages a recording (EDF/BDF file), and this is not one")
    staged = args.out / f"{args.staged.stem}.hypnogram.csv"
    if staged.is_file():  # staged before: its review continues (the model is the one that staged it)
        print(f"reopening the staging in {staged} (delete it to stage again)")
        args.staged = staged
        return None
    night = load_model(args.model).stage(args.staged, eeg=args.eeg, eeg2=args.eeg2, eog=args.eog,
                                         hypnogram=args.hypnogram)
    return night.review(args.out, reviewer=reviewer, host=args.host, port=args.port)


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "reviewer"
