"""Count the FLOPs a forward pass really executes, per module.

PyTorch's ``FlopCounterMode`` intercepts every op as it runs, but it has no
formula for several ops this network uses on CPU: oneDNN's linear
(the fast path's matmuls), the oneDNN LSTM layer, the CPU flash attention
and the FFTs. ``count_flops`` adds those formulas, so the eager reference
and the fast path are counted the same way — each by what it executes:

* matmul-like ops (convolution, mm, bmm, linear, LSTM input and recurrent
  products, attention scores and weighted sums): 2 FLOPs per multiply-add;
* a real FFT of size N: 2.5 N log2 N; a complex one: 5 N log2 N.

Elementwise work (BatchNorm, activations, pooling, softmax, the LSTM gate
nonlinearities) is not counted: < 2 % here.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

aten = torch.ops.aten


def _prod(shape: Any) -> int:
    return math.prod(int(s) for s in shape)


def _linear_pointwise(x_shape: Any, w_shape: Any, *args: Any, **kwargs: Any) -> int:
    return 2 * _prod(x_shape[:-1]) * int(w_shape[0]) * int(w_shape[1])


def _rnn_layer(input_shape: Any, w_ih: Any, w_hh: Any, *args: Any, **kwargs: Any) -> int:
    steps_times_batch = _prod(input_shape[:-1])
    gates, width = int(w_ih[0]), int(w_ih[1])
    return 2 * steps_times_batch * gates * (width + int(w_hh[1]))


def _cpu_attention(q: Any, k: Any, v: Any, *args: Any, **kwargs: Any) -> int:
    batch_heads = _prod(q[:-2])
    return 2 * batch_heads * int(q[-2]) * int(k[-2]) * (int(q[-1]) + int(v[-1]))


def _real_fft(n: int, count: int) -> int:
    return int(2.5 * n * math.log2(n) * count) if n > 1 else 0


def _fft_r2c(x: Any, dim: Any, *args: Any, **kwargs: Any) -> int:
    n = _prod(int(x[d]) for d in dim)
    return _real_fft(n, _prod(x) // n)


def _fft_c2r(x: Any, dim: Any, normalization: Any, last_dim_size: int, *args: Any, **kwargs: Any) -> int:
    bins = _prod(int(x[d]) for d in dim)
    return _real_fft(int(last_dim_size), _prod(x) // bins)


def _fft_c2c(x: Any, dim: Any, *args: Any, **kwargs: Any) -> int:
    n = _prod(int(x[d]) for d in dim)
    return 2 * _real_fft(n, _prod(x) // n)


def _extra_formulas() -> dict[Any, Any]:
    """Formulas keyed by op packet (FlopCounterMode looks ops up by packet)."""
    table: dict[Any, Any] = {
        aten.mkldnn_rnn_layer: _rnn_layer,
        aten._fft_r2c: _fft_r2c,
        aten._fft_c2r: _fft_c2r,
        aten._fft_c2c: _fft_c2c,
    }
    cpu_attention = getattr(aten, "_scaled_dot_product_flash_attention_for_cpu", None)
    if cpu_attention is not None:
        table[cpu_attention] = _cpu_attention
    mkldnn_linear = getattr(torch.ops.mkldnn, "_linear_pointwise", None)
    if mkldnn_linear is not None:
        table[mkldnn_linear] = _linear_pointwise
    return table


@dataclass
class FlopReport:
    """FLOPs of one forward pass: ``by_module`` holds cumulative totals per module path."""

    batch: int
    total: int
    by_module: dict[str, int] = field(default_factory=dict)
    by_op: dict[str, int] = field(default_factory=dict)

    @property
    def per_example(self) -> float:
        return self.total / self.batch

    def module_total(self, pattern: str) -> int:
        """Sum over modules whose path matches the regex ``pattern`` (anchored at the end)."""
        rx = re.compile(pattern + r"$")
        return sum(v for k, v in self.by_module.items() if rx.search(k))

    def share(self, pattern: str) -> float:
        return self.module_total(pattern) / self.total if self.total else 0.0


def count_flops(model: nn.Module, x: Tensor, *, warmup: bool = True) -> FlopReport:
    """Count the FLOPs ``model(x)`` executes (no gradients, current mode).

    ``warmup`` runs the model once before counting, so that one-time work
    (the FFT kernel spectra, cached at inference) is not counted per epoch.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the counter sees only this thread: keep the fast path's work here
    try:
        with torch.no_grad():
            if warmup:
                model(x)
            counter = FlopCounterMode(display=False, custom_mapping=_extra_formulas())
            with counter:
                model(x)
    finally:
        torch.set_num_threads(threads)
    counts = counter.get_flop_counts()
    by_module = {name: int(sum(ops.values())) for name, ops in counts.items() if name != "Global"}
    by_op = {str(op): int(v) for op, v in counts.get("Global", {}).items()}
    return FlopReport(batch=x.shape[0], total=int(counter.get_total_flops()), by_module=by_module, by_op=by_op)


def eog_residual_share(report: FlopReport) -> float:
    """Fraction of the FLOPs spent in the EOG residual blocks."""
    return report.share(r"\.eog\.[a-z0-9_]+\.blocks")


def flop_counter_total(model: nn.Module, x: Tensor) -> int:
    """PyTorch's stock FlopCounterMode total (convolutions and dense matmuls only)."""
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x)
    return int(counter.get_total_flops())
