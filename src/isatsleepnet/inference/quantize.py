"""int8 ONNX models: ONNX Runtime's static quantisation, calibrated on the model's own inputs.

Why static (QDQ) and not dynamic: the network's time goes to convolutions, which only
static quantisation turns into integer kernels (``QLinearConv``); every current x86 CPU
runs those at several times the float32 rate (AVX2 ``vpmaddubsw``, AVX-512/AVX VNNI,
AMX). Weights are quantised per output channel (signed), activations per tensor
(unsigned), from the ranges seen on *calibration epochs*. Softmax stays float32, and so do
the nodes on either side of it (:func:`softmax_neighbours`): ONNX Runtime's
``QLinearSoftmax`` ran five times slower than the float one on this project's machine
(see docs/staging.md). ONNX Runtime has no static integer LSTM: the LSTM gets int8 weights
and activations quantised as it runs (``DynamicQuantizeLSTM``, a second, dynamic pass), 1.14x
the epochs per second of the paper-size int8 model with a float32 LSTM (docs/staging.md).

Calibration epochs are what the model will see: whole runs of consecutive epochs (so
that a context or sequence model sees real windows), read and normalised exactly as
staging reads them, either from recordings the user names or from the model's own
training data (its prepared dataset and training subjects, as its metadata names them).
The feeds the float model's staging sends for them are recorded and replayed to the
calibrator, so that every input of every graph (epochs, windows) is calibrated the
same way. The int8 model is then compared with the float one on the same epochs:
the share of epochs given the same stage and the largest probability difference
go into its metadata and model card (``isatsleepnet model-info``).
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from isatsleepnet.atomic import atomic_path
from isatsleepnet.errors import IsatSleepNetError, SettingError
from isatsleepnet.inference.onnx_backend import OnnxRunner, signed

logger = logging.getLogger(__name__)

QUANTIZED_OPS = ("Conv", "MatMul", "Gemm", "Add", "Mul", "AveragePool", "MaxPool", "Relu", "Transpose", "Concat",
                 "Reshape", "Split", "Sigmoid")
"""Operators given static integer kernels (except next to a Softmax); Softmax stays float32, LSTM is quantised
dynamically (see the module's docstring)."""
RUN_EPOCHS = 32  # consecutive epochs per calibration run: longer than any context or sequence window in use
AGREEMENT_GOAL = 0.99  # below this share of calibration epochs staged alike, the export warns
CLEAR_MARGIN = 0.1
"""A *clear* epoch: the float model's likeliest stage leads the next by at least this probability. Where it leads
by less, int8 and float32 may pick either of two near-equal stages; the agreement over clear epochs says how much
of the disagreement is such near-ties."""
METHOD = ("int8 static (ONNX Runtime QDQ: per-channel int8 weights, uint8 activations); "
          "LSTM dynamic (per-channel int8 weights)")


@dataclass(frozen=True)
class CalibrationRun:
    """Consecutive epochs of one recording (µV, (n, channels, samples)) and their numbers on its grid."""

    epochs: np.ndarray
    index: np.ndarray


def calibration_from_recordings(predictor: Any, recordings: Sequence[str | Path], epochs: int) -> list[CalibrationRun]:
    """Runs of :data:`RUN_EPOCHS` epochs spread evenly over each recording, about ``epochs`` in all.

    Each recording is read as `stage` reads it (the model's channels, derivations, rate).
    """
    from isatsleepnet.inference.raw import RawRecording

    if not recordings:
        raise SettingError("calibrate", "names no recording")
    per_recording = max(1, round(epochs / RUN_EPOCHS / len(recordings)))
    runs = []
    for path in recordings:
        recording = RawRecording.open(path, predictor.inputs)
        for first in _run_starts(recording.n_epochs, per_recording):
            index = recording.available(first, first + RUN_EPOCHS)
            if len(index):
                runs.append(CalibrationRun(recording.read(index=index), index))
    return runs


def training_data_of(training: dict[str, Any]) -> Path:
    """The prepared dataset a model was trained on, from its training metadata, if it is on this machine
    (checked before any work: without it, calibration needs recordings)."""
    folder, subjects = training.get("data"), training.get("train_subjects")
    if folder and not Path(str(folder)).is_absolute() and not Path(str(folder)).is_dir():
        # models trained before 2026-12-07 kept the --data they were given, relative to where they were trained
        raise SettingError("calibrate", f"is needed: the model names its training data by a relative path ({folder}), "
                                        "not found from this directory; run from the directory it was trained in, "
                                        "or name recordings like the ones it will stage")
    if not folder or not Path(str(folder)).is_dir() or not subjects:
        raise SettingError("calibrate", f"is needed: the model's training data ({folder or 'not named'}) is not on this "
                                        "machine; name recordings like the ones it will stage")
    return Path(str(folder))


def calibration_from_training(predictor: Any, epochs: int) -> list[CalibrationRun]:
    """Runs spread over the model's training recordings (its prepared dataset, its training subjects)."""
    from isatsleepnet.data.store import PreparedDataset

    training = predictor.meta.get("training") or {}
    folder, subjects = training_data_of(training), set(training["train_subjects"])
    data = PreparedDataset(folder)
    recordings = [r for r in data if r.subject in subjects]
    if not recordings:
        raise SettingError("calibrate", f"is needed: {folder} holds none of the model's training subjects")
    per_recording = max(1, round(epochs / RUN_EPOCHS / len(recordings)))
    runs = []
    for recording in recordings:
        channels = [recording.channels.index(c) for c in predictor.inputs.channels]
        real = np.flatnonzero(recording.real)
        for first in _run_starts(len(real), per_recording):
            positions = real[first : first + RUN_EPOCHS]
            index = np.round(recording.onsets[positions] / predictor.inputs.epoch_seconds).astype(np.int64)
            runs.append(CalibrationRun(np.asarray(recording.epochs[positions], np.float32)[:, channels], index))
    return runs


def _run_starts(n_epochs: int, runs: int) -> list[int]:
    """First epochs of ``runs`` runs spread evenly over ``n_epochs`` (fewer when the recording is short)."""
    if n_epochs <= RUN_EPOCHS:
        return [0] if n_epochs else []
    return sorted({int(x) for x in np.linspace(0, n_epochs - RUN_EPOCHS, runs)})


class _RecordingSession:
    """An ONNX Runtime session that keeps a copy of every feed it is run with (for the calibrator)."""

    def __init__(self, session: Any) -> None:
        self._session = session
        self.feeds: list[dict[str, np.ndarray]] = []

    def run(self, outputs: Any, feeds: dict[str, np.ndarray], *args: Any) -> Any:
        self.feeds.append({name: np.array(value) for name, value in feeds.items()})
        return self._session.run(outputs, feeds, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


def _probabilities(predictor: Any, runs: Sequence[CalibrationRun]) -> np.ndarray:
    return np.concatenate([predictor.probabilities(run.epochs, 64, run.index) for run in runs])


def quantize_onnx(float_path: str | Path, out: str | Path, runs: Sequence[CalibrationRun], *,
                  source: str, threads: int | None = None) -> dict[str, Any]:
    """Write ``out``, the int8 form of the exported ``float_path``, calibrated on ``runs``; returns a summary.

    ``source`` says where the calibration epochs came from (written into the metadata).

    Examples
    --------
    >>> summary = quantize_onnx("model.onnx", "model-int8.onnx", runs, source="n1.edf")  # doctest: +SKIP
    >>> summary["agreement"], summary["max_probability_difference"]  # doctest: +SKIP
    (0.996, 0.041)
    """
    import onnx
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType, quantize_dynamic,
                                          quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from isatsleepnet.inference.predictor import Predictor, load_predictor

    if not runs:
        raise SettingError("calibrate", "gave no epochs to calibrate on")
    float_path, out = Path(float_path), Path(out)
    runner = OnnxRunner(float_path, threads=threads)
    meta = runner.metadata()
    if meta.get("quantization"):
        raise IsatSleepNetError(f"{float_path}: already quantised ({meta['quantization'].get('method')})")
    recorder = runner.session = _RecordingSession(runner.session)
    float_model = Predictor("onnx", float_path, meta, runner.logits, runner.context if runner.context_length else None,
                            outputs_fn=runner.logits)
    logger.info("int8: %d calibration epochs (%d runs) through the float32 model, then quantising",
                sum(len(run.epochs) for run in runs), len(runs))
    expected = _probabilities(float_model, runs)
    feeds = recorder.feeds

    class Feeds(CalibrationDataReader):
        def __init__(self) -> None:
            self._next = iter(feeds)

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self._next, None)

    with tempfile.TemporaryDirectory(prefix="isatsleepnet-int8-") as work:
        prepared, static, quantized = (Path(work) / name for name in ("prepared.onnx", "static.onnx", "int8.onnx"))
        try:
            quant_pre_process(str(float_path), str(prepared), skip_symbolic_shape=True)
            _quiet(lambda: quantize_static(
                str(prepared), str(static), Feeds(), quant_format=QuantFormat.QDQ,
                activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True,
                op_types_to_quantize=list(QUANTIZED_OPS), nodes_to_exclude=softmax_neighbours(prepared)))
            _quiet(lambda: quantize_dynamic(str(static), str(quantized), op_types_to_quantize=["LSTM"],
                                            weight_type=QuantType.QInt8, per_channel=True))
        except Exception as exc:  # noqa: BLE001 - the quantiser's errors are long; keep the first line
            first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
            raise IsatSleepNetError(f"{float_path}: int8 quantisation failed: {first}") from None
        proto = onnx.load(str(quantized))
        del proto.metadata_props[:]
        graph_sha1 = hashlib.sha1(proto.SerializeToString()).hexdigest()  # the int8 network's own identity
        quantization = {"method": METHOD, "calibration": {"source": source, "epochs": int(len(expected)),
                                                           "runs": len(runs)},
                        "float_weights_sha1": meta.get("weights_sha1")}
        int8_meta = {**meta, "weights_sha1": graph_sha1, "quantization": quantization}
        _save(proto, int8_meta, quantized)
        got = _probabilities(load_predictor(quantized, threads=threads), runs)
        same = got.argmax(axis=1) == expected.argmax(axis=1)
        agreement, difference = float(same.mean()), float(np.abs(got - expected).max())
        clear = clear_epochs(expected)
        quantization.update(agreement_with_float=agreement, max_probability_difference=difference,
                            clear_epochs=int(clear.sum()), clear_margin=CLEAR_MARGIN,
                            agreement_on_clear_epochs=float(same[clear].mean()) if clear.any() else None)
        int8_meta["card"] = _card_with(meta.get("card"), quantization, graph_sha1)
        with atomic_path(out) as tmp:
            _save(proto, int8_meta, tmp)
            OnnxRunner(tmp, threads=1)  # the file as written opens and passes its own checks
    on_clear, n_clear = quantization["agreement_on_clear_epochs"], quantization["clear_epochs"]
    if agreement < AGREEMENT_GOAL:
        clear_part = ("" if on_clear is None else f" ({100 * on_clear:.1f} % of the {n_clear} epochs where the "
                      f"float32 model's stage leads the next by {CLEAR_MARGIN:g} or more)")
        logger.warning("the int8 model gives the float32 model's stage to only %.1f %% of the calibration epochs%s: "
                       "calibrate on more epochs or more recordings, or stage with the float32 model",
                       100 * agreement, clear_part)
    return {"path": str(out), "bytes": out.stat().st_size, "epochs": int(len(expected)), "agreement": agreement,
            "max_probability_difference": difference, "clear_epochs": n_clear, "agreement_on_clear_epochs": on_clear}


def clear_epochs(probabilities: np.ndarray) -> np.ndarray:
    """Which epochs are clear (:data:`CLEAR_MARGIN`) in the float model's ``probabilities`` (n x stages).

    Examples
    --------
    >>> clear_epochs(np.array([[0.6, 0.3, 0.1], [0.45, 0.4, 0.15]])).tolist()
    [True, False]
    """
    top = np.sort(np.asarray(probabilities), axis=1)
    return top[:, -1] - top[:, -2] >= CLEAR_MARGIN


def softmax_neighbours(path: Path) -> list[str]:
    """The nodes that feed a Softmax or read its output: left in float32, so that no quantised tensor
    enters or leaves a Softmax. Otherwise ONNX Runtime fuses the pattern into ``QLinearSoftmax``,
    which ran five times slower than the float Softmax here (docs/staging.md)."""
    import onnx

    graph = onnx.load(str(path)).graph
    producer = {output: node.name for node in graph.node for output in node.output}
    names = set()
    for node in graph.node:
        if node.op_type == "Softmax":
            names.update(producer[i] for i in node.input if i in producer)
            names.update(other.name for other in graph.node if set(other.input) & set(node.output))
    return sorted(names)


def _save(proto: Any, meta: dict[str, Any], path: Path) -> None:
    """``proto`` with ``meta`` as its isatsleepnet metadata, checksummed as :func:`export_onnx` does."""
    Path(path).write_bytes(signed(proto.SerializeToString(), meta))


def _card_with(card: Any, quantization: dict[str, Any], weights_sha1: str) -> Any:
    """The float model's card, saying that this file is its int8 form and how far the two agree."""
    if not isinstance(card, dict):
        return card
    return {**card, "weights_sha1": weights_sha1, "quantization": quantization}


def _quiet(call: Any) -> Any:
    """The quantiser logs a warning per tensor whose type it cannot infer (shape tensors), and numpy warns of
    a tensor that never changed (zero range): not the user's business; the agreement measured after is."""
    import warnings

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return call()
    finally:
        root.setLevel(level)
