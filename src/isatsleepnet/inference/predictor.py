"""From a model file to stage probabilities: the torch fast path or ONNX Runtime, behind one :class:`Predictor`.

Confidence is 1 - H(p) / log(5), the entropy of the stage probabilities scaled
to [0, 1] and reversed (1 = one stage certain, 0 = all equally likely).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from isatsleepnet import STAGES
from isatsleepnet.data.normalize import normalize_epochs
from isatsleepnet.engine import Engine
from isatsleepnet.errors import IsatSleepNetError
from isatsleepnet.installs import require_training_for_model
from isatsleepnet.inference.raw import ModelInputs

logger = logging.getLogger(__name__)

BACKENDS = ("torch", "onnx")


def confidence_of(probabilities: np.ndarray) -> np.ndarray:
    """1 - entropy / log(n_classes): 1 when one stage is certain, 0 when all are equally likely."""
    p = np.clip(probabilities.astype(np.float64), 1e-12, 1.0)
    entropy = -(p * np.log(p)).sum(axis=1)
    return np.clip(1.0 - entropy / math.log(probabilities.shape[1]), 0.0, 1.0)


class Predictor:
    """A loaded model (torch or ONNX Runtime) and what it needs from a recording."""

    def __init__(
        self, backend: str, source: Path, meta: dict[str, Any], logits_fn: Callable[[np.ndarray], np.ndarray],
        context_fn: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
        outputs_fn: Callable[[np.ndarray, Callable[[np.ndarray], np.ndarray], int], np.ndarray] | None = None,
    ) -> None:
        self.backend = backend
        self.source = source
        self.meta = meta
        self.inputs = ModelInputs.from_dict(meta)
        self.normalize = meta["normalize"]
        self._logits = logits_fn
        # a context model: _logits gives logits and embedding per epoch, _context the logits seen in context
        self._context = context_fn
        # a backend that spreads a whole array's batches over its workers itself (ONNX Runtime): epochs, the
        # normalisation its workers apply slice by slice, the batch size
        self._outputs = outputs_fn
        # epochs each stage reads: a context head's window, a sequence-to-sequence network's (0: one epoch)
        self.context = int(meta.get("sequence_window") or (meta.get("model_config") or {}).get("context", 0) or 0)
        if self.context and context_fn is None:
            raise IsatSleepNetError(f"{source}: a model reading windows of {self.context} epochs needs its window "
                                    "runner, which this backend lacks")
        if list(meta.get("stages") or STAGES) != list(STAGES):
            raise IsatSleepNetError(f"{source}: model predicts {meta.get('stages')}, not {list(STAGES)}")
        n_samples = int((meta.get("model_config") or {}).get("n_samples", self.inputs.n_samples))
        if n_samples != self.inputs.n_samples:
            raise IsatSleepNetError(
                f"{source}: model takes {n_samples} samples per epoch, not "
                f"{self.inputs.epoch_seconds:g} s x {self.inputs.sampling_rate:g} Hz"
            )

    def outputs(self, epochs: np.ndarray, batch_size: int = 64,
                progress: Callable[[int], Any] | None = None) -> np.ndarray:
        """The network's outputs per epoch of µV epochs, batch by batch: logits (n x 5), and for a
        context model the epoch embeddings after them (n x (5 + E)); see :meth:`probabilities_from`.

        ``progress`` is called with each batch's number of epochs as it goes into the network (from the
        backend's worker threads, for ONNX Runtime).
        """
        def prepare(part: np.ndarray) -> np.ndarray:
            if progress is not None:
                progress(len(part))
            return normalize_epochs(part, self.normalize)

        if self._outputs is not None and len(epochs):
            out = np.asarray(self._outputs(epochs, prepare, batch_size))
            return out.astype(np.float32, copy=False)
        chunks = [np.asarray(self._logits(prepare(epochs[i : i + batch_size])))
                  for i in range(0, len(epochs), batch_size)]
        width = chunks[0].shape[1] if chunks else len(STAGES)
        return np.concatenate(chunks).astype(np.float32, copy=False) if chunks else np.zeros((0, width), np.float32)

    def probabilities_from(self, outputs: np.ndarray, index: np.ndarray | None = None) -> np.ndarray:
        """Stage probabilities (n x 5) from :meth:`outputs` of consecutive epochs.

        ``index``: each epoch's number on the recording's grid; a context model reads
        only consecutive numbers as neighbours (an EDF+D gap, an epoch not prepared,
        breaks the context). Default: all consecutive.
        """
        if self._context is not None and len(outputs):
            index = np.arange(len(outputs)) if index is None else np.asarray(index)
            if len(index) != len(outputs):
                raise IsatSleepNetError("one epoch number per epoch is needed to stage with context")
            logits = np.asarray(self._context(outputs, index), dtype=np.float64)
        else:
            logits = np.asarray(outputs, dtype=np.float64)[:, : len(STAGES)]
        z = logits - logits.max(axis=1, keepdims=True) if len(logits) else logits
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True) if len(logits) else np.zeros((0, len(STAGES)))

    def probabilities(self, epochs: np.ndarray, batch_size: int = 64, index: np.ndarray | None = None,
                      progress: Callable[[int], Any] | None = None) -> np.ndarray:
        """Stage probabilities (n_epochs x 5) of epochs in µV (``index``: see :meth:`probabilities_from`;
        ``progress``: see :meth:`outputs`)."""
        return self.probabilities_from(self.outputs(epochs, batch_size, progress), index)

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
        if isinstance(self.meta.get("card"), dict):  # a few lines of the model card, for the staging report
            from isatsleepnet.model.card import card_summary

            summary["card"] = card_summary(self.meta["card"])
        return json.loads(json.dumps({"file": str(self.source), "backend": self.backend, **summary}, default=str))


def _torch_predictor(path: Path, engine: Engine) -> Predictor:
    engine.apply()
    import torch

    from isatsleepnet.model.file import load_model_file

    model_file = load_model_file(path)
    dev = engine.torch_device()
    autocast = engine.autocast_dtype(dev.type)
    # the fused graph (FFT convolutions, BatchNorm folded) computes the same function as training's model
    network = model_file.build("fused", device=dev)
    arch = model_file.architecture_entry()
    window = arch.window_length(model_file.network_config())  # a sequence-to-sequence network's L, else 0
    length = window or int(model_file.model_config.get("context", 0) or 0)
    if window:  # the network reads windows: the per-epoch "outputs" are the normalised epochs themselves
        n_channels = len(model_file.roles)

        def forward(x: torch.Tensor) -> torch.Tensor:
            return x.reshape(len(x), -1)
    else:
        forward = network.logits_and_embedding if length else network

    def logits(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            if autocast is None:
                return forward(torch.from_numpy(x).to(dev)).float().cpu().numpy()
            with torch.autocast(dev.type, dtype=autocast):  # --precision 16-mixed / bf16-mixed on CUDA
                return forward(torch.from_numpy(x).to(dev)).float().cpu().numpy()

    context = None
    if window:
        from isatsleepnet.model.sequence import stage_in_windows

        def context(outputs: np.ndarray, index: np.ndarray) -> np.ndarray:
            epochs = torch.from_numpy(outputs).to(dev).reshape(len(outputs), n_channels, -1)
            with torch.inference_mode():
                return stage_in_windows(network, epochs, index, window).float().cpu().numpy()
    elif length:
        from isatsleepnet.model.context import apply_context

        def context(outputs: np.ndarray, index: np.ndarray) -> np.ndarray:
            with torch.inference_mode():
                return apply_context(network.network.context, torch.from_numpy(outputs).to(dev), index,
                                     length).float().cpu().numpy()

    meta = {k: getattr(model_file, k) for k in
            ("channels", "roles", "sampling_rate", "epoch_seconds", "normalize", "stages", "architecture",
             "model_config", "training", "metrics")}
    meta["weights_sha1"] = model_file.weights_sha1()
    meta["sequence_window"] = window  # as an ONNX export's metadata says it (onnx_backend.model_metadata)
    from isatsleepnet.model.card import model_card

    meta["card"] = model_card(model_file)  # an ONNX export carries the same (onnx_backend.model_metadata)
    return Predictor("torch", path, meta, logits, context)


def load_predictor(
    model: str | Path, *, backend: str | None = None, engine: Engine | None = None,
    device: str | None = None, threads: int | None = None,
) -> Predictor:
    """A model file (.pt, torch) or an exported ONNX file (.onnx, ONNX Runtime), ready to predict.

    ``engine`` says where it runs (``device`` and ``threads`` override its
    fields, for callers without one). ``backend="onnx"`` with a .pt file exports
    it to a temporary ONNX file first (tens of seconds; export once with
    `isatsleepnet export` to avoid it).
    """
    engine = dataclasses.replace(engine or Engine(), **{k: v for k, v in (("device", device), ("threads", threads))
                                                        if v is not None})
    engine.single_device("staging and evaluation")
    path = Path(model)
    is_onnx = path.suffix.lower() == ".onnx"
    backend = backend or ("onnx" if is_onnx else "torch")
    if backend not in BACKENDS:
        raise IsatSleepNetError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
    if not path.is_file():
        raise IsatSleepNetError(f"{path}: {'a folder, not a model file' if path.is_dir() else 'model file not found'}")
    if backend == "torch":
        if is_onnx:
            raise IsatSleepNetError(f"{path}: an ONNX file runs on the onnx backend: drop {{backend}}, or set it to onnx")
        require_training_for_model(path)
        return _torch_predictor(path, engine)
    from isatsleepnet.inference.onnx_backend import OnnxRunner, export_onnx

    if engine.device not in ("auto", "cpu"):
        raise IsatSleepNetError("the onnx backend runs on the CPU; drop {device}")
    if engine.precision not in ("auto", "32-true"):
        raise IsatSleepNetError("the onnx backend runs in float32; drop {precision}")
    if not is_onnx:
        from isatsleepnet.model.file import load_model_file

        require_training_for_model(path)

        logger.warning("exporting %s to ONNX for this run (use `isatsleepnet export` to do it once)", path.name)
        folder = Path(tempfile.mkdtemp(prefix="isatsleepnet-onnx-"))
        try:
            export_onnx(load_model_file(path), folder / (path.stem + ".onnx"))
            runner = OnnxRunner(folder / (path.stem + ".onnx"), threads=engine.threads)
        finally:
            shutil.rmtree(folder, ignore_errors=True)  # the session holds the model in memory
    else:
        runner = OnnxRunner(path, threads=engine.threads)
    return Predictor("onnx", path, runner.metadata(), runner.logits,
                     runner.context if runner.context_length else None, outputs_fn=runner.logits)
