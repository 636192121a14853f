"""Run independent inference work on the CPU cores as single-threaded tasks.

Why: on this 2-core machine PyTorch's intra-op threading speeds the long
convolutions up ~2x, but not the oneDNN LSTM (~1.1x: 150 dependent steps of
small products), the CPU attention kernel (~1.3x), the FFTs or the layout
copies (~1x). The fast path has removed most convolution work, so these
dominate. Giving each core its own slice of the batch with one intra-op
thread (``split_batch_forward``) scales the whole network instead: 1.5-1.7x
-> 2.1-2.3x over the eager model at batch 16-64. Exact, because examples
are independent in eval mode; not for training, where BatchNorm's batch
statistics tie the examples together. (Running other independent pieces on
the two cores — the LSTM's two directions, attention pairs, batch halves of
the FFT convolutions, with hand-made autograd — was measured too and gave
nothing in training.)

Threads are persistent daemons; work is handed over through queues. Grad
mode and inference mode are thread-local in PyTorch, so each task re-enters
the caller's modes.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch

_workers_lock = threading.Lock()   # guards the worker list
_section = threading.Lock()        # one parallel section at a time (the thread count is process-wide)
_workers: list[_Worker] = []


class _Worker:
    """A daemon thread that runs submitted callables with one intra-op thread."""

    def __init__(self) -> None:
        self.tasks: queue.SimpleQueue = queue.SimpleQueue()
        threading.Thread(target=self._loop, name="isatsleepnet-inference", daemon=True).start()

    def _loop(self) -> None:
        while True:
            fn, modes, result = self.tasks.get()
            try:
                # the caller has already set the process-wide count to 1; this also
                # pins this thread's own OpenMP/MKL team size (those are per thread)
                torch.set_num_threads(1)
                with _modes(*modes):
                    result.put((True, fn()))
            except BaseException as exc:  # noqa: BLE001 - handed back to the caller
                result.put((False, exc))


@contextlib.contextmanager
def _modes(inference: bool, grad: bool) -> Iterator[None]:
    with torch.inference_mode(inference), torch.set_grad_enabled(grad):
        yield


def _get_workers(n: int) -> list[_Worker]:
    with _workers_lock:
        while len(_workers) < n:
            _workers.append(_Worker())
        return _workers[:n]


def run_on_cores(tasks: Sequence[Callable[[], Any]]) -> list[Any]:
    """Run the tasks concurrently, one per core, each single-threaded; results in order.

    The calling thread runs the first task. PyTorch's intra-op thread count
    is process-wide, so it is 1 for the duration (other threads running torch
    ops meanwhile run single-threaded too) and restored afterwards; callers
    from several threads take turns. With one intra-op thread already (for
    instance inside a task) the tasks simply run one after the other.
    Exceptions from any task are re-raised here.
    """
    if len(tasks) <= 1 or torch.get_num_threads() <= 1:
        return [task() for task in tasks]
    with _section:
        return _run_parallel(tasks)



def _run_parallel(tasks: Sequence[Callable[[], Any]]) -> list[Any]:
    threads = torch.get_num_threads()
    modes = (torch.is_inference_mode_enabled(), torch.is_grad_enabled())
    torch.set_num_threads(1)
    try:
        boxes = []
        for worker, task in zip(_get_workers(len(tasks) - 1), tasks[1:]):
            box: queue.SimpleQueue = queue.SimpleQueue()
            worker.tasks.put((task, modes, box))
            boxes.append(box)
        results, error = [], None
        try:
            results.append(tasks[0]())
        except BaseException as exc:  # noqa: BLE001 - wait for the workers first
            error = exc
        for box in boxes:
            ok, value = box.get()
            if not ok and error is None:
                error = value
            results.append(value)
        if error is not None:
            raise error
        return results
    finally:
        torch.set_num_threads(threads)


def split_batch_forward(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, cores: int) -> torch.Tensor:
    """``fn(x)`` computed as ``cores`` batch slices in parallel (fn must treat examples independently)."""
    parts = [p for p in x.tensor_split(min(cores, x.shape[0])) if p.shape[0]]
    return torch.cat(run_on_cores([lambda p=p: fn(p) for p in parts]))


class SplitBatchInference(torch.nn.Module):
    """Any eval-mode network, run under ``inference_mode`` with one slice of the batch per core.

    Why: the inference graph of an architecture without a hand-fused one (the
    baselines). Exact, since examples are independent in eval mode; the LSTM
    and attention kernels that scale poorly with intra-op threads then run one
    per core. Eval only: ``train(True)`` is refused, as for ISATSleepNet's
    fused graph. Input and output as the wrapped network's (batch first).

    Examples
    --------
    >>> net = torch.nn.Linear(4, 2).eval()
    >>> fast = SplitBatchInference(net)
    >>> x = torch.randn(6, 4)
    >>> bool(torch.allclose(fast(x), net(x), atol=1e-6))
    True
    """

    def __init__(self, network: torch.nn.Module) -> None:
        super().__init__()
        self.network = network.eval()
        self.network.requires_grad_(False)

    def train(self, mode: bool = True) -> SplitBatchInference:
        if mode:
            raise RuntimeError("an inference graph cannot be trained; build the model again for training")
        return super().train(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            cores = torch.get_num_threads()
            if cores > 1 and x.shape[0] > 1 and x.device.type == "cpu" and not torch.is_autocast_enabled("cpu"):
                return split_batch_forward(self.network, x, cores)
            return self.network(x)
