"""The graph `export` writes: the folded network, in the forms ONNX Runtime runs fastest.

Why not the training graph: the torch fast path (``fast.py``) computes the long
EOG convolutions with ``torch.fft`` and products in oneDNN, which have no ONNX
form, and the eager reference graph spends 57 % of ONNX Runtime's time in the
six 64 -> 64, 31-tap dilated residual convolutions. Measured with ONNX Runtime
1.32 on one thread, batch 32, one such layer at 750 steps (Intel Xeon,
AVX-512, 2026-12-06): ``Conv`` 1.7 ms per epoch; overlap-save through DFT
*matrix products* in the channels-innermost layout used here 0.57-0.61 ms
(2.8-3.9x); the same products in a channels-first layout 1.9-2.4 ms, because
ONNX Runtime's transposes that move the innermost axis cost more than the
products saved.

The export form (:func:`export_graph`) of an ISATSleepNet:

* BatchNorm and LCR folded into the convolutions before them (as staging's
  fused graph, :func:`~isatsleepnet.model.fast.fold_network`);
* the cross-modal projections packed into one product per modality (the fast
  graph's ``CrossModalInteraction._forward_packed``);
* ``form="float"``: each ODDM-EOG residual stack runs time-major, (L, batch, C),
  its convolutions as :class:`SpectralConv1d`;
* ``form="int8"``: the residual convolutions stay ``Conv``, which ONNX Runtime's
  static quantisation turns into integer convolutions (faster still, and a DFT
  in int8 would lose the precision the products need).

Both compute the eager network's function to float32 rounding; ``export``
checks that against torch before it keeps a file.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import Tensor, nn

FORMS = ("float", "int8")


def _fft_size(kernel: int) -> int:
    """The block size of the overlap-save: the power of two nearest 4 x the kernel (128 for 31 taps).

    Measured (module docstring's machine): N = 64, 128, 256 gave 0.56-0.65, 0.57-0.61 and 0.84-0.90 ms per epoch for
    a 31-tap layer: large enough that the valid share N - K + 1 of a block is high, small enough that the per-bin
    weights stay in cache.
    """
    return 1 << max(4, round(math.log2(4 * kernel)))


class SpectralConv1d(nn.Module):
    """A stride-1, zero-padded, dilated ``nn.Conv1d`` as DFT matrix products, time-major.

    (L, batch, C_in) -> (L_out, batch, C_out), equal to the convolution to float32 rounding.

    How: dilation d is d undilated correlations on the interleaved sub-sequences,
    which in the time-major layout are adjacent (reshape (J d, B, C) to (J, d B C));
    each is cut into overlapping blocks of N samples (``frames``, one Gather),
    transformed by two real (bins, N) matrices, mixed across channels per
    frequency bin by four batched products (real and imaginary parts: the
    conjugate kernel spectrum, as nn.Conv1d correlates), and transformed back
    keeping the N - K + 1 valid outputs of each block. Only one transpose is
    left, of whole (d, B, C) blocks, so channels stay the innermost axis.

    Parameters
    ----------
    conv
        The convolution (``nn.Conv1d`` or a subclass with its parameters), stride 1, groups 1.
    length
        The input length it will run on (the graph is built for one length).
    n_fft
        Block size (default: :func:`_fft_size` of the kernel).

    Examples
    --------
    >>> conv = nn.Conv1d(4, 4, 5, padding=4, dilation=2)
    >>> layer = SpectralConv1d(conv, length=40)
    >>> x = torch.randn(3, 4, 40)
    >>> y = layer(x.permute(2, 0, 1)).permute(1, 2, 0)
    >>> bool(torch.allclose(y, conv(x), atol=1e-5))
    True
    """

    def __init__(self, conv: nn.Conv1d, length: int, n_fft: int | None = None) -> None:
        super().__init__()
        if conv.stride != (1,) or conv.groups != 1 or isinstance(conv.padding, str):
            raise ValueError("SpectralConv1d takes a stride-1, groups-1 convolution with numeric padding")
        weight = conv.weight.detach().double().cpu()
        c_out, c_in, kernel = weight.shape
        dilation, pad = conv.dilation[0], conv.padding[0]
        n_fft = n_fft or _fft_size(kernel)
        out_len = length + 2 * pad - dilation * (kernel - 1)
        step = n_fft - kernel + 1
        if out_len < 1 or step < 1:
            raise ValueError(f"a {kernel}-tap convolution does not fit length {length} with blocks of {n_fft}")
        per_phase = -(-out_len // dilation)
        blocks = -(-per_phase // step)
        phase_len = (blocks - 1) * step + n_fft
        self.pads = (pad, phase_len * dilation - length - pad)
        self.sizes = {"d": dilation, "phase_len": phase_len, "blocks": blocks, "step": step, "n_fft": n_fft,
                      "c_in": c_in, "c_out": c_out, "out_len": out_len}
        bins = n_fft // 2 + 1
        f = torch.arange(bins, dtype=torch.float64)
        forward = 2 * math.pi * f[:, None] * torch.arange(n_fft, dtype=torch.float64) / n_fft   # (bins, N)
        weight_of = 2.0 * torch.ones(bins, dtype=torch.float64)  # the one-sided inverse counts inner bins twice
        weight_of[0] = 1.0
        if n_fft % 2 == 0:
            weight_of[-1] = 1.0
        back = 2 * math.pi * torch.arange(step, dtype=torch.float64)[:, None] * f / n_fft         # (S, bins)
        taps = 2 * math.pi * f[:, None] * torch.arange(kernel, dtype=torch.float64) / n_fft        # (bins, K)
        w_re = torch.einsum("oik,fk->fio", weight, torch.cos(taps))                                 # (bins, C_in, C_out)
        w_im = -torch.einsum("oik,fk->fio", weight, torch.sin(taps))
        buffers = {
            "dft_re": torch.cos(forward), "dft_im": -torch.sin(forward),
            "idft_re": weight_of * torch.cos(back) / n_fft, "idft_im": -weight_of * torch.sin(back) / n_fft,
            "mix_re": w_re, "mix_im": w_im,
        }
        for name, value in buffers.items():
            self.register_buffer(name, value.to(torch.float32))
        self.register_buffer("frames", torch.arange(n_fft)[:, None] + step * torch.arange(blocks)[None, :])
        bias = conv.bias.detach().float().cpu() if conv.bias is not None else torch.zeros(c_out)
        self.register_buffer("bias", bias)

    def forward(self, x: Tensor) -> Tensor:
        """(L, batch, C_in) -> (L_out, batch, C_out)."""
        s = self.sizes
        batch, bins = x.shape[1], self.dft_re.shape[0]
        x = nn.functional.pad(x, (0, 0, 0, 0, *self.pads))                                  # (J d, B, C)
        x = x.reshape(s["phase_len"], -1)[self.frames].reshape(s["n_fft"], -1)                # (N, blocks d B C)
        x_re = torch.matmul(self.dft_re, x).reshape(bins, -1, s["c_in"])                       # (bins, rows, C)
        x_im = torch.matmul(self.dft_im, x).reshape(bins, -1, s["c_in"])
        # conj(W) X: real part W_re X_re + W_im X_im, imaginary W_re X_im - W_im X_re
        y_re = torch.matmul(x_re, self.mix_re) + torch.matmul(x_im, self.mix_im)
        y_im = torch.matmul(x_im, self.mix_re) - torch.matmul(x_re, self.mix_im)
        y = torch.matmul(self.idft_re, y_re.reshape(bins, -1)) + torch.matmul(self.idft_im, y_im.reshape(bins, -1))
        y = y.reshape(s["step"], s["blocks"], -1).transpose(0, 1)                              # (blocks, S, d B C)
        y = y.reshape(s["blocks"] * s["step"] * s["d"], batch, s["c_out"])[: s["out_len"]]
        return y + self.bias


class TimeMajorResidualStack(nn.Module):
    """ODDM-EOG's folded residual blocks with :class:`SpectralConv1d` convolutions.

    (batch, C, L) -> same shape: one transpose in, one out, the blocks time-major between.
    """

    def __init__(self, blocks: nn.Sequential, length: int) -> None:
        super().__init__()
        self.convs = nn.ModuleList()
        for block in blocks:
            for conv in (block.conv1, block.conv2):
                self.convs.append(SpectralConv1d(conv, length))

    def forward(self, x: Tensor) -> Tensor:
        h = x.permute(2, 0, 1)
        for first, second in zip(self.convs[0::2], self.convs[1::2]):
            h = torch.relu(h + second(torch.relu(first(h))))
        return h.permute(1, 2, 0)


def _as_conv(conv: nn.Conv1d) -> nn.Conv1d:
    """A plain nn.Conv1d holding ``conv``'s parameters (an FFTConv1d has no ONNX form)."""
    plain = nn.Conv1d(conv.in_channels, conv.out_channels, conv.kernel_size[0], padding=conv.padding,
                      dilation=conv.dilation, bias=conv.bias is not None)
    plain.load_state_dict(conv.state_dict())
    return plain.to(conv.weight.device).eval()


def export_graph(model: nn.Module, *, form: str = "float") -> nn.Module:
    """The eval-only copy of an ISATSleepNet that `export` writes (``model`` is not changed).

    ``model``: the network built with ``use_fast_conv=True`` (its packed cross-modal products; the eager
    build exports too, unpacked). ``form``: ``"float"`` (spectral residual convolutions) or ``"int8"``
    (the graph to quantise: plain convolutions). Methods (``logits_and_embedding``, ``context``) keep working.

    Examples
    --------
    >>> from isatsleepnet.model import ISATSleepNet, ModelConfig
    >>> net = ISATSleepNet(ModelConfig(roles=("eeg", "eog"))).eval()
    >>> graph = export_graph(net)
    >>> x = torch.randn(2, 2, 3000)
    >>> bool(torch.allclose(torch.softmax(graph(x), -1), torch.softmax(net(x), -1), atol=1e-5))
    True
    """
    from isatsleepnet.model.eog import ODDMEOG
    from isatsleepnet.model.fast import fold_network
    from isatsleepnet.model.fftconv import FFTConv1d

    if form not in FORMS:
        raise ValueError(f"unknown export form {form!r}; choose from {', '.join(FORMS)}")
    net = copy.deepcopy(model).eval()
    net.requires_grad_(False)
    fold_network(net)
    for module in list(net.modules()):
        if isinstance(module, ODDMEOG):
            if form == "float":
                module.blocks = TimeMajorResidualStack(module.blocks, module.mid_len)
            else:
                for block in module.blocks:
                    block.conv1, block.conv2 = _as_conv(block.conv1), _as_conv(block.conv2)
    leftover = [name for name, m in net.named_modules() if isinstance(m, FFTConv1d)]
    if leftover:
        raise ValueError(f"no ONNX form for the FFT convolutions {', '.join(leftover)}")
    return net
