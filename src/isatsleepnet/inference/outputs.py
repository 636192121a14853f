"""What `stage` writes for a recording NAME, and the folder it writes into.

The files are the entries of :data:`~isatsleepnet.inference.output_formats.OUTPUT_FORMATS`
(CSV and its JSON sidecar, EDF+/TSV annotations, figures, sleep statistics, report),
written by :func:`write_outputs` and moved into place together by :func:`publish_outputs`.

An output folder holds one model's stagings: ``OUT/model.sha1`` names its weights.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from isatsleepnet import STAGES, __version__
from isatsleepnet.atomic import TMP_PREFIX, atomic_write_text
from isatsleepnet.data.labels import DROP
from isatsleepnet.errors import IsatSleepNetError
from isatsleepnet.inference import exports
from isatsleepnet.inference.options import StageOptions, StageResult
from isatsleepnet.inference.output_formats import OUTPUT_FORMATS, formats_on, output_suffixes
from isatsleepnet.inference.predictor import Predictor
from isatsleepnet.inference.raw import RawRecording
from isatsleepnet.inference.sleep_stats import long_window_note, sleep_statistics

MODEL_MARKER = "model.sha1"


def claim_output_folder(out: Path, predictor: Predictor) -> None:
    """Refuse a folder holding another model's stagings (``OUT/model.sha1`` names the weights; a folder
    with stagings but no marker is refused too).

    Why: two models' hypnograms side by side, named only by recording, would be
    read as one model's results.
    """
    marker = out / MODEL_MARKER
    digest = predictor.identity
    if marker.is_file():
        if staged_by(out) != digest:
            raise IsatSleepNetError(f"{out} holds the stagings of another model ({marker}); stage into another "
                                    "{out}, or delete the folder")
        return
    if any(out.glob("*" + OUTPUT_FORMATS["sleep_stats"].suffix)):
        raise IsatSleepNetError(f"{out} holds stagings of an unknown model (no {MODEL_MARKER}); stage into another "
                                "{out}, or delete the folder")


def staged_by(out: Path) -> str | None:
    """The weights hash of the model whose stagings ``out`` holds (``OUT/model.sha1``; None: not recorded)."""
    marker = out / MODEL_MARKER
    try:
        return (marker.read_text().split() or [None])[0]
    except OSError:
        return None


def mark_output_folder(out: Path, predictor: Predictor) -> None:
    """Name the model in ``OUT/model.sha1`` once a staging of it is in the folder (a run that stages
    nothing leaves no marker behind)."""
    marker = out / MODEL_MARKER
    if not marker.is_file():
        atomic_write_text(marker, f"{predictor.identity}  {predictor.source.resolve()}\n")


def _expert_labels(codes: np.ndarray) -> list[str]:
    """The expert's stage of each epoch as the CSV writes it: "?" unscored or movement, "" outside the hypnogram."""
    return [STAGES[c] if c >= 0 else ("?" if c == DROP else "") for c in codes]


def summarise(
    recording: RawRecording, predictor: Predictor, options: StageOptions, name: str, first: int, stop: int,
    timeline: np.ndarray, flagged: np.ndarray, expert: np.ndarray | None, hypnogram: Path | None,
) -> dict[str, Any]:
    """``timeline``: the predicted code of every epoch first..stop (-1: not recorded); ``flagged``: epoch numbers."""
    epoch_s = predictor.inputs.epoch_seconds
    staged = timeline >= 0
    narrowed_by = next((flag for flag, used in (("--trim", options.trim), ("--lights", options.lights),
                                                 ("--start/--end", options.start_s is not None or options.end_s is not None))
                        if used), None)
    window_note = long_window_note((first * epoch_s, stop * epoch_s), recording.start, narrowed_by)
    summary: dict[str, Any] = {
        "recording": {
            "name": name,
            "file": str(recording.path),
            "start": recording.start.isoformat() if recording.start else None,
            "duration_s": recording.duration,
            "epoch_seconds": epoch_s,
            "whole_epochs": recording.n_epochs,
            "staged_epochs": int(staged.sum()),
            "first_epoch": first,
            "window_s": [first * epoch_s, stop * epoch_s],
            "window_hours": round((stop - first) * epoch_s / 3600.0, 4),
            "window_note": window_note,  # set when the window, and so the statistics, span much more than a night
            "ignored_tail_s": recording.ignored_seconds,
            "channels": [dataclasses.asdict(c) for c in recording.choices],
        },
        "model": predictor.describe(),
        "statistics": sleep_statistics(timeline, epoch_s),
        "expert": None,
        "review": {
            "min_confidence": options.min_confidence,
            "flagged_epochs": len(flagged),
            "percent": round(100.0 * len(flagged) / int(staged.sum()), 4),
            "epochs": [int(e) for e in flagged],
        },
        "notes": list(recording.notes) + ([window_note] if window_note else []),
        "isatsleepnet_version": __version__,
    }
    if expert is not None:
        from isatsleepnet.evaluation.metrics import compute_metrics

        scored = (expert >= 0) & staged
        agreement = compute_metrics(expert[scored], timeline[scored]) if scored.any() else None
        summary["expert"] = {
            "file": str(hypnogram),
            "scored_epochs": int(scored.sum()),
            "statistics": sleep_statistics(np.where(staged, expert, -1), epoch_s),  # over the same epochs
            "agreement": agreement,
        }
        if agreement is None:
            summary["notes"].append("the expert hypnogram scores none of the staged epochs")
        elif (staged & ~scored).any():
            summary["notes"].append(
                f"{int((staged & ~scored).sum())} staged epochs are unscored in the expert hypnogram: "
                "left out of the agreement and drawn as gaps in the expert's hypnogram"
            )
    return summary


@dataclass
class StagedRecording:
    """One recording's staging, ready to write: ``index`` are the staged epochs (rows of
    ``probabilities``, ``confidence``, ``review``); ``expert`` has one code per epoch of the
    window that starts at epoch ``first``."""

    name: str
    recording: RawRecording
    summary: dict[str, Any]
    index: np.ndarray
    first: int
    probabilities: np.ndarray
    confidence: np.ndarray
    review: np.ndarray
    expert: np.ndarray | None
    recording_sha1: str | None = None  # the file's SHA1 when the caller has it (the sidecar's, else computed)


def publish_outputs(out: Path, staged: StagedRecording, options: StageOptions) -> list[Path]:
    """Write a recording's files into a temporary folder of ``out``, then move them all into place.

    A failure leaves none of them; files of an earlier run that this one does not
    write (other --annotations, --no-plots) are removed, since they would describe
    another staging.
    """
    name = staged.name
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{name}.", dir=out))
    try:
        written = write_outputs(tmp, staged, options, final=out)
        finals = []
        mode = 0o666 & ~_umask()  # temporary files are private (0600); results get the usual mode
        for f in written:
            os.chmod(f, mode)
            os.replace(f, out / f.name)
            finals.append(out / f.name)
        for suffix in output_suffixes():
            stale = out / f"{name}{suffix}"
            if stale not in finals and stale.is_file():
                stale.unlink()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return finals


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def window_origin(first: int, options: StageOptions) -> str:
    """What the staged window starts at, as the figures' time axis names it (see :mod:`isatsleepnet.time_axis`)."""
    if first == 0:
        return "the recording start"
    return "lights off" if options.lights else "the window start"


@dataclass
class OutputContext:
    """One staged recording on its way to files, and the files written so far (format name -> path).

    Examples
    --------
    >>> context = OutputContext(staged, options)  # doctest: +SKIP
    >>> context.stage_labels[:3]  # doctest: +SKIP
    ['W', 'W', 'N1']
    """

    staged: StagedRecording
    options: StageOptions
    written: dict[str, Path] = field(default_factory=dict)
    folder: Path | None = None  # where the files will lie (a temporary folder's are moved there); None: where written

    @property
    def name(self) -> str:
        return self.staged.name

    @property
    def summary(self) -> dict[str, Any]:
        return self.staged.summary

    @property
    def epoch_seconds(self) -> float:
        return self.staged.recording.inputs.epoch_seconds

    @cached_property
    def onsets(self) -> np.ndarray:
        """Onset of each staged epoch, seconds from the recording start."""
        return self.staged.index * self.epoch_seconds

    @cached_property
    def predicted(self) -> np.ndarray:
        """The most probable stage's code of each staged epoch."""
        return self.staged.probabilities.argmax(axis=1)

    @property
    def stage_labels(self) -> list[str]:
        """The most probable stage of each staged epoch, as W, N1, N2, N3, REM."""
        return [STAGES[c] for c in self.predicted]

    @cached_property
    def at(self) -> np.ndarray:
        """Positions of the staged epochs in the window (which starts at epoch ``staged.first``)."""
        return self.staged.index - self.staged.first

    @cached_property
    def events(self) -> list[tuple[float, float, str]]:
        """Stage runs and review runs: the annotations of the EDF+ and TSV files."""
        return exports.annotation_events(self.onsets, self.predicted, self.staged.review, self.epoch_seconds)

    @cached_property
    def figure_axis(self) -> dict[str, Any]:
        """The keywords of the figures' time axis (:mod:`isatsleepnet.time_axis`)."""
        return {"start": self.staged.recording.start, "origin": window_origin(self.staged.first, self.options),
                "epoch_seconds": self.epoch_seconds}

    @cached_property
    def window_onsets(self) -> np.ndarray:
        """Onsets of every epoch of the window, gaps included: the figures span the whole window."""
        window = int(self.staged.index[-1]) + 1 - self.staged.first
        return (self.staged.first + np.arange(window)) * self.epoch_seconds

    def on_window(self, values: np.ndarray, fill: Any) -> np.ndarray:
        """``values`` of the staged epochs spread over the window, ``fill`` in its gaps."""
        shape = (len(self.window_onsets), *values.shape[1:])
        out = np.full(shape, fill, dtype=values.dtype)
        out[self.at] = values
        return out


def write_outputs(folder: Path, staged: StagedRecording, options: StageOptions, *,
                  final: Path | None = None) -> list[Path]:
    """Write into ``folder`` every file of :data:`~isatsleepnet.inference.output_formats.OUTPUT_FORMATS` that
    ``options`` turn on, in the table's order; the figures span the whole window (gaps left blank).

    ``final``: the folder the files will be moved to, where ``folder`` is a temporary one (the sidecar
    names the recording relative to where it will lie).

    Examples
    --------
    >>> [p.name for p in write_outputs(tmp, staged, StageOptions(plots=False, report=False))]  # doctest: +SKIP
    ['n.hypnogram.csv', 'n.hypnogram.json', 'n.annotations.edf', 'n.sleep_stats.json']
    """
    context = OutputContext(staged, options, folder=final if final is not None else folder)
    files = []
    for entry in formats_on(options.output_values()):
        path = entry.write(folder / f"{staged.name}{entry.suffix}", context)
        context.written[entry.name] = Path(path)
        files.append(Path(path))
    return files


def agreement_line(name: str, summary: dict[str, Any]) -> str | None:
    """How a staged recording agrees with its expert hypnogram, in one line; None without one.

    Why on the terminal: with ``--hypnogram`` the agreement is the number one stages for, and
    nobody should have to open each report to read it.
    """
    expert = summary.get("expert")
    if not expert:
        return None
    agreement = expert.get("agreement")
    if agreement is None:
        return f"{name}: agreement with the expert: none of the staged epochs is scored in {expert['file']}"
    return (f"{name}: agreement with the expert: accuracy {100 * agreement['accuracy']:.1f} %, "
            f"kappa {agreement['kappa']:.3f}, macro-F1 {100 * agreement['macro_f1']:.1f} % "
            f"({agreement['n_epochs']} scored epochs)")


def summary_table(results: list[StageResult]) -> str:
    """Plain-text table: one line per recording with the headline statistics, then a line per recording
    staged with an expert hypnogram on how they agree, and one per recording whose statistics cover
    much more than a night (:func:`~isatsleepnet.inference.sleep_stats.long_window_note`)."""
    header = ["recording", "status", "epochs", "TST min", "SE %", "review %", "s"]
    rows = []
    for r in results:
        if r.status == "staged":
            s = r.summary["statistics"]
            se = s["sleep_efficiency_percent"]
            rows.append([r.recording, r.status, str(r.n_epochs), f"{s['total_sleep_time_min']:.1f}",
                         f"{se:.1f}" if se is not None else "-", f"{r.summary['review']['percent']:.1f}",
                         f"{r.seconds:.1f}"])
        else:
            rows.append([r.recording, r.status, "-", "-", "-", "-", "-"])
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(header)]

    def fmt(row: list[str]) -> str:
        return "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))

    n_failed = sum(r.status == "failed" for r in results)
    lines = [fmt(header), fmt(["-" * w for w in widths]), *(fmt(row) for row in rows)]
    agreements = [agreement_line(r.recording, r.summary) for r in results if r.status == "staged"]
    lines += [line for line in agreements if line]
    # TST and SE over a day and a night look like a night's: say so beside them
    notes = [(r.recording, (r.summary.get("recording") or {}).get("window_note")) for r in results
             if r.status == "staged"]
    lines += [f"{name}: {note}" for name, note in notes if note]
    lines.append(f"{len(results) - n_failed} staged, {n_failed} failed")
    return "\n".join(lines)
