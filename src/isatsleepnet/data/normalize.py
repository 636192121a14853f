"""The one normalisation of epochs, shared by training and staging.

Why one function: a model is only as good as the agreement between what it saw
in training and what it is given when staging; two copies of a z-score drift
apart (one clipped the standard deviation at 1e-6, the other did not).
"""

from __future__ import annotations

import numpy as np

from isatsleepnet.errors import IsatSleepNetError

NORMALIZATIONS = ("epoch-zscore", "none")
"""``epoch-zscore``: each channel of each epoch to mean 0, SD 1; ``none``: µV as stored."""


def normalize_epochs(x: np.ndarray, how: str) -> np.ndarray:
    """Normalise epochs (..., channels, samples) channel by channel along the last axis, as float32.

    ``epoch-zscore`` removes the amplitude differences between nights and
    amplifiers; a flat channel (SD below 1e-6) is centred, not blown up.

    Examples
    --------
    >>> import numpy as np
    >>> z = normalize_epochs(np.array([[[1.0, 2.0, 3.0]]]), "epoch-zscore")
    >>> [round(float(v), 3) for v in z[0, 0]]
    [-1.225, 0.0, 1.225]
    >>> normalize_epochs(np.zeros((1, 1, 3)), "epoch-zscore").tolist()
    [[[0.0, 0.0, 0.0]]]
    """
    if how == "none":
        return np.asarray(x, dtype=np.float32)
    if how != "epoch-zscore":
        raise IsatSleepNetError(f"unknown normalisation {how!r} (one of {', '.join(NORMALIZATIONS)})")
    mean = x.mean(axis=-1, keepdims=True)
    std = x.std(axis=-1, keepdims=True)
    return ((x - mean) / np.maximum(std, 1e-6)).astype(np.float32, copy=False)
