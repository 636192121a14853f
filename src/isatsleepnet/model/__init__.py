"""The ISATSleepNet model: `ModelConfig` (sizes, ablation switches) and `ISATSleepNet` (the nn.Module).

    config = ModelConfig(roles=("eeg", "eeg2", "eog"), n_samples=3000, sampling_rate=100.0)
    model = ISATSleepNet(config)                 # input (batch, 3, 3000) float32, µV or z-scored
    logits = model(x)                            # (batch, 5): W, N1, N2, N3, REM

Two implementations of the same function share one state_dict:

* ``use_fast_conv=True`` (default) — the fast path, for training and
  inference: FFT convolutions for the long EOG kernels (`FFTConv1d`),
  oneDNN matmuls for the linears, batched cross-modal projections, cheaper
  dropout masks and max-pooling.
* ``use_fast_conv=False`` — the eager reference: plain nn.Conv1d / nn.Linear
  / nn.Dropout; use it for ONNX export.

``model.with_fast_conv(flag)`` copies a model into the other implementation;
``model.fuse_for_inference()`` returns an eval-only copy with BatchNorm folded
and FFT kernel spectra cached (see ``fast.py``). ``flops.count_flops`` counts
what a forward pass executes. ``MODEL_SIZES`` names sizes: ``paper`` (the
defaults) and ``small`` (every width halved, ~2x faster staging on a CPU).
"""

from typing import Any

from isatsleepnet.model.config import MODEL_SIZES, ModelConfig, ModelConfigError, model_size_options

__all__ = ["MODEL_SIZES", "ISATSleepNet", "ModelConfig", "ModelConfigError", "model_size_options"]


def __getattr__(name: str) -> Any:
    """``ISATSleepNet`` is imported on first use: the model file's checks (ONNX staging) run without torch."""
    if name == "ISATSleepNet":
        from isatsleepnet.model.network import ISATSleepNet

        return ISATSleepNet
    raise AttributeError(f"module 'isatsleepnet.model' has no attribute {name!r}")
