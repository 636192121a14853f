"""One staged night in memory: :class:`Night`, what :meth:`StagingModel.stage` returns.

Its arrays have one entry per epoch of the staged window (the whole recording,
or ``start``..``end``): epoch ``k`` starts ``k * 30`` s after the recording
start. An epoch without a stage (a gap of an EDF+D recording, samples that are
not finite) has the label :data:`UNSTAGED`, code -1, NaN probabilities and
confidence, and is never flagged for review; it counts in time in bed only.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from isatsleepnet.api.night_epochs import NightEpochs
from isatsleepnet.api.views import (
    annotations_of,
    dataframe_of,
    figure_options,
    hypnodensity_of,
    hypnogram_of,
    reference_codes,
)
from isatsleepnet.errors import IsatSleepNetError, SettingError

if TYPE_CHECKING:
    from isatsleepnet.review.serve import ReviewServer
    import mne
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from isatsleepnet.data.readers.hypnogram_grid import Hypnogram

class Night(NightEpochs):
    """A staged recording: stages, probabilities, confidence and statistics of every epoch.

    Made by :meth:`StagingModel.stage`; nothing is written until :meth:`write`.

    Attributes
    ----------
    name : str
        The recording's name (a file's stem), as its output files are named.
    model : StagingModel
        The model that staged it.
    start : datetime.datetime or None
        When the recording started (None when the file does not say).
    epoch_seconds : float
        Length of one epoch.

    Examples
    --------
    >>> import isatsleepnet as isn
    >>> model = isn.load_model("model.pt", threads=1)
    >>> night = model.stage("night/SC4001E0-PSG.edf", hypnogram="night/SC4001EC-Hypnogram.edf")
    >>> len(night), night.epoch_seconds, night.start
    (120, 30.0, datetime.datetime(1989, 3, 1, 22, ...))
    >>> set(night.stages) <= {"W", "N1", "N2", "N3", "REM"}
    True
    """

    # per-epoch arrays, summary, notes and warnings: see NightEpochs

    def sleep_statistics(self) -> dict[str, Any]:
        """Sleep statistics of the staged window: TIB, TST, sleep efficiency, latencies, WASO, awakenings, stages.

        The definitions are :mod:`isatsleepnet.inference.sleep_stats`'s; durations in minutes.
        They cover the staged window, whatever it holds: for a recording much longer than a
        night (a staged window over 16 h, such as a 22-h Sleep-EDF day-and-night recording)
        ``night.notes`` and ``night.summary["recording"]["window_note"]`` say which window
        (clock times, hours); stage with ``start=``/``end=`` or ``lights=True`` to keep the night.

        Returns
        -------
        dict
            The ``"statistics"`` of ``NAME.sleep_stats.json``.

        Examples
        --------
        >>> stats = night.sleep_statistics()
        >>> stats["time_in_bed_min"]
        60.0
        >>> stats == night.summary["statistics"]
        True
        """
        from isatsleepnet.inference.sleep_stats import sleep_statistics

        return sleep_statistics(self._codes, self.epoch_seconds)

    def agreement(self, reference: Hypnogram | str | os.PathLike | Sequence[Any] | None = None) -> dict[str, Any]:
        """How the stages agree with a reference hypnogram, over the epochs both score.

        Parameters
        ----------
        reference : Hypnogram, path-like or sequence of labels, optional
            :func:`read_hypnogram`'s result or a hypnogram file (placed on the recording's
            start, each epoch compared with the reference's stage at its midpoint); or one
            label per epoch (see :func:`stage_codes_of`), either from the recording start
            (one per whole epoch of the recording) or for the night's own epochs.
            Default: the hypnogram given to :meth:`StagingModel.stage`.

        Returns
        -------
        dict
            ``n_epochs`` compared, ``accuracy``, Cohen's ``kappa``, ``macro_f1``, ``macro_gmean``,
            ``per_class_f1`` by stage, and ``confusion_matrix`` (rows: the reference, columns:
            these stages, both in the order of :data:`isatsleepnet.STAGES`), from
            :func:`isatsleepnet.evaluation.metrics.compute_metrics`.

        Raises
        ------
        IsatSleepNetError
            No reference, one of another length or recording, or no epoch scored by both.

        Examples
        --------
        >>> result = night.agreement("night/SC4001EC-Hypnogram.edf")
        >>> sorted(result)
        ['accuracy', 'confusion_matrix', 'kappa', 'macro_f1', 'macro_gmean', 'n_epochs', 'per_class_f1']
        >>> result["n_epochs"] == night.summary["expert"]["scored_epochs"]  # epochs the hypnogram scores
        True
        >>> night.agreement(night.stages)["accuracy"]
        1.0
        """
        from isatsleepnet.evaluation.metrics import compute_metrics

        truth = self._reference_codes(reference)
        scored = (truth >= 0) & (self._codes >= 0)
        if not scored.any():
            raise IsatSleepNetError(f"{self.name}: the reference scores none of the staged epochs")
        return compute_metrics(truth[scored], self._codes[scored])

    def _reference_codes(self, reference: Any) -> np.ndarray:
        """The reference's code of every epoch of the window (-1 unscored)."""
        return reference_codes(reference, self._staged, first=self._first, n=len(self),
                               epoch_seconds=self.epoch_seconds, stage_codes=self._options.stage_codes)

    # ------------------------------------------------------------------ figures
    def _figure_options(self) -> dict[str, Any]:
        return figure_options(self.start, self._first, self._options, self.epoch_seconds)

    def plot_hypnogram(self, ax: Axes | None = None, *, expert: bool = True) -> Figure:
        """The hypnogram, as in ``NAME.hypnogram.png`` (the reference's above it, when there is one).

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Draw the stages into this Axes (the reference is then left out); default: a new figure.
        expert : bool
            Draw the reference given to :meth:`StagingModel.stage` above, on a new figure.

        Returns
        -------
        matplotlib.figure.Figure

        Examples
        --------
        >>> fig = night.plot_hypnogram()
        >>> len(fig.axes)
        2
        >>> import matplotlib.pyplot as plt
        >>> fig, ax = plt.subplots()
        >>> night.plot_hypnogram(ax=ax) is fig
        True
        """
        return hypnogram_of(self._staged, self.onsets, self._codes, self.name, ax=ax, expert=expert,
                            **self._figure_options())

    def plot_hypnodensity(self, ax: Axes | None = None) -> Figure:
        """The stage probabilities over the night, epochs to review marked, as in ``NAME.hypnodensity.png``.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Draw into this Axes; default: a new figure.

        Returns
        -------
        matplotlib.figure.Figure

        Examples
        --------
        >>> fig = night.plot_hypnodensity()
        >>> fig.axes[0].get_ylabel()
        'probability'
        """
        return hypnodensity_of(self.onsets, self._probabilities, self._review, self.name, ax=ax,
                               **self._figure_options())

    # ------------------------------------------------------------------ other tools
    def to_mne_annotations(self) -> mne.Annotations:
        """The stages as ``mne.Annotations``, those of ``NAME.annotations.edf``.

        Consecutive epochs of one stage are one annotation ("Sleep stage W", "Sleep stage N1",
        "Sleep stage N2", "Sleep stage N3", "Sleep stage R"); epochs flagged for review get a
        "Review: low confidence" annotation too. Onsets are seconds from the recording start,
        ``orig_time`` is the recording's start (as UTC, the way MNE reads an EDF's start), so that
        ``raw.set_annotations(night.to_mne_annotations())`` places them on the recording's Raw.

        Returns
        -------
        mne.Annotations

        Examples
        --------
        >>> annotations = night.to_mne_annotations()
        >>> annotations.orig_time
        datetime.datetime(1989, 3, 1, 22, ..., tzinfo=datetime.timezone.utc)
        >>> float(annotations.duration[["Sleep stage" in d for d in annotations.description]].sum())
        3600.0
        """
        return annotations_of(self._staged, self.epoch_seconds, self.start)

    def to_dataframe(self) -> pd.DataFrame:
        """One row per staged epoch, with the columns of ``NAME.hypnogram.csv``.

        ``epoch``, ``onset_s``, ``stage``, ``p_W`` .. ``p_REM``, ``confidence``, ``review`` (bool),
        then ``expert`` (with a reference: its label, "?" unscored or movement, "" outside it) and
        ``clock_time`` (when the recording's start is known). Values are not rounded as in the CSV.

        Returns
        -------
        pandas.DataFrame

        Examples
        --------
        >>> df = night.to_dataframe()
        >>> list(df.columns)
        ['epoch', 'onset_s', 'stage', 'p_W', 'p_N1', 'p_N2', 'p_N3', 'p_REM', 'confidence', 'review', 'expert', 'clock_time']
        >>> df["clock_time"].iloc[0] == night.start.strftime("%H:%M:%S")
        True
        """
        return dataframe_of(self._staged, self.stages[self._at], self._at, self.epoch_seconds, self.start)

    def write(self, out: str | os.PathLike = "staged", **settings: bool | str) -> list[Path]:
        """Write the files ``isatsleepnet stage`` writes for this recording into the folder ``out``.

        The files are those of :data:`~isatsleepnet.inference.output_formats.OUTPUT_FORMATS` that the
        settings turn on; by default ``NAME.hypnogram.csv`` and its ``.hypnogram.json``,
        ``NAME.annotations.edf``, ``NAME.hypnogram.png``, ``NAME.hypnodensity.png``,
        ``NAME.sleep_stats.json`` and ``NAME.report.html``. They appear together when all are
        complete. As for the command line, ``out`` holds one model's stagings (``out/model.sha1``)
        and one writer at a time.

        Parameters
        ----------
        out : path-like, default "staged"
            The folder (created if missing).
        **settings : bool or str
            A setting of the output table by name (its flag on the command line), the defaults
            otherwise: ``annotations`` ({"edf", "tsv", "both"}: EDF+, BIDS-style TSV, or both),
            ``plots`` (the two figures), ``report`` (the HTML report), and that of any format
            registered with :func:`~isatsleepnet.inference.output_formats.register_output`.

        Returns
        -------
        list of pathlib.Path
            The files written.

        Raises
        ------
        IsatSleepNetError
            A setting no output format has, or a value it cannot take.

        Examples
        --------
        >>> [p.name for p in night.write("staged")]
        ['SC4001E0-PSG.hypnogram.csv', 'SC4001E0-PSG.hypnogram.json', 'SC4001E0-PSG.annotations.edf', 'SC4001E0-PSG.hypnogram.png', 'SC4001E0-PSG.hypnodensity.png', 'SC4001E0-PSG.sleep_stats.json', 'SC4001E0-PSG.report.html']
        >>> [p.name for p in night.write("tables", annotations="tsv", plots=False, report=False)]
        ['SC4001E0-PSG.hypnogram.csv', 'SC4001E0-PSG.hypnogram.json', 'SC4001E0-PSG.annotations.tsv', 'SC4001E0-PSG.sleep_stats.json']
        """
        from isatsleepnet.inference.out_folder import refuse_review_of_another
        from isatsleepnet.inference.output_formats import output_settings
        from isatsleepnet.inference.outputs import (
            claim_output_folder,
            mark_output_folder,
            publish_outputs,
        )
        from isatsleepnet.locking import ensure_writable_folder, folder_lock

        if not isinstance(out, (str, os.PathLike)):
            raise SettingError("out", f"must be a folder's path, not {out!r}")
        known = output_settings()
        unknown = sorted(set(settings) - set(known))
        if unknown:
            raise IsatSleepNetError(f"write() has no setting {', '.join(unknown)} (settings: {', '.join(known)})")
        own = {f.name for f in dataclasses.fields(self._options)}
        for name, value in settings.items():
            if not known[name].choices and not isinstance(value, bool):
                raise SettingError(name, f"must be True or False, not {value!r}")
        values = dict(settings)
        extra = {**self._options.outputs, **{k: v for k, v in values.items() if k not in own}}
        options = dataclasses.replace(self._options, outputs=extra, **{k: v for k, v in values.items() if k in own})
        predictor = self.model.predictor
        folder = ensure_writable_folder(out)
        with folder_lock(folder, "stage"):
            claim_output_folder(folder, predictor)
            if self._staged.recording_sha1 is not None:  # a review of another recording of this name stays its own
                refuse_review_of_another(folder, self.name, self._staged.recording.path, self._staged.recording_sha1)
            written = publish_outputs(folder, self._staged, options)
            mark_output_folder(folder, predictor)
        return written

    def review(self, out: str | os.PathLike = "staged", *, reviewer: str | None = None, host: str = "127.0.0.1",
               port: int = 0) -> ReviewServer:
        """Write the night to ``out`` (as :meth:`write`) unless this staging is there, and serve its review page.

        Returns the running server at once (a notebook keeps serving): its ``url`` is the
        page's address (a notebook shows it as a link); ``server.stop()`` ends it, as does
        the end of the kernel. Reopening continues the review of ``out``, undo history
        included. The flagged epochs themselves are :attr:`flagged`.

        Parameters
        ----------
        out : path-like, default "staged"
            The folder of the staged files and of the review's (``NAME.review.jsonl``,
            ``NAME.reviewed.csv``...).
        reviewer : str, optional
            Name written with every edit (default: the login name).
        host, port
            Where to listen (default: this machine only, a free port).

        Examples
        --------
        >>> server = night.review("staged")  # doctest: +SKIP
        >>> server.url  # doctest: +SKIP
        'http://127.0.0.1:40321/?token=...'
        >>> server.stop()  # doctest: +SKIP
        """
        import getpass

        from isatsleepnet.inference.output_formats import output_file
        from isatsleepnet.review.serve import bind, start_server
        from isatsleepnet.review.session import Review, check_reviewer

        reviewer = check_reviewer(reviewer if reviewer is not None else getpass.getuser())
        sock = bind(host, port)  # before any file: a bad address or a port in use leaves nothing written
        try:
            staged = output_file(out, self.name, "hypnogram_csv")
            if not self._written_in(Path(out)):
                self.write(out)
            review = Review.open(staged, reviewer=reviewer)
        except BaseException:
            sock.close()
            raise
        try:
            return start_server([(review, self._staged.recording.psg)], host=host, port=port, sock=sock)
        except BaseException:
            review.close()
            raise

    def _written_in(self, out: Path) -> bool:
        """Whether ``out`` holds this staging (the same model, recording, epochs and stages), which a review
        reopens; another one (an earlier window, another recording or model) is not this night's."""
        from isatsleepnet.inference.output_formats import output_file
        from isatsleepnet.inference.outputs import staged_by
        from isatsleepnet.review.staged import read_staged

        table = output_file(out, self.name, "hypnogram_csv")
        if not table.is_file() or staged_by(out) != self.model.predictor.identity:
            return False
        try:
            there = read_staged(table)
        except IsatSleepNetError:
            return False
        return (there.recording_sha1 == self._staged.recording_sha1 and len(there.stages) == len(self)
                and np.allclose(there.onsets_s, self.onsets) and list(there.stages) == list(self.stages))

