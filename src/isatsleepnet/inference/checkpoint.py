"""Portable model files: the weights plus everything needed to use them.

A model file records the architecture, the channel names and roles it was
trained on, the sampling rate and epoch length, the normalisation, the class
names, a description of the training data and, once evaluated, its metrics.
Lightning's training checkpoints (``last.ckpt``) hold optimiser state for
resuming; this file is what `evaluate` and `stage` load.

Why the checks: a model file comes from elsewhere (a colleague, a download).
It is read without running code from it (:func:`isatsleepnet.torchfile.load_plain`),
it carries a sha256 of its architecture and weights so that flipped bytes are
refused instead of staging every epoch as W with NaN probabilities, and
:meth:`ModelFile.build` is the one way from a file to a network: a config or
weights that do not fit give one line naming the file, not a traceback.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from isatsleepnet import STAGES, __version__
from isatsleepnet.atomic import atomic_path
from isatsleepnet.errors import IsatSleepNetError
from isatsleepnet.torchfile import load_plain, non_finite_tensors, not_plain, to_plain

if TYPE_CHECKING:
    from isatsleepnet.model import ISATSleepNet, ModelConfig

FORMAT = "isatsleepnet-model"
VERSION = 1
HASH_KEY = "weights_sha256"


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
    source: Path | None = field(default=None, repr=False, compare=False)  # the file it was read from; not saved

    def _name(self) -> str:
        return str(self.source) if self.source is not None else "model file"

    def network_config(self, *, fast: bool = True) -> ModelConfig:
        """The validated ModelConfig of this file (``fast``: FFT convolutions, the same function either way)."""
        from isatsleepnet.model import ModelConfig
        from isatsleepnet.model.config import ModelConfigError

        known = {f.name for f in dataclasses.fields(ModelConfig)}
        unknown = sorted(set(self.model_config) - known)
        if unknown:
            raise IsatSleepNetError(f"{self._name()}: its model_config has unknown setting(s) {', '.join(unknown[:5])} "
                                    "(made by another version of isatsleepnet, or corrupt)")
        try:
            return ModelConfig(**{**self.model_config, "use_fast_conv": fast})
        except ModelConfigError as exc:
            raise IsatSleepNetError(f"{self._name()}: {exc}") from None
        except (TypeError, ValueError) as exc:
            raise IsatSleepNetError(f"{self._name()}: corrupt model file: its model_config cannot build a network "
                                    f"({_first_line(exc)})") from None

    def build(self, *, device: str | torch.device = "cpu", fast: bool = True) -> ISATSleepNet:
        """The network in eval mode with these weights: the one checked way from a model file to a network.

        ``fast=False`` builds the eager reference graph (for ONNX export); both
        take the same state_dict and compute the same function.
        """
        from isatsleepnet.model import ISATSleepNet

        config = self.network_config(fast=fast)
        try:
            model = ISATSleepNet(config)
        except (ValueError, RuntimeError) as exc:
            raise IsatSleepNetError(f"{self._name()}: its model_config cannot build a network "
                                    f"({_first_line(exc)})") from None
        self._check_fits(model.state_dict())
        model.load_state_dict(self.state_dict)
        return model.to(device).eval()

    def _check_fits(self, expected: dict[str, torch.Tensor]) -> None:
        """Every weight the network needs, with its shape, and no other (load_state_dict's error is a paragraph)."""
        missing = sorted(set(expected) - set(self.state_dict))
        unexpected = sorted(set(self.state_dict) - set(expected))
        wrong = sorted(k for k in set(expected) & set(self.state_dict)
                       if tuple(self.state_dict[k].shape) != tuple(expected[k].shape))
        found = (("missing", missing), ("unexpected", unexpected), ("wrong shape:", wrong))
        problems = [f"{label} {', '.join(keys[:3])}{' …' if len(keys) > 3 else ''}" for label, keys in found if keys]
        if problems:
            raise IsatSleepNetError(f"{self._name()}: corrupt or incomplete model file: its weights do not fit the "
                                    f"network its model_config describes ({'; '.join(problems)})")

    def weights_sha1(self) -> str:
        """Identity of the network (architecture and weights), unchanged when metadata such as metrics is added."""
        digest = hashlib.sha1(json.dumps(self.model_config, sort_keys=True, default=str).encode())
        for name in sorted(self.state_dict):
            digest.update(name.encode())
            digest.update(self.state_dict[name].detach().cpu().contiguous().numpy().tobytes())
        return digest.hexdigest()

    def weights_sha256(self) -> str:
        """Checksum stored in the file: model_config plus every tensor's name, dtype, shape and bytes."""
        digest = hashlib.sha256(json.dumps(self.model_config, sort_keys=True, default=str).encode())
        for name in sorted(self.state_dict):
            tensor = self.state_dict[name].detach().cpu().contiguous()
            digest.update(json.dumps([name, str(tensor.dtype), list(tensor.shape)]).encode())
            digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
        return digest.hexdigest()

    def save(self, path: str | Path) -> None:
        """Write the file atomically, with its checksum; non-finite weights are never written, and
        neither is anything a weights-only load would refuse (NumPy values become plain numbers)."""
        bad = non_finite_tensors(self.state_dict)
        if bad:
            raise IsatSleepNetError(f"{path}: not written: the weights hold NaN or infinity ({', '.join(bad[:3])}); "
                                    "training diverged")
        names = [f.name for f in dataclasses.fields(self) if f.name not in ("source", "state_dict")]
        plain = dataclasses.replace(self, **{name: to_plain(getattr(self, name)) for name in names})
        payload = {
            "format": FORMAT,
            "version": VERSION,
            "isatsleepnet_version": __version__,
            "saved": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            **{name: getattr(plain, name) for name in names},
            "state_dict": dict(self.state_dict),
            HASH_KEY: plain.weights_sha256(),
        }
        refused = not_plain(payload)
        if refused:
            raise IsatSleepNetError(f"{path}: not written: {', '.join(refused[:3])} not plain data (numbers, strings, "
                                    "lists, mappings, tensors), so the file could not be read back")
        with atomic_path(path) as tmp:
            torch.save(payload, tmp)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:160] if text else type(exc).__name__


# field -> (accepted types, what it must be); a file failing these is corrupt, not merely old
_FIELD_TYPES: dict[str, tuple[tuple[type, ...], str]] = {
    "model_config": ((dict,), "a mapping"),
    "state_dict": ((dict,), "a mapping of tensors"),
    "channels": ((list, tuple), "a list"),
    "roles": ((list, tuple), "a list"),
    "sampling_rate": ((int, float), "a number"),
    "epoch_seconds": ((int, float), "a number"),
    "normalize": ((str,), "a name"),
    "stages": ((list, tuple), "a list"),
    "training": ((dict,), "a mapping"),
    "metrics": ((dict,), "a mapping"),
}


def load_model_file(path: str | Path) -> ModelFile:
    """Read and check a model file: plain data only, complete, checksum and finite weights (one-line errors)."""
    path = Path(path)
    payload = load_plain(path, "model file")
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise IsatSleepNetError(f"{path}: not an ISATSleepNet model file (train one with `isatsleepnet train` or `cv`)")
    version = payload.get("version", 0)
    if isinstance(version, int) and version > VERSION:
        raise IsatSleepNetError(f"{path}: made by a newer isatsleepnet ({payload.get('isatsleepnet_version')}); upgrade")
    names = [f.name for f in dataclasses.fields(ModelFile) if f.name != "source"]
    required = [f.name for f in dataclasses.fields(ModelFile)
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    missing = [name for name in required if name not in payload]
    if missing:
        raise IsatSleepNetError(f"{path}: incomplete model file: no {', '.join(missing)}")
    fields = {k: payload[k] for k in names if k in payload}
    for name, value in fields.items():
        types, meaning = _FIELD_TYPES[name]
        if not isinstance(value, types) or isinstance(value, bool):
            raise IsatSleepNetError(f"{path}: corrupt model file: {name} is not {meaning}")
    state = fields["state_dict"]
    if not state or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise IsatSleepNetError(f"{path}: corrupt model file: its state_dict is not a set of named tensors")
    model_file = ModelFile(**fields, source=path)
    saved = payload.get(HASH_KEY)  # files written before the checksum existed have none
    if saved is not None and saved != model_file.weights_sha256():
        raise IsatSleepNetError(f"{path}: corrupt model file: its weights do not match their checksum")
    bad = non_finite_tensors(state)
    if bad:
        raise IsatSleepNetError(f"{path}: corrupt model file: non-finite weights (NaN or infinity) in "
                                f"{', '.join(bad[:3])}{' …' if len(bad) > 3 else ''}")
    model_file.network_config()  # an unknown or invalid setting is reported now, not when staging starts
    return model_file
