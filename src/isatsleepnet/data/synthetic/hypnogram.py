"""Simulated hypnograms with the architecture of a real night.

A staging model learns transition statistics as well as per-epoch cues, so the
synthetic nights follow textbook structure: sleep-onset latency, ~90-min NREM/REM
cycles, N3 front-loaded, REM lengthening across the night, and arousals that
fall back to sleep through N1.
"""

from __future__ import annotations

import numpy as np

EPOCH_SECONDS = 30.0
"""The scoring epoch of every synthetic night, in seconds."""

W, N1, N2, N3, REM = range(5)
MOVEMENT = -1
"""Epochs scored as movement time (not a sleep stage)."""

# Per NREM/REM cycle (index = cycle number, last value repeats): minutes of N3 and REM.
_N3_MINUTES = (35.0, 20.0, 6.0, 1.5, 0.0)
_REM_MINUTES = (7.0, 15.0, 22.0, 27.0, 30.0)


def _epochs(minutes: float, epoch_seconds: float) -> int:
    return max(1, int(round(minutes * 60.0 / epoch_seconds)))


def _cycle(k: int, rng: np.random.Generator, epoch_seconds: float, n3_propensity: float,
           scale: float) -> list[tuple[int, int]]:
    """One NREM/REM cycle as (stage, epochs) segments: N1 -> N2 -> N3 -> N2 -> REM.

    ``scale`` < 1 compresses the cycle so that short test recordings still reach REM.
    """
    length = float(np.clip(rng.normal(90.0, 10.0), 70.0, 110.0)) * scale
    n3 = _N3_MINUTES[min(k, len(_N3_MINUTES) - 1)] * n3_propensity * rng.uniform(0.7, 1.3) * scale
    rem = _REM_MINUTES[min(k, len(_REM_MINUTES) - 1)] * rng.uniform(0.7, 1.3) * max(scale, 0.5)
    n1 = (rng.uniform(2.0, 5.0) if k == 0 else rng.uniform(0.5, 2.0)) * max(scale, 0.5)
    n2 = max(length - n3 - rem - n1, 12.0 * scale)
    segments = [(N1, _epochs(n1, epoch_seconds))]
    if n3 >= 1.0:
        before = n2 * rng.uniform(0.45, 0.7)
        segments += [(N2, _epochs(before, epoch_seconds)), (N3, _epochs(n3, epoch_seconds)),
                     (N2, _epochs(n2 - before, epoch_seconds))]
    else:
        segments.append((N2, _epochs(n2, epoch_seconds)))
    segments.append((REM, _epochs(rem, epoch_seconds)))
    if rng.random() < 0.4:  # cycles often end with a brief awakening out of REM
        segments.append((W, int(rng.integers(1, 4))))
    return segments


def _sleep_period(n: int, rng: np.random.Generator, epoch_seconds: float, n3_propensity: float) -> np.ndarray:
    # Nights shorter than three cycles (4.5 h) are compressed, down to 35 % of real time.
    scale = float(np.clip(n * epoch_seconds / 60.0 / 270.0, 0.35, 1.0))
    segments: list[tuple[int, int]] = []
    total, k = 0, 0
    while total < n:
        cycle = _cycle(k, rng, epoch_seconds, n3_propensity, scale)
        segments += cycle
        total += sum(length for _, length in cycle)
        k += 1
    stages = np.repeat([s for s, _ in segments], [length for _, length in segments])[:n]
    return stages.astype(np.int8)


def _fragment(sleep: np.ndarray, rng: np.random.Generator, epoch_seconds: float, fragmentation: float) -> np.ndarray:
    """Sprinkle single-epoch shifts and arousals (wake bouts, usually followed by N1)."""
    out = sleep.copy()
    u = rng.random(len(out))
    out[(sleep == N3) & (u < 0.06)] = N2
    out[(sleep == N2) & (u < 0.012)] = N1
    out[(sleep == REM) & (u < 0.015)] = N1
    hours = len(out) * epoch_seconds / 3600.0
    n_arousals = rng.poisson(3.5 * fragmentation * hours)
    guard = _epochs(5.0, epoch_seconds)  # no arousal in the first minutes after sleep onset
    if len(out) <= guard + 4:
        return out
    for start in np.sort(rng.integers(guard, len(out) - 4, size=n_arousals)):
        wake = int(rng.integers(1, 4))
        out[start:start + wake] = W
        end = start + wake
        if rng.random() < 0.8:
            end += int(rng.integers(1, 3))
            out[start + wake:end] = N1
        if end < len(out) and out[end] == N3:  # back to deep sleep only through N2
            out[end:end + int(rng.integers(1, 4))] = N2
    return out


def simulate_hypnogram(
    n_epochs: int,
    rng: np.random.Generator,
    *,
    epoch_seconds: float = 30.0,
    n3_propensity: float = 1.0,
    fragmentation: float = 1.0,
    max_sleep_hours: float | None = None,
) -> np.ndarray:
    """Stage codes (0=W, 1=N1, 2=N2, 3=N3, 4=REM) for ``n_epochs`` consecutive epochs.

    ``n3_propensity`` scales slow-wave sleep (young vs. old sleepers), ``fragmentation``
    the arousal density; ``max_sleep_hours`` (default: drawn in 7-8.5 h) caps the sleep
    period, so longer recordings end with a long final wake and day-long ones (more than
    2 h to spare) also start with one, like the Sleep-EDF cassettes.
    """
    if n_epochs < 1:
        raise ValueError("n_epochs must be at least 1")
    if n_epochs < 8:
        return np.zeros(n_epochs, dtype=np.int8)
    onset = min(_epochs(rng.uniform(10.0, 30.0), epoch_seconds), max(1, n_epochs // 5))
    final = min(_epochs(rng.uniform(5.0, 25.0), epoch_seconds), max(1, n_epochs // 10))
    cap_hours = max_sleep_hours if max_sleep_hours is not None else rng.uniform(7.0, 8.5)
    cap = max(1, int(cap_hours * 3600.0 / epoch_seconds))
    excess = max(0, n_epochs - onset - final - cap)
    # A little extra time is spent awake in the morning; day-long recordings also start awake.
    extra_before = int(excess * rng.uniform(0.3, 0.6)) if excess * epoch_seconds > 7200 else 0
    onset += extra_before
    final += excess - extra_before
    sleep = _sleep_period(n_epochs - onset - final, rng, epoch_seconds, n3_propensity)
    sleep = _fragment(sleep, rng, epoch_seconds, fragmentation)
    wake = np.int8(W)
    return np.concatenate([np.full(onset, wake), sleep, np.full(final, wake)]).astype(np.int8)


def runs(stages: np.ndarray) -> list[tuple[int, int, int]]:
    """Run-length encoding as (code, first epoch, number of epochs)."""
    stages = np.asarray(stages)
    if stages.size == 0:
        return []
    edges = np.flatnonzero(np.diff(stages)) + 1
    starts = np.concatenate([[0], edges])
    lengths = np.diff(np.concatenate([starts, [stages.size]]))
    return [(int(stages[s]), int(s), int(n)) for s, n in zip(starts, lengths)]


def deep_n3_mask(stages: np.ndarray) -> np.ndarray:
    """Epochs in the middle half of N3 runs of >= 4 epochs: R&K stage 4, the densest delta."""
    stages = np.asarray(stages)
    deep = np.zeros(stages.shape, dtype=bool)
    for code, start, length in runs(stages):
        if code == N3 and length >= 4:
            deep[start + length // 4:start + length - length // 4] = True
    return deep


def mark_movement(stages: np.ndarray, rng: np.random.Generator, count: int) -> np.ndarray:
    """Turn ``count`` wake epochs inside the sleep period into movement time (code -1).

    Movement time is scored during body movements in the night, so only wake bouts
    between sleep onset and the final awakening are candidates.
    """
    out = np.asarray(stages).copy()
    asleep = np.flatnonzero(out > W)
    if asleep.size == 0 or count <= 0:
        return out
    inner = np.flatnonzero(out[asleep[0]:asleep[-1]] == W) + asleep[0]
    if inner.size == 0:
        inner = asleep[1:-1] if asleep.size > 2 else asleep
    chosen = rng.choice(inner, size=min(count, inner.size), replace=False)
    out[chosen] = MOVEMENT
    return out
