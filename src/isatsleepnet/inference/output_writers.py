"""The writers of :data:`~isatsleepnet.inference.output_formats.OUTPUT_FORMATS`: one function per file.

Every writer takes ``(path, context)`` and returns the path it wrote, all or nothing.
:class:`OutputContext` holds one staged recording and what several writers derive from it
(onsets, predicted stages, the window's timeline for the figures), computed once, plus the
files already written in this run (the report embeds the figures).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from isatsleepnet import STAGES
from isatsleepnet.atomic import atomic_write_text
from isatsleepnet.inference import exports
from isatsleepnet.inference.outputs import _expert_labels, window_origin

if TYPE_CHECKING:
    from isatsleepnet.inference.options import StageOptions
    from isatsleepnet.inference.outputs import StagedRecording


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


def write_hypnogram_csv(path: Path, context: OutputContext) -> Path:
    """``NAME.hypnogram.csv``: :func:`~isatsleepnet.inference.exports.write_epochs_csv` of the staged epochs."""
    staged = context.staged
    expert = _expert_labels(staged.expert[context.at]) if staged.expert is not None else None
    return exports.write_epochs_csv(path, staged.index, context.onsets, staged.probabilities, staged.confidence,
                                    staged.review, expert=expert, start=staged.recording.start)


def write_hypnogram_json(path: Path, context: OutputContext) -> Path:
    """``NAME.hypnogram.json``: the CSV's sidecar, naming exactly the columns the CSV holds."""
    staged = context.staged
    columns = [*exports.CSV_COLUMNS, *(["expert"] if staged.expert is not None else []),
               *(["clock_time"] if staged.recording.start is not None else [])]
    return exports.write_csv_sidecar(path, columns, context.summary, min_confidence=context.options.min_confidence)


def write_annotations_edf(path: Path, context: OutputContext) -> Path:
    """``NAME.annotations.edf``: an annotation-only EDF+ starting when the recording starts."""
    return exports.write_annotations_edf(path, context.events, start=context.staged.recording.start)


def write_annotations_tsv(path: Path, context: OutputContext) -> Path:
    """``NAME.annotations.tsv``: the same annotations as a BIDS-style events table."""
    return exports.write_annotations_tsv(path, context.events)


def write_hypnogram_png(path: Path, context: OutputContext) -> Path:
    """``NAME.hypnogram.png``: the stages over the window; with a reference, its stages above and the agreement."""
    from isatsleepnet.plots.hypnogram import plot_hypnogram

    staged, name = context.staged, context.name
    timeline = context.on_window(context.predicted.astype(np.int64), -1)
    agreement = (context.summary["expert"] or {}).get("agreement")
    if agreement is not None:
        title = (f"{name}: accuracy {100 * agreement['accuracy']:.1f} %, "
                 f"κ = {agreement['kappa']:.3f} ({agreement['n_epochs']} scored epochs)")
        return plot_hypnogram(context.window_onsets, timeline, path, expert=staged.expert[:len(timeline)],
                              title=title, **context.figure_axis)
    return plot_hypnogram(context.window_onsets, timeline, path, title=f"{name}: ISATSleepNet hypnogram",
                          **context.figure_axis)


def write_hypnodensity_png(path: Path, context: OutputContext) -> Path:
    """``NAME.hypnodensity.png``: the stage probabilities over the window (gaps: an empty column)."""
    from isatsleepnet.plots.hypnodensity import plot_hypnodensity

    staged = context.staged
    density = context.on_window(staged.probabilities.astype(float), 0.0)
    flags = context.on_window(staged.review.astype(bool), False)
    return plot_hypnodensity(context.window_onsets, density, path, review=flags,
                             title=f"{context.name}: stage probabilities", **context.figure_axis)


def write_sleep_stats(path: Path, context: OutputContext) -> Path:
    """``NAME.sleep_stats.json``: the whole summary (recording, model, statistics, expert, review, notes)."""
    atomic_write_text(path, json.dumps(context.summary, indent=2) + "\n")
    return path


def write_report(path: Path, context: OutputContext) -> Path:
    """``NAME.report.html``: one page, the figures written in this run embedded (none without them)."""
    from isatsleepnet.inference.html_report import write_report as write_html

    staged = context.staged
    figures = {"hypnogram": context.written.get("hypnogram_png"),
               "hypnodensity": context.written.get("hypnodensity_png")}
    order = np.argsort(staged.probabilities, axis=1)
    rows = [{"epoch": int(staged.index[i]), "onset_s": float(context.onsets[i]), "stage": STAGES[order[i, -1]],
             "second": STAGES[order[i, -2]], "confidence": float(staged.confidence[i])}
            for i in np.flatnonzero(staged.review)]
    return write_html(path, context.summary, figures, rows)
