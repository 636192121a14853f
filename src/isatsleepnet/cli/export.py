"""`isatsleepnet export`: a model file as ONNX, for `stage --backend onnx` and other runtimes."""

from __future__ import annotations

import argparse
from pathlib import Path

from isatsleepnet.cli.output_paths import output_file
from isatsleepnet.inference.export import CALIBRATION_EPOCHS

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
    p.add_argument("--opset", type=int, help="ONNX opset version, 18 to 25 (default: the exporter's, 20)")
    p.add_argument("--tolerance", type=float, default=1e-4,
                   help="largest accepted probability difference between ONNX Runtime and torch (default 1e-4)")
    p.add_argument("--int8", action="store_true",
                   help="write the int8 (statically quantised) model: faster on CPUs, slightly different stages")
    p.add_argument("--calibrate", nargs="+", type=Path, metavar="RECORDING",
                   help="with --int8: EDF/BDF recordings to calibrate on (default: the model's training data)")
    p.add_argument("--calibration-epochs", type=int, default=CALIBRATION_EPOCHS, metavar="N",
                   help="with --int8: about how many epochs to calibrate on, in runs of 32 (default 320)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from isatsleepnet.inference.export import export
    from isatsleepnet.inference.int8_cpu import int8_support
    from isatsleepnet.inference.quantize import CLEAR_MARGIN

    info = export(args.model, args.onnx, int8=args.int8, calibrate=args.calibrate,
                  calibration_epochs=args.calibration_epochs, opset=args.opset, tolerance=args.tolerance)
    if not info["int8"]:
        print(f"wrote {info['path']} ({info['bytes'] / 1e6:.1f} MB, opset {info['opset']}); "
              f"ONNX Runtime vs torch: max probability difference {info['max_probability_difference']:.1e}")
        return 0
    q = info["quantization"]
    print(f"wrote {info['path']} (int8, {info['bytes'] / 1e6:.1f} MB); int8 vs float32 on "
          f"{q['epochs']} calibration epochs: {100 * q['agreement']:.2f} % same stage, max probability "
          f"difference {q['max_probability_difference']:.2g}"
          + ("" if q["agreement_on_clear_epochs"] is None else
             f"; {100 * q['agreement_on_clear_epochs']:.2f} % on the {q['clear_epochs']} clear epochs "
             f"(float32's stage leading by {CLEAR_MARGIN:g} or more)"))
    print(int8_support().describe())
    return 0
