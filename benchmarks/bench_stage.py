"""Benchmark: staging the SC4001 night end to end, ISATSleepNet (torch, ONNX) vs YASA.

Not a test. Each measurement runs in a fresh Python process, so that start-up,
imports and peak memory are its own:

* wall s: the process from start to exit (interpreter, imports, model loading,
  EDF reading, staging, outputs), as a user running a command sees it;
* the phases inside it: imports, model load, EDF read (+ hypnogram with --trim),
  predict, write outputs (ours: CSV, EDF+ annotations, both PNGs, JSON, HTML);
* peak MB: the process's peak resident memory (VmHWM), interpreter included.

Cases, both on SC4001E0-PSG.edf (Sleep-EDF SC, 22 h, 100 Hz):
  full     every whole epoch of the recording (2650)
  trimmed  the 841 epochs from 30 min before the expert's first sleep epoch to 30 min
           after the last (`stage --hypnogram SC4001EC-Hypnogram.edf --trim`)

Engines:
  torch  `isatsleepnet stage` with a .pt model: fast path (FFT convolutions, BatchNorm folded)
  onnx   `isatsleepnet stage` with the exported .onnx (the export form on ONNX Runtime; torch not imported)
  onnx-int8, onnx-int8-small  the int8 exports (`export --int8`) of the paper-size and small models,
         calibrated on a synthetic night (not SC4001: the night staged is never the calibration set)
  The onnx engines run in the torch-free environment when --plain-python names its python.
  torch-small  as torch, with the `--model-size small` network (every width halved, 0.61 M parameters)
  tinysleepnet, utime, attnsleep  `isatsleepnet stage` (torch) with the baseline of that name at its
         paper's defaults on "EEG Fpz-Cz" alone, as published; the sequence networks read windows a
         quarter window apart (model/context_plan.py: staging_stride)
  yasa   yasa.SleepStaging(raw, eeg_name="EEG Fpz-Cz", eog_name="EOG horizontal") -> predict()
         and predict_proba(): MNE reads the two channels (preload), YASA band-passes them,
         computes its features and applies its bundled LightGBM "eeg+eog" classifier.
         No EMG: Sleep-EDF's "EMG submental" is a 1-Hz envelope, not an EMG YASA could use.
         For "trimmed", the MNE Raw is cropped to the same 841 epochs before staging.

The models (the paper's size, ModelConfig defaults, ~2.4 M parameters; and the small
size) have random, untrained weights: timing does not depend on the weights, the stages it outputs are
meaningless. Runs alternate between engines so that other load on a shared machine
hits all alike; times are medians over --repeats. "speed vs YASA" is YASA's wall time
divided by the engine's (above 1: faster than YASA).

    python benchmarks/bench_stage.py --data-dir /work/shared/data/physionet-sleep-data
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PSG, HYPNOGRAM = "SC4001E0-PSG.edf", "SC4001EC-Hypnogram.edf"
BASELINES = ("tinysleepnet", "utime", "attnsleep")
ENGINES = ("torch", "onnx", "onnx-int8", "torch-small", "onnx-int8-small", *BASELINES, "yasa")
ONNX_MODELS = {"onnx": "model.onnx", "onnx-int8": "model-int8.onnx", "onnx-int8-small": "model-small-int8.onnx"}
CASES = ("full", "trimmed")

WORKER = r"""
import json, os, sys, time
t_start = time.perf_counter()
engine, case, data_dir, model_dir, out_dir, threads = sys.argv[1:7]
threads = int(threads) if threads != "0" else None

def peak_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024

phases = {}
if engine == "yasa":
    import numpy as np, mne, yasa
    mne.set_log_level("ERROR")
    phases["import"] = time.perf_counter() - t_start
    t = time.perf_counter()
    raw = mne.io.read_raw_edf(os.path.join(data_dir, "SC4001E0-PSG.edf"),
                              include=["EEG Fpz-Cz", "EOG horizontal"], preload=case == "full", verbose=False)
    if case == "trimmed":
        first, n = (int(v) for v in sys.argv[7:9])
        raw.crop(first * 30.0, (first + n) * 30.0, include_tmax=False).load_data(verbose=False)
    phases["read"] = time.perf_counter() - t
    t = time.perf_counter()
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        staging = yasa.SleepStaging(raw, eeg_name="EEG Fpz-Cz", eog_name="EOG horizontal")
        hypnogram = staging.predict()
        proba = staging.predict_proba() if hasattr(staging, "predict_proba") else hypnogram.proba
    phases["predict"] = time.perf_counter() - t
    n_epochs = len(proba)
else:
    from pathlib import Path
    from isatsleepnet.inference.options import StageOptions
    from isatsleepnet.inference.predictor import load_predictor
    from isatsleepnet.inference.stage import stage_recording
    phases["import"] = time.perf_counter() - t_start
    t = time.perf_counter()
    model = os.path.join(model_dir, {"torch": "model.pt", "onnx": "model.onnx", "onnx-int8": "model-int8.onnx",
                                     "onnx-int8-small": "model-small-int8.onnx",
                                     "torch-small": "model-small.pt"}.get(engine, f"model-{engine}.pt"))
    predictor = load_predictor(model, threads=threads)
    phases["load model"] = time.perf_counter() - t
    hypnogram = os.path.join(data_dir, "SC4001EC-Hypnogram.edf") if case == "trimmed" else None
    options = StageOptions(trim=case == "trimmed", hypnograms=[Path(hypnogram)] if hypnogram else None)
    result = stage_recording(os.path.join(data_dir, "SC4001E0-PSG.edf"), predictor, out_dir, options,
                             hypnogram=hypnogram)
    phases.update(result.timings)
    n_epochs = result.n_epochs
phases["total"] = time.perf_counter() - t_start
print(json.dumps({"phases": phases, "peak_mb": peak_mb(), "epochs": n_epochs}))
"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", type=Path, default=Path("/work/shared/data/physionet-sleep-data"),
                   help="folder with SC4001E0-PSG.edf and SC4001EC-Hypnogram.edf")
    p.add_argument("--engines", nargs="+", choices=ENGINES, default=list(ENGINES))
    p.add_argument("--cases", nargs="+", choices=CASES, default=list(CASES))
    p.add_argument("--repeats", type=int, default=3, help="runs per (case, engine); the table shows medians")
    p.add_argument("--threads", type=int, default=0,
                   help="inference threads for torch and ONNX Runtime (default 0: all cores)")
    p.add_argument("--plain-python", type=Path,
                   help="python of a torch-free environment (`pip install -e .`) to run the onnx engines in")
    p.add_argument("--work", type=Path, help="folder for the model files and outputs (default: a temporary one)")
    p.add_argument("--json", type=Path, help="also write every run's measurements here")
    return p.parse_args(argv)


def make_models(folder: Path, engines: list[str]) -> dict:
    """Paper-size (model.pt) and small (model-small.pt) models with random weights, and the ONNX files the
    ``engines`` run: the float32 export (onnx) and the int8 ones (onnx-int8, onnx-int8-small)."""
    from isatsleepnet.inference.onnx_backend import export_onnx
    from isatsleepnet.model import model_size_options

    folder.mkdir(parents=True, exist_ok=True)
    model_file, parameters = _random_model_file({})
    model_file.save(folder / "model.pt")
    small_file, small_parameters = _random_model_file(model_size_options("small"))
    small_file.save(folder / "model-small.pt")
    for name in BASELINES:
        _random_model_file({}, name, channels=["EEG Fpz-Cz"])[0].save(folder / f"model-{name}.pt")
    setup: dict = {"parameters": parameters, "small_parameters": small_parameters, "int8": {}}
    if "onnx" in engines:
        t = time.perf_counter()
        info = export_onnx(model_file, folder / "model.onnx")
        setup["export_s"], setup["export_difference"] = time.perf_counter() - t, info["max_probability_difference"]
    t = time.perf_counter()
    for engine, name, file in (("onnx-int8", "model", model_file), ("onnx-int8-small", "model-small", small_file)):
        if engine in engines:
            setup["int8"][name] = _quantize(folder, name, file)
    setup["int8_s"] = time.perf_counter() - t
    return setup


def _quantize(folder: Path, name: str, model_file) -> dict:  # noqa: ANN001 - a ModelFile
    """``name``-int8.onnx from the int8 form of ``model_file`` (as `export --int8`), calibrated on 320 epochs of
    a synthetic night."""
    from isatsleepnet.data.synthetic import SynthConfig, synthesize
    from isatsleepnet.inference.onnx_backend import export_onnx
    from isatsleepnet.inference.predictor import load_predictor
    from isatsleepnet.inference.quantize import calibration_from_recordings, quantize_onnx

    night = folder / "calibration" / "SC4001E0-PSG.edf"
    if not night.is_file():
        synthesize(night.parent, SynthConfig(layout="sleep-edf", subjects=1, hours=3.0, seed=5), progress=False)
    graph = export_onnx(model_file, folder / f"{name}-int8-graph.onnx", form="int8")["path"]
    runs = calibration_from_recordings(load_predictor(graph), [night], 320)
    return quantize_onnx(graph, folder / f"{name}-int8.onnx", runs, source="a synthetic night")


def _random_model_file(overrides: dict, architecture: str = "isatsleepnet",
                       channels: tuple[str, ...] = ("EEG Fpz-Cz", "EEG Pz-Oz", "EOG horizontal")):  # noqa: ANN202
    """A ModelFile of random weights (BatchNorm statistics of realistic magnitude) and its parameter count."""
    import torch

    from isatsleepnet.model.architectures import get_architecture
    from isatsleepnet.model.file import ModelFile

    arch = get_architecture(architecture)
    roles = ["eeg", "eeg2", "eog"][: len(channels)] if architecture == "isatsleepnet" else ["eeg"]
    torch.manual_seed(0)
    config = arch.make_config({"roles": roles, **overrides})
    model = arch.build(config)
    window = arch.window_length(config)
    with torch.no_grad():
        model.train()
        for _ in range(2):
            model(torch.randn(2 if window else 16, *((window,) if window else ()), len(roles), config.n_samples))
    model.eval()
    settings = {k: (list(v) if isinstance(v, tuple) else v) for k, v in config.__dict__.items()}
    settings.pop("use_fast_conv", None)
    model_file = ModelFile(
        architecture=arch.name, model_config=settings, state_dict=model.state_dict(), channels=list(channels),
        roles=roles, sampling_rate=config.sampling_rate, epoch_seconds=30.0, normalize="epoch-zscore",
        training={"data": "none: random untrained weights for timing"},
    )
    return model_file, sum(p.numel() for p in model.parameters())


def trimmed_window(data_dir: Path) -> tuple[int, int]:
    """First epoch and epoch count of the trimmed span (as `stage --trim` computes it)."""
    from isatsleepnet.data.readers.edf import EdfRecording
    from isatsleepnet.data.readers.hypnogram import read_hypnogram

    psg = EdfRecording.open(data_dir / PSG)
    n = int(psg.duration // 30)
    codes = read_hypnogram(data_dir / HYPNOGRAM, psg_start=psg.start).to_epochs(n, 30.0)
    sleep = [i for i, c in enumerate(codes) if c > 0]
    first, stop = max(sleep[0] - 60, 0), min(sleep[-1] + 61, n)
    return first, stop - first


def run_one(engine: str, case: str, args: argparse.Namespace, models: Path, window: tuple[int, int]) -> dict:
    python = args.plain_python if args.plain_python and engine in ONNX_MODELS else Path(sys.executable)
    with tempfile.TemporaryDirectory(dir=args.work) as out:
        cmd = [str(python), "-c", WORKER, engine, case, str(args.data_dir), str(models), out, str(args.threads),
               *(str(v) for v in window)]
        t = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - t
    if done.returncode != 0:
        raise SystemExit(f"{engine}/{case} failed:\n{done.stderr}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result.update(engine=engine, case=case, wall=wall)
    return result


def table(runs: list[dict], cases: list[str], engines: list[str]) -> str:
    columns = ["import", "load model", "read", "predict", "write"]
    header = ["case", "engine", "epochs", "wall s", *(f"{c} s" for c in columns), "peak MB", "speed vs YASA"]
    rows = []
    for case in cases:
        med = {}
        for engine in engines:
            mine = [r for r in runs if r["case"] == case and r["engine"] == engine]
            if mine:
                med[engine] = statistics.median(r["wall"] for r in mine)
        for engine in engines:
            mine = [r for r in runs if r["case"] == case and r["engine"] == engine]
            if not mine:
                continue
            phase = {c: statistics.median(r["phases"].get(c, float("nan")) for r in mine) for c in columns}
            ratio = f"{med['yasa'] / med[engine]:.2f}" if "yasa" in med else "-"
            rows.append([case, engine, str(mine[0]["epochs"]), f"{med[engine]:.2f}",
                         *("-" if phase[c] != phase[c] else f"{phase[c]:.2f}" for c in columns),
                         f"{statistics.median(r['peak_mb'] for r in mine):.0f}", ratio])
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    line = lambda r: " | ".join(c.rjust(w) if i > 1 else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths)))  # noqa: E731
    return "\n".join([line(header), "-+-".join("-" * w for w in widths), *(line(r) for r in rows)])


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if not (args.data_dir / PSG).is_file():
        raise SystemExit(f"{args.data_dir / PSG} not found (--data-dir)")
    work = Path(args.work or tempfile.mkdtemp(prefix="bench-stage-"))
    args.work = work
    models = work / "models"
    from importlib.metadata import PackageNotFoundError, version

    try:
        versions = ", ".join(f"{p} {version(p)}" for p in ("torch", "onnxruntime", "yasa", "lightgbm", "mne"))
    except PackageNotFoundError as exc:
        raise SystemExit(f"missing package {exc} (the benchmark needs yasa: pip install yasa)") from None
    from isatsleepnet.inference.int8_cpu import int8_support

    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start; {versions}; "
          f"{int8_support().describe()}", flush=True)
    setup = make_models(models, args.engines)
    print(f"models: {setup['parameters'] / 1e6:.2f} M parameters, small {setup['small_parameters'] / 1e6:.2f} M "
          "(random weights)"
          + (f"; ONNX export {setup['export_s']:.1f} s (once), ONNX vs torch max probability difference "
             f"{setup['export_difference']:.1e}" if "export_s" in setup else "")
          + (f"; int8 exports {setup['int8_s']:.1f} s" if setup["int8"] else ""), flush=True)
    for name, q in setup["int8"].items():
        print(f"  {name}-int8.onnx: {q['bytes'] / 1e6:.1f} MB; int8 vs float32 on its {q['epochs']} calibration "
              f"epochs: {100 * q['agreement']:.2f} % same stage, max probability difference "
              f"{q['max_probability_difference']:.2g}", flush=True)
    print(f"environments: this one {environment_mb(Path(sys.executable)):.0f} MB"
          + (f", torch-free ({args.plain_python}) {environment_mb(args.plain_python):.0f} MB: the onnx engines run there"
             if args.plain_python else ""), flush=True)
    window = trimmed_window(args.data_dir)
    runs = []
    for repeat in range(args.repeats):
        for case in args.cases:
            for engine in args.engines:
                run = run_one(engine, case, args, models, window)
                runs.append(run)
                print(f"  run {repeat + 1}/{args.repeats} {case:7s} {engine:11s} {run['wall']:6.2f} s "
                      f"({run['epochs']} epochs)", flush=True)
    print(f"load average {os.getloadavg()[0]:.2f} at the end; threads: "
          f"{args.threads or 'all cores'} (torch, ONNX Runtime)\n")
    print(table(runs, args.cases, args.engines))
    if args.json:
        args.json.write_text(json.dumps({"setup": setup, "runs": runs}, indent=2))


def environment_mb(python: Path) -> float:
    """Disk size of the environment (its installed packages) that ``python`` runs in."""
    code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = Path(subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True).stdout.strip())
    return sum(f.stat().st_size for f in site.rglob("*") if f.is_file() and not f.is_symlink()) / 2**20


if __name__ == "__main__":
    main()
