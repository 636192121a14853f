"""The fast path: FFT convolutions, oneDNN linears, and an inference-only fused copy.

Training: build the model with ``ModelConfig(use_fast_conv=True)`` (the
default). It has the same parameters as the eager reference
(``use_fast_conv=False``) and computes the same function; only the kernels
differ (see ``fftconv.py`` and ``fastops.py``).

Inference: ``fuse_for_inference(model)`` returns an eval-only copy in which

* every BatchNorm that directly follows a convolution is folded into it
  (the EOG stems, the residual blocks, the TPP projection), and the NMS-EEG
  input BatchNorm *and* LCR are folded into the three scale convolutions
  (resampling between them is a per-channel average, so it commutes);
* the FFT kernel spectra are computed once (after folding) and reused;
* ``forward`` runs under ``torch.inference_mode()``, sends the batched
  products to oneDNN where that is exact (``onednn_matmul``) and, on a CPU with more
  than one intra-op thread, gives each core its own slice of the batch
  (``split_batch``; see ``parallel.py``).

Outputs equal the unfused model's in eval mode to float32 rounding.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

from isatsleepnet.model.eeg import LCR, NMSEEG
from isatsleepnet.model.eog import ODDMEOG, ResidualBlock
from isatsleepnet.model.fastops import (
    FastDropout, FastLinear, FastMaxPool2, linear, onednn_available, onednn_matmul,
)
from isatsleepnet.model.fftconv import FFTConv1d, fft_conv1d
from isatsleepnet.model.parallel import split_batch_forward

__all__ = [
    "FFTConv1d", "FastDropout", "FastLinear", "FastMaxPool2", "FusedInference", "fft_conv1d", "fold_batchnorm", "fold_network",
    "fuse_for_inference", "linear", "onednn_available", "onednn_matmul",
]


def _bn_affine(bn: nn.BatchNorm1d) -> tuple[Tensor, Tensor]:
    """Eval-mode BatchNorm as y = scale * x + shift, per channel."""
    if bn.running_var is None or bn.running_mean is None:
        raise ValueError("cannot fold a BatchNorm without running statistics")
    scale = torch.rsqrt(bn.running_var + bn.eps)
    if bn.weight is not None:
        scale = scale * bn.weight
    shift = -bn.running_mean * scale
    if bn.bias is not None:
        shift = shift + bn.bias
    return scale, shift


@torch.no_grad()
def _scale_conv(conv: nn.Conv1d, scale: Tensor, shift: Tensor) -> None:
    """conv <- scale * conv + shift, per output channel (in place)."""
    conv.weight.mul_(scale.to(conv.weight.dtype)[:, None, None])
    if conv.bias is None:
        conv.bias = nn.Parameter(torch.zeros_like(shift, dtype=conv.weight.dtype))
    conv.bias.mul_(scale).add_(shift)


def fold_batchnorm(conv: nn.Conv1d, bn: nn.BatchNorm1d) -> None:
    """Fold eval-mode ``bn`` into the convolution that feeds it (in place)."""
    _scale_conv(conv, *_bn_affine(bn))


@torch.no_grad()
def _fuse_nms_eeg(m: NMSEEG) -> None:
    scale, shift = _bn_affine(m.norm_in)
    if isinstance(m.lcr, LCR):
        factor = m.lcr.scale()
        scale, shift = scale * factor, shift * factor
    start = 0
    for branch in m.branches:
        stop = start + branch.out_channels
        _scale_conv(branch, scale[start:stop], shift[start:stop])
        start = stop
    m.norm_in, m.lcr = nn.Identity(), nn.Identity()


def _fuse_oddm_eog(m: ODDMEOG) -> None:
    fold_batchnorm(m.fast, m.fast_norm)
    fold_batchnorm(m.slow, m.slow_norm)
    fold_batchnorm(m.project, m.project_norm)
    m.fast_norm, m.slow_norm, m.project_norm = nn.Identity(), nn.Identity(), nn.Identity()
    for block in m.blocks:
        assert isinstance(block, ResidualBlock)
        fold_batchnorm(block.conv1, block.norm1)
        fold_batchnorm(block.conv2, block.norm2)
        block.norm1, block.norm2 = nn.Identity(), nn.Identity()


def fold_network(net: nn.Module) -> None:
    """Fold every BatchNorm (and LCR) of an eval network's NMS-EEG and ODDM-EOG into its convolutions, in place.

    Staging's fused graph and the ONNX export form (``onnx_form.py``) both start here.
    """
    for module in list(net.modules()):
        if isinstance(module, NMSEEG):
            _fuse_nms_eeg(module)
        elif isinstance(module, ODDMEOG):
            _fuse_oddm_eog(module)


class FusedInference(nn.Module):
    """Eval-only wrapper: ``forward`` runs the folded network under inference_mode.

    ``network`` is the folded ISATSleepNet (no BatchNorm left after a
    convolution); it must not be trained. With ``split_batch`` (default) and
    more than one intra-op thread, a CPU batch is cut into one slice per
    thread and the slices run concurrently, one single-threaded slice per
    core (``parallel.py``): examples are independent in eval mode, so the
    result is the same, and it scales better than intra-op threading for the
    LSTM and attention.
    """

    def __init__(self, network: nn.Module, *, split_batch: bool = True) -> None:
        super().__init__()
        self.network = network
        self.config = getattr(network, "config", None)
        self.split_batch = split_batch

    def train(self, mode: bool = True) -> FusedInference:
        if mode:
            raise RuntimeError("a fused inference model cannot be trained; fuse again after training")
        return super().train(False)

    def forward(self, x: Tensor) -> Tensor:
        """(batch, n_channels, n_samples) -> logits (batch, n_classes)."""
        return self._run(self.network, x)

    def logits_and_embedding(self, x: Tensor) -> Tensor:
        """(batch, n_classes + embedding): the folded network's ``logits_and_embedding``, batch split as ``forward``."""
        return self._run(self.network.logits_and_embedding, x)

    def _run(self, fn, x: Tensor) -> Tensor:  # noqa: ANN001 - a method of the folded network
        with torch.inference_mode(), onednn_matmul(x.device.type == "cpu"):
            cores = torch.get_num_threads()
            if (self.split_batch and cores > 1 and x.shape[0] > 1 and x.device.type == "cpu"
                    and not torch.is_autocast_enabled("cpu")):
                return split_batch_forward(fn, x, cores)
            return fn(x)


def fuse_for_inference(model: nn.Module, *, split_batch: bool = True) -> FusedInference:
    """A folded, eval-only copy of an ISATSleepNet (the original is not changed).

    Works for the eager and the fast implementation alike; for the fastest
    inference fuse a ``use_fast_conv=True`` model (``model.with_fast_conv()``).
    """
    net = copy.deepcopy(model).eval()
    net.requires_grad_(False)
    fold_network(net)
    fused = FusedInference(net, split_batch=split_batch).eval()
    config = getattr(net, "config", None)
    if config is not None:  # compute and cache the FFT kernel spectra now, not in the first call
        param = next(net.parameters())
        with torch.inference_mode():
            net(torch.zeros(1, config.n_channels, config.n_samples, device=param.device, dtype=param.dtype))
    return fused
