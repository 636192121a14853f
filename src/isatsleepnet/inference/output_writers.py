"""The writers of :data:`~isatsleepnet.inference.output_formats.OUTPUT_FORMATS`: one function per file.

Every writer takes ``(path, context)`` and returns the path it wrote, all or nothing.
Each gets an :class:`~isatsleepnet.inference.outputs.OutputContext`: one staged recording and
what several writers derive from it (onsets, predicted stages, the window's timeline for the
figures), computed once, plus the files already written in this run (the report embeds the
figures). The context lives in :mod:`~isatsleepnet.inference.outputs`, beside
:func:`~isatsleepnet.inference.outputs.write_outputs` that makes it, so that the imports run one
way: the table, then the options, then ``outputs``, then the writers.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from isatsleepnet import STAGES
from isatsleepnet.atomic import atomic_write_text
from isatsleepnet.inference import exports
from isatsleepnet.inference.outputs import OutputContext, _expert_labels


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
    return exports.write_csv_sidecar(path, columns, context.summary, min_confidence=context.options.min_confidence,
                                     recording_sha1=staged.recording_sha1, folder=context.folder)


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
    """``NAME.sleep_stats.json``: the whole summary (recording, model, statistics, expert, review, notes).

    Examples
    --------
    A writer reads only the members of the context it needs (here the summary):

    >>> import tempfile, types
    >>> context = types.SimpleNamespace(summary={"statistics": {"total_sleep_time_min": 412.5}})
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = write_sleep_stats(Path(folder) / "n.sleep_stats.json", context)
    ...     json.loads(path.read_text())["statistics"]
    {'total_sleep_time_min': 412.5}
    """
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
