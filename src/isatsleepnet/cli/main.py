"""Entry point of the `isatsleepnet` command.

Each subcommand lives in its own module exposing ``add_parser(subparsers)`` and
``run(args) -> int``; this module only wires them together and turns
:class:`~isatsleepnet.errors.IsatSleepNetError`, and any other exception (disk
full, out of memory), into a one-line message; ``--debug`` shows the traceback. A reader that
closes the output (``| head``) ends the command quietly, with status 141.
The library's status lines (the ``isatsleepnet`` logger) go to stdout for the
duration of a command, warnings to stderr; a command's ``--quiet`` keeps the
warnings only, the global ``--verbose`` adds the debug lines.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence

from isatsleepnet import __version__
from isatsleepnet.cores import busy_machine, default_threads
from isatsleepnet.cli.flags import message
from isatsleepnet.errors import IsatSleepNetError
from isatsleepnet.installs import is_training_module_missing, needs_training, training_installed
from isatsleepnet.status import status_level, status_output

SUBCOMMANDS: tuple[str, ...] = (
    "download", "synth", "prepare", "export_npz", "train_gan", "augment", "train", "cv", "evaluate", "compare",
    "stage", "review", "export", "model_info", "architectures", "demo",
)


def command_module(argv: Sequence[str]) -> str | None:
    """The module of the command ``argv`` names (its first word that is not a global flag), if any.

    Examples
    --------
    >>> command_module(["--debug", "model-info", "m.onnx"]), command_module(["--help"]), command_module(["x"])
    ('model_info', None, None)
    """
    word = next((a for a in argv if not a.startswith("-")), None)
    module = word.replace("-", "_") if word else None
    return module if module in SUBCOMMANDS else None


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or with ``only`` (a module of :data:`SUBCOMMANDS`) of that one alone:
    a run imports just its own command's module (0.2 s less start-up than importing all 16)."""
    parser = argparse.ArgumentParser(
        prog="isatsleepnet",
        description=(
            "Automatic sleep staging from polysomnography. Typical flow: "
            "prepare -> train/cv -> evaluate -> stage new recordings. "
            "`download` a public Sleep-EDF dataset first (each file checked against its checksum), "
            "`prepare` raw EDF recordings into 30-s epochs, `train` a model (or `cv` to cross-validate), "
            "`evaluate` it on held-out data, then `stage` new EDF/BDF recordings with it "
            "(hypnogram, sleep statistics, report) and `review` a staged night in the browser. "
            "`synth` writes a synthetic PSG cohort for trying things out; "
            "`demo` runs the whole flow on synthetic data."
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    for flag, text in GLOBAL_FLAGS.items():
        parser.add_argument(flag, action="store_true", help=text)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in (only,) if only else SUBCOMMANDS:
        module = importlib.import_module(f"isatsleepnet.cli.{name}")
        module.add_parser(subparsers)
    for command in subparsers.choices.values():  # after the command too (`stage ... --debug`); unset: the global's
        for flag, text in GLOBAL_FLAGS.items():
            command.add_argument(flag, action="store_true", default=argparse.SUPPRESS, help=text)
    return parser


GLOBAL_FLAGS = {
    "--debug": "show full tracebacks instead of one-line errors",
    "--verbose": "show the library's debug status lines too",
}
"""Flags every command takes, before its name or after it."""


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(command_module(argv))  # no known command (--help, a typo): all, to list them
    args = parser.parse_args(argv)
    _note_busy_machine(args)
    with status_output(status_level(bool(getattr(args, "quiet", False)), args.verbose)), _terminate_as_interrupt():
        return _run(args)


class Terminated(KeyboardInterrupt):
    """SIGTERM (`kill`, `timeout`, a batch scheduler's end of job), unwound as Ctrl+C is."""


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM raises :class:`Terminated` in the command: its ``finally`` blocks run, so that it leaves no lock and
    no temporary file (by default Python dies at once, as with SIGKILL). The previous handler comes back after."""
    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield
        return

    command = os.getpid()

    def terminated(signum: int, frame: object) -> None:
        if os.getpid() != command:  # a forked worker inherits the handler: it dies as it did before (silently)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)
            return
        raise Terminated

    previous = signal.signal(signal.SIGTERM, terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run(args: argparse.Namespace) -> int:
    """The command's exit status; an error is one line on stderr (``--debug``: the traceback)."""
    try:
        code = int(args.run(args) or 0)
        sys.stdout.flush()  # here, not at exit: a reader gone before the last buffered line is a closed pipe too
        return code
    except BrokenPipeError:  # `isatsleepnet ... | head`: the reader has all it wanted
        return _stdout_closed()
    except IsatSleepNetError as exc:
        if args.debug:
            raise
        print(f"isatsleepnet {args.command}: error: {message(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:  # Ctrl+C, or SIGTERM: every command resumes where it stopped when started again
        how, code = ("terminated", 143) if isinstance(exc, Terminated) else ("interrupted", 130)
        print(f"isatsleepnet {args.command}: {how}; run the same command again to continue", file=sys.stderr)
        return code
    except Exception as exc:  # noqa: BLE001 - disk full, out of memory, a bug: one line, never a traceback
        if args.debug:
            raise
        if is_training_module_missing(exc):  # the staging install asked to train, export, load a .pt...
            print(f"isatsleepnet {args.command}: error: {needs_training(f'`{args.command}`')}", file=sys.stderr)
            return 2
        print(f"isatsleepnet {args.command}: error: {message(exc)}", file=sys.stderr)
        return 1


STDOUT_CLOSED = 141
"""Exit status of a command whose reader closed its output (``| head``): 128 + SIGPIPE, as a shell shows
for a command that the signal ended (`yes | head`)."""


def _stdout_closed() -> int:
    """End quietly when stdout's reader is gone: no message (it is no error of the command), and stdout pointed
    at /dev/null so that Python's flush at exit does not raise the same error again."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    return STDOUT_CLOSED


def _note_busy_machine(args: argparse.Namespace) -> None:
    """Say once, before the work, that the machine is already busy, for a command that runs a model."""
    if not hasattr(args, "threads") or args.threads is not None:
        return  # no model to run, or the user chose the threads
    model = getattr(args, "model", "")
    if model is None:
        return  # `review` of a staging as it is: no model runs, and --threads would be refused
    if not training_installed() and not str(model).lower().endswith(".onnx"):
        return  # the staging install runs only ONNX models: the command's one line says what to install
    busy = busy_machine()
    if busy is not None and busy.suggested_threads() < default_threads():
        print(f"isatsleepnet {args.command}: note: this machine is busy (load {busy.load:g} on "
              f"{busy.machine_cores} cores); if this run is slow, give it fewer threads with "
              f"--threads {busy.suggested_threads()}", file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
