"""`isatsleepnet review`: review and correct a staged night in the browser."""

from __future__ import annotations

import argparse
import getpass
from pathlib import Path

DESCRIPTION = """\
Open a staged night in the browser to review it: step from one low-confidence epoch
to the next, look at the signals behind it, and set its stage. STAGED is what
`isatsleepnet stage` wrote for one recording: its NAME.hypnogram.csv, or a folder
holding one; the recording it was staged from must still be where the staging found it.

Every edit is on disk before the page shows it (NAME.review.jsonl, one line per edit),
and the reviewed hypnogram is rewritten beside the staged files after each:
  NAME.reviewed.csv   per epoch the model's stage, the final stage, reviewed or not, by whom
  NAME.reviewed.edf   the final stages as EDF+ annotations
  NAME.reviewed.tsv   the same as an events table (onset, duration, trial_type)
Reopening a night continues its review, undo history included. The recording and
the staged files are never changed.

The server listens on 127.0.0.1 (this machine only) on a free port; the printed
address carries a random token, and a request without it is refused. Ctrl+C stops it."""

EPILOG = """\
keys on the page: W/0 1 2 3 R/5 set the stage; Left/Right step; PageUp/PageDown page;
] and [ next/previous flagged epoch; Ctrl+Z / Ctrl+Y undo/redo; ? all keys

examples:
  isatsleepnet review staged/SC4001E0-PSG.hypnogram.csv
  isatsleepnet review staged/ --reviewer ana --no-browser"""


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("review", help="review and correct a staged night in the browser",
                              description=DESCRIPTION, epilog=EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("staged", type=Path, metavar="STAGED",
                   help="NAME.hypnogram.csv written by `stage`, or a folder holding one")
    p.add_argument("--reviewer", default=None,
                   help="name written with every edit (default: your login name)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only; another one is warned about)")
    p.add_argument("--port", type=int, default=0, help="port to listen on (default 0: a free one)")
    p.add_argument("--no-browser", dest="browser", action="store_false",
                   help="only print the address, do not open a browser")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from isatsleepnet.review.serve import open_recording_of, start_server
    from isatsleepnet.review.session import Review

    reviewer = args.reviewer if args.reviewer is not None else _login()
    review = Review.open(args.staged, reviewer=reviewer)
    try:
        recording = open_recording_of(review)
        server = start_server(review, recording, host=args.host, port=args.port)
    except BaseException:
        review.close()
        raise
    progress = review.progress()
    print(f"reviewing {review.night.name} as {review.reviewer}: {progress['flagged_reviewed']} of "
          f"{progress['flagged']} flagged epochs reviewed, {review.version} edit(s) so far")
    if review.journal.recovered_bytes:
        print(f"note: the last edit line of {review.journal.path.name} was cut by a kill and is dropped "
              "(every edit the page had shown as saved is kept)")
    print("open this address (Ctrl+C stops the server):")
    print(server.url, flush=True)
    if args.browser:
        import webbrowser

        webbrowser.open(server.url)
    try:
        server.wait()  # stops the server and closes the review however it ends
    except KeyboardInterrupt:  # Ctrl+C is how a review ends: every edit is already on disk
        pass
    print(f"review saved: {review.path('.reviewed.csv')}")
    return 0


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "reviewer"
