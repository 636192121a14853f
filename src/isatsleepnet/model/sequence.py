"""Staging with a sequence-to-sequence network: every epoch read in the window where it is most central.

A network such as TinySleepNet or U-Time takes ``L`` consecutive epochs and
returns a stage for each. At staging, the windows come from
:func:`~isatsleepnet.model.context_plan.context_plan`, as for ISATSleepNet's
context heads: only consecutive epoch numbers are neighbours (a gap breaks a
run), each epoch takes its logits from the window where it is most central, and
a run shorter than ``L`` is padded with zeros (a normalised epoch of silence).
Windows start every :func:`~isatsleepnet.model.context_plan.staging_stride`
epochs (a quarter window), not at every epoch: each window stages all of its
epochs at once, so one per epoch would cost ``L`` times a pass over the night. Training's windows (:mod:`isatsleepnet.training.windows`)
hold full runs only.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from isatsleepnet.model.context_plan import context_plan, staging_stride


@torch.no_grad()
def stage_in_windows(network: nn.Module, epochs: Tensor, index: np.ndarray, length: int,
                     windows_per_batch: int = 8) -> Tensor:
    """Logits (N, n_classes) of N normalised epochs (N, channels, samples) from windows of ``length``.

    Examples
    --------
    >>> class Echo(nn.Module):  # stage = the epoch's first sample, as 5 logits
    ...     def forward(self, x): return x[..., 0, :1].expand(*x.shape[:2], 5)
    >>> x = torch.arange(5.0).reshape(5, 1, 1)
    >>> stage_in_windows(Echo(), x, np.arange(5), 3)[:, 0].tolist()
    [0.0, 1.0, 2.0, 3.0, 4.0]
    >>> stage_in_windows(Echo(), torch.arange(12.0).reshape(12, 1, 1), np.arange(12), 8)[:, 0].tolist()[:4]
    [0.0, 1.0, 2.0, 3.0]
    """
    rows, which, place = context_plan(np.asarray(index), length, staging_stride(length))
    if len(rows) == 0:
        return epochs.new_zeros((0, 5))
    padded = torch.cat([epochs, torch.zeros_like(epochs[:1])])  # row -1: a zero epoch
    rows_t = torch.from_numpy(rows).to(epochs.device)
    outputs = []
    for i in range(0, len(rows), windows_per_batch):
        outputs.append(network(padded[rows_t[i:i + windows_per_batch]]))
    result = torch.cat(outputs)
    return result[torch.from_numpy(which).to(result.device), torch.from_numpy(place).to(result.device)]
