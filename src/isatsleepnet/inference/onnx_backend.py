"""Export a model file to ONNX, and run an exported file with ONNX Runtime.

Why the eager graph: the fast path (``use_fast_conv=True``) computes the long EOG
convolutions with complex FFT tensors and calls oneDNN-only linear kernels; neither
has an ONNX form. The export therefore rebuilds the network with
``use_fast_conv=False`` from the *same* state_dict (both variants have the same
keys and shapes and compute the same function), exports that with the dynamo
exporter and a dynamic batch axis, and checks on random epochs that ONNX Runtime
and torch agree within 1e-4 in probability before the file is kept. (An export with the
dilated EOG convolutions rewritten as overlap-save with DFT matrices, which ONNX can
express, computed the same values but ran no faster on ONNX Runtime: 60 vs 60 epochs/s
on one core, so the plain graph is kept.)

The ONNX file embeds what staging needs (roles, channels, rate, epoch length,
normalisation, stages, model config, training summary) as metadata, so
``isatsleepnet stage --model model.onnx`` needs no ``.pt`` file and no torch model.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from isatsleepnet import __version__
from isatsleepnet.atomic import atomic_path
from isatsleepnet.errors import IsatSleepNetError

METADATA_KEY = "isatsleepnet"
INPUT_NAME = "epochs"
OUTPUT_NAME = "logits"
_METADATA_FIELDS = ("channels", "roles", "sampling_rate", "epoch_seconds", "normalize", "stages", "model_config")


def _require(*modules: str) -> None:
    """A one-line error naming what to install when an optional package is missing."""
    import importlib.util

    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise IsatSleepNetError(
            f"the ONNX backend needs {', '.join(missing)} (pip install {' '.join(missing)})"
        )


def model_metadata(model_file: Any) -> dict[str, Any]:
    """The ModelFile fields staging needs, JSON-ready."""
    meta = {name: getattr(model_file, name) for name in _METADATA_FIELDS}
    training = model_file.training or {}
    # the provenance keys travel too: staging warns from them (synthetic training data, foreign inputs)
    kept = ("data", "fold", "train_subjects", "selected_by", "synthetic_recordings", "real_recordings", "input_profile")
    meta["training"] = {k: training[k] for k in kept if k in training}
    meta["metrics"] = model_file.metrics or {}
    meta["weights_sha1"] = model_file.weights_sha1()  # the same identity as the .pt it came from
    meta["isatsleepnet_version"] = __version__
    return json.loads(json.dumps(meta, default=str))


def export_onnx(
    model_file: Any,
    out: str | Path,
    *,
    opset: int | None = None,
    tolerance: float = 1e-4,
    seed: int = 0,
) -> dict[str, Any]:
    """Write ``out`` (.onnx) from a ModelFile; returns a summary with the checked difference."""
    _require("onnx", "onnxscript", "onnxruntime")
    import onnx
    import torch

    model = model_file.build(device="cpu", fast=False)  # checked config and weights; the eager graph exports
    config = model.config
    g = torch.Generator().manual_seed(seed)
    example = torch.randn(2, config.n_channels, config.n_samples, generator=g)
    batch = torch.export.Dim("batch", min=1, max=65536)
    out = Path(out)
    with atomic_path(out) as tmp, _quiet_export():
        try:
            torch.onnx.export(
                model, (example,), str(tmp), input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                dynamic_shapes=({0: batch},), dynamo=True, optimize=True, external_data=False,
                **({"opset_version": opset} if opset else {}),
            )
        except Exception as exc:  # the exporter's errors are long reports; keep the first line
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise IsatSleepNetError(f"ONNX export failed: {first}") from None
        proto = onnx.load(str(tmp))
        entry = proto.metadata_props.add()
        entry.key, entry.value = METADATA_KEY, json.dumps(model_metadata(model_file))
        proto.producer_name, proto.producer_version = "isatsleepnet", __version__
        onnx.save(proto, str(tmp))
        check = torch.randn(5, config.n_channels, config.n_samples, generator=g)
        with torch.inference_mode():
            expected = torch.softmax(model(check), dim=-1).numpy()
        got = softmax(OnnxRunner(tmp, threads=1).logits(check.numpy()))
        difference = float(np.abs(got - expected).max())
        if not difference <= tolerance:
            raise IsatSleepNetError(
                f"ONNX export: ONNX Runtime and torch differ by {difference:.2e} in probability (> {tolerance:g})"
            )
    return {"path": str(out), "opset": _opset_of(out), "max_probability_difference": difference,
            "bytes": out.stat().st_size}


@contextlib.contextmanager
def _quiet_export():
    """The dynamo exporter prints progress and warnings; staging users need none of them."""
    loggers = [logging.getLogger(n) for n in ("torch.onnx", "torch._dynamo", "torch.export", "onnxscript")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _opset_of(path: Path) -> int | None:
    import onnx

    proto = onnx.load(str(path), load_external_data=False)
    return next((int(o.version) for o in proto.opset_import if o.domain in ("", "ai.onnx")), None)


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class OnnxRunner:
    """Logits of normalised epochs (batch, channels, samples) with ONNX Runtime on the CPU."""

    def __init__(self, path: str | Path, *, threads: int | None = None) -> None:
        _require("onnxruntime")
        import onnxruntime as ort

        if not Path(path).is_file():
            raise IsatSleepNetError(f"{path}: model file not found")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise IsatSleepNetError(f"{path}: not a readable ONNX model ({str(exc).splitlines()[0]})") from None
        self.path = Path(path)

    def metadata(self) -> dict[str, Any]:
        """The staging metadata embedded by :func:`export_onnx`."""
        raw = self.session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
        if raw is None:
            raise IsatSleepNetError(
                f"{self.path}: an ONNX file without isatsleepnet metadata; export it with `isatsleepnet export`"
            )
        return json.loads(raw)

    def logits(self, x: np.ndarray) -> np.ndarray:
        return self.session.run([OUTPUT_NAME], {INPUT_NAME: np.ascontiguousarray(x, dtype=np.float32)})[0]

