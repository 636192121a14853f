"""From a model file to stage probabilities: the torch fast path or ONNX Runtime, behind one :class:`Predictor`.

Confidence is 1 - H(p) / log(5), the entropy of the stage probabilities scaled
to [0, 1] and reversed (1 = one stage certain, 0 = all equally likely).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from isatsleepnet import STAGES
from isatsleepnet.errors import IsatSleepNetError
from isatsleepnet.inference.raw import ModelInputs

BACKENDS = ("torch", "onnx")


def normalize_epochs(x: np.ndarray, how: str) -> np.ndarray:
    """Per-epoch, per-channel z-score as in training (``training.data.normalize_epoch``), float32.

    Re-stated here so that the ONNX backend does not import torch (2 s of start-up).
    """
    if how == "none":
        return np.asarray(x, dtype=np.float32)
    if how != "epoch-zscore":
        raise IsatSleepNetError(f"model file: unknown normalisation {how!r}")
    mean = x.mean(axis=-1, keepdims=True)
    std = x.std(axis=-1, keepdims=True)
    return ((x - mean) / np.maximum(std, 1e-6)).astype(np.float32, copy=False)


def confidence_of(probabilities: np.ndarray) -> np.ndarray:
    """1 - entropy / log(n_classes): 1 when one stage is certain, 0 when all are equally likely."""
    p = np.clip(probabilities.astype(np.float64), 1e-12, 1.0)
    entropy = -(p * np.log(p)).sum(axis=1)
    return np.clip(1.0 - entropy / math.log(probabilities.shape[1]), 0.0, 1.0)


class Predictor:
    """A loaded model (torch or ONNX Runtime) and what it needs from a recording."""

    def __init__(
        self, backend: str, source: Path, meta: dict[str, Any], logits_fn: Callable[[np.ndarray], np.ndarray]
    ) -> None:
        self.backend = backend
        self.source = source
        self.meta = meta
        self.inputs = ModelInputs.from_dict(meta)
        self.normalize = meta["normalize"]
        self._logits = logits_fn
        if list(meta.get("stages") or STAGES) != list(STAGES):
            raise IsatSleepNetError(f"{source}: model predicts {meta.get('stages')}, not {list(STAGES)}")
        n_samples = int((meta.get("model_config") or {}).get("n_samples", self.inputs.n_samples))
        if n_samples != self.inputs.n_samples:
            raise IsatSleepNetError(
                f"{source}: model takes {n_samples} samples per epoch, not "
                f"{self.inputs.epoch_seconds:g} s x {self.inputs.sampling_rate:g} Hz"
            )

    def probabilities(self, epochs: np.ndarray, batch_size: int = 64) -> np.ndarray:
        """Stage probabilities (n_epochs x 5) of epochs in µV, batch by batch."""
        out = np.empty((len(epochs), len(STAGES)), dtype=np.float64)
        for i in range(0, len(epochs), batch_size):
            logits = np.asarray(self._logits(normalize_epochs(epochs[i : i + batch_size], self.normalize)))
            z = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
            e = np.exp(z)
            out[i : i + len(logits)] = e / e.sum(axis=1, keepdims=True)
        return out

    @property
    def identity(self) -> str:
        """The network's weights hash (the same for a .pt and its ONNX export); the file's hash otherwise."""
        digest = self.meta.get("weights_sha1")
        if digest:
            return str(digest)
        from isatsleepnet.data.hashing import sha1_of

        return sha1_of(self.source)

    def describe(self) -> dict[str, Any]:
        keys = ("channels", "roles", "sampling_rate", "epoch_seconds", "normalize", "training", "metrics")
        summary = {k: self.meta.get(k) for k in keys}
        return json.loads(json.dumps({"file": str(self.source), "backend": self.backend, **summary}, default=str))


def prefer_passive_openmp() -> None:
    """Let idle OpenMP threads sleep instead of spin, unless the user chose a policy.

    Why: on a CPU shared with other work, torch's spinning threads stall one another.
    Staging on 2 cores at load average 6 measured 4 epochs/s with two spinning threads,
    52 with passive waiting (one thread: 56); on an idle machine passive costs ~8 %.
    It only takes effect before torch is first imported.
    """
    if "torch" not in sys.modules:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _torch_predictor(path: Path, *, device: str, threads: int | None) -> Predictor:
    prefer_passive_openmp()
    import torch

    from isatsleepnet.inference.checkpoint import load_model_file
    from isatsleepnet.inference.predict import best_device

    model_file = load_model_file(path)
    if threads:
        torch.set_num_threads(threads)
    dev = best_device(device)
    # the fast path (FFT convolutions, BatchNorm folded) computes the same function as training's model
    network = model_file.build(device=dev, fast=True)
    fused = network.fuse_for_inference() if hasattr(network, "fuse_for_inference") else network

    def logits(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return fused(torch.from_numpy(x).to(dev)).float().cpu().numpy()

    meta = {k: getattr(model_file, k) for k in
            ("channels", "roles", "sampling_rate", "epoch_seconds", "normalize", "stages", "model_config",
             "training", "metrics")}
    meta["weights_sha1"] = model_file.weights_sha1()
    return Predictor("torch", path, meta, logits)


def load_predictor(
    model: str | Path, *, backend: str | None = None, device: str = "auto", threads: int | None = None
) -> Predictor:
    """A model file (.pt, torch) or an exported ONNX file (.onnx, ONNX Runtime).

    ``backend="onnx"`` with a .pt file exports it to a temporary ONNX file first
    (tens of seconds; export once with `isatsleepnet export` to avoid it).
    """
    path = Path(model)
    is_onnx = path.suffix.lower() == ".onnx"
    backend = backend or ("onnx" if is_onnx else "torch")
    if backend not in BACKENDS:
        raise IsatSleepNetError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
    if not path.is_file():
        raise IsatSleepNetError(f"{path}: model file not found")
    if backend == "torch":
        if is_onnx:
            raise IsatSleepNetError(f"{path}: an ONNX file runs on the onnx backend (--backend onnx)")
        return _torch_predictor(path, device=device, threads=threads)
    from isatsleepnet.inference.onnx_backend import OnnxRunner, export_onnx

    if device not in ("auto", "cpu"):
        raise IsatSleepNetError("the onnx backend runs on the CPU; drop --device")
    if not is_onnx:
        from isatsleepnet.inference.checkpoint import load_model_file

        print(f"exporting {path.name} to ONNX for this run (use `isatsleepnet export` to do it once)",
              file=sys.stderr)
        folder = Path(tempfile.mkdtemp(prefix="isatsleepnet-onnx-"))
        try:
            export_onnx(load_model_file(path), folder / (path.stem + ".onnx"))
            runner = OnnxRunner(folder / (path.stem + ".onnx"), threads=threads)
        finally:
            shutil.rmtree(folder, ignore_errors=True)  # the session holds the model in memory
    else:
        runner = OnnxRunner(path, threads=threads)
    return Predictor("onnx", path, runner.metadata(), runner.logits)
