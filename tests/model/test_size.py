"""Parameter count and FLOPs at the paper's sizes (~2.35 M parameters, ~1.6 GFLOP per epoch)."""

from __future__ import annotations

import torch

from isatsleepnet.model import ISATSleepNet, ModelConfig
from isatsleepnet.model.flops import count_flops, eog_residual_share, flop_counter_total


def test_parameter_count_matches_the_paper() -> None:
    model = ISATSleepNet(ModelConfig())
    n = model.num_parameters()
    assert 2.35e6 * 0.95 <= n <= 2.35e6 * 1.05, n
    assert n == 2_393_260  # pins the architecture: any change must be deliberate
    blocks = sum(p.numel() for p in model.eog["eog"].blocks.parameters())
    assert 0.25 < blocks / n < 0.40


def test_fast_path_has_the_same_parameters() -> None:
    a = ISATSleepNet(ModelConfig(use_fast_conv=False)).num_parameters()
    assert a == ISATSleepNet(ModelConfig(use_fast_conv=True)).num_parameters()


def test_flops_per_epoch() -> None:
    x = torch.randn(1, 3, 3000)
    eager = ISATSleepNet(ModelConfig(use_fast_conv=False)).eval()
    report = count_flops(eager, x)
    assert 1.6e9 < report.per_example < 1.85e9                   # 1.73 GFLOP, LSTM and attention counted
    blocks = report.module_total(r"\.eog\.eog\.blocks")
    assert blocks == 6 * 2 * 64 * 64 * 31 * 750                  # six 64->64, 31-tap convolutions
    assert 0.6 < eog_residual_share(report) < 0.72
    # the part PyTorch's stock counter sees (convolutions, linears) is ~80 % residual blocks
    stock = flop_counter_total(eager, x)
    assert 0.75 < blocks / stock < 0.85
    assert report.by_op["aten.mkldnn_rnn_layer"] == 2 * 150 * 512 * ((128 + 128) * 2 + (256 + 128) * 2)
    fast = count_flops(eager.with_fast_conv(True).eval(), x)
    assert fast.per_example < report.per_example / 2.3
    assert fast.module_total(r"\.eog\.eog\.blocks") * 10 < blocks  # the FFT does >10x fewer FLOPs there
    assert fast.by_op["mkldnn._linear_pointwise"] == report.by_op["aten.addmm"] + report.by_op["aten.mm"] - 2 * 5 * 256
