"""`isatsleepnet export`: a model file as ONNX, for `stage --backend onnx` and other runtimes."""

from __future__ import annotations

import argparse
from pathlib import Path

from isatsleepnet.cli.output_paths import output_file

DESCRIPTION = """\
Export a model file (model.pt) to ONNX with a dynamic batch axis: input "epochs"
(batch, channels, samples) float32, normalised as the model file says (per-epoch
z-score by default); output "logits" (batch, 5) for W, N1, N2, N3, REM.

The exported graph is the eager network (use_fast_conv=False) built from the same
weights: the fast path's FFT convolutions have no ONNX form. Before the file is
kept, ONNX Runtime and torch are compared on random epochs and must agree within
1e-4 in probability. The file carries the channels, roles, sampling rate, epoch
length and normalisation as metadata, so `isatsleepnet stage --model OUT.onnx`
needs nothing else (and does not load torch)."""


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "export",
        help="export a model file to ONNX (for `stage --backend onnx` and ONNX Runtime)",
        description=DESCRIPTION,
        epilog="example: isatsleepnet export --model runs/edf20/fold_00/model.pt --onnx models/edf20.onnx",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", type=Path, required=True, help="model file (model.pt from `train` or `cv`)")
    p.add_argument("--onnx", type=output_file, required=True, help="ONNX file to write (replaced if it exists)")
    p.add_argument("--opset", type=int, help="ONNX opset version (default: the exporter's)")
    p.add_argument("--tolerance", type=float, default=1e-4,
                   help="largest accepted probability difference between ONNX Runtime and torch (default 1e-4)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from isatsleepnet.inference.onnx_backend import export_onnx
    from isatsleepnet.installs import require_training
    from isatsleepnet.model.file import load_model_file

    require_training("`export`")

    info = export_onnx(load_model_file(args.model), args.onnx, opset=args.opset, tolerance=args.tolerance)
    print(f"wrote {info['path']} ({info['bytes'] / 1e6:.1f} MB, opset {info['opset']}); "
          f"ONNX Runtime vs torch: max probability difference {info['max_probability_difference']:.1e}")
    return 0
