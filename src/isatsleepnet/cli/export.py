"""`isatsleepnet export`: a model file as ONNX, for `stage --backend onnx` and other runtimes."""

from __future__ import annotations

import argparse
import contextlib
import os
from pathlib import Path

from isatsleepnet.cli.output_paths import output_file

DESCRIPTION = """\
Export a model file (model.pt) to ONNX with a dynamic batch axis: input "epochs"
(batch, channels, samples) float32, normalised as the model file says (per-epoch
z-score by default); output "logits" (batch, 5) for W, N1, N2, N3, REM.

The exported graph is the architecture's export form, built from the same weights:
for ISATSleepNet, BatchNorm folded into the convolutions, the cross-modal projections
packed, and the long EOG convolutions as DFT matrix products (about 3x faster than
ONNX convolutions; the fast path's torch.fft has no ONNX form); the baselines export
their eager graphs. Before the file is kept, ONNX Runtime and the eager torch network
are compared on random epochs and must agree within 1e-4 in probability. The file carries the channels, roles, sampling rate, epoch
length and normalisation as metadata, so `isatsleepnet stage --model OUT.onnx`
needs nothing else (and does not load torch).

--int8 writes the int8 form instead (ONNX Runtime's static quantisation of the graph
with its convolutions kept as convolutions: integer convolutions and matrix products,
Softmax left in float32, the LSTM with int8 weights), calibrated on
epochs of recordings named with --calibrate (read as `stage` reads them), or by
default on the model's own training data when its prepared dataset is on this
machine. The share of calibration epochs given the same stage by int8 and float32
(all of them, and the clear ones, where float32's likeliest stage leads by 0.1 or
more), and the largest probability difference, are printed and kept in the file's
model card (`isatsleepnet model-info`); a last line says which integer instructions
this CPU offers the int8 model. Calibrate on recordings like the ones it will stage."""


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "export",
        help="export a model file to ONNX (for `stage --backend onnx` and ONNX Runtime)",
        description=DESCRIPTION,
        epilog="example: isatsleepnet export --model runs/edf20/fold_00/model.pt --onnx models/edf20.onnx",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", type=Path, required=True, help="model file (model.pt from `train` or `cv`)")
    p.add_argument("--onnx", type=output_file, required=True,
                   help="ONNX file to write, ending in .onnx (replaced if it exists; never the --model file)")
    p.add_argument("--opset", type=int, help="ONNX opset version, 18 to 25 (default: the exporter's, 18)")
    p.add_argument("--tolerance", type=float, default=1e-4,
                   help="largest accepted probability difference between ONNX Runtime and torch (default 1e-4)")
    p.add_argument("--int8", action="store_true",
                   help="write the int8 (statically quantised) model: faster on CPUs, slightly different stages")
    p.add_argument("--calibrate", nargs="+", type=Path, metavar="RECORDING",
                   help="with --int8: EDF/BDF recordings to calibrate on (default: the model's training data)")
    p.add_argument("--calibration-epochs", type=int, default=320, metavar="N",
                   help="with --int8: about how many epochs to calibrate on, in runs of 32 (default 320)")
    p.set_defaults(run=run)


def check_target(model: Path, onnx: Path) -> None:
    """Refuse, before the export's minutes, an --onnx that would replace the model or fail only at the end."""
    from isatsleepnet.errors import SettingError

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


def check_calibration(recordings: list[Path] | None) -> None:
    """Each --calibrate recording is a file: said before the float export, not after it."""
    from isatsleepnet.errors import DataError

    for path in recordings or []:
        if not path.is_file():
            raise DataError(path, "a folder, not a recording" if path.is_dir() else "file not found")


def run(args: argparse.Namespace) -> int:
    from isatsleepnet.errors import SettingError
    from isatsleepnet.inference.onnx_backend import check_export_settings, export_onnx
    from isatsleepnet.installs import require_training
    from isatsleepnet.model.file import load_model_file

    if not args.int8 and args.calibrate:
        raise SettingError("calibrate", "calibrates an int8 model: give {int8} too")
    if args.calibration_epochs < 1:
        raise SettingError("calibration_epochs", f"must be at least 1, not {args.calibration_epochs}")
    check_export_settings(args.opset, args.tolerance)
    check_target(args.model, args.onnx)
    check_calibration(args.calibrate)
    require_training("`export`")
    model_file = load_model_file(args.model)
    if args.int8 and not args.calibrate:  # said now, not after the float export
        from isatsleepnet.inference.quantize import training_data_of

        training_data_of(model_file.training or {})
    if not args.int8:
        info = export_onnx(model_file, args.onnx, opset=args.opset, tolerance=args.tolerance)
        print(f"wrote {info['path']} ({info['bytes'] / 1e6:.1f} MB, opset {info['opset']}); "
              f"ONNX Runtime vs torch: max probability difference {info['max_probability_difference']:.1e}")
        return 0
    import tempfile

    from isatsleepnet.inference.predictor import load_predictor
    from isatsleepnet.inference.quantize import (CLEAR_MARGIN, calibration_from_recordings, calibration_from_training,
                                                  quantize_onnx)

    with tempfile.TemporaryDirectory(prefix="isatsleepnet-export-") as work:
        float_path = Path(work) / "float.onnx"
        info = export_onnx(model_file, float_path, opset=args.opset, tolerance=args.tolerance, form="int8")
        print(f"float32 graph: ONNX Runtime vs torch: max probability difference "
              f"{info['max_probability_difference']:.1e}")
        predictor = load_predictor(float_path)
        if args.calibrate:
            runs = calibration_from_recordings(predictor, args.calibrate, args.calibration_epochs)
            source = ", ".join(p.name for p in args.calibrate)
        else:
            runs = calibration_from_training(predictor, args.calibration_epochs)
            source = f"its training data ({model_file.training.get('data')})"
        summary = quantize_onnx(float_path, args.onnx, runs, source=source)
    print(f"wrote {summary['path']} (int8, {summary['bytes'] / 1e6:.1f} MB); int8 vs float32 on "
          f"{summary['epochs']} calibration epochs: {100 * summary['agreement']:.2f} % same stage, max probability "
          f"difference {summary['max_probability_difference']:.2g}"
          + ("" if summary["agreement_on_clear_epochs"] is None else
             f"; {100 * summary['agreement_on_clear_epochs']:.2f} % on the {summary['clear_epochs']} clear epochs "
             f"(float32's stage leading by {CLEAR_MARGIN:g} or more)"))
    from isatsleepnet.inference.int8_cpu import int8_support

    print(int8_support().describe())
    return 0
