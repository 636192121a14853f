"""Portable model files: the weights plus everything needed to use them.

A model file records the architecture (its name in
:mod:`isatsleepnet.model.architectures`, and its configuration), the channel names and roles it was
trained on, the sampling rate and epoch length, the normalisation, the class
names, a description of the training data and, once evaluated, its metrics.
Lightning's training checkpoints (``last.ckpt``) hold optimiser state for
resuming; this file is what `evaluate` and `stage` load.

Why the checks: a model file comes from elsewhere (a colleague, a download).
It is read without running code from it (:func:`isatsleepnet.torchfile.load_plain`),
and :meth:`ModelFile.build` is the one way from a file to a network: a config or
weights that do not fit give one line naming the file, not a traceback.

Checksums. A file of format version 2 carries a sha256 of *every* field (the
metadata and the tensors, :func:`payload_sha256`), so flipped bytes in the
weights, or an edited ``normalize`` or ``training``, are refused instead of
staging every epoch as W or evaluating without normalisation; a version-2 file
without its checksum is refused too. Version-1 files carried a sha256 of the
architecture and weights only, which is still checked when present; files of
version 1 or older without a checksum still load: they predate checksums. (A
checksum detects damage, not forgery: whoever edits a file can recompute it, so
a file that claims an old version gains a forger nothing.) Whatever the version,
every field's value is checked (:func:`model_fields_problem`): a rate or an
epoch length that is not a finite positive number, epochs that are not the
network's input length, an unknown normalisation, roles that do not match the
channels, other classes than the five AASM stages: one line naming the file.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from isatsleepnet import STAGES, __version__
from isatsleepnet.atomic import atomic_path
from isatsleepnet.errors import IsatSleepNetError, template_of
from isatsleepnet.installs import require_training_for_model
from isatsleepnet.data.normalize import NORMALIZATIONS
from isatsleepnet.model.architectures import ARCHITECTURES, DEFAULT_ARCHITECTURE, Architecture, get_architecture

if TYPE_CHECKING:  # torch is imported where it is used: the field checks serve the ONNX backend without it
    import torch

FORMAT = "isatsleepnet-model"
VERSION = 2  # 2: the checksum covers every field and is required; 1: weights only, optional
HASH_KEY = "sha256"  # version 2: sha256 of every other field of the file (payload_sha256)
GRAPHS = ("eager", "fast", "fused")  # ModelFile.build: reference, training, inference
WEIGHTS_HASH_KEY = "weights_sha256"  # version 1: sha256 of model_config and the weights (ModelFile.weights_sha256)
_NOT_SAVED = ("source", "header")  # ModelFile fields that describe where a file was read from, not the model


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
    architecture: str = DEFAULT_ARCHITECTURE  # a file that names none is an ISATSleepNet file
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    source: Path | None = field(default=None, repr=False, compare=False)  # the file it was read from; not saved
    # what the file said of itself when read (sha256: its checksum; isatsleepnet_version, saved); not saved
    header: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def _name(self) -> str:
        return str(self.source) if self.source is not None else "model file"

    def network_config(self, *, fast: bool = True) -> Any:
        """The validated configuration of this file's network (``fast``: the training graph, else the eager
        reference; the same function either way), of its architecture's configuration class."""
        from isatsleepnet.model.config import ModelConfigError

        arch = self.architecture_entry()
        unknown = sorted(set(self.model_config) - set(arch.settings()))
        if unknown:
            raise IsatSleepNetError(f"{self._name()}: its model_config has unknown setting(s) {', '.join(unknown[:5])} "
                                    "(made by another version of isatsleepnet, or corrupt)")
        try:
            return arch.make_config(self.model_config, graph="fast" if fast else "eager")
        except ModelConfigError as exc:
            raise IsatSleepNetError(f"{self._name()}: {template_of(exc)}") from None
        except (TypeError, ValueError) as exc:
            raise IsatSleepNetError(f"{self._name()}: corrupt model file: its model_config cannot build a network "
                                    f"({_first_line(exc)})") from None

    def architecture_entry(self) -> Architecture:
        """This file's entry in the architecture table; a name not registered here in one line."""
        try:
            return get_architecture(self.architecture)
        except IsatSleepNetError as exc:
            raise IsatSleepNetError(f"{self._name()}: {template_of(exc)}") from None

    def build(self, graph: str = "fast", *, device: str | torch.device = "cpu") -> torch.nn.Module:
        """The network in eval mode with these weights: the one checked way from a model file to a network.

        ``graph`` chooses one of three implementations of the same function (the
        same state_dict; outputs agree to float32 rounding): ``"eager"``, the
        reference graph of plain layers (ONNX export); ``"fast"``, FFT
        convolutions and oneDNN matmuls (what training runs); ``"fused"``, the
        fast graph with BatchNorm folded and kernel spectra cached, eval only
        (what staging and evaluation run).

        Examples
        --------
        >>> net = model_file.build("fused", device="cpu")  # doctest: +SKIP
        """
        if graph not in GRAPHS:
            raise IsatSleepNetError(f"unknown graph {graph!r}; choose from {', '.join(GRAPHS)}")
        config = self.network_config(fast=graph != "eager")
        arch = self.architecture_entry()
        try:
            model = arch.build(config)
        except (ValueError, RuntimeError) as exc:
            raise IsatSleepNetError(f"{self._name()}: its model_config cannot build a network "
                                    f"({_first_line(exc)})") from None
        self._check_fits(model.state_dict())
        model.load_state_dict(self.state_dict)
        model = model.to(device).eval()
        return arch.inference_graph(model) if graph == "fused" else model

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
        """The checksum of format version 1: model_config plus every tensor's name, dtype, shape and bytes."""
        import torch

        digest = hashlib.sha256(json.dumps(self.model_config, sort_keys=True, default=str).encode())
        for name in sorted(self.state_dict):
            tensor = self.state_dict[name].detach().cpu().contiguous()
            digest.update(json.dumps([name, str(tensor.dtype), list(tensor.shape)]).encode())
            digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
        return digest.hexdigest()

    def save(self, path: str | Path) -> None:
        """Write the file atomically, with the checksum of all its fields; what :func:`load_model_file` would
        refuse is never written: non-finite weights, invalid fields, anything a weights-only load refuses
        (NumPy values become plain numbers)."""
        import torch

        from isatsleepnet.torchfile import non_finite_tensors, not_plain, to_plain

        bad = non_finite_tensors(self.state_dict)
        if bad:
            raise IsatSleepNetError(f"{path}: not written: the weights hold NaN or infinity ({', '.join(bad[:3])}); "
                                    "training diverged")
        names = [f.name for f in dataclasses.fields(self) if f.name not in (*_NOT_SAVED, "state_dict")]
        plain = {name: to_plain(getattr(self, name)) for name in names}
        payload = {
            "format": FORMAT,
            "version": VERSION,
            "isatsleepnet_version": __version__,
            "saved": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            **plain,
            "state_dict": dict(self.state_dict),
        }
        refused = not_plain(payload)
        if refused:
            raise IsatSleepNetError(f"{path}: not written: {', '.join(refused[:3])} not plain data (numbers, strings, "
                                    "lists, mappings, tensors), so the file could not be read back")
        problem = model_fields_problem(plain)
        if problem:
            raise IsatSleepNetError(f"{path}: not written: {problem}")
        payload[HASH_KEY] = payload_sha256(payload)
        with atomic_path(path) as tmp:
            torch.save(payload, tmp)


def payload_sha256(payload: Mapping[str, Any]) -> str:
    """The checksum of format version 2: every field of a model file but the checksum itself."""
    from isatsleepnet.torchfile import plain_sha256

    return plain_sha256({key: value for key, value in payload.items() if key != HASH_KEY})


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:160] if text else type(exc).__name__


def _positive(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0


def _names(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and all(isinstance(v, str) and v.strip() for v in value)


def _number(value: float) -> str:
    return f"{value:g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else repr(value)


def model_fields_problem(fields: Mapping[str, Any]) -> str | None:
    """What is wrong with the metadata of a model file (or of its ONNX export), in a few words; None if nothing.

    Needs no torch: the ONNX backend checks its embedded metadata with it too.
    """
    channels, roles = fields.get("channels"), fields.get("roles")
    if not _names(channels) or not channels:
        return f"channels is {channels!r}, not a non-empty list of names"
    if not _names(roles) or not roles:
        return f"roles is {roles!r}, not a non-empty list of names"
    if len(roles) != len(channels):
        return (f"it has {len(roles)} role(s) ({', '.join(roles)}) for {len(channels)} channel(s) "
                f"({', '.join(channels)})")
    for name in ("sampling_rate", "epoch_seconds"):
        if not _positive(fields.get(name)):
            return f"{name} is {_number(fields.get(name))}, not a finite number above 0"
    rate, seconds = float(fields["sampling_rate"]), float(fields["epoch_seconds"])
    normalize = fields.get("normalize")
    if normalize not in NORMALIZATIONS:
        return f"normalize is {normalize!r}, not one of {', '.join(NORMALIZATIONS)}"
    stages = fields.get("stages", list(STAGES))
    if not isinstance(stages, (list, tuple)) or list(stages) != list(STAGES):
        return f"stages is {stages!r}, not the five AASM stages {', '.join(STAGES)}"
    for name in ("training", "metrics"):
        if not isinstance(fields.get(name, {}), dict):
            return f"{name} is not a mapping"
    architecture = fields.get("architecture", DEFAULT_ARCHITECTURE)
    if architecture not in ARCHITECTURES:
        return (f"its architecture {architecture!r} is not registered in this isatsleepnet (registered: "
                f"{', '.join(sorted(ARCHITECTURES))}); a newer version or a plug-in made it")
    config = fields.get("model_config")
    if not isinstance(config, dict):
        return "model_config is not a mapping"
    n_samples = config.get("n_samples")
    if not isinstance(n_samples, int) or isinstance(n_samples, bool) or n_samples < 1:
        return f"model_config n_samples is {n_samples!r}, not a whole number above 0"
    product = seconds * rate
    if abs(product - round(product)) > 1e-6 * max(1.0, product):
        return f"{seconds:g}-s epochs at {rate:g} Hz are {product:g} samples, not a whole number"
    if round(product) != n_samples:
        return (f"its {seconds:g}-s epochs at {rate:g} Hz are {round(product)} samples, but its network takes "
                f"{n_samples} (model_config n_samples)")
    config_rate = config.get("sampling_rate")
    if not _positive(config_rate) or float(config_rate) != rate:
        return f"model_config sampling_rate is {_number(config_rate)}, not the file's sampling_rate {rate:g}"
    if not _names(config.get("roles")) or list(config["roles"]) != list(roles):
        return f"model_config roles {config.get('roles')!r} are not the file's roles {list(roles)!r}"
    if config.get("n_classes", len(STAGES)) != len(STAGES):
        return f"model_config n_classes is {config.get('n_classes')!r}, not {len(STAGES)} (the AASM stages)"
    return None


# field -> (accepted types, what it must be); a file failing these is corrupt, not merely old
_FIELD_TYPES: dict[str, tuple[tuple[type, ...], str]] = {
    "model_config": ((dict,), "a mapping"),
    "state_dict": ((dict,), "a mapping of tensors"),
    "channels": ((list, tuple), "a list"),
    "roles": ((list, tuple), "a list"),
    "sampling_rate": ((int, float), "a number"),
    "epoch_seconds": ((int, float), "a number"),
    "normalize": ((str,), "a name"),
    "architecture": ((str,), "a name"),
    "stages": ((list, tuple), "a list"),
    "training": ((dict,), "a mapping"),
    "metrics": ((dict,), "a mapping"),
}


def load_model_file(path: str | Path) -> ModelFile:
    """Read and check a model file: plain data only, complete, checksum, valid fields and finite weights
    (one-line errors naming the file)."""
    require_training_for_model(path)
    import torch

    from isatsleepnet.torchfile import load_plain, non_finite_tensors

    path = Path(path)
    payload = load_plain(path, "model file")
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise IsatSleepNetError(f"{path}: not an ISATSleepNet model file (train one with `isatsleepnet train` or `cv`)")
    version = payload.get("version", 0)  # the first files had none
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise IsatSleepNetError(f"{path}: corrupt model file: its format version is {version!r}, not a whole number")
    if version > VERSION:
        raise IsatSleepNetError(f"{path}: made by a newer isatsleepnet ({payload.get('isatsleepnet_version')}); upgrade")
    names = [f.name for f in dataclasses.fields(ModelFile) if f.name not in _NOT_SAVED]
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
    header = {key: payload[key] for key in ("isatsleepnet_version", "saved") if isinstance(payload.get(key), str)}
    saved_sum = payload.get(HASH_KEY)  # version 2: checked against the content below, before the file is used
    checksum = saved_sum if version >= 2 and isinstance(saved_sum, str) else payload_sha256(payload)
    model_file = ModelFile(**fields, source=path, header={**header, "sha256": checksum})
    _check_checksum(path, payload, version, model_file)
    problem = model_fields_problem(fields)
    if problem:
        raise IsatSleepNetError(f"{path}: invalid model file: {problem}")
    bad = non_finite_tensors(state)
    if bad:
        raise IsatSleepNetError(f"{path}: corrupt model file: non-finite weights (NaN or infinity) in "
                                f"{', '.join(bad[:3])}{' …' if len(bad) > 3 else ''}")
    model_file.network_config()  # an unknown or invalid setting is reported now, not when staging starts
    return model_file


def _check_checksum(path: Path, payload: dict[str, Any], version: int, model_file: ModelFile) -> None:
    """The checksum of the file's version: required from version 2 on, checked when present before."""
    mismatch = f"{path}: corrupt model file: its weights or metadata do not match their checksum"
    if version >= 2:
        saved = payload.get(HASH_KEY)
        if saved is None:
            raise IsatSleepNetError(f"{path}: corrupt model file: it has no checksum (a model file of format "
                                    f"version {version} always carries one)")
        if saved != payload_sha256(payload):
            raise IsatSleepNetError(mismatch)
        return
    saved = payload.get(WEIGHTS_HASH_KEY)  # files written before checksums existed have none
    if saved is not None and saved != model_file.weights_sha256():
        raise IsatSleepNetError(f"{path}: corrupt model file: its weights do not match their checksum")
