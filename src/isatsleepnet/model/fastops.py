"""Drop-in faster `Linear` and `Dropout` for the fast path (same parameters, same function).

Why: on this kind of CPU (AMD, AVX-512) PyTorch's dense matmul goes through
MKL, which runs its generic AVX2 code there (~100 GFLOP/s per core), while
oneDNN — already used by PyTorch for convolutions and the LSTM — reaches
~230 GFLOP/s on the same products. `FastLinear` routes the product through
oneDNN's linear primitive (``torch.ops.mkldnn._linear_pointwise``, the op
PyTorch's own compiler uses for CPU linears), with a hand-written backward
made of two more oneDNN products. Anywhere that op does not apply (CUDA,
non-float32, autocast, a build without oneDNN) it is plain ``F.linear``.

`onednn_matmul()` sends the remaining float32 matrix products (the batched
products of attention and of the FFT convolutions) to oneDNN as well, where
that is exact; see its docstring.

`FastDropout` draws its mask with ``rand_like`` (vectorised) instead of
``bernoulli_`` (~3x slower on CPU); the distribution is the same.
`FastMaxPool2` replaces MaxPool1d(2)'s slow training kernel.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.autograd.function import once_differentiable


def _onednn_linear_op():  # noqa: ANN202 - a torch op handle or None
    try:
        op = torch.ops.mkldnn._linear_pointwise
        if not torch.backends.mkldnn.is_available():
            return None
        probe = op(torch.ones(2, 3), torch.ones(4, 3), torch.zeros(4), "none", [], "")
        return op if torch.allclose(probe, torch.full((2, 4), 3.0)) else None
    except (AttributeError, RuntimeError):
        return None


_LINEAR = _onednn_linear_op()


def onednn_available() -> bool:
    return _LINEAR is not None


def _matmul_precision_knob():  # noqa: ANN202 - torch's backend settings object or None
    knob = getattr(getattr(torch.backends, "mkldnn", None), "matmul", None)
    return knob if knob is not None and hasattr(knob, "fp32_precision") else None


@functools.cache
def onednn_matmul_exact() -> bool:
    """True when oneDNN can take float32 products on this CPU without losing precision.

    PyTorch sends float32 ``bmm``/``mm``/``matmul``/``linear`` to oneDNN only
    when reduced precision is allowed (``torch.backends.mkldnn.matmul.
    fp32_precision = "bf16"``); otherwise they go to MKL, whose generic code
    reaches ~80 GFLOP/s per core on AMD AVX-512 CPUs against oneDNN's ~240.
    oneDNN uses that permission only where it has bfloat16 matrix units (AMX);
    elsewhere it keeps computing in float32. This probe measures which case
    holds: with the permission, products of random matrices (batched and
    plain, transposed operands, short and long inner dimensions) must match
    float64 to float32 rounding; bfloat16 inputs would be ~1000x further off.
    """
    knob = _matmul_precision_knob()
    if knob is None or not torch.backends.mkldnn.is_available():
        return False
    previous = knob.fp32_precision
    gen = torch.Generator().manual_seed(0)
    cases = [
        (torch.bmm, (3, 96, 8), (3, 8, 40)),                # attention with small heads
        (torch.bmm, (2, 300, 128), (2, 128, 150)),
        (torch.mm, (200, 1024), (1024, 64)),                # long inner dimension
        (lambda a, b: F.linear(a, b.mT), (150, 64), (64, 96)),
        (lambda a, b: torch.matmul(a.mT, b), (64, 80), (64, 30)),
    ]
    try:
        for op, shape_a, shape_b in cases:
            a, b = torch.randn(shape_a, generator=gen), torch.randn(shape_b, generator=gen)
            exact = op(a.double(), b.double())
            knob.fp32_precision = "bf16"
            try:
                with torch.inference_mode():
                    got = op(a, b).double()
            finally:
                knob.fp32_precision = previous
            if not bool(((got - exact).abs().max() / exact.abs().max()) < 1e-5):
                return False
        return True
    except (RuntimeError, ValueError, TypeError):
        return False


_ONEDNN_LOCK = threading.Lock()
_onednn_users = 0
_onednn_previous: str | None = None


@contextlib.contextmanager
def onednn_matmul(enabled: bool = True) -> Iterator[None]:
    """Float32 CPU products through oneDNN inside the block, where that is exact (else a no-op).

    ~3x faster batched products on this project's AMD CPU, same float32
    results (see ``onednn_matmul_exact``). The setting is process-wide: blocks
    in several threads share it (the first one in sets it, the last one out
    restores it). For CPU work only: inside the block
    ``torch.get_float32_matmul_precision()`` raises (PyTorch refuses to
    summarise backends that disagree), which Lightning's CUDA set-up calls.
    """
    global _onednn_users, _onednn_previous
    knob = _matmul_precision_knob()
    if not enabled or knob is None or not onednn_matmul_exact():
        yield
        return
    with _ONEDNN_LOCK:
        if _onednn_users == 0:
            _onednn_previous = knob.fp32_precision
            knob.fp32_precision = "bf16"
        _onednn_users += 1
    try:
        yield
    finally:
        with _ONEDNN_LOCK:
            _onednn_users -= 1
            if _onednn_users == 0:
                knob.fp32_precision = _onednn_previous


def _matmul_t(a: Tensor, b: Tensor, bias: Tensor | None = None) -> Tensor:
    """a (..., K) @ b (N, K)^T [+ bias] through oneDNN."""
    return _LINEAR(a, b, bias, "none", [], "")


class _OneDNNLinearFn(torch.autograd.Function):
    """y = x W^T + b with all three products (forward, grad x, grad W) in oneDNN."""

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:  # noqa: ANN001
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        return _matmul_t(x, weight, bias)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor) -> tuple[Tensor | None, Tensor | None, Tensor | None]:  # noqa: ANN001
        x, weight = ctx.saved_tensors
        grad = grad.contiguous()
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_x = _matmul_t(grad, weight.t().contiguous())
        flat = grad.reshape(-1, grad.shape[-1])
        if ctx.needs_input_grad[1]:
            grad_w = _matmul_t(flat.t(), x.reshape(-1, x.shape[-1]).t())
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_b = flat.sum(0)
        return grad_x, grad_w, grad_b


def _onednn_applies(x: Tensor, weight: Tensor) -> bool:
    return (
        _LINEAR is not None
        and x.device.type == "cpu"
        and x.dtype == torch.float32
        and weight.dtype == torch.float32
        and not torch.is_autocast_enabled("cpu")
        and x.dim() >= 2
        and x.numel() > 0
        and not torch.compiler.is_exporting()  # an exported graph (ONNX) needs the plain product
    )


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``F.linear`` computed by oneDNN where that helps (CPU float32), else ``F.linear``."""
    if not _onednn_applies(x, weight):
        return F.linear(x, weight, bias)
    x = x.contiguous()
    needs_grad = torch.is_grad_enabled() and (
        x.requires_grad or weight.requires_grad or (bias is not None and bias.requires_grad)
    )
    if needs_grad:
        return _OneDNNLinearFn.apply(x, weight, bias)
    return _matmul_t(x, weight, bias)


class FastLinear(nn.Linear):
    """nn.Linear (same parameters and state_dict) whose product runs in oneDNN on CPU."""

    def forward(self, x: Tensor) -> Tensor:
        return linear(x, self.weight, self.bias)


class FastDropout(nn.Dropout):
    """nn.Dropout with a mask drawn by ``rand_like(x) >= p`` (same distribution, ~3x cheaper).

    The mask is built in place as 0 or 1/(1-p), so forward and backward are
    one multiplication each.
    """

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        if self.p >= 1.0:
            return x * 0.0
        with torch.no_grad():
            mask = torch.rand_like(x).ge_(self.p).mul_(1.0 / (1.0 - self.p))
        return x * mask


class _MaxPool2(torch.autograd.Function):
    """MaxPool1d(2) as the larger of the even and odd samples, with a boolean argmax.

    PyTorch's CPU max-pool builds an index tensor through its 2-D kernel in
    training (~10x slower than this forward); backward scatters through one
    strided view instead of an index gather. Ties go to the first sample, as
    in ``F.max_pool1d``.
    """

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:  # noqa: ANN001
        half = x.shape[-1] // 2
        even, odd = x[..., 0: 2 * half: 2], x[..., 1: 2 * half: 2]
        first = even >= odd
        ctx.save_for_backward(first)
        ctx.length = x.shape[-1]
        return torch.maximum(even, odd)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor) -> Tensor:  # noqa: ANN001
        (first,) = ctx.saved_tensors
        *lead, half = grad.shape
        out = grad.new_zeros(*lead, ctx.length) if ctx.length % 2 else grad.new_empty(*lead, ctx.length)
        pairs = out[..., : 2 * half].view(*lead, half, 2)
        pairs[..., 0].copy_(grad * first)
        pairs[..., 1].copy_(grad * ~first)
        return out


class FastMaxPool2(nn.MaxPool1d):
    """nn.MaxPool1d(2) whose training path is `_MaxPool2` (same outputs and gradients)."""

    def __init__(self) -> None:
        super().__init__(2)

    def forward(self, x: Tensor) -> Tensor:
        if torch.is_grad_enabled() and x.requires_grad and x.dim() == 3:
            return _MaxPool2.apply(x.contiguous())
        return super().forward(x)


def make_maxpool2(*, fast: bool) -> nn.MaxPool1d:
    return FastMaxPool2() if fast else nn.MaxPool1d(2)


def make_linear(in_features: int, out_features: int, *, fast: bool, bias: bool = True) -> nn.Linear:
    """nn.Linear or its oneDNN twin; both have the same parameters."""
    return (FastLinear if fast else nn.Linear)(in_features, out_features, bias=bias)


def make_dropout(p: float, *, fast: bool) -> nn.Dropout:
    return (FastDropout if fast else nn.Dropout)(p)
