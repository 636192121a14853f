"""Portable model files: the weights plus everything needed to use them.

A model file records the architecture, the channel names and roles it was
trained on, the sampling rate and epoch length, the normalisation, the class
names, a description of the training data and, once evaluated, its metrics.
Lightning's training checkpoints (``last.ckpt``) hold optimiser state for
resuming; this file is what `evaluate` and `stage` load.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from isatsleepnet import STAGES, __version__
from isatsleepnet.atomic import atomic_path
from isatsleepnet.errors import IsatSleepNetError

FORMAT = "isatsleepnet-model"
VERSION = 1


@dataclass
class ModelFile:
    model_config: dict[str, Any]
    state_dict: dict[str, torch.Tensor]
    channels: list[str]
    roles: list[str]
    sampling_rate: float
    epoch_seconds: float
    normalize: str
    stages: list[str] = field(default_factory=lambda: list(STAGES))
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)

    def build(self, *, device: str | torch.device = "cpu"):
        """The network in eval mode with these weights."""
        from isatsleepnet.model import ISATSleepNet, ModelConfig

        model = ISATSleepNet(ModelConfig(**self.model_config))
        model.load_state_dict(self.state_dict)
        return model.to(device).eval()

    def weights_sha1(self) -> str:
        """Identity of the network (architecture and weights), unchanged when metadata such as metrics is added."""
        digest = hashlib.sha1(json.dumps(self.model_config, sort_keys=True, default=str).encode())
        for name in sorted(self.state_dict):
            digest.update(name.encode())
            digest.update(self.state_dict[name].detach().cpu().contiguous().numpy().tobytes())
        return digest.hexdigest()

    def save(self, path: str | Path) -> None:
        payload = {
            "format": FORMAT,
            "version": VERSION,
            "isatsleepnet_version": __version__,
            "saved": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            **self.__dict__,
        }
        with atomic_path(path) as tmp:
            torch.save(payload, tmp)


def load_model_file(path: str | Path) -> ModelFile:
    path = Path(path)
    if not path.is_file():
        raise IsatSleepNetError(f"{path}: model file not found")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        text = str(exc).strip()
        if "unsupported global" in text.lower():
            reason = "it holds Python objects, not the plain data of an ISATSleepNet model file"
        elif "weights only load failed" in text.lower() or "invalid load key" in text.lower():
            reason = "not a PyTorch file"
        else:  # torch's messages can run to paragraphs: keep the first line
            reason = (text.splitlines()[0] if text else type(exc).__name__)[:200]
        raise IsatSleepNetError(f"{path}: not a readable model file ({reason})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise IsatSleepNetError(f"{path}: not an ISATSleepNet model file (train one with `isatsleepnet train` or `cv`)")
    if payload.get("version", 0) > VERSION:
        raise IsatSleepNetError(f"{path}: made by a newer isatsleepnet ({payload.get('isatsleepnet_version')}); upgrade")
    fields = {k: payload[k] for k in ModelFile.__dataclass_fields__ if k in payload}
    return ModelFile(**fields)
