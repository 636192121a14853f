"""How far an int8 export stages like its float32 model, on the real SC4001 night and on synthetic nights.

Not a test. For each pair FLOAT.onnx:INT8.onnx (``isatsleepnet export`` and
``export --int8``), every whole epoch of each night is staged with both (as `stage`
reads it: channels, rate, normalisation, context) and the table gives how many distinct
stages the float model gave, the share of epochs with the same stage and the largest
probability difference, then the same share over the *clear* epochs only, those where the
float model's likeliest stage leads the next by 0.1 or more in probability (how much of
the disagreement is near-ties). The synthetic nights
are made here with seeds of their own, so that none is a night the int8 model was
calibrated on. Agreement measures the quantisation's fidelity only: it says nothing of
either model's accuracy (a model of random weights, or trained on synthetic data, is not
a model of sleep).

    python benchmarks/bench_int8.py --pairs models/model.onnx:models/model-int8.onnx \\
        --data-dir /work/shared/data/physionet-sleep-data --synthetic-nights 2
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from isatsleepnet.inference.quantize import clear_epochs


def stage_probabilities(model: Path, night: Path) -> np.ndarray:
    """Probabilities of every whole epoch of ``night`` staged with ``model`` (n x 5)."""
    from isatsleepnet.inference.predictor import load_predictor
    from isatsleepnet.inference.raw import RawRecording

    predictor = load_predictor(model)
    recording = RawRecording.open(night, predictor.inputs)
    index = recording.available(0, recording.n_epochs)
    return predictor.probabilities(recording.read(index=index), 64, index)


HEADER = (f"{'epochs':>6s} {'float stages':>12s} {'same stage':>10s} {'max |dp|':>8s} {'clear epochs':>12s} "
          f"{'same there':>10s}")


def agreement_row(a: np.ndarray, b: np.ndarray) -> str:
    """The columns of :data:`HEADER` for float probabilities ``a`` and int8 ones ``b`` of the same epochs."""
    same = a.argmax(1) == b.argmax(1)
    used = len(set(a.argmax(1).tolist()))  # an agreement over one stage only would say little
    # where the float model's likeliest stage leads the next by 0.1 or more, the int8 model's choice is not a
    # coin toss between near-equal stages: how much of the disagreement is near-ties
    clear = clear_epochs(a)
    same_clear = float(same[clear].mean()) if clear.any() else float("nan")
    return (f"{len(a):6d} {used:12d} {100 * same.mean():9.2f}% {float(np.abs(a - b).max()):8.4f} "
            f"{int(clear.sum()):12d} {100 * same_clear:9.2f}%")


def synthetic_nights(folder: Path, count: int) -> list[Path]:
    """``count`` synthetic Sleep-EDF-like nights (2 h each), seeds 101, 102, ..."""
    from isatsleepnet.data.synthetic import SynthConfig, synthesize

    nights = []
    for k in range(count):
        out = folder / f"seed{101 + k}"
        synthesize(out, SynthConfig(layout="sleep-edf", subjects=1, hours=2.0, seed=101 + k), progress=False)
        nights += sorted(out.rglob("*PSG.edf"))
    return nights


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pairs", nargs="+", required=True, metavar="FLOAT:INT8", help="float32 and int8 .onnx files")
    p.add_argument("--data-dir", type=Path, help="folder with SC4001E0-PSG.edf (the real night)")
    p.add_argument("--synthetic-nights", type=int, default=2, help="synthetic nights to stage too (default 2)")
    args = p.parse_args(argv)
    nights = [args.data_dir / "SC4001E0-PSG.edf"] if args.data_dir else []
    with tempfile.TemporaryDirectory(prefix="bench-int8-") as work:
        nights += synthetic_nights(Path(work), args.synthetic_nights)
        print(f"{'model':24s} {'night':32s} {HEADER}")
        for pair in args.pairs:
            float_path, int8_path = (Path(part) for part in pair.split(":"))
            for night in nights:
                a, b = stage_probabilities(float_path, night), stage_probabilities(int8_path, night)
                name = f"{night.name} (real)" if night.parent == args.data_dir else f"synthetic, {night.parent.name}"
                print(f"{int8_path.name:24s} {name:32s} {agreement_row(a, b)}", flush=True)


if __name__ == "__main__":
    main()
