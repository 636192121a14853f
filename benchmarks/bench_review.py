"""Benchmark: the review page on a long night (issue 19, "Fast on a 22-hour night").

Not a test. Writes a synthetic EDF night (``--hours`` of ``--channels`` channels at
``--rate`` Hz: EEG, EOG, EMG, ECG, Resp as sums of sinusoids and noise in µV, shaped by a
made-up hypnogram) and a staged night for it (NAME.hypnogram.csv and its sidecar, with
`stage`'s own writers and made-up probabilities, a few % of epochs flagged; no model).
Writing them is not timed. Then it starts the real command in a subprocess,

    python -m isatsleepnet.cli.main review NAME.hypnogram.csv --no-browser --reviewer bench

reads the address it prints, and drives the page in headless Chromium (Playwright, the
system's ``chromium``; nothing is downloaded):

* first page: from ``page.goto`` until ``window.reviewState.drawn > 0`` (the signal
  canvas drawn), timed in Python; once with the spectrogram cache cold (the server
  computes NAME.review-spectrogram.npz, which the run deletes first), then reopened in a
  fresh browser context (cache warm). The time until the overview's spectrogram is shown
  is reported beside it;
* page turns: ``--turns`` presses of PageDown (the next window of 30 s), each followed by
  ``--pause`` seconds of looking at it (the page prefetches the neighbouring windows
  meanwhile, as it does for a reviewer). Each turn is timed inside the page: from the
  keydown event's timestamp to the moment the page publishes a ``reviewState`` whose
  ``drawn`` count has grown (the canvas is drawn; the screen shows it at the next frame),
  with ``performance.now()``; a setter on ``window.reviewState`` records it, so there is no
  Python round trip in the figure. The Python round trip (press + ``wait_for_function``,
  ``time.perf_counter``) is reported beside it. Median and 95th percentile;
* the server's own answers, over plain HTTP (no browser): ``/api/night``,
  ``/api/spectrogram`` (cache warm) and ``/api/window`` for random 30-s windows of the
  page's default channels (what a page turn costs when its window was not prefetched);
* server memory: the server process's RSS once it printed its address (VmRSS) and its
  peak over the whole run (VmHWM, read after everything), from /proc/PID/status; split into
  anonymous memory (RssAnon) and file pages (RssFile: the libraries and the memory-mapped
  EDF, page cache the kernel can drop), each sampled every 50 ms for its peak.

The server is always stopped at the end (Ctrl+C, then killed if it hangs).

    python benchmarks/bench_review.py                       # 22 h, 8 channels, 256 Hz, 50 turns
    python benchmarks/bench_review.py --hours 8 --channels 4 --work ~/.cache/isatsleepnet-bench-review
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
from bench_loader import machine  # the same machine line as the loader benchmark (benchmarks/ is on sys.path)

ROOT = Path(__file__).resolve().parents[1]
START = dt.datetime(2026, 12, 5, 21, 0, 0)
EPOCH_SECONDS = 30.0
GOAL_FIRST_PAGE_S = 3.0
GOAL_TURN_MS = 50.0
GOAL_MEMORY_MIB = 300.0

# label, kind, and the bound of its physical range in µV (values beyond are clipped)
CHANNELS = [
    ("EEG Fpz-Cz", "eeg", 500.0),
    ("EEG C4-M1", "eeg", 500.0),
    ("EEG O2-M1", "eeg", 500.0),
    ("EOG E1-M2", "eog", 1000.0),
    ("EOG E2-M2", "eog", 1000.0),
    ("EMG chin", "emg", 500.0),
    ("ECG", "ecg", 3000.0),
    ("Resp", "resp", 1000.0),
]
STAGE_NAMES = ["W", "N1", "N2", "N3", "REM"]
# one 90-min sleep cycle of 180 epochs, as (stage index, epochs)
CYCLE = [(0, 10), (1, 10), (2, 50), (3, 40), (2, 30), (4, 40)]


# ---------------------------------------------------------------- the night


def hypnogram(n_epochs: int, rng: np.random.Generator) -> np.ndarray:
    """A made-up stage per epoch: 30 min awake, then 90-min cycles, with a few short awakenings."""
    stages = [0] * min(n_epochs, 60)
    while len(stages) < n_epochs:
        for stage, length in CYCLE:
            stages.extend([stage] * length)
    stages = np.array(stages[:n_epochs])
    wake = rng.random(n_epochs) < 0.01
    stages[wake] = 0
    return stages


def channel_chunk(kind: str, t: np.ndarray, stage: np.ndarray, rng: np.random.Generator, phase: float) -> np.ndarray:
    """One channel's samples in µV at times ``t`` (s), ``stage`` the stage index of each sample."""
    tau = 2 * np.pi
    if kind == "eeg":
        delta = np.array([10, 20, 35, 90, 15], float)[stage]
        theta = np.array([8, 20, 15, 10, 20], float)[stage]
        alpha = np.array([25, 6, 4, 3, 5], float)[stage]
        spindle = np.where(stage == 2, 12 * np.clip(np.sin(tau * 0.08 * t + phase), 0, None) ** 8, 0)
        x = (delta * np.sin(tau * 1.1 * t + phase) + theta * np.sin(tau * 6.0 * t + 2 * phase)
             + alpha * np.sin(tau * 10.2 * t + 3 * phase) + spindle * np.sin(tau * 13.0 * t)
             + 6 * np.sin(tau * 21.0 * t + phase))
        return x + rng.normal(0, 8, t.size)
    if kind == "eog":
        slow = np.array([40, 60, 10, 5, 20], float)[stage] * np.sin(tau * 0.3 * t + phase)
        rapid = np.where(stage == 4, 120 * np.sign(np.sin(tau * 0.7 * t + phase)) * (np.sin(tau * 0.05 * t) > 0.3), 0)
        return slow + rapid + rng.normal(0, 10, t.size)
    if kind == "emg":
        return np.array([30, 15, 10, 8, 3], float)[stage] * rng.normal(0, 1, t.size)
    if kind == "ecg":
        beat = (t * 1.1 + phase) % 1.0
        return 1200 * np.exp(-(((beat - 0.5) / 0.015) ** 2)) - 150 * np.exp(-(((beat - 0.75) / 0.06) ** 2)) \
            + rng.normal(0, 15, t.size)
    return 400 * np.sin(tau * 0.25 * t + phase) + rng.normal(0, 20, t.size)  # respiration


def write_night(folder: Path, hours: float, n_channels: int, rate: float, seed: int) -> tuple[Path, np.ndarray]:
    """The EDF night (written hour by hour into int16 arrays: no float64 copy of the night), and its hypnogram."""
    import edfio

    rng = np.random.default_rng(seed)
    n_epochs = int(hours * 3600 // EPOCH_SECONDS)
    per_epoch = int(round(EPOCH_SECONDS * rate))
    total = n_epochs * per_epoch
    stages = hypnogram(n_epochs, rng)
    edf = folder / f"night-{hours:g}h-{n_channels}ch-{rate:g}hz.edf"
    chunk = int(3600 * rate)
    signals = []
    for c, (label, kind, bound) in enumerate(CHANNELS[:n_channels]):
        gain = 2 * bound / 65535
        offset = bound / gain - 32767  # as edfio (and the reader) calibrate
        digital = np.empty(total, dtype=np.int16)
        for lo in range(0, total, chunk):
            hi = min(total, lo + chunk)
            t = np.arange(lo, hi) / rate
            x = channel_chunk(kind, t, stages[np.arange(lo, hi) // per_epoch], rng, phase=0.7 * c)
            digital[lo:hi] = np.clip(np.round(x / gain - offset), -32768, 32767).astype(np.int16)
        signals.append(edfio.EdfSignal.from_digital(digital, rate, label=label, physical_dimension="uV",
                                                    physical_range=(-bound, bound), digital_range=(-32768, 32767)))
        del digital
    edfio.Edf(signals, starttime=START.time(), recording=edfio.Recording(startdate=START.date()),
              data_record_duration=EPOCH_SECONDS).write(edf)
    return edf, stages


def write_staged(folder: Path, edf: Path, stages: np.ndarray, seed: int, flagged_share: float = 0.04) -> Path:
    """NAME.hypnogram.csv and its sidecar as `stage` writes them, the sidecar's Recording naming ``edf``."""
    from isatsleepnet.inference.exports import CSV_COLUMNS, write_csv_sidecar, write_epochs_csv

    rng = np.random.default_rng(seed + 1)
    n = len(stages)
    probabilities = np.full((n, 5), 0.02)
    probabilities[np.arange(n), stages] = 0.92
    unsure = rng.random(n) < flagged_share
    for i in np.flatnonzero(unsure):
        mixed = rng.dirichlet(np.ones(5))
        probabilities[i] = 0.6 * mixed + 0.4 * np.full(5, 0.2)
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    confidence = 1 + (probabilities * np.log(probabilities)).sum(axis=1) / np.log(5)
    name = edf.stem
    csv_path = folder / f"{name}.hypnogram.csv"
    write_epochs_csv(csv_path, np.arange(n), np.arange(n) * EPOCH_SECONDS, probabilities, confidence,
                     confidence < 0.6, start=START)
    summary = {"recording": {"epoch_seconds": EPOCH_SECONDS, "start": START.isoformat(), "file": str(edf)},
               "model": {"file": "made-up.pt", "backend": "none"}}
    write_csv_sidecar(folder / f"{name}.hypnogram.json", [*CSV_COLUMNS, "clock_time"], summary, min_confidence=0.6)
    return csv_path


def fresh_review(csv_path: Path) -> None:
    """Remove what an earlier review of this night left (journal, reviewed files, the spectrogram cache)."""
    name = csv_path.name[: -len(".hypnogram.csv")]
    for suffix in (".review.jsonl", ".reviewed.csv", ".reviewed.edf", ".reviewed.tsv", ".review-spectrogram.npz"):
        (csv_path.parent / (name + suffix)).unlink(missing_ok=True)


# ---------------------------------------------------------------- the server


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM... of ``pid`` in KiB."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if value.strip().endswith("kB"):
                out[key] = int(value.split()[0])
    return out


class Sampler:
    """The peak RssAnon and RssFile of a process, sampled every ``interval`` s in a thread (KiB)."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        import threading

        self.pid, self.interval = pid, interval
        self.peak = {"RssAnon": 0, "RssFile": 0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> None:
        try:
            status = proc_status(self.pid)
        except OSError:
            return
        for key in self.peak:
            self.peak[key] = max(self.peak[key], status.get(key, 0))

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()


def start_review(csv_path: Path, log: Path) -> tuple[subprocess.Popen, str, float]:
    """The real `isatsleepnet review` command in a subprocess; its address, and the seconds it took to print it."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    began = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "isatsleepnet.cli.main", "review", str(csv_path),
                                "--no-browser", "--reviewer", "bench"], stdout=subprocess.PIPE,
                               stderr=log.open("w"), text=True, env=env)
    lines = [process.stdout.readline() for _ in range(3)]
    url = lines[2].strip()
    if not url.startswith("http"):
        stop_review(process)
        raise SystemExit(f"the review command did not print its address: {lines!r}\n{log.read_text()[-3000:]}")
    return process, url, time.perf_counter() - began


def stop_review(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def timed_get(url: str) -> tuple[float, int]:
    began = time.perf_counter()
    with urllib.request.urlopen(url, timeout=120) as response:
        size = len(response.read())
    return time.perf_counter() - began, size


# ---------------------------------------------------------------- the page

# Installed before the page's own script: records, inside the page, the time from each keydown to the
# first reviewState published with a larger `drawn` (the page replaces window.reviewState on every change).
TIMING_SCRIPT = """
(() => {
  let current;
  const bench = { keyAt: null, keyDrawn: 0, turns: [] };
  window.__bench = bench;
  document.addEventListener("keydown", (event) => {
    const now = performance.now();
    const stamp = event.timeStamp;
    bench.keyAt = stamp > 0 && stamp <= now ? stamp : now;
    bench.keyDrawn = current ? current.drawn : 0;
  }, true);
  Object.defineProperty(window, "reviewState", {
    configurable: true,
    get() { return current; },
    set(value) {
      current = value;
      if (bench.keyAt !== null && value && value.drawn > bench.keyDrawn) {
        bench.turns.push(performance.now() - bench.keyAt);
        bench.keyAt = null;
      }
    },
  });
})();
"""


def open_page(browser, url: str, timeout_ms: float) -> tuple[object, object, float, float]:
    """A fresh context and page at ``url``: seconds to the signals drawn, and to the spectrogram shown."""
    context = browser.new_context(viewport={"width": 1600, "height": 900})
    page = context.new_page()
    page.add_init_script(TIMING_SCRIPT)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    began = time.perf_counter()
    page.goto(url)
    page.wait_for_function("window.reviewState && window.reviewState.drawn > 0", timeout=timeout_ms)
    drawn = time.perf_counter() - began
    page.wait_for_function("window.reviewState && window.reviewState.spectrogram", timeout=timeout_ms)
    spectrogram = time.perf_counter() - began
    if errors:
        raise SystemExit(f"the page reported errors: {errors}")
    return context, page, drawn, spectrogram


def page_turns(page, turns: int, pause: float, timeout_ms: float) -> tuple[list[float], list[float]]:
    """``turns`` PageDown presses: ms in the page (keydown to drawn) and ms in Python (press to seen drawn)."""
    python_ms = []
    for _ in range(turns):
        before = page.evaluate("window.reviewState.drawn")
        began = time.perf_counter()
        page.keyboard.press("PageDown")
        page.wait_for_function(f"window.reviewState.drawn > {before}", timeout=timeout_ms, polling=1)
        python_ms.append((time.perf_counter() - began) * 1000)
        time.sleep(pause)
    in_page = page.evaluate("window.__bench.turns.slice()")
    return [float(x) for x in in_page], python_ms


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else math.nan


# ---------------------------------------------------------------- main


def chromium_path() -> str | None:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    return found or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog="goals (issue 19): first page < 3 s, page turn median < 50 ms, "
                                            "server memory < 300 MiB")
    parser.add_argument("--hours", type=float, default=22.0, help="length of the night (default 22)")
    parser.add_argument("--channels", type=int, default=8, choices=range(1, len(CHANNELS) + 1), metavar="N",
                        help=f"channels, 1 to {len(CHANNELS)} (default 8: {', '.join(c[0] for c in CHANNELS)})")
    parser.add_argument("--rate", type=float, default=256.0, help="sampling rate of every channel, Hz (default 256)")
    parser.add_argument("--turns", type=int, default=50, help="page turns timed (default 50)")
    parser.add_argument("--pause", type=float, default=0.3,
                        help="seconds spent on each page before the next turn (default 0.3)")
    parser.add_argument("--requests", type=int, default=20,
                        help="direct /api/window requests timed (default 20)")
    parser.add_argument("--work", type=Path, default=None,
                        help="folder for the night (kept, and reused when the same night is there); default: a "
                             "temporary folder, removed at the end")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for the page (default 120)")
    args = parser.parse_args()

    chromium = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise SystemExit("bench_review needs Playwright (pip install playwright; the system's chromium is used)")
    if chromium is None:
        raise SystemExit("bench_review needs a Chromium binary (chromium on PATH or /usr/bin/chromium)")

    temporary = args.work is None
    work = Path(tempfile.mkdtemp(prefix="bench-review-")) if temporary else args.work
    work.mkdir(parents=True, exist_ok=True)
    timeout_ms = args.timeout * 1000
    try:
        edf = work / f"night-{args.hours:g}h-{args.channels}ch-{args.rate:g}hz.edf"
        stages_file = edf.with_suffix(".stages.npy")
        if edf.is_file() and stages_file.is_file():
            print(f"reusing {edf} (not timed)", file=sys.stderr, flush=True)
            stages = np.load(stages_file)
            wrote = None
        else:
            print(f"writing {edf.name} (not timed) ...", file=sys.stderr, flush=True)
            began = time.perf_counter()
            edf, stages = write_night(work, args.hours, args.channels, args.rate, args.seed)
            np.save(stages_file, stages)
            wrote = time.perf_counter() - began
            print(f"  written in {wrote:.1f} s", file=sys.stderr, flush=True)
        began = time.perf_counter()
        csv_path = write_staged(work, edf, stages, args.seed)
        staged_s = time.perf_counter() - began
        fresh_review(csv_path)
        edf_mib = edf.stat().st_size / 2**20
        n_epochs = len(stages)

        print("starting the review server ...", file=sys.stderr, flush=True)
        process, url, startup_s = start_review(csv_path, work / "server.log")
        try:
            startup = proc_status(process.pid)
            sampler = Sampler(process.pid).__enter__()
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
                try:
                    print("first page (spectrogram cache cold) ...", file=sys.stderr, flush=True)
                    context, page, first_s, first_spec_s = open_page(browser, url, timeout_ms)
                    context.close()
                    print("reopened page ...", file=sys.stderr, flush=True)
                    context, page, again_s, again_spec_s = open_page(browser, url, timeout_ms)
                    print(f"{args.turns} page turns ...", file=sys.stderr, flush=True)
                    in_page, python_ms = page_turns(page, args.turns, args.pause, timeout_ms)
                    context.close()
                finally:
                    browser.close()

            base, token = url.split("/?token=")
            night_s, night_bytes = timed_get(f"{base}/api/night?token={token}")
            spec_s, _ = timed_get(f"{base}/api/spectrogram?token={token}")
            night = json.loads(urllib.request.urlopen(f"{base}/api/night?token={token}", timeout=60).read())
            labels = [c["label"] for c in night["channels"]]
            shown = [c["label"] for c in night["channels"] if c["type"] in ("eeg", "eog")] or labels[:3]
            rng = np.random.default_rng(args.seed + 2)
            window_ms: dict[str, list[float]] = {"shown": [], "all": []}
            window_bytes = {}
            for which, chosen in (("shown", shown), ("all", labels)):
                query = urllib.request.quote(",".join(chosen))
                for _ in range(args.requests):
                    start = float(rng.integers(0, n_epochs)) * EPOCH_SECONDS
                    seconds, size = timed_get(f"{base}/api/window?token={token}&start={start:g}&seconds=30"
                                              f"&channels={query}")
                    window_ms[which].append(seconds * 1000)
                    window_bytes[which] = size
            sampler.__exit__()
            status = proc_status(process.pid)
        finally:
            stop_review(process)
    finally:
        if temporary:
            shutil.rmtree(work, ignore_errors=True)

    startup_rss = startup["VmRSS"] / 1024
    peak_mib = status["VmHWM"] / 1024
    end_rss = status["VmRSS"] / 1024
    turn_median, turn_p95 = statistics.median(in_page), percentile(in_page, 95)
    py_median, py_p95 = statistics.median(python_ms), percentile(python_ms, 95)

    print()
    print("review page and server on a long night (isatsleepnet review, headless Chromium)")
    print(f"machine: {machine()}; load average {' '.join(f'{v:.2f}' for v in os.getloadavg())} at end")
    print(f"night: {args.hours:g} h, {args.channels} channels at {args.rate:g} Hz, {n_epochs} epochs, "
          f"EDF {edf_mib:.0f} MiB, {int(night['flagged'].count(True))} flagged"
          + (f"; EDF written in {wrote:.1f} s, staged files in {staged_s:.1f} s (not measured figures)"
             if wrote is not None else "; EDF reused"))
    print(f"server: `isatsleepnet review --no-browser` printed its address {startup_s:.2f} s after it was started "
          "(reading the staged night, checking the EDF's SHA1, opening it)")
    print(f"page turns: PageDown, {len(in_page)} turns with {args.pause:g} s on each page; timed in the page "
          "(keydown timestamp to the reviewState with a larger `drawn`, performance.now())")
    print()
    rows = [
        ("first page, spectrogram cache cold", "< 3 s", f"{first_s:.2f} s", first_s < GOAL_FIRST_PAGE_S),
        ("first page, reopened", "< 3 s", f"{again_s:.2f} s", again_s < GOAL_FIRST_PAGE_S),
        ("page turn, median (p95)", "< 50 ms", f"{turn_median:.1f} ms ({turn_p95:.1f})", turn_median < GOAL_TURN_MS),
        ("server memory, peak RSS (VmHWM)", "< 300 MiB", f"{peak_mib:.0f} MiB", peak_mib < GOAL_MEMORY_MIB),
    ]
    head = f"{'what':38s} {'goal':>10s} {'measured':>20s}  met"
    print(head)
    print("-" * len(head))
    for what, goal, measured, met in rows:
        print(f"{what:38s} {goal:>10s} {measured:>20s}  {'yes' if met else 'NO'}")
    print()
    print("more figures (no goal):")
    print(f"  spectrogram shown after            {first_spec_s:.2f} s cold, {again_spec_s:.2f} s reopened")
    print(f"  page turn, Python round trip       median {py_median:.1f} ms, p95 {py_p95:.1f} ms "
          "(press + wait_for_function, perf_counter)")
    print(f"  server RSS                         {startup_rss:.0f} MiB after startup, {end_rss:.0f} MiB at end, "
          f"{peak_mib:.0f} MiB peak")
    print(f"    of which anonymous (RssAnon)     {startup['RssAnon'] / 1024:.0f} MiB after startup, "
          f"{status['RssAnon'] / 1024:.0f} MiB at end, {sampler.peak['RssAnon'] / 1024:.0f} MiB peak "
          "(sampled every 50 ms)")
    print(f"    of which file pages (RssFile)    {startup['RssFile'] / 1024:.0f} MiB after startup, "
          f"{status['RssFile'] / 1024:.0f} MiB at end, {sampler.peak['RssFile'] / 1024:.0f} MiB peak: "
          "the libraries and the memory-mapped EDF (page cache, which the kernel can drop)")
    print(f"  GET /api/night                     {night_s * 1000:.0f} ms, {night_bytes / 1024:.0f} KiB")
    print(f"  GET /api/spectrogram (cache warm)  {spec_s * 1000:.0f} ms")
    for which, chosen in (("shown", shown), ("all", labels)):
        values = window_ms[which]
        print(f"  GET /api/window 30 s, {len(chosen)} channel(s)".ljust(37)
              + f"median {statistics.median(values):.1f} ms, "
              f"p95 {percentile(values, 95):.1f} ms, {window_bytes[which] / 1024:.0f} KiB "
              f"({'the page default: EEG + EOG' if which == 'shown' else 'all channels'}; random windows, "
              f"{len(values)} requests)")


if __name__ == "__main__":
    main()
