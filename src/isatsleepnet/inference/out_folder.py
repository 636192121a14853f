"""What a `stage` output folder already holds: made for the run, a review to protect, stagings to keep.

Why here and not in ``stage.py``: these are the rules of a folder that outlives a run.
A run that stages nothing leaves no folder (:func:`out_folder`); a review of one recording
is never put over another recording of the same name (:func:`refuse_review_of_another`);
and a run killed half-way through a folder of nights continues where it stopped: a
recording whose files are all there, written from the same recording, hypnogram, model,
options and version (:func:`staging_key`, recorded in :data:`KEYS_FILE`), is kept rather
than staged again (:func:`kept_staging`), so the run ends as an uninterrupted one would.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

from isatsleepnet import __version__
from isatsleepnet.atomic import atomic_write_text
from isatsleepnet.data.hashing import sha1_of
from isatsleepnet.errors import DataError
from isatsleepnet.inference.options import StageOptions, StageResult
from isatsleepnet.inference.output_formats import REVIEW_SUFFIXES, output_file
from isatsleepnet.inference.predictor import Predictor
from isatsleepnet.locking import ensure_writable_folder

KEYS_FILE = ".isatsleepnet-stagings.json"
"""``OUT/.isatsleepnet-stagings.json``: each recording name's :func:`staging_key`, the run's own bookkeeping
(not an output: the files of a staging are the same whether or not a run kept its key)."""


@contextlib.contextmanager
def out_folder(out: str | Path) -> Iterator[Path]:
    """The output folder, created for the block (a one-line error when it is a file, cannot be made or is not
    writable); one the block made and left empty is removed, so that a run that staged nothing leaves nothing.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp()) / "staged"
    >>> with out_folder(folder) as out:
    ...     out.is_dir()
    True
    >>> folder.exists()  # nothing was written into it
    False
    """
    out = Path(out)
    created = not out.exists()
    ensure_writable_folder(out)
    try:
        yield out
    finally:
        if created:
            with contextlib.suppress(OSError):  # not empty: something was written, and stays
                out.rmdir()


def refuse_review_of_another(out: Path, name: str, psg: Path, psg_sha1: str) -> None:
    """Refuse to stage ``psg`` (SHA1 ``psg_sha1``) as ``name`` where ``out`` keeps a review of another recording
    of that name.

    A review outlives a re-staging (its journal binds each edit to an epoch's onset), but staged from
    another file it would sit over another night: its reviewed files, which fine-tuning reads with the
    recording the staging names, would pair one night's corrections with another's signals.
    """
    journal = out / (name + REVIEW_SUFFIXES[0])
    if not journal.is_file() or journal.stat().st_size == 0:
        return
    try:
        reviewed = json.loads(output_file(out, name, "hypnogram_json").read_text(encoding="utf-8")).get("RecordingSHA1")
    except (OSError, ValueError, AttributeError):  # no record of what was staged: the review checks its journal
        return
    if reviewed and psg_sha1 != reviewed:
        raise DataError(psg, f"{journal} is a review of another recording named {name!r} (SHA1 {reviewed}); staging "
                             "this one there would put that review over another night: stage it into another "
                             f"{{out}}, or move {name}.review* and {name}.reviewed.* away")


def staging_key(psg_sha1: str, hypnogram: Path | None, predictor: Predictor, options: StageOptions) -> str:
    """The SHA1 of what makes a staging: the recording's bytes, the reference hypnogram's, the model's weights,
    every staging option and the package's version.

    How the hypnograms were paired with the recordings (``hypnograms``, ``auto_hypnogram``) is left out: this
    recording's own hypnogram is in the key, so naming one more night on the command line keeps the others.

    Examples
    --------
    >>> key = staging_key("ab" * 20, None, predictor, StageOptions())  # doctest: +SKIP
    """
    what = {
        "recording": psg_sha1,
        "hypnogram": sha1_of(hypnogram) if hypnogram is not None else None,
        "model": predictor.identity,
        "options": {k: v for k, v in dataclasses.asdict(options).items() if k not in ("hypnograms", "auto_hypnogram")},
        "version": __version__,
    }
    return hashlib.sha1(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()


def kept_staging(out: Path, name: str, psg: Path, key: str, options: StageOptions) -> StageResult | None:
    """The staging of ``name`` already in ``out`` under ``key``, every file ``options`` write present (None: stage it).

    A key is recorded only once the recording's files are in place (:func:`remember_staging`), and dropped
    before they are replaced (:func:`forget_staging`): a kill in between leaves no key, and the recording
    is staged again. A file deleted since is staged again too.
    """
    if _keys(out).get(name) != key:
        return None
    files = [out / f"{name}{entry.suffix}" for entry in options.formats()]
    if not all(f.is_file() for f in files):
        return None
    try:
        summary = json.loads(output_file(out, name, "sleep_stats").read_text(encoding="utf-8"))
        epochs = int(summary["recording"]["staged_epochs"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return StageResult(name, psg, "staged", epochs, files, summary)


def forget_staging(out: Path, name: str) -> None:
    """Drop ``name``'s key before its files are replaced."""
    keys = _keys(out)
    if keys.pop(name, None) is not None:
        atomic_write_text(out / KEYS_FILE, json.dumps(keys, indent=1, sort_keys=True) + "\n")


def remember_staging(out: Path, name: str, key: str) -> None:
    """Record ``name``'s key once its files are all in place."""
    atomic_write_text(out / KEYS_FILE, json.dumps({**_keys(out), name: key}, indent=1, sort_keys=True) + "\n")


def _keys(out: Path) -> dict[str, str]:
    """The recorded keys (none, or an unreadable file: none, and every recording is staged again)."""
    try:
        keys = json.loads((out / KEYS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in keys.items() if isinstance(v, str)} if isinstance(keys, dict) else {}
