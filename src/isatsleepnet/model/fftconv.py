"""`FFTConv1d`: nn.Conv1d computed through the FFT, for long (dilated) kernels.

Why: a 64->64 convolution with 31 taps at 750 steps costs ~195 MFLOP per
epoch directly; through the FFT the channel mixing is one complex matrix
product per frequency bin and the whole layer is ~15 MFLOP. These layers
hold ~2/3 of the network's FLOPs.

How (stride 1, groups 1, zero padding; the constructor refuses others):

1. *Polyphase* split for dilation d: output ``y[d*m + r]`` only reads input
   samples ``x[d*j + r]``, so the dilated correlation is d undilated ones on
   the d interleaved sub-sequences (batched together). The kernel spectrum is
   then that of the K taps, not of a (K-1)*d+1 long mostly-zero kernel.
2. *Overlap-save* blocks of an FFT size N ~ 4 K (see ``make_plan``): the
   weight spectrum stays small (N/2+1 bins x C_out x C_in) and the per-bin
   products are GEMMs with many rows (batch x phases x blocks).
3. Cross-correlation (what nn.Conv1d computes) is a product with the
   conjugate kernel spectrum; the first N-K+1 outputs of each block are valid.
4. Complex products use 3 real GEMMs (Gauss), and the backward pass is
   written out (`_SpectralCorrelation`): real-FFT adjoints and a block fold.

Parameters and state_dict keys are those of nn.Conv1d, so checkpoints move
freely between the FFT and the direct implementation. The transform runs in
float32 even under autocast (half-precision FFTs are limited to powers of two
on CUDA and lose accuracy). When no gradient is needed the kernel spectrum is
cached and reused until the weight changes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from collections.abc import Callable
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.autograd.function import once_differentiable


@dataclass(frozen=True)
class FFTPlan:
    """Geometry of one FFT convolution (all lengths in samples)."""

    n_fft: int      # FFT size N of one block
    step: int       # valid outputs per block, N - K + 1
    n_blocks: int   # blocks per polyphase component
    phase_len: int  # padded length J of one polyphase component
    out_len: int    # output length of the convolution
    per_phase: int  # outputs per polyphase component, ceil(out_len / d)

    @property
    def bins(self) -> int:
        return self.n_fft // 2 + 1


def _fft_sizes(minimum: int, enough: int) -> list[int]:
    """Candidate FFT sizes 2^a and 3 * 2^a from ``minimum`` up to the first one >= ``enough``."""
    sizes = sorted({base << a for a in range(3, 40) for base in (2, 3)})
    out: list[int] = []
    for size in sizes:
        if size >= minimum:
            out.append(size)
            if size >= enough:
                break
    return out


def make_plan(length: int, kernel: int, dilation: int, pad_left: int, pad_right: int) -> FFTPlan:
    """Pick the FFT block size: minimise blocks x bins x log2(N).

    Blocks x bins is the GEMM work; the log factor (FFT work per bin, and the
    weight spectrum falling out of cache for large N) matches measurements on
    a 64-channel, 31-tap layer, where N = 128 ~ 4 K is best for every dilation.
    """
    out_len = length + pad_left + pad_right - dilation * (kernel - 1)
    if out_len < 1:
        raise ValueError(f"input of length {length} is too short for the kernel")
    per_phase = -(-out_len // dilation)
    best: tuple[int, int, int] | None = None
    for n_fft in _fft_sizes(max(2 * kernel, 16), per_phase + kernel - 1):
        step = n_fft - kernel + 1
        n_blocks = -(-per_phase // step)
        cost = n_blocks * (n_fft // 2 + 1) * math.log2(n_fft)
        if best is None or cost < best[0]:
            best = (cost, n_fft, n_blocks)
    assert best is not None
    _, n_fft, n_blocks = best
    step = n_fft - kernel + 1
    return FFTPlan(n_fft, step, n_blocks, n_blocks * step + kernel - 1, out_len, per_phase)


class Geometry(NamedTuple):
    """Everything the spectral correlation needs besides the tensors."""

    plan: FFTPlan
    kernel: int
    dilation: int
    pad_left: int
    length: int


class Spectrum(NamedTuple):
    """Conjugate kernel spectrum split for 3-multiplication complex products.

    ``re``, ``im`` and ``re + im``, each (bins, C_in, C_out) real.
    """

    re: Tensor
    im: Tensor
    sum: Tensor


def kernel_spectrum(weight: Tensor, n_fft: int) -> Spectrum:
    """(C_out, C_in, K) -> conj(rfft(weight)) laid out for batched matmuls."""
    v = torch.fft.rfft(weight, n=n_fft).permute(2, 1, 0)     # (bins, C_in, C_out)
    re, im = v.real.contiguous(), (-v.imag).contiguous()
    return Spectrum(re, im, re + im)


def _gauss(ar: Tensor, ai: Tensor, br: Tensor, bi: Tensor, *, asum: Tensor, bsum: Tensor,
           conj: bool = False) -> tuple[Tensor, Tensor]:
    """Complex batched matmul A @ B from real parts with 3 real bmm instead of 4.

    A = ar + i ai, B = br + i bi, ``asum``/``bsum`` = ar + ai / br + bi as the
    caller defines them; ``conj`` flips the sign of ai * bi (one operand
    conjugated), which saves negating a large tensor. Real GEMMs also run
    faster than complex ones here (MKL's cgemm reaches ~2/3 of its sgemm rate).
    """
    t1 = torch.bmm(ar, br)
    t2 = torch.bmm(ai, bi)
    if conj:
        t2 = t2.neg_()
    t3 = torch.bmm(asum, bsum)
    return t1 - t2, t3.sub_(t1).sub_(t2)


def _edge_scale(n_fft: int, interior: float, edge: float, like: Tensor) -> Tensor:
    """Per-bin factors: ``edge`` for DC (and Nyquist when n is even), ``interior`` elsewhere."""
    bins = n_fft // 2 + 1
    scale = torch.full((bins,), interior, dtype=like.dtype, device=like.device)
    scale[0] = edge
    if n_fft % 2 == 0:
        scale[-1] = edge
    return scale


def _split_rows(spec: Tensor) -> tuple[Tensor, Tensor]:
    """Complex (B, d, C, nb, bins) -> real and imaginary parts, each (bins, B*d*nb, C).

    Two copies beat one: a batched transpose puts C innermost, then whole
    C-rows move; the single 6-D permute gathers floats one by one (2-3x slower).
    """
    batch, d, c, nb, bins = spec.shape
    t = torch.view_as_real(spec).reshape(batch * d, c, nb * bins * 2).transpose(1, 2).contiguous()
    parts = t.view(batch, d, nb, bins, 2, c).permute(4, 3, 0, 1, 2, 5).reshape(2, bins, batch * d * nb, c)
    return parts[0], parts[1]


def _input_rows(x: Tensor, g: Geometry) -> tuple[Tensor, Tensor]:
    """x (B, C, L) -> spectra of its overlapping polyphase blocks, 2 x (bins, B*d*nb, C)."""
    batch, c, length = x.shape
    p, d = g.plan, g.dilation
    x = F.pad(x, (g.pad_left, p.phase_len * d - length - g.pad_left))          # (B, C, J*d)
    blocks = x.reshape(batch, c, p.phase_len, d).permute(0, 3, 1, 2).unfold(-1, p.n_fft, p.step)
    return _split_rows(torch.fft.rfft(blocks, n=p.n_fft))                   # blocks: (B, d, C, nb, N)


def _row_blocks(re: Tensor, im: Tensor, n_fft: int, batch: int, d: int) -> Tensor:
    """Spectra 2 x (bins, B*d*nb, C) -> time blocks (B, d, nb, C, N).

    One transposing copy puts the bins innermost: MKL's FFT along an outer
    dimension is ~2.5x slower than the copy plus an innermost FFT, and a
    2-D transpose is ~4x faster than the equivalent 3-D permute.
    """
    bins, rows, c = re.shape
    spec = torch.complex(re, im).view(bins, rows * c).t().contiguous()       # 2-D transpose: fast path
    return torch.fft.irfft(spec.view(rows, c, bins), n=n_fft).view(batch, d, -1, c, n_fft)


def _output_signal(re: Tensor, im: Tensor, g: Geometry, batch: int) -> Tensor:
    """Output spectra 2 x (bins, B*d*nb, O) -> y (B, O, L_out): keep valid part, interleave."""
    p, d = g.plan, g.dilation
    y = _row_blocks(re, im, p.n_fft, batch, d)[..., : p.step]                 # (B, d, nb, O, S)
    y = y.permute(0, 3, 2, 4, 1).reshape(batch, y.shape[3], p.n_blocks * p.step * d)
    return y[..., : p.out_len]


def _correlate(x: Tensor, w: Spectrum, g: Geometry) -> tuple[Tensor, tuple[Tensor, Tensor]]:
    """The forward pass; also returns the input spectra (kept for the weight gradient)."""
    xr, xi = _input_rows(x, g)
    yr, yi = _gauss(xr, xi, w.re, w.im, asum=xr + xi, bsum=w.sum)
    return _output_signal(yr, yi, g, x.shape[0]), (xr, xi)


class _SpectralCorrelation(torch.autograd.Function):
    """nn.Conv1d's cross-correlation by FFT, with a hand-written backward.

    Autograd through rfft/irfft would work, but its rfft backward runs a full
    complex FFT and unfold's backward is a slow scatter; here both adjoints
    are real FFTs and a two-slice fold, and the products use 3 real GEMMs.
    Forward and backward treat slices of the batch independently; on a
    multi-threaded CPU each core takes one slice (see ``_on_cores``).
    """

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, g: Geometry) -> Tensor:  # noqa: ANN001
        spec = kernel_spectrum(weight, g.plan.n_fft)
        parts = _on_cores(lambda part: _correlate(part, spec, g), x)
        ctx.save_for_backward(spec.re, spec.im, *[t for _, rows in parts for t in rows])
        ctx.geometry, ctx.c_out = g, weight.shape[0]
        ctx.sizes = [y.shape[0] for y, _ in parts]
        return parts[0][0] if len(parts) == 1 else torch.cat([y for y, _ in parts])

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_y: Tensor) -> tuple[Tensor | None, Tensor | None, None]:  # noqa: ANN001
        wr, wi, *rows = ctx.saved_tensors
        g: Geometry = ctx.geometry
        need_x, need_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        pieces = list(zip(grad_y.split(ctx.sizes), rows[0::2], rows[1::2]))
        parts = _on_cores(lambda piece: _backward_part(*piece, wr, wi, g, need_x, need_w), pieces)
        grad_x = grad_w = None
        if need_x:
            grad_x = parts[0][0] if len(parts) == 1 else torch.cat([gx for gx, _ in parts])
        if need_w:
            vr = sum(v[0] for _, v in parts)
            vi = sum(v[1] for _, v in parts)
            n = g.plan.n_fft
            v = torch.complex(vr, -vi).permute(2, 1, 0)                          # (O, C, bins)
            grad_w = torch.fft.irfft(v * _edge_scale(n, 0.5 * n, 1.0 * n, grad_y), n=n)[..., : g.kernel]
        return grad_x, grad_w, None


def _backward_part(
    grad_y: Tensor, xr: Tensor, xi: Tensor, wr: Tensor, wi: Tensor, g: Geometry, need_x: bool, need_w: bool,
) -> tuple[Tensor | None, tuple[Tensor, Tensor] | None]:
    """Input gradient of one batch slice and its share of the weight-spectrum gradient."""
    batch, c_out = grad_y.shape[:2]
    p, d, n = g.plan, g.dilation, g.plan.n_fft
    # adjoint of "interleave, crop, keep first S of each block, irfft"
    gy = F.pad(grad_y, (0, p.per_phase * d - p.out_len)).view(batch, c_out, p.per_phase, d)
    gy = F.pad(gy.transpose(2, 3), (0, p.n_blocks * p.step - p.per_phase))
    gy = gy.reshape(batch, c_out, d, p.n_blocks, p.step)
    spec = torch.fft.rfft(gy, n=n) * _edge_scale(n, 2.0 / n, 1.0 / n, grad_y)
    gr, gi = _split_rows(spec.permute(0, 2, 1, 3, 4))                       # 2 x (bins, R, O)
    grad_x = weight_part = None
    if need_x:
        # d/dX of X @ W is G @ W^H
        hr, hi = _gauss(gr, gi, wr.mT, wi.mT, asum=gr + gi, bsum=(wr - wi).mT, conj=True)
        scale = _edge_scale(n, 0.5 * n, 1.0 * n, grad_y)[:, None, None]
        grad_x = _fold(_row_blocks(hr * scale, hi * scale, n, batch, d), g)   # blocks (B, d, nb, C, N)
    if need_w:
        # d/dW of X @ W is X^H @ G; W is conj(rfft(weight)), so rfft's adjoint gets conj(.)
        weight_part = _gauss(xr.mT, xi.mT, gr, gi, asum=(xr - xi).mT, bsum=gr + gi, conj=True)
    return grad_x, weight_part


def _on_cores(fn: Callable[[Any], Any], batch: Tensor | list) -> list[Any]:
    """``fn`` on one slice of ``batch`` per intra-op thread, each slice on its own core.

    The FFTs and layout copies here gain little from a second intra-op
    thread; independent slices on separate cores do (~1.3-1.6x on 2 cores).
    ``batch`` is a tensor (sliced along dim 0) or a list of ready slices.
    """
    from isatsleepnet.model.parallel import run_on_cores

    if isinstance(batch, Tensor):
        cores = torch.get_num_threads() if batch.device.type == "cpu" else 1
        batch = list(batch.tensor_split(min(cores, batch.shape[0]))) if cores > 1 and batch.shape[0] > 1 else [batch]
    return run_on_cores([lambda piece=piece: fn(piece) for piece in batch])


def _fold(blocks: Tensor, g: Geometry) -> Tensor:
    """Adjoint of the overlapping block view: (B, d, nb, C, N) -> (B, C, L), overlaps summed."""
    batch, d, nb, c, _ = blocks.shape
    p = g.plan
    acc = blocks.new_zeros(batch, d, c, (nb + 1) * p.step)
    acc[..., : nb * p.step].view(batch, d, c, nb, p.step).copy_(blocks[..., : p.step].transpose(2, 3))
    acc[..., p.step:].view(batch, d, c, nb, p.step)[..., : g.kernel - 1] += blocks[..., p.step:].transpose(2, 3)
    phases = acc[..., : p.phase_len].permute(0, 2, 3, 1).reshape(batch, c, p.phase_len * d)
    return phases[..., g.pad_left: g.pad_left + g.length]


def fft_conv1d(x: Tensor, weight: Tensor, g: Geometry, spectrum: Spectrum | None = None) -> Tensor:
    """Cross-correlate x (B, C_in, L) with weight (C_out, C_in, K) -> (B, C_out, L_out), no bias.

    With ``spectrum`` (precomputed, inference) the weight is not read.
    """
    if torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad) and spectrum is None:
        return _SpectralCorrelation.apply(x, weight, g)
    spectrum = kernel_spectrum(weight, g.plan.n_fft) if spectrum is None else spectrum
    return _correlate_chunked(x, spectrum, g)


ROWS_PER_CHUNK = 64
"""Without autograd, examples go through in chunks of about this many GEMM rows
(examples x phases x blocks): the intermediates (~2 MB) then stay in cache,
10-25 % faster at batch 16-64 than the whole batch at once (measured)."""


def _correlate_chunked(x: Tensor, spectrum: Spectrum, g: Geometry) -> Tensor:
    parts = _on_cores(lambda part: _correlate_in_chunks(part, spectrum, g), x)
    return parts[0] if len(parts) == 1 else torch.cat(parts)


def _correlate_in_chunks(x: Tensor, spectrum: Spectrum, g: Geometry) -> Tensor:
    rows_per_example = g.dilation * g.plan.n_blocks
    chunk = max(1, ROWS_PER_CHUNK // rows_per_example)
    if x.shape[0] <= chunk:
        return _correlate(x, spectrum, g)[0]
    batch = x.shape[0]
    out = x.new_empty(batch, spectrum.re.shape[-1], g.plan.out_len)
    for start in range(0, batch, chunk):
        out[start: start + chunk] = _correlate(x[start: start + chunk], spectrum, g)[0]
    return out


def _compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """float64 stays float64; half precisions are transformed in float32."""
    return torch.float64 if dtype == torch.float64 else torch.float32


class FFTConv1d(nn.Conv1d):
    """Drop-in nn.Conv1d (same parameters and state_dict keys) computed by FFT.

    Supports stride 1, groups 1, zero padding (int or "same"), any dilation.
    Input (batch, C_in, L) -> output (batch, C_out, L_out) exactly as
    nn.Conv1d, up to float32 rounding (~1e-6 relative).
    """

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003 - nn.Conv1d's signature
        super().__init__(*args, **kwargs)
        if self.stride != (1,) or self.groups != 1 or self.padding_mode != "zeros":
            raise ValueError("FFTConv1d supports stride 1, groups 1 and zero padding only")
        self._plans: dict[int, FFTPlan] = {}
        self._cache: tuple[tuple, Spectrum] | None = None

    @classmethod
    def from_conv(cls, conv: nn.Conv1d) -> FFTConv1d:
        """An FFTConv1d sharing nothing with ``conv`` but holding a copy of its parameters."""
        new = cls(
            conv.in_channels, conv.out_channels, conv.kernel_size[0], padding=conv.padding,
            dilation=conv.dilation, bias=conv.bias is not None,
            device=conv.weight.device, dtype=conv.weight.dtype,
        )
        new.load_state_dict(conv.state_dict())
        return new

    def _pads(self) -> tuple[int, int]:
        if isinstance(self.padding, str):
            if self.padding == "valid":
                return 0, 0
            total = self.dilation[0] * (self.kernel_size[0] - 1)
            return total // 2, total - total // 2
        return self.padding[0], self.padding[0]

    def plan(self, length: int) -> FFTPlan:
        """The (cached) block plan for inputs of this length."""
        if length not in self._plans:
            left, right = self._pads()
            self._plans[length] = make_plan(length, self.kernel_size[0], self.dilation[0], left, right)
        return self._plans[length]

    def geometry(self, length: int) -> Geometry:
        return Geometry(self.plan(length), self.kernel_size[0], self.dilation[0], self._pads()[0], length)

    def spectrum(self, n_fft: int) -> Spectrum:
        """Kernel spectrum for inference, cached until the weight changes (in place or replaced)."""
        weight = self.weight
        dtype = _compute_dtype(weight.dtype)
        try:
            version = weight._version
        except RuntimeError:  # an inference tensor has no version counter: do not cache
            with torch.no_grad():
                return kernel_spectrum(weight.detach().to(dtype), n_fft)
        key = (n_fft, dtype, weight.device, weight.data_ptr(), version)
        if self._cache is None or self._cache[0] != key:
            with torch.no_grad():
                self._cache = (key, kernel_spectrum(weight.detach().to(dtype), n_fft))
        return self._cache[1]

    def forward(self, x: Tensor) -> Tensor:
        """(batch, C_in, L) -> (batch, C_out, L_out).

        Computed in float32 (float64 kept); the result stays float32 under
        autocast and is cast back to the input's dtype otherwise (a bf16 model).
        """
        autocast = torch.is_autocast_enabled(x.device.type)
        in_dtype = x.dtype
        with torch.autocast(x.device.type, enabled=False):
            dtype = _compute_dtype(x.dtype)
            x = x.to(dtype)
            g = self.geometry(x.shape[-1])
            weight = self.weight.to(dtype)
            needs_grad = torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad)
            y = fft_conv1d(x, weight, g, None if needs_grad else self.spectrum(g.plan.n_fft))
            if self.bias is not None:
                y = y + self.bias.to(dtype)[:, None]
            return y if autocast else y.to(in_dtype)

    def direct_flops(self, length: int, batch: int = 1) -> int:
        """FLOPs of the same convolution computed directly (2 per multiply-add)."""
        out_len = self.plan(length).out_len
        return 2 * batch * self.in_channels * self.out_channels * self.kernel_size[0] * out_len

    def fft_flops(self, length: int, batch: int = 1, *, with_kernel_fft: bool = False) -> int:
        """FLOPs this implementation performs in the forward pass.

        Three real GEMMs per complex product (2 FLOPs per multiply-add), a
        real FFT of size N counted as 2.5 N log2 N. ``with_kernel_fft`` adds
        the kernel transform (every training step; cached at inference).
        """
        p = self.plan(length)
        rows = batch * self.dilation[0] * p.n_blocks
        gemm = 3 * 2 * p.bins * rows * self.in_channels * self.out_channels
        fft_one = 2.5 * p.n_fft * math.log2(p.n_fft)
        total = gemm + fft_one * rows * (self.in_channels + self.out_channels)
        if with_kernel_fft:
            total += fft_one * self.in_channels * self.out_channels
        return int(total)
