"""Stage raw recordings with a model: epochs in, hypnogram, statistics and report out.

For each recording: open it and resolve the model's channels (:mod:`.raw`), read
the whole epochs of the chosen span, predict stage probabilities
(:mod:`.predictor`), and write its files (:mod:`.outputs`): they appear together
when all are complete, so a failure leaves none of them. One failing recording
does not stop the others. Epochs whose confidence is below ``min_confidence``
(default 0.6: roughly a 60/40 split between two stages) are flagged for review.

Computing and writing are apart: :func:`stage_opened` stages an opened recording
in memory (what the Python API, :mod:`isatsleepnet.api`, returns), and
:func:`~isatsleepnet.inference.outputs.publish_outputs` writes it;
:func:`stage_recording` does open, stage and write for the command line.
"""

from __future__ import annotations

import dataclasses
import math
import re
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from isatsleepnet.atomic import TMP_PREFIX, remove_stale_temporaries
from isatsleepnet.data.epochs import unusable_epochs
from isatsleepnet.data.hashing import sha1_of
from isatsleepnet.data.readers.formats import signal_format_of
from isatsleepnet.data.readers.hypnogram_grid import Hypnogram
from isatsleepnet.errors import DataError, IsatSleepNetError, describe_exception, keyword, render, template_line
from isatsleepnet.inference.input_check import recording_warnings
from isatsleepnet.inference.options import StageOptions, StageResult
from isatsleepnet.inference.out_folder import (forget_staging, kept_staging, out_folder, refuse_review_of_another,
                                               remember_staging, staging_key)
from isatsleepnet.inference.output_formats import is_output_file
from isatsleepnet.inference.outputs import (
    StagedRecording,
    claim_output_folder,
    mark_output_folder,
    publish_outputs,
    summarise,
)
from isatsleepnet.inference.predictor import Predictor, confidence_of
from isatsleepnet.inference.raw import RawRecording, check_overrides
from isatsleepnet.locking import folder_lock

_OWN_CSV_HEADER = "epoch,onset_s,stage,p_W"


# --------------------------------------------------------------------------- inputs
def expand_inputs(paths: Sequence[str | Path]) -> tuple[list[Path], list[DataError]]:
    """Recordings named directly or found in folders (recursively); missing paths become errors.

    In a folder, a recording is a file of a format of
    :data:`~isatsleepnet.data.readers.formats.SIGNAL_FORMATS` that is neither a hypnogram nor a
    file `stage` writes (:func:`~isatsleepnet.inference.output_formats.is_output_file`).
    """
    found: list[Path] = []
    errors: list[DataError] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            files = sorted(
                f for f in p.rglob("*")
                if f.is_file() and signal_format_of(f) is not None
                and "hypnogram" not in f.name.lower() and not is_output_file(f)
                and not f.name.startswith(TMP_PREFIX)
            )
            if not files:
                errors.append(DataError(p, "no EDF/BDF recordings in this folder"))
            found.extend(files)
        elif p.is_file():
            found.append(p)
        else:
            errors.append(DataError(p, "file not found"))
    unique: list[Path] = []
    for f in found:
        if f.resolve() not in {u.resolve() for u in unique}:
            unique.append(f)
    return unique, errors


_SLEEP_EDF_PSG = re.compile(r"^(S[CT]\d{4})[A-Z0-9]{2}-PSG\.edf$", re.I)


def find_reference_hypnogram(psg: Path) -> Path | None:
    """The expert hypnogram beside a PSG (Sleep-EDF's pairing, then STEM-Hypnogram.edf, STEM.xml, ...)."""
    from isatsleepnet.data.sources import find_hypnogram

    m = _SLEEP_EDF_PSG.match(psg.name)
    if m:
        hits = sorted(psg.parent.glob(f"{m.group(1)}??-Hypnogram.edf"))
        if len(hits) == 1:
            return hits[0]
    hit = find_hypnogram(psg)
    if hit is not None and hit.suffix.lower() == ".csv":
        with hit.open(encoding="utf-8", errors="replace") as f:
            if f.readline().startswith(_OWN_CSV_HEADER):
                return None  # a CSV this command wrote, not an expert's hypnogram
    return hit


# --------------------------------------------------------------------------- one recording
def _span(recording: RawRecording, options: StageOptions, expert: np.ndarray | None, source: Path | None) -> tuple[int, int]:
    """First and stop (exclusive) epoch to stage on the recording's grid."""
    n, epoch_s = recording.n_epochs, recording.inputs.epoch_seconds
    if options.trim:
        assert expert is not None and source is not None
        sleep = np.flatnonzero(expert > 0)
        if len(sleep) == 0:
            raise DataError(source, "no sleep epoch scored: nothing to trim around")
        k = int(round(options.trim_minutes * 60.0 / epoch_s))
        return max(int(sleep[0]) - k, 0), min(int(sleep[-1]) + k + 1, n)
    start_s, end_s, what = options.start_s, options.end_s, ("{start_s}", "{end_s}")  # settings, in a template
    if options.lights:
        start_s, end_s = recording.lights()
        what = ("lights off", "lights on")
        if start_s is None and end_s is None:
            raise DataError(recording.path, "no 'Lights off' / 'Lights on' annotation ({lights}); use {start_s}/{end_s}")
        recording.notes.append(
            "staged from " + (f"lights off ({start_s:g} s)" if start_s is not None else "the start (no lights off)")
            + " to " + (f"lights on ({end_s:g} s)" if end_s is not None else "the end (no lights on)")
        )
    first = 0 if start_s is None else int(math.ceil(start_s / epoch_s - 1e-9))
    stop = n if end_s is None else min(n, int(math.floor(end_s / epoch_s + 1e-9)))
    if first >= n:
        raise DataError(recording.path, f"{what[0]} at {start_s:g} s leaves no whole epoch (the last starts at "
                                        f"{(n - 1) * epoch_s:g} s)")
    if stop <= first:
        raise DataError(recording.path, f"no whole epoch between {what[0]} and {what[1]}")
    return first, stop


def stage_recording(
    path: str | Path,
    predictor: Predictor,
    out: str | Path,
    options: StageOptions,
    *,
    hypnogram: Path | None = None,
    name: str | None = None,
    recording_sha1: str | None = None,
    progress: bool | None = False,
) -> StageResult:
    """Stage one recording into ``out``: open, :func:`stage_opened`, :func:`publish_outputs`.

    ``recording_sha1``: the file's SHA1, if the caller has it (else the sidecar computes it);
    ``progress``: a bar of the epochs staged (None: on a terminal). Raises DataError (naming the file)
    on bad input.
    """
    t0 = time.perf_counter()
    path, out = Path(path), Path(out)
    name = name or path.stem
    timings: dict[str, float] = {}
    recording = RawRecording.open(path, predictor.inputs, overrides=options.channels, assume_unit=options.assume_unit)
    opened = time.perf_counter() - t0
    staged = stage_opened(recording, predictor, options, name=name, hypnogram=hypnogram, source=path, timings=timings,
                          progress=progress)
    timings["read"] += opened
    staged = dataclasses.replace(staged, recording_sha1=recording_sha1)
    t2 = time.perf_counter()
    finals = publish_outputs(out, staged, options)
    timings["write"] = time.perf_counter() - t2
    return StageResult(name, path, "staged", len(staged.index), finals, staged.summary,
                       seconds=time.perf_counter() - t0, timings=timings)


def stage_opened(
    recording: RawRecording,
    predictor: Predictor,
    options: StageOptions,
    *,
    name: str,
    hypnogram: Path | Hypnogram | None = None,
    source: Path | None = None,
    timings: dict[str, float] | None = None,
    progress: bool | None = False,
) -> StagedRecording:
    """Stage an opened recording in memory: the epochs of the chosen span, their stages and statistics.

    Parameters
    ----------
    recording
        Opened for ``predictor``'s inputs (:meth:`RawRecording.open`).
    predictor
        The loaded model.
    options
        Span, review threshold, batch size, stage codes of the reference.
    name
        The recording's name in the summary (and the files :func:`publish_outputs` writes).
    hypnogram
        A reference hypnogram to compare with: a file (read placed on the recording's start) or
        an already read :class:`~isatsleepnet.data.readers.hypnogram_grid.Hypnogram`.
    source
        The name errors give (default: the recording's path).
    timings
        Filled with the seconds spent reading ("read") and predicting ("predict").
    progress
        A progress bar of the epochs through the network (None: shown on a terminal only).

    Returns
    -------
    StagedRecording
        Ready for :func:`publish_outputs`; nothing is written.

    Raises
    ------
    DataError
        Naming ``source``: no whole epoch, none in the span, none that can be staged.
    """
    t0 = time.perf_counter()
    path = Path(source) if source is not None else recording.path
    timings = {} if timings is None else timings
    epoch_s = predictor.inputs.epoch_seconds
    if recording.n_epochs == 0:
        raise DataError(path, f"shorter than one {epoch_s:g}-s epoch ({recording.duration:g} s)")
    expert_codes = None
    hypnogram_file: Path | None = None
    if hypnogram is not None:
        from isatsleepnet.data.readers.hypnogram import read_hypnogram

        if isinstance(hypnogram, Hypnogram):
            reference, hypnogram_file = hypnogram, hypnogram.source
        else:
            hypnogram_file = Path(hypnogram)
            reference = read_hypnogram(hypnogram_file, psg_start=recording.start, epoch_seconds=epoch_s,
                                       stage_codes=options.stage_codes)
        # any coverage will do for a comparison (a hypnogram of the night inside a 24-h recording);
        # a hypnogram that overruns the PSG or covers none of it is still refused
        expert_codes = reference.to_epochs(recording.n_epochs, epoch_s, min_coverage=0.0)
        offset = reference.grid_offset(epoch_s)
        if offset:
            recording.notes.append(f"the expert's epochs start {offset:g} s off the staging grid: each staged epoch "
                                   "is compared with the expert's stage at its midpoint")
        recording.notes.extend(n for n in reference.notes if n not in recording.notes)
    first, stop = _span(recording, options, expert_codes, hypnogram_file)
    index = recording.available(first, stop)  # all of first..stop, unless an EDF+D has gaps there
    if len(index) == 0:
        raise DataError(path, "no wholly recorded epoch in the window to stage (gaps of an EDF+D recording)")
    first, stop = int(index[0]), int(index[-1]) + 1  # time without data at either end is not time in bed
    epochs = recording.read(index=index)
    timings["read"] = time.perf_counter() - t0

    t1 = time.perf_counter()  # "predict" includes the checks of the input against the model's training data
    finite_input = ~unusable_epochs(epochs)  # not finite, or beyond ±10 V: not a recording's numbers
    if not finite_input.any():  # (before the input check, which has nothing to compare then)
        raise DataError(path, "no epoch can be staged: its samples are not finite or lie beyond ±10 V (a wrong "
                              "unit, gain or calibration?)")
    input_warnings = recording_warnings(predictor.meta, epochs[finite_input], predictor.inputs.sampling_rate)
    if not (predictor.meta.get("training") or {}).get("input_profile"):  # silence would read as "looks fine"
        recording.notes.append("the model carries no description of its training data's signals (saved before "
                               "models did, or not made by `train`): this recording was not checked against it")
    epochs[~finite_input] = 0.0  # never fed to the model: their rows are dropped below
    # the epochs' numbers tell a context model its neighbours: an unusable epoch (never a neighbour) gets a
    # number consecutive with none, so that the context breaks there as at an EDF+D gap
    neighbours = np.where(finite_input, index, -2 * np.arange(1, len(index) + 1))
    from tqdm.auto import tqdm

    with tqdm(total=len(epochs), desc=f"  {name}", unit="ep", leave=False,
              disable=(not progress) if progress is not None else None) as bar:
        probabilities = predictor.probabilities(epochs, options.batch_size, neighbours, progress=bar.update)
    del epochs
    timings["predict"] = time.perf_counter() - t1
    scorable = finite_input & np.isfinite(probabilities).all(axis=1)
    if not scorable.any():
        raise DataError(path, "no epoch can be staged: the model's outputs are not finite numbers (a corrupt model?)")
    if not scorable.all():  # left unstaged, like the gaps of an EDF+D: never a stage from such numbers
        bad = index[~scorable]
        recording.notes.append(f"{len(bad)} epoch(s) could not be staged (input not finite or beyond ±10 V, or "
                               f"model output not finite; first: epoch {int(bad[0])}): left unstaged and unscored")
        index, probabilities = index[scorable], probabilities[scorable]

    predicted = probabilities.argmax(axis=1)
    confidence = confidence_of(probabilities)
    review = confidence < options.min_confidence
    # the whole window, epoch by epoch: -1 where an EDF+D gap left nothing to stage
    timeline = np.full(stop - first, -1, dtype=np.int64)
    timeline[index - first] = predicted
    expert = expert_codes[first:stop] if expert_codes is not None else None
    summary = summarise(recording, predictor, options, name, first, stop, timeline, index[review], expert,
                        hypnogram_file)
    summary["warnings"] = [*input_warnings, *recording.warnings]  # what the model knows comes first
    return StagedRecording(name, recording, summary, index, first, probabilities, confidence, review, expert)


# --------------------------------------------------------------------------- many recordings
def stage_recordings(
    inputs: Sequence[str | Path],
    predictor: Predictor,
    out: str | Path,
    options: StageOptions,
    *,
    progress: bool | None = None,
    debug: bool = False,
    spell: Callable[[str], str] = keyword,
) -> list[StageResult]:
    """Stage every recording; each failure becomes a failed result (printed as one line) and the rest go on.

    ``out`` is held for this run (a second `stage` into it refuses) and claimed
    for this model's weights (another model's stagings there are refused). A failed
    result's ``error`` keeps its settings as ``{setting}`` placeholders; the lines written
    to stderr spell them with ``spell`` (``stage_codes=``; the CLI's ``--stage-codes``).

    Examples
    --------
    >>> results = stage_recordings(["night.edf"], predictor, "staged", StageOptions())  # doctest: +SKIP
    >>> [r.status for r in results]  # doctest: +SKIP
    ['staged']
    """
    check_overrides(predictor.inputs, options.channels)  # roles the model lacks, or needs and is told to drop
    out = Path(out)
    inputs = [Path(p) for p in inputs]
    if options.hypnograms is not None:
        if any(p.is_dir() for p in inputs):
            raise IsatSleepNetError("{hypnogram} FILE pairs with recording files, not folders; use {hypnogram} auto")
        if len(options.hypnograms) != len(inputs):
            raise IsatSleepNetError(
                f"{len(options.hypnograms)} {{hypnogram}} file(s) for {len(inputs)} recording(s): "
                "give one per recording, in the same order, or {hypnogram} auto"
            )
    recordings, errors = expand_inputs(inputs)
    with out_folder(out), folder_lock(out, "stage"):
        claim_output_folder(out, predictor)
        return _stage_all(recordings, errors, inputs, predictor, out, options, progress=progress, debug=debug,
                          spell=spell)


def _stage_all(
    recordings: list[Path], errors: list[DataError], inputs: list[Path], predictor: Predictor, out: Path,
    options: StageOptions, *, progress: bool | None, debug: bool, spell: Callable[[str], str],
) -> list[StageResult]:
    from tqdm.auto import tqdm

    results = [StageResult(e.path.stem, e.path, "failed", error=template_line(e)) for e in errors]
    for r in results:
        tqdm.write(f"error: {render(r.error, spell)}", file=sys.stderr)
    remove_stale_temporaries(out)
    if options.hypnograms is not None:
        by_input = dict(zip(inputs, options.hypnograms))
        pairs = [(r, by_input.get(r)) for r in recordings]
    else:
        pairs = [(r, find_reference_hypnogram(r) if options.auto_hypnogram else None) for r in recordings]
    used: dict[str, Path] = {}
    bar = tqdm(pairs, desc="stage", unit="rec", disable=(not progress) if progress is not None else None)
    for psg, hypnogram in bar:
        bar.set_postfix_str(psg.name)
        name = psg.stem
        try:
            if name in used:
                raise DataError(psg, f"its outputs would replace those of {used[name]} (same name {name!r}) in "
                                     f"{out}; stage it into another {{out}}")
            used[name] = psg
            psg_sha1 = sha1_of(psg)
            refuse_review_of_another(out, name, psg, psg_sha1)
            if options.trim and hypnogram is None:
                raise DataError(psg, "{trim} needs an expert hypnogram and none was found beside this recording")
            key = staging_key(psg_sha1, hypnogram, predictor, options)
            result = kept_staging(out, name, psg, key, options)
            if result is not None:  # a run stopped after this recording: its files stay as they are
                tqdm.write(f"note: {psg.name}: staged already by this model with these options: kept (delete "
                           f"one of its files to stage it again)", file=sys.stderr)
            else:
                if options.auto_hypnogram and hypnogram is None:
                    tqdm.write(f"note: {psg.name}: no hypnogram found beside it ({spell('hypnogram')} auto): staged "
                               "without comparison", file=sys.stderr)
                forget_staging(out, name)
                result = stage_recording(psg, predictor, out, options, hypnogram=hypnogram, name=name,
                                         recording_sha1=psg_sha1, progress=progress)
                remember_staging(out, name, key)
            mark_output_folder(out, predictor)
            for note in result.summary.get("notes", []):
                tqdm.write(f"note: {psg.name}: {note}", file=sys.stderr)
            for warning in result.summary.get("warnings", []):
                tqdm.write(f"warning: {psg.name}: {warning}", file=sys.stderr)
        except Exception as exc:  # one recording's failure must not stop the others
            if debug:
                raise
            message = (template_line(exc) if isinstance(exc, IsatSleepNetError)
                       else f"{psg.name}: {describe_exception(exc)}")
            result = StageResult(name, psg, "failed", error=message)
            tqdm.write(f"error: {render(message, spell)}", file=sys.stderr)
        results.append(result)
    bar.close()
    return results


