"""Export a model file to ONNX, and run an exported file with ONNX Runtime.

What is exported: the architecture's export form (``Architecture.exported``; for
ISATSleepNet :func:`~isatsleepnet.model.onnx_form.export_graph`), built from the model
file's fast network. The fast path itself computes the long EOG convolutions with
``torch.fft`` and calls oneDNN-only kernels, which have no ONNX form; the export form
folds BatchNorm, packs the cross-modal projections and writes those convolutions as DFT
matrix products in a channels-innermost layout, which ONNX Runtime runs ~3x faster than
its ``Conv`` (an earlier try in the channels-first layout ran no faster: its transposes
cost what the products saved; see ``onnx_form.py``). ``form="int8"`` keeps them as
convolutions, for the integer kernels of :mod:`~isatsleepnet.inference.quantize`. It is
exported with the dynamo exporter and a dynamic batch axis, and the file is kept only if
ONNX Runtime agrees with the *eager* reference network within 1e-4 in probability on
random epochs. Architectures without an export form (the baselines) export their eager
graph.

The ONNX file embeds what staging needs (roles, channels, rate, epoch length,
normalisation, stages, model config, training summary) as metadata, so
``isatsleepnet stage --model model.onnx`` needs no ``.pt`` file and no torch model.
The metadata carries a sha256 of itself and of every other byte of the file
(:func:`~isatsleepnet.inference.onnx_file.content_sha256`; read and written on the file's
bytes, so staging needs no onnx package), checked whenever the file is opened
(:class:`OnnxRunner`): flipped bits in a weight or an edited field (``training``,
``normalize``) are refused with one line instead of staging every night wrongly; a file
exported before this checksum existed is refused with the advice to export it again (its
model.pt still loads), and metadata whose fields are missing or invalid is refused as a
model.pt would be.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import math
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from isatsleepnet import __version__
from isatsleepnet.atomic import atomic_path
from isatsleepnet.cores import default_threads
from isatsleepnet.errors import IsatSleepNetError, SettingError
from isatsleepnet.inference.onnx_file import WireError, content_sha256, metadata_entries, with_metadata

METADATA_KEY = "isatsleepnet"
INPUT_NAME = "epochs"
OUTPUT_NAME = "logits"  # of a context model: logits then the epoch embedding
WINDOWS_NAME = "windows"  # context models: (windows, context, n_classes + embedding) of those outputs
CONTEXT_OUTPUT_NAME = "context_logits"
CHECKSUM_KEY = "file_sha256"  # in the metadata: sha256 of the rest of the metadata and of the rest of the file
_WEIGHTS_ONLY_KEY = "sha256"  # the checksum of exports before 2026-12-07: of the metadata and the weights only
_METADATA_FIELDS = ("channels", "roles", "sampling_rate", "epoch_seconds", "normalize", "stages", "architecture",
                    "model_config")
_SHA1_DIGITS = frozenset("0123456789abcdef")
EPOCHS_PER_RUN = 16
"""The most epochs one ONNX Runtime run takes. Measured on the whole SC4001 night, the network only (2 cores,
Zen 4, ONNX Runtime 1.32, the exports of bench_stage.py, medians, 2026-12-07): runs of 16 queued on both cores
took 4.04 s (small int8), 9.56 s (paper int8) and 17.84 s (paper float32), against 4.61, 10.30 and 19.31 s for
batches of 64 cut in one run per core, and 4.26, 9.75 and 19.05 s for runs of 32 queued."""


OPSETS = range(18, 26)
"""The opsets the exporter writes (each exported and checked with torch 2.13, onnxscript 0.7): 20 is its default;
it writes 18-25 when asked; asked for less than 18 it keeps 18 without saying so (see :func:`check_export_settings`)."""


def check_export_settings(opset: int | None, tolerance: float) -> None:
    """Refuse an opset the exporter would not write and a tolerance no check can use, before the export's minutes."""
    if opset is not None and opset not in OPSETS:
        raise SettingError("opset", f"must be {OPSETS[0]} to {OPSETS[-1]} (the opsets the exporter writes), not {opset}")
    if not (isinstance(tolerance, (int, float)) and math.isfinite(tolerance) and tolerance >= 0):
        raise SettingError("tolerance", f"must be a finite probability difference of at least 0, not {tolerance!r}")


def _require(*modules: str) -> None:
    """A one-line error naming what to install when an optional package is missing."""
    import importlib.util

    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:  # onnx and onnxruntime come with the plain install, the exporter with [train]
        raise IsatSleepNetError(
            f"the ONNX backend needs {', '.join(missing)} (pip install 'isatsleepnet[train]' installs them all)"
        )


def model_metadata(model_file: Any) -> dict[str, Any]:
    """The ModelFile fields staging needs, JSON-ready."""
    meta = {name: getattr(model_file, name) for name in _METADATA_FIELDS}
    training = model_file.training or {}
    # the provenance keys travel too: staging warns from them (synthetic training data, foreign inputs)
    kept = ("data", "fold", "train_subjects", "selected_by", "synthetic_recordings", "real_recordings", "input_profile",
            # and what `evaluate` refuses: the subjects and source files it (and every model it came from) saw
            "validation_subjects", "seen_sources", "ancestors", "parent")
    meta["training"] = {k: training[k] for k in kept if k in training}
    meta["metrics"] = model_file.metrics or {}
    from isatsleepnet.model.card import model_card

    meta["card"] = model_card(model_file)  # `isatsleepnet model-info MODEL.onnx` prints it
    meta["weights_sha1"] = model_file.weights_sha1()  # the same identity as the .pt it came from
    arch = model_file.architecture_entry()
    meta["sequence_window"] = arch.window_length(model_file.network_config())  # L of a sequence network, else 0
    meta["isatsleepnet_version"] = __version__
    return json.loads(json.dumps(meta, default=str))


def export_onnx(
    model_file: Any,
    out: str | Path,
    *,
    opset: int | None = None,
    tolerance: float = 1e-4,
    seed: int = 0,
    form: str = "float",
) -> dict[str, Any]:
    """Write ``out`` (.onnx) from a ModelFile; returns a summary with the checked difference.

    The graph is the architecture's export form (``Architecture.exported``: for ISATSleepNet BatchNorm folded,
    projections packed and, with ``form="float"``, the long EOG convolutions as DFT products; ``form="int8"``
    keeps them as convolutions for :func:`~isatsleepnet.inference.quantize.quantize_onnx`). ONNX Runtime's
    output is checked against the eager reference network over a run of epochs before the file is kept.
    """
    _require("onnx", "onnxscript", "onnxruntime")
    import onnx
    import torch

    if form not in ("float", "int8"):
        raise IsatSleepNetError(f"unknown export form {form!r}; choose float or int8")
    check_export_settings(opset, tolerance)
    model = model_file.build("eager", device="cpu")  # checked config and weights: the reference the check compares to
    graph = model_file.architecture_entry().export_graph(model_file.build("fast", device="cpu"), model, form=form)
    config = model_file.network_config(fast=False)
    n_channels, context = len(config.roles), int(getattr(config, "context", 0) or 0)  # context: ISATSleepNet's
    window = model_file.architecture_entry().window_length(config)  # a sequence network's windows: (W, L, C, S)
    g = torch.Generator().manual_seed(seed)
    example = torch.randn(2, *((window,) if window else ()), n_channels, config.n_samples, generator=g)
    batch = torch.export.Dim("batch", min=1, max=65536)
    exported, inputs, names, outputs, shapes = graph, (example,), [INPUT_NAME], [OUTPUT_NAME], ({0: batch},)
    if context:  # the encoder's outputs per epoch, and the head over windows of them: two entries
        exported = _context_graph(graph)
        width = config.n_classes + 2 * config.lstm_hidden
        inputs = (example, torch.randn(3, context, width, generator=g))
        names, outputs = [INPUT_NAME, WINDOWS_NAME], [OUTPUT_NAME, CONTEXT_OUTPUT_NAME]
        shapes = ({0: batch}, {0: torch.export.Dim("windows", min=1, max=65536)})
    out = Path(out)
    with atomic_path(out) as tmp, _quiet_export():
        try:
            torch.onnx.export(
                exported, inputs, str(tmp), input_names=names, output_names=outputs,
                dynamic_shapes=shapes, dynamo=True, optimize=True, external_data=False,
                **({"opset_version": opset} if opset else {}),
            )
        except Exception as exc:  # the exporter's errors are long reports; keep the first line
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise IsatSleepNetError(f"ONNX export failed: {first}") from None
        proto = onnx.load(str(tmp))
        if opset and _opset_of(tmp) != opset:  # never a file of another opset than asked for
            raise SettingError("opset", f"{opset} was asked for, but the exporter wrote opset {_opset_of(tmp)}")
        proto.producer_name, proto.producer_version = "isatsleepnet", __version__
        tmp.write_bytes(signed(proto.SerializeToString(), model_metadata(model_file)))
        check = torch.randn(5 + 2 * max(context, window), n_channels, config.n_samples, generator=g)
        runner = OnnxRunner(tmp, threads=1)
        with torch.inference_mode():
            if window:  # the whole staging path: windows at both ends of a run, and a run shorter than L
                from isatsleepnet.model.sequence import stage_in_windows

                index = np.r_[np.arange(len(check) - 2), np.arange(len(check) - 2, len(check)) + 50]
                expected = torch.softmax(stage_in_windows(model, check, index, window), dim=-1).numpy()
                got = softmax(runner.context(runner.logits(check.numpy()), index))
            elif context:  # the whole staging path: windows at both ends of a run, and a gap
                from isatsleepnet.model.context import apply_context

                index = np.r_[np.arange(len(check) - 2), np.arange(len(check) - 2, len(check)) + 50]
                expected = torch.softmax(apply_context(model.context, model.logits_and_embedding(check), index,
                                                       context), dim=-1).numpy()
                got = softmax(runner.context(runner.logits(check.numpy()), index))
            else:
                expected = torch.softmax(model(check), dim=-1).numpy()
                got = softmax(runner.logits(check.numpy()))
        difference = float(np.abs(got - expected).max())
        if not difference <= tolerance:
            raise IsatSleepNetError(
                f"ONNX export: ONNX Runtime and torch differ by {difference:.2e} in probability (> {tolerance:g})"
            )
    return {"path": str(out), "opset": _opset_of(out), "max_probability_difference": difference,
            "bytes": out.stat().st_size}


def _context_graph_class():
    import torch

    class ContextGraph(torch.nn.Module):
        """A context network as one ONNX graph with two entries: per-epoch outputs, and the head over windows."""

        def __init__(self, network: torch.nn.Module) -> None:
            super().__init__()
            self.network = network

        def forward(self, epochs: torch.Tensor, windows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            n = self.network.config.n_classes
            return self.network.logits_and_embedding(epochs), self.network.context(windows[..., n:], windows[..., :n])

    return ContextGraph


def _context_graph(network: Any) -> Any:
    """The two-entry graph of a context network (the class is made here: it needs torch)."""
    return _context_graph_class()(network)


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


def signed(data: bytes, meta: dict[str, Any]) -> bytes:
    """The ONNX file ``data`` with ``meta`` as its isatsleepnet metadata, checksummed (``CHECKSUM_KEY``).

    Examples
    --------
    >>> data = signed(b"\\x08\\x0a", {"stages": ["W"]})  # a ModelProto holding only ir_version 10
    >>> json.loads(dict(metadata_entries(data))[METADATA_KEY])[CHECKSUM_KEY][:12]
    'c4376b088496'
    """
    meta = {k: v for k, v in json.loads(json.dumps(meta, default=str)).items() if k != CHECKSUM_KEY}
    meta[CHECKSUM_KEY] = content_sha256(data, meta, checksum_key=CHECKSUM_KEY)
    return with_metadata(data, METADATA_KEY, json.dumps(meta))


def checked_metadata(data: bytes, path: Path) -> dict[str, Any]:
    """The isatsleepnet metadata of an ONNX file's bytes, verified against its checksum and checked field by field."""
    from isatsleepnet.model.file import model_fields_problem

    if not data:
        raise IsatSleepNetError(f"{path}: an empty file, not an ONNX model")
    try:
        entries = [value for key, value in metadata_entries(data) if key == METADATA_KEY]
    except WireError as exc:
        raise IsatSleepNetError(f"{path}: not a readable ONNX model ({exc})") from None
    if not entries:
        raise IsatSleepNetError(
            f"{path}: an ONNX file without isatsleepnet metadata; export it with `isatsleepnet export`"
        )
    if len(entries) > 1:
        raise IsatSleepNetError(f"{path}: corrupt model file: it holds {len(entries)} sets of isatsleepnet metadata")
    try:
        meta = json.loads(entries[0])
    except ValueError:
        raise IsatSleepNetError(f"{path}: corrupt model file: its isatsleepnet metadata is not JSON") from None
    if not isinstance(meta, dict):
        raise IsatSleepNetError(f"{path}: corrupt model file: its isatsleepnet metadata is not a JSON object")
    if CHECKSUM_KEY not in meta:
        what = ("with a checksum of its weights only" if _WEIGHTS_ONLY_KEY in meta else
                "without a checksum of its weights and metadata")
        raise IsatSleepNetError(f"{path}: exported {what} (by an older isatsleepnet); "
                                "export it again from its model.pt (`isatsleepnet export`)")
    if meta[CHECKSUM_KEY] != content_sha256(data, meta, checksum_key=CHECKSUM_KEY):
        raise IsatSleepNetError(f"{path}: corrupt model file: its weights or metadata do not match their checksum")
    problem = model_fields_problem(meta)
    sha1 = meta.get("weights_sha1")
    if problem is None and not (isinstance(sha1, str) and len(sha1) == 40 and set(sha1) <= _SHA1_DIGITS):
        problem = f"weights_sha1 is {sha1!r}, not a sha1 digest"
    if problem:
        raise IsatSleepNetError(f"{path}: invalid model file: {problem}")
    return meta


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:160] if text else type(exc).__name__


class OnnxRunner:
    """Logits of normalised epochs (batch, channels, samples) with ONNX Runtime on the CPU.

    The file is read once: its checksum and metadata are checked on those bytes and the
    session is built from them (a file replaced in between cannot slip past the check).
    """

    def __init__(self, path: str | Path, *, threads: int | None = None) -> None:
        _require("onnxruntime")
        import onnxruntime as ort

        path = Path(path)
        if not path.is_file():
            raise IsatSleepNetError(f"{path}: model file not found")
        data = path.read_bytes()
        self.path = path
        self._pool: Any = None
        self._metadata = checked_metadata(data, path)
        if self._metadata.get("quantization"):
            from isatsleepnet.inference.int8_cpu import warn_if_slow

            warn_if_slow(path)
        options = ort.SessionOptions()
        # Each core runs its own runs of epochs with one thread (see logits, _run): on this project's 2-core
        # machine 1.1-1.3x the epochs per second of one run on two intra-op threads, since the LSTM,
        # the attention and the small operators between the convolutions parallelise poorly inside a run.
        self.workers = threads or default_threads()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        # idle threads sleep instead of spinning, so that stagings side by side do not stall each other
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - the runtime's errors, whatever their type
            raise IsatSleepNetError(f"{path}: not a readable ONNX model ({_first_line(exc)})") from None

    def _pool_map(self, fn: Callable[[Any], np.ndarray], items: list) -> list[np.ndarray]:
        """``fn`` over ``items`` on the workers, in order (ONNX Runtime releases the GIL while it runs)."""
        if self.workers < 2 or len(items) < 2:
            return [fn(item) for item in items]
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="isatsleepnet-onnx")
        return list(self._pool.map(fn, items))

    def _run(self, output: str, feeds: dict[str, np.ndarray], batch: str) -> np.ndarray:
        """``output`` for ``feeds``, the ``batch`` input cut into one slice per worker, run side by side
        (the slices are independent examples)."""
        n = len(feeds[batch])
        bounds = np.linspace(0, n, max(1, min(self.workers, n)) + 1).round().astype(int)
        slices = [{**feeds, batch: feeds[batch][a:b]} for a, b in zip(bounds[:-1], bounds[1:])]
        return np.concatenate(self._pool_map(lambda part: self.session.run([output], part)[0], slices))

    def metadata(self) -> dict[str, Any]:
        """The staging metadata embedded by :func:`export_onnx`, checked when the file was opened."""
        return json.loads(json.dumps(self._metadata))

    @property
    def sequence_window(self) -> int:
        """L of a sequence-to-sequence network (its graph reads windows (W, L, C, S)); 0 otherwise."""
        return int(self._metadata.get("sequence_window") or 0)

    @property
    def context_length(self) -> int:
        """Epochs each stage reads: a sequence network's window or a context head's (0: one epoch)."""
        return self.sequence_window or int((self._metadata.get("model_config") or {}).get("context", 0) or 0)

    def _feeds(self, epochs: np.ndarray | None = None, windows: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Both inputs of a context graph (the one not needed: a minimal stand-in; only asked outputs are run)."""
        config = self._metadata["model_config"]
        feeds = {INPUT_NAME: np.ascontiguousarray(epochs, dtype=np.float32) if epochs is not None else
                 np.zeros((1, len(config["roles"]), int(config["n_samples"])), np.float32)}
        if self.context_length and not self.sequence_window:
            width = int(config.get("n_classes", 5)) + 2 * int(config.get("lstm_hidden", 128))
            feeds[WINDOWS_NAME] = (np.ascontiguousarray(windows, dtype=np.float32) if windows is not None else
                                   np.zeros((1, self.context_length, width), np.float32))
        return feeds

    def logits(self, x: np.ndarray, prepare: Callable[[np.ndarray], np.ndarray] | None = None,
               run_epochs: int = EPOCHS_PER_RUN) -> np.ndarray:
        """The graph's per-epoch outputs: logits (and, for a context model, the embedding after them); for a
        sequence network, which reads windows, the normalised epochs themselves, flattened (see :meth:`context`).

        ``prepare`` (normalisation) is applied to each slice by the worker that runs it. The epochs go in runs
        of at most ``run_epochs`` (and :data:`EPOCHS_PER_RUN`), all queued on the workers at once, so that no
        core waits for the caller or for the other between batches. The slices depend on the epochs' order
        alone: an int8 graph, whose LSTM quantises each run's inputs with one scale, gives the same numbers
        whichever worker runs which slice.
        """
        prepare = prepare or (lambda part: part)
        if self.sequence_window:
            return np.asarray(prepare(x), dtype=np.float32).reshape(len(x), -1)
        step = max(1, min(int(run_epochs), EPOCHS_PER_RUN))

        def run(start: int) -> np.ndarray:
            return self.session.run([OUTPUT_NAME], self._feeds(epochs=prepare(x[start : start + step])))[0]

        if not len(x):  # (ONNX Runtime aborts the process on an empty batch)
            config = self._metadata["model_config"]
            width = int(config.get("n_classes", 5)) + (2 * int(config.get("lstm_hidden", 128))
                                                       if self.context_length else 0)
            return np.zeros((0, width), np.float32)
        return np.concatenate(self._pool_map(run, list(range(0, len(x), step))))

    def context(self, outputs: np.ndarray, index: np.ndarray, windows_per_batch: int = 256) -> np.ndarray:
        """Context logits (N, n_classes) from :meth:`logits` of N epochs numbered ``index`` (see model/context.py)."""
        from isatsleepnet.model.context_plan import context_plan, gather_windows, staging_stride

        length = self.context_length
        stride = staging_stride(length) if self.sequence_window else 1  # as model/sequence.py stages
        rows, which, place = context_plan(np.asarray(index), length, stride)
        if self.sequence_window:  # windows of epochs through the whole graph
            config = self._metadata["model_config"]
            shape = (length, len(config["roles"]), int(config["n_samples"]))
            step = max(1, windows_per_batch // 32)
            chunks = [self._run(OUTPUT_NAME, self._feeds(epochs=gather_windows(
                outputs, rows[i : i + step]).reshape(-1, *shape)), INPUT_NAME) for i in range(0, len(rows), step)]
        else:
            chunks = [self._run(CONTEXT_OUTPUT_NAME, self._feeds(windows=gather_windows(
                outputs, rows[i : i + windows_per_batch])), WINDOWS_NAME) for i in range(0, len(rows), windows_per_batch)]
        result = np.concatenate(chunks) if chunks else np.zeros((0, length, 5), np.float32)
        return result[which, place]
