"""`export`: a model file as an ONNX file (float32 or int8), checked against torch before it is kept.

One function for the command line and for Python (``isatsleepnet.export``): the
checks that would otherwise fail after minutes of work (a target that would
replace the model, an opset the exporter cannot write, a missing calibration
recording, an int8 model without calibration data) come first, before the
model file is even read.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from isatsleepnet.checks import whole_number
from isatsleepnet.errors import DataError, SettingError

log = logging.getLogger(__name__)

CALIBRATION_EPOCHS = 320
"""Default number of calibration epochs of an int8 export (in runs of 32)."""


def check_target(model: str | Path, onnx: str | Path) -> None:
    """Refuse an ``onnx`` target that would replace the model, or that `stage` would not read as ONNX.

    Examples
    --------
    >>> check_target("runs/model.pt", "runs/model.pt")
    Traceback (most recent call last):
    ...
    isatsleepnet.errors.SettingError: onnx= runs/model.pt is the model file itself: writing it would replace the model; name another file
    """
    model, onnx = Path(model), Path(onnx)
    if onnx.resolve() == model.resolve() or (onnx.exists() and model.exists() and os.path.samefile(onnx, model)):
        raise SettingError("onnx", f"{onnx} is the model file itself: writing it would replace the model; "
                                   "name another file")
    if onnx.is_dir():
        raise SettingError("onnx", f"{onnx} is a folder; name the .onnx file to write")
    if onnx.suffix.lower() != ".onnx":  # `stage` and `load_model` tell the two kinds apart by the suffix
        raise SettingError("onnx", f"must end in .onnx (any other name is read as a PyTorch model file), not {onnx}")
    with contextlib.suppress(OSError), onnx.open("rb") as f:
        if f.read(4) == b"PK\x03\x04":  # a zip: a PyTorch model file, whatever its name
            raise SettingError("onnx", f"{onnx} is a PyTorch model file; writing it would replace the model")


def _check_settings(model: Path, onnx: Path, *, int8: bool, calibrate: Sequence[Path] | None,
                    calibration_epochs: int, opset: int | None, tolerance: float) -> None:
    from isatsleepnet.inference.onnx_backend import check_export_settings

    if not isinstance(int8, bool):
        raise SettingError("int8", f"must be True or False, not {int8!r}")
    if calibrate is not None and not int8:
        raise SettingError("calibrate", "calibrates an int8 model: give {int8} too")
    whole_number("calibration_epochs", calibration_epochs, least=1)
    if opset is not None:
        whole_number("opset", opset)
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or not math.isfinite(tolerance):
        raise SettingError("tolerance", f"must be a finite probability difference of at least 0, not {tolerance!r}")
    check_export_settings(None if opset is None else int(opset), float(tolerance))
    check_target(model, onnx)
    for path in calibrate or []:
        if not path.is_file():
            raise DataError(path, "a folder, not a recording" if path.is_dir() else "file not found")


def export(
    model: str | Path,
    onnx: str | Path,
    *,
    int8: bool = False,
    calibrate: str | Path | Sequence[str | Path] | None = None,
    calibration_epochs: int = CALIBRATION_EPOCHS,
    opset: int | None = None,
    tolerance: float = 1e-4,
) -> dict[str, Any]:
    """Write a model file (``model.pt``) as ONNX, for `stage` and ONNX Runtime without torch.

    The graph is the architecture's export form (ISATSleepNet: BatchNorm folded, the cross-modal
    projections packed, the long EOG convolutions as DFT products); ONNX Runtime's probabilities
    are compared with the eager torch network before the file is kept. With ``int8`` the graph
    is quantised statically (ONNX Runtime), calibrated on ``calibrate`` (EDF/BDF recordings read
    as `stage` reads them) or, by default, on the model's own training data when its prepared
    dataset is on this machine; how often int8 and float32 agree there goes into the file's card.

    Parameters
    ----------
    model
        The model file to export (``model.pt`` of `train` or `cv`).
    onnx
        The file to write, ending in ``.onnx``; replaced if it exists (never the model file).
    int8
        Write the int8 (statically quantised) model: faster on CPUs, slightly different stages.
    calibrate
        With ``int8``: one recording or several to calibrate on.
    calibration_epochs
        With ``int8``: about how many epochs to calibrate on (runs of 32).
    opset
        ONNX opset, 18 to 25 (default: the exporter's, 20).
    tolerance
        Largest accepted probability difference between ONNX Runtime and torch.

    Returns
    -------
    dict
        ``path``, ``bytes``, ``opset``, ``int8``, ``max_probability_difference`` (ONNX Runtime
        against torch, of the float32 graph) and, for int8, ``quantization``: ``epochs``,
        ``agreement``, ``agreement_on_clear_epochs``, ``clear_epochs``,
        ``max_probability_difference`` (int8 against float32 on the calibration epochs), ``source``.

    Raises
    ------
    isatsleepnet.SettingError
        A setting that cannot work, said before any work.
    isatsleepnet.IsatSleepNetError
        The export failed its check, or needs the ``[train]`` extra.

    Examples
    --------
    >>> import isatsleepnet as isn  # doctest: +SKIP
    >>> isn.export("runs/edf20/fold_00/model.pt", "models/edf20.onnx")["max_probability_difference"]  # doctest: +SKIP
    3.1e-06
    >>> isn.export("runs/edf20/fold_00/model.pt", "models/edf20-int8.onnx", int8=True,  # doctest: +SKIP
    ...            calibrate=["night1.edf", "night2.edf"])["quantization"]["agreement"]
    0.996875
    """
    from isatsleepnet.installs import require_training

    model, onnx = Path(model), Path(onnx)
    recordings = None
    if calibrate is not None:
        recordings = [Path(calibrate)] if isinstance(calibrate, (str, os.PathLike)) else [Path(p) for p in calibrate]
        if not recordings:
            raise SettingError("calibrate", "names no recording")
    _check_settings(model, onnx, int8=int8, calibrate=recordings, calibration_epochs=calibration_epochs,
                    opset=opset, tolerance=tolerance)
    require_training("`export`")
    from isatsleepnet.inference.onnx_backend import export_onnx
    from isatsleepnet.model import file as model_files  # looked up at call time: tests stand in for the loader

    model_file = model_files.load_model_file(model)
    opset = None if opset is None else int(opset)
    if not int8:
        info = export_onnx(model_file, onnx, opset=opset, tolerance=tolerance)
        return {**info, "int8": False, "quantization": None}
    from isatsleepnet.inference.predictor import load_predictor
    from isatsleepnet.inference.quantize import (calibration_from_recordings, calibration_from_training,
                                                  quantize_onnx, training_data_of)

    if recordings is None:  # said now, not after the float export
        training_data_of(model_file.training or {})
    with tempfile.TemporaryDirectory(prefix="isatsleepnet-export-") as work:
        float_path = Path(work) / "float.onnx"
        info = export_onnx(model_file, float_path, opset=opset, tolerance=tolerance, form="int8")
        log.info("float32 graph: ONNX Runtime vs torch: max probability difference %.1e",
                 info["max_probability_difference"])
        predictor = load_predictor(float_path)
        if recordings:
            runs = calibration_from_recordings(predictor, recordings, calibration_epochs)
            source = ", ".join(p.name for p in recordings)
        else:
            runs = calibration_from_training(predictor, calibration_epochs)
            source = f"its training data ({model_file.training.get('data')})"
        summary = quantize_onnx(float_path, onnx, runs, source=source)
    return {"path": summary["path"], "bytes": summary["bytes"], "opset": info["opset"], "int8": True,
            "max_probability_difference": info["max_probability_difference"],
            "quantization": {**{k: summary[k] for k in ("epochs", "agreement", "agreement_on_clear_epochs",
                                                        "clear_epochs", "max_probability_difference")},
                             "source": source}}
