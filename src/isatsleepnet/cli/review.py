"""`isatsleepnet review`: review and correct a staged night in the browser."""

from __future__ import annotations

import argparse
import getpass
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from isatsleepnet.cli.output_paths import output_folder
from isatsleepnet.cli.staging_options import add_staging_arguments
from isatsleepnet.errors import IsatSleepNetError, SettingError

if TYPE_CHECKING:
    from isatsleepnet.review.serve import ReviewServer

DESCRIPTION = """\
Open a staged night in the browser to review it: step from one low-confidence epoch
to the next, look at the signals behind it, and set its stage. STAGED is what
`isatsleepnet stage` wrote for one recording: its NAME.hypnogram.csv, or a folder
of them (the page lists its nights with their progress and moves between them); the recording it was staged from must still be where the staging found it
(and unchanged: its SHA1 is checked). STAGED may also be a recording (EDF/BDF) with
--model: it is staged into --out first, as `isatsleepnet stage` stages it, and every
staging flag of `stage` applies (channels, --assume-unit, --start/--end, --lights,
--trim, --min-confidence, the output flags, --backend, --threads ...); a staging of
that recording already in --out is reopened as it is (delete it to stage again).

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
  isatsleepnet review psg.edf --model model.onnx --channel eeg=C4-M1 --assume-unit uV --out staged/
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
                   help="a second scorer's hypnogram to compare with (EDF+, XML, CSV or TSV); with --model, the "
                        "expert hypnogram the staging is compared with, as `stage --hypnogram`")
    p.add_argument("--reviewer", default=None,
                   help="name written with every edit (default: your login name)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only; another one is warned about)")
    p.add_argument("--port", type=int, default=0, help="port to listen on (default 0: a free one)")
    p.add_argument("--no-browser", dest="browser", action="store_false",
                   help="only print the address, do not open a browser")
    flags = add_staging_arguments(p, hypnogram=False)  # with --model, as `stage` (its --hypnogram is the one above)
    p.set_defaults(run=run, staging_flags={dest: (flag, p.get_default(dest)) for dest, flag in flags.items()})


def run(args: argparse.Namespace) -> int:
    from isatsleepnet.cli.flags import renamed
    from isatsleepnet.review.serve import open_nights, start_server

    reviewer = args.reviewer if args.reviewer is not None else _login()
    second_scorer = args.hypnogram
    if args.model is not None:
        staged = _staged_or_reopened(args)
        if staged is None:
            return 1  # the staging failed: its one line is printed
        args.staged, reopened = staged
        if not reopened:
            second_scorer = None  # the staging was compared with it: it is the night's expert
    elif given := _staging_flags_given(args):
        raise IsatSleepNetError(f"{', '.join(given)} choose how a recording is staged: give --model too, or review "
                                "the staging as it is")
    try:
        nights = open_nights(args.staged, reviewer=reviewer, second_scorer=second_scorer, stage_codes=args.stage_codes)
    except SettingError as exc:  # the library's second_scorer is this command's --hypnogram
        raise renamed(exc, second_scorer="hypnogram") from None
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


def _staged_or_reopened(args: argparse.Namespace) -> tuple[Path, bool] | None:
    """Stage the recording ``args.staged`` with ``args.model`` into ``args.out``, as `stage` does; its staging there
    already: reopened as it is. Returns the staged NAME.hypnogram.csv and whether it was reopened (None: failed)."""
    from isatsleepnet.cli.engine_options import engine_from_args
    from isatsleepnet.cli.flags import flag
    from isatsleepnet.cli.staging_options import options_from_args
    from isatsleepnet.data.hashing import sha1_of
    from isatsleepnet.data.readers.formats import signal_format_of
    from isatsleepnet.errors import DataError
    from isatsleepnet.inference.out_folder import out_folder
    from isatsleepnet.inference.output_formats import output_file
    from isatsleepnet.inference.outputs import staged_by, summary_table
    from isatsleepnet.inference.predictor import load_predictor
    from isatsleepnet.inference.stage import stage_recordings
    from isatsleepnet.review.staged import read_staged

    recording: Path = args.staged
    if signal_format_of(recording) is None or not recording.is_file():
        raise IsatSleepNetError(f"{recording}: --model stages a recording (EDF/BDF file), and this is not one")
    staged = output_file(args.out, recording.stem, "hypnogram_csv")
    if staged.is_file():  # staged before, by this model: its review continues
        staged_from = read_staged(staged).recording_sha1
        if staged_from is not None and staged_from != sha1_of(recording):
            raise DataError(recording, f"{staged} is the staging of another recording named {recording.stem!r} "
                                       f"(SHA1 {staged_from}): review that one with `isatsleepnet review {staged}`, "
                                       "or give this one another --out")
        held = staged_by(args.out)  # None: a folder from before models were recorded, reopened as it is
        if held and held != load_predictor(args.model, backend=args.backend, engine=engine_from_args(args)).identity:
            raise IsatSleepNetError(f"{staged} was staged by another model than {args.model}: review it as it was "
                                    f"staged (isatsleepnet review {staged}), or stage this recording into another "
                                    "--out")
        print(f"reopening the staging in {staged} (delete it to stage again)")
        if given := _staging_flags_given(args):
            print(f"note: {', '.join(given)} not applied: the night is reviewed as it was staged")
        return staged, True
    options = options_from_args(argparse.Namespace(**{**vars(args), "hypnogram": (
        [str(args.hypnogram)] if args.hypnogram is not None else None)}))
    with out_folder(args.out):  # left out if nothing is staged
        predictor = load_predictor(args.model, backend=args.backend, engine=engine_from_args(args))
        results = stage_recordings([recording], predictor, args.out, options, progress=False if args.quiet else None,
                                   debug=getattr(args, "debug", False), spell=flag)
    print(summary_table(results))
    return (staged, False) if results[0].status != "failed" else None


def _staging_flags_given(args: argparse.Namespace) -> list[str]:
    """The staging flags of this command line (those whose value is not their default); --stage-codes with
    --hypnogram is not one: it reads the second scorer's hypnogram too."""
    return [flag for dest, (flag, default) in args.staging_flags.items()
            if getattr(args, dest) != default and not (dest == "stage_codes" and args.hypnogram is not None)]


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "reviewer"
