"""Stage probabilities for prepared recordings, batch by batch."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader

from isatsleepnet.data.store import PreparedRecording
from isatsleepnet.model.fastops import onednn_matmul
from isatsleepnet.training.data import EpochDataset


def best_device(preference: str = "auto") -> torch.device:
    """The device to run on: ``auto`` takes CUDA when present; others are checked to exist."""
    from isatsleepnet.errors import IsatSleepNetError

    if preference == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(preference)
    except RuntimeError:
        raise IsatSleepNetError(f"unknown device {preference!r} (auto, cpu, cuda, cuda:N, mps)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise IsatSleepNetError(f"--device {preference}: this PyTorch sees no CUDA GPU (install a CUDA build, see README)")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise IsatSleepNetError(f"--device {preference}: only {torch.cuda.device_count()} CUDA device(s)")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise IsatSleepNetError(f"--device {preference}: MPS is not available here")
    return device


@torch.inference_mode()
def predict_probabilities(
    model: torch.nn.Module,
    recording: PreparedRecording,
    *,
    channels: list[str],
    normalize: str,
    batch_size: int = 64,
    device: torch.device | None = None,
) -> np.ndarray:
    """Softmax probabilities (n_epochs x n_classes) of one prepared recording."""
    device = device or next(model.parameters()).device
    dataset = EpochDataset([recording], channels=channels, normalize=normalize)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False)
    model.eval()
    chunks = []
    with onednn_matmul(device.type == "cpu"):  # once for the whole recording, not per batch
        for x, _ in loader:
            with torch.autocast(device.type, enabled=device.type == "cuda"):
                logits = model(x.to(device, non_blocking=True))
            chunks.append(logits.float().softmax(1).cpu().numpy())
    return np.concatenate(chunks) if chunks else np.zeros((0, 5), dtype=np.float32)
