"""The :class:`Hypnogram` of one night: stage events checked, then laid on the PSG's epoch grid.

Readers (:mod:`isatsleepnet.data.readers.hypnogram`) build it with
:func:`build_hypnogram`, which refuses events that cannot be one night's scoring
in whole epochs (negative or fractional-epoch durations, overlapping stages).
:meth:`Hypnogram.grid_offset` finds the one grid the events lie on, and
:meth:`Hypnogram.to_epochs` gives one stage per PSG epoch, refusing a hypnogram
that belongs to another recording (too short, overrunning, disjoint).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from isatsleepnet import STAGES
from isatsleepnet.data import labels as L
from isatsleepnet.errors import DataError

QUOTE_LIMIT = 80
"""Characters of file content a message quotes at most (a 10-kB garbage line must stay one readable line)."""
GRID_TOLERANCE_S = 1.0
"""Seconds by which events may miss a whole-epoch duration, overlap, or stray from their common grid."""
LOW_COVERAGE = 0.8
"""Below this fraction of the PSG's epochs an accepted hypnogram gets a note."""


def cut(text: str, limit: int = QUOTE_LIMIT) -> str:
    """``text`` stripped, control characters escaped, cut to ``limit`` characters (an ellipsis marks the cut)."""
    raw = text.strip()
    shown = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in raw[:limit])
    return shown if len(raw) <= limit and len(shown) <= limit else shown[: limit - 1] + "…"


def quote(text: str, limit: int = QUOTE_LIMIT) -> str:
    """File content as messages quote it: :func:`cut`, in quotes."""
    return f"'{cut(text, limit)}'"


def _clock(seconds: float) -> str:
    minutes = int(round(max(seconds, 0.0) / 60.0))
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass(frozen=True)
class Hypnogram:
    """Stage events of one night, in seconds from the PSG's start, with AASM codes.

    ``per_epoch`` marks formats that list one stage per epoch (CSV without onsets,
    Profusion XML): for them the number of epochs itself must match the PSG.
    ``labels`` keeps each event's spelling in the file, for messages. ``notes``
    are what a user should know about how the file was read (printed in the
    summaries of ``prepare`` and ``stage``); readers and :meth:`to_epochs` add them.
    """

    source: Path
    onsets: np.ndarray  # seconds from the PSG start
    durations: np.ndarray  # seconds
    codes: np.ndarray  # 0..4 or labels.DROP
    per_epoch: bool = False
    labels: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)

    def describe(self, i: int) -> str:
        """Event ``i`` as messages name it: its label in the file and its onset."""
        label = self.labels[i] if i < len(self.labels) else (STAGES[self.codes[i]] if self.codes[i] >= 0 else "?")
        return f"{quote(label)} at {self.onsets[i]:g} s"

    def note(self, text: str) -> None:
        """Add a note once (``to_epochs`` may run more than once on one hypnogram)."""
        if text not in self.notes:
            self.notes.append(text)

    def grid_offset(self, epoch_seconds: float, tolerance_s: float = GRID_TOLERANCE_S) -> float:
        """Where the scored events' epoch grid starts, in [0, ``epoch_seconds``) from the PSG start.

        Parameters
        ----------
        epoch_seconds
            Epoch length of the grid.
        tolerance_s
            How far an onset may stray from the common grid; an offset this close
            to 0 counts as 0 (on the PSG's own grid).

        Returns
        -------
        float
            0.0 when the events lie on the PSG's grid, else the offset of theirs.

        Raises
        ------
        DataError
            Scored events that are not on one common grid, naming the first that strays.
        """
        scored = np.flatnonzero(self.codes >= 0)
        if len(scored) == 0:
            return 0.0
        phase = np.mod(self.onsets[scored], epoch_seconds)
        # signed distance of each onset's phase from the first event's, on the circle of one epoch
        delta = np.mod(phase - phase[0] + epoch_seconds / 2, epoch_seconds) - epoch_seconds / 2
        stray = np.flatnonzero(np.abs(delta) > tolerance_s)
        if len(stray):
            bad = int(stray[0])
            raise DataError(
                self.source,
                f"stage events are not on one {epoch_seconds:g}-s epoch grid: {self.describe(int(scored[bad]))} "
                f"starts {abs(float(delta[bad])):.3g} s off the grid of {self.describe(int(scored[0]))}",
            )
        offset = float(np.mod(phase[0] + np.median(delta), epoch_seconds))
        if min(offset, epoch_seconds - offset) <= tolerance_s:
            return 0.0
        return round(offset, 6)

    def to_epochs(
        self,
        n_epochs: int,
        epoch_seconds: float,
        *,
        tolerance_s: float = 30.0,
        min_coverage: float = 0.5,
        offset_s: float = 0.0,
    ) -> np.ndarray:
        """One code per PSG epoch: the stage at the epoch's midpoint, UNLABELLED where none applies.

        Parameters
        ----------
        n_epochs, epoch_seconds
            The PSG's grid: epoch k covers [offset_s + k·E, offset_s + (k+1)·E).
        tolerance_s
            How far scored stages may run past the PSG's end.
        min_coverage
            Fraction of the epochs the hypnogram must cover; under 80 % (but
            accepted) a note says how much it covers.
        offset_s
            Start of the grid from the PSG start (:meth:`grid_offset`).

        Returns
        -------
        numpy.ndarray
            int8 codes 0..4, ``labels.DROP`` (movement, unscored) or ``labels.UNLABELLED``.
            An unscored or movement event covering an epoch's midpoint wins over a stage.
        """
        psg_end = offset_s + n_epochs * epoch_seconds
        if len(self.codes) == 0:
            raise DataError(self.source, "hypnogram holds no sleep stages")
        if self.per_epoch and abs(len(self.codes) - n_epochs) > 1:
            raise DataError(
                self.source,
                f"hypnogram lists {len(self.codes)} epochs but the PSG holds {n_epochs} whole "
                f"{epoch_seconds:g}-s epochs",
            )
        self.grid_offset(epoch_seconds)  # events on several grids: no single reading is right
        scored = self.codes >= 0
        ends = self.onsets + self.durations
        if scored.any():
            last_scored_end = float(ends[scored].max())
            if last_scored_end > psg_end + tolerance_s:
                raise DataError(
                    self.source,
                    f"hypnogram overruns the PSG: stages are scored up to {_seconds(last_scored_end)} s "
                    f"but the signals end at {_seconds(psg_end)} s",
                )
        starts = offset_s + np.arange(n_epochs) * epoch_seconds
        mids = starts + epoch_seconds / 2
        epoch_codes = np.full(n_epochs, L.UNLABELLED, dtype=np.int8)
        covered = np.zeros(n_epochs, dtype=bool)
        order = np.flatnonzero(scored)[np.argsort(self.onsets[scored], kind="stable")]
        if len(order):
            idx = np.searchsorted(self.onsets[order], mids, side="right") - 1
            hit = idx >= 0
            hit[hit] &= mids[hit] < ends[order][idx[hit]]
            epoch_codes[hit] = self.codes[order][idx[hit]]
            covered |= hit
        for i in np.flatnonzero(~scored):  # movement / unscored marks, which may lie over stages
            lo, hi = np.searchsorted(mids, [self.onsets[i], ends[i]], side="left")
            epoch_codes[lo:hi] = L.DROP
            covered[lo:hi] = True
        fraction = float(covered.mean()) if n_epochs else 0.0
        if not (epoch_codes >= 0).any():
            raise DataError(self.source, f"hypnogram does not cover the PSG ({offset_s:g} to {psg_end:.0f} s)")
        if fraction < min_coverage:
            raise DataError(
                self.source,
                f"hypnogram covers only {100 * fraction:.0f} % of the PSG's {n_epochs} epochs "
                f"(ends at {_seconds(float(ends.max()))} s, the PSG at {_seconds(psg_end)} s): at least "
                f"{100 * min_coverage:.0f} % is required, as a hypnogram covering less may be another recording's",
            )
        if fraction < LOW_COVERAGE:
            where = np.flatnonzero(covered)
            self.note(
                f"hypnogram covers {100 * fraction:.0f} % of the PSG (scored {_clock(starts[where[0]])}-"
                f"{_clock(starts[where[-1]] + epoch_seconds)} of {_clock(psg_end)})"
            )
        return epoch_codes


def _seconds(value: float) -> str:
    """Seconds for a message: whole seconds, or a short exponent for absurd values (an onset of 1e300)."""
    return f"{value:.0f}" if abs(value) < 1e9 else f"{value:.3g}"


def build_hypnogram(
    source: Path,
    events: list[tuple[float, float, int, str]],
    *,
    per_epoch: bool,
    epoch_seconds: float,
    notes: list[str] | None = None,
) -> Hypnogram:
    """A checked :class:`Hypnogram` of ``(onset, duration, code, label)`` events in file order.

    Refused, since no reading of them is right: a duration that is not a finite
    number, is negative or (for a stage) is not a whole number of epochs (scoring
    in other epoch lengths cannot be converted), and stages overlapping by more
    than :data:`GRID_TOLERANCE_S`. Movement and unscored marks may have any
    length and lie over stages.
    """
    onsets = np.array([e[0] for e in events], dtype=np.float64)
    durations = np.array([e[1] for e in events], dtype=np.float64)
    codes = np.array([e[2] for e in events], dtype=np.int8)
    hyp = Hypnogram(source, onsets, durations, codes, per_epoch, tuple(cut(e[3]) for e in events), list(notes or []))
    for i in range(len(events)):
        if not (np.isfinite(onsets[i]) and np.isfinite(durations[i])):
            raise DataError(source, f"{hyp.describe(i)}: onset or duration is not a number ({durations[i]:g} s)")
        if durations[i] < 0:
            raise DataError(source, f"negative duration {durations[i]:g} s: {hyp.describe(i)}")
        whole = round(durations[i] / epoch_seconds)
        if codes[i] >= 0 and (whole < 1 or abs(durations[i] - whole * epoch_seconds) > GRID_TOLERANCE_S):
            raise DataError(
                source,
                f"{hyp.describe(i)} lasts {durations[i]:g} s, not a whole number of {epoch_seconds:g}-s epochs: "
                f"ISATSleepNet stages {epoch_seconds:g}-s epochs (scoring in other epoch lengths, such as "
                "20-s R&K epochs, cannot be converted)",
            )
    scored = np.flatnonzero(codes >= 0)
    order = scored[np.argsort(onsets[scored], kind="stable")]
    longest = None  # the event reaching furthest so far, in onset order
    for i in order:
        if longest is not None:
            overlap = min(onsets[longest] + durations[longest], onsets[i] + durations[i]) - onsets[i]
            if overlap > GRID_TOLERANCE_S:
                a, b = sorted((int(longest), int(i)))
                raise DataError(source, f"stage events overlap: {hyp.describe(a)} and {hyp.describe(b)}")
        if longest is None or onsets[i] + durations[i] > onsets[longest] + durations[longest]:
            longest = i
    return hyp
