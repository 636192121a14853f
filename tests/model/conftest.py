"""Fixtures for the model tests: one thread and a fixed seed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    """Run on one thread: with other jobs on the machine, a 2-thread OpenMP team
    waits on its descheduled partner at every op and a 1-s test can take 50 s;
    one thread is robust and fast enough for these small batches. Module scope
    so that it also covers module-scoped fixtures."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)
