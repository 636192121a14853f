"""Where an ONNX model's staging time goes: ONNX Runtime's own profile, summed by operator.

Not a test. Runs the model (float32 or int8 export) on random normalised epochs the way
staging does (batches of 64, one single-threaded run per core), with ONNX Runtime's
profiler on, and prints each operator type's share of the kernel time (the time spent
between kernels, in Python and in the runtime, is not in it).

    python benchmarks/profile_onnx.py MODEL.onnx [MODEL2.onnx ...] --epochs 256
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np


def profile(path: Path, epochs: int, batch: int) -> tuple[dict[str, float], float]:
    """(operator type -> kernel ms per epoch, wall ms per epoch) over ``epochs`` random epochs."""
    import onnxruntime as ort

    from isatsleepnet.inference.onnx_backend import OnnxRunner

    runner = OnnxRunner(path)  # the checks and thread rule of staging; its session is rebuilt with profiling on
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = 1, 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.enable_profiling = True
    options.profile_file_prefix = os.path.join(tempfile.mkdtemp(prefix="onnx-profile-"), "run")
    runner.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    config = runner.metadata()["model_config"]
    shape = (len(config["roles"]), int(config["n_samples"]))
    x = np.random.default_rng(0).normal(size=(epochs, *shape)).astype(np.float32)
    runner.logits(x[:batch])  # warm-up (its kernels are in the profile too: subtracted below)
    start = time.perf_counter()
    for i in range(0, epochs, batch):
        runner.logits(x[i : i + batch])
    wall = (time.perf_counter() - start) * 1e3 / epochs
    events = json.loads(Path(runner.session.end_profiling()).read_text())
    per_op: collections.Counter[str] = collections.Counter()
    for event in events:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            per_op[event["args"]["op_name"]] += event["dur"] / 1e3  # µs -> ms
    scale = 1 / (epochs + batch)  # the warm-up batch ran too
    return {op: ms * scale for op, ms in per_op.items()}, wall


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("models", nargs="+", type=Path, help=".onnx files (exported by `isatsleepnet export`)")
    p.add_argument("--epochs", type=int, default=256, help="random epochs to run (default 256)")
    p.add_argument("--batch", type=int, default=64, help="epochs per batch, as staging (default 64)")
    p.add_argument("--top", type=int, default=10, help="operator types shown (default 10)")
    args = p.parse_args(argv)
    for path in args.models:
        per_op, wall = profile(path, args.epochs, args.batch)
        total = sum(per_op.values())
        print(f"{path.name}: {1e3 / wall:.1f} epochs/s; kernel time {total:.2f} ms per epoch (summed over the "
              f"cores' runs), by operator:")
        for op, ms in sorted(per_op.items(), key=lambda kv: -kv[1])[: args.top]:
            print(f"  {op:26s} {ms:7.3f} ms  {100 * ms / total:5.1f} %")


if __name__ == "__main__":
    main()
