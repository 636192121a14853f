"""Context across epochs: a light bidirectional GRU over the embeddings of consecutive epochs.

The paper's network classifies each 30-s epoch alone. Scorers do not: the AASM
rules for N1, N2 and REM continuation read the neighbouring epochs, and every
widely used deep stager (SeqSleepNet, TinySleepNet, U-Sleep, GSSC) has a
sequence model over the night. :class:`ContextHead` adds one on top of a trained
per-epoch ISATSleepNet, whose epoch embeddings (the 256-d state the head reads)
and logits it takes as inputs:

    logits_t = epoch_logits_t + W · BiGRU(embeddings)_t

``W`` starts at zero, so a context model starts as its per-epoch network and
learns corrections from the neighbours (a window of ``config.context`` epochs in
training). At staging every epoch is read in a window of the training length in
which it is as central as the recording allows (:func:`window_starts`), so the
first and last epochs of a night are staged, and no window crosses a gap.

Shapes: ``forward(embeddings (B, L, E), epoch_logits (B, L, 5)) -> (B, L, 5)``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from isatsleepnet.model.config import ModelConfig


class ContextHead(nn.Module):
    """BiGRU over epoch embeddings; a zero-initialised projection adds its view to each epoch's logits."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        width = 2 * config.lstm_hidden
        self.config = config
        self.norm = nn.LayerNorm(width)
        self.gru = nn.GRU(width, config.context_hidden, num_layers=config.context_layers, batch_first=True,
                          bidirectional=True)
        self.out = nn.Linear(2 * config.context_hidden, config.n_classes)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, embeddings: Tensor, epoch_logits: Tensor) -> Tensor:
        """(B, L, E) embeddings and (B, L, n_classes) per-epoch logits -> (B, L, n_classes) logits."""
        states, _ = self.gru(self.norm(embeddings))
        return epoch_logits + self.out(states)


def window_starts(n: int, length: int) -> np.ndarray:
    """For each of ``n`` consecutive epochs, the start of the window of ``length`` that stages it.

    The window centred on the epoch, shifted inside ``0..n`` at the ends; a run
    shorter than ``length`` is one window (start 0).

    Examples
    --------
    >>> window_starts(7, 3).tolist()
    [0, 0, 1, 2, 3, 4, 4]
    >>> window_starts(2, 5).tolist()
    [0, 0]
    """
    if n <= length:
        return np.zeros(n, dtype=np.int64)
    return np.clip(np.arange(n) - length // 2, 0, n - length).astype(np.int64)


def runs_of(index: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) positions of the runs of consecutive epoch numbers in ``index`` (a gap breaks a run).

    Examples
    --------
    >>> runs_of(np.array([0, 1, 2, 5, 6, 9]))
    [(0, 3), (3, 5), (5, 6)]
    """
    index = np.asarray(index)
    if len(index) == 0:
        return []
    breaks = np.flatnonzero(np.diff(index) != 1) + 1
    edges = [0, *breaks.tolist(), len(index)]
    return list(zip(edges[:-1], edges[1:]))


@torch.no_grad()
def apply_context(head: ContextHead, logits_and_embedding: Tensor, index: np.ndarray, length: int,
                  windows_per_batch: int = 256) -> Tensor:
    """Context logits (N, n_classes) of N epochs from their per-epoch outputs (N, n_classes + E).

    ``index`` numbers the epochs on the recording's grid: only consecutive numbers
    are neighbours. Each epoch takes its logits from its own window
    (:func:`window_starts`), so staging sees windows exactly as long as training's.
    """
    n_classes = head.config.n_classes
    logits, embeddings = logits_and_embedding[:, :n_classes], logits_and_embedding[:, n_classes:]
    out = torch.empty_like(logits)
    for start, stop in runs_of(index):
        n = stop - start
        width = min(length, n)
        starts = window_starts(n, length)
        firsts = np.unique(starts)
        rows = torch.from_numpy(firsts[:, None] + np.arange(width)[None, :] + start).to(logits.device)
        result = torch.empty(len(firsts), width, n_classes, device=logits.device, dtype=logits.dtype)
        for i in range(0, len(firsts), windows_per_batch):
            chunk = rows[i : i + windows_per_batch]
            result[i : i + len(chunk)] = head(embeddings[chunk], logits[chunk])
        which = np.searchsorted(firsts, starts)  # each epoch's window, and its place in it
        place = np.arange(n) - starts
        out[start:stop] = result[torch.from_numpy(which), torch.from_numpy(place)]
    return out


def _network_class():  # the per-epoch network, imported here so that the helpers above need no torch model
    from isatsleepnet.model.network import ISATSleepNet

    return ISATSleepNet


def build_network(config: ModelConfig) -> nn.Module:
    """The one builder of a network from its config: ISATSleepNet, with a ContextHead when ``config.context``.

    A context network's state_dict is the per-epoch network's plus ``context.*``;
    its ``forward`` is the per-epoch network's, and :func:`apply_context` adds the
    neighbours' view to its outputs (``logits_and_embedding``).
    """
    base = _network_class()
    network = base(config)
    if config.context:
        network.add_module("context", ContextHead(config))
    return network
