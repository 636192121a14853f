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
from isatsleepnet.model.context_plan import context_plan


class ContextHead(nn.Module):
    """A sequence model over epoch embeddings; a zero-initialised projection adds its view to each epoch's logits.

    ``config.context_model``: ``"bigru"`` (default), a bidirectional GRU of
    ``context_hidden`` units per direction; or ``"transformer"``, ``context_layers``
    pre-norm encoder layers of width ``2 * context_hidden`` (4 heads, no dropout, so
    that a resumed training stays exact) over the window with a learned embedding per
    position in the window (the window is always ``context`` epochs long, padded).
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        width, hidden = 2 * config.lstm_hidden, config.context_hidden
        self.config = config
        self.norm = nn.LayerNorm(width)
        if config.context_model == "transformer":
            d = 2 * hidden
            self.proj = nn.Linear(width, d)
            self.position = nn.Parameter(torch.zeros(config.context, d))
            nn.init.normal_(self.position, std=0.02)
            layer = nn.TransformerEncoderLayer(d, nhead=4, dim_feedforward=2 * d, dropout=0.0, batch_first=True,
                                               norm_first=True)
            self.encoder = nn.TransformerEncoder(layer, num_layers=config.context_layers, enable_nested_tensor=False)
        else:
            self.gru = nn.GRU(width, hidden, num_layers=config.context_layers, batch_first=True, bidirectional=True)
        self.out = nn.Linear(2 * hidden, config.n_classes)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, embeddings: Tensor, epoch_logits: Tensor) -> Tensor:
        """(B, L, E) embeddings and (B, L, n_classes) per-epoch logits -> (B, L, n_classes) logits."""
        h = self.norm(embeddings)
        if self.config.context_model == "transformer":
            states = self.encoder(self.proj(h) + self.position[: h.shape[1]])
        else:
            states, _ = self.gru(h)
        return epoch_logits + self.out(states)


@torch.no_grad()
def apply_context(head: ContextHead, logits_and_embedding: Tensor, index: np.ndarray, length: int,
                  windows_per_batch: int = 256) -> Tensor:
    """Context logits (N, n_classes) of N epochs from their per-epoch outputs (N, n_classes + E).

    ``index`` numbers the epochs on the recording's grid: only consecutive numbers
    are neighbours. Each epoch takes its logits from its own window
    (:func:`context_plan`), so staging sees windows exactly as long as training's.
    """
    n_classes = head.config.n_classes
    rows, which, place = context_plan(np.asarray(index), length)
    if len(rows) == 0:
        return logits_and_embedding[:, :n_classes].clone()
    rows_t = torch.from_numpy(rows).to(logits_and_embedding.device)
    padded = torch.cat([logits_and_embedding, torch.zeros_like(logits_and_embedding[:1])])  # row -1: zeros
    result = torch.empty(len(rows), length, n_classes, device=padded.device, dtype=padded.dtype)
    for i in range(0, len(rows), windows_per_batch):
        windows = padded[rows_t[i : i + windows_per_batch]]
        result[i : i + len(windows)] = head(windows[..., n_classes:], windows[..., :n_classes])
    return result[torch.from_numpy(which), torch.from_numpy(place)]


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
