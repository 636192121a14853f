"""Staging with sequence-to-sequence networks: windows that never bridge a gap, each epoch from a central one."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from isatsleepnet.model.context_plan import context_plan, staging_stride, window_starts
from isatsleepnet.model.sequence import stage_in_windows


class Recorder(nn.Module):
    """Logits: the epoch's own value in class 0, its place in the window in class 1; windows seen are kept."""

    def __init__(self) -> None:
        super().__init__()
        self.windows: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (W, L, 1, 1) -> (W, L, 5)
        self.windows.append(x[:, :, 0, 0].clone())
        place = torch.arange(x.shape[1], dtype=x.dtype).expand(x.shape[0], -1)
        return torch.stack([x[:, :, 0, 0], place, *[torch.zeros_like(place)] * 3], dim=-1)


def test_each_epoch_keeps_its_own_output_and_sits_near_the_centre_of_its_window():
    n, length = 100, 20
    net = Recorder()
    out = stage_in_windows(net, torch.arange(1.0, n + 1).reshape(n, 1, 1), np.arange(n), length)
    assert out[:, 0].tolist() == list(range(1, n + 1))
    places = out[:, 1].numpy()
    inner = places[length // 2: n - length // 2]  # away from the night's ends
    assert np.abs(inner - length // 2).max() <= staging_stride(length) // 2 + 1
    assert sum(len(w) for w in net.windows) == len(np.unique(window_starts(n, length, staging_stride(length))))
    assert sum(len(w) for w in net.windows) < n / 4  # a quarter-window stride, not a window per epoch


def test_a_gap_is_never_bridged_and_a_short_run_is_padded_with_zeros():
    index = np.r_[np.arange(30), np.arange(40, 45)]  # 30 epochs, a gap, then 5
    net = Recorder()
    x = torch.arange(1.0, len(index) + 1).reshape(-1, 1, 1)
    out = stage_in_windows(net, x, index, 8)
    assert out[:, 0].tolist() == x[:, 0, 0].tolist()
    for window in torch.cat(net.windows):
        values = window[window > 0]
        assert not ((values <= 30).any() and (values > 30).any())  # no window mixes the two runs
    short = [w for w in torch.cat(net.windows) if (w > 30).any()]
    assert len(short) == 1 and short[0].tolist() == [31, 32, 33, 34, 35, 0, 0, 0]


def test_stride_one_is_the_context_heads_plan():
    rows, which, place = context_plan(np.arange(9), 3, 1)
    assert window_starts(9, 3).tolist() == [0, 0, 1, 2, 3, 4, 5, 6, 6]
    assert len(rows) == 7 and place.tolist()[1:-1] == [1] * 7
