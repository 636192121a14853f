"""Randomness of a training epoch as a function of (seed, epoch): a resumed run ends as an uninterrupted one.

Two things draw random numbers while training: the order of the training
epochs (shuffled, or drawn class-balanced) and the global generators (dropout,
and whatever a library draws). Both restarted from the seed when a killed run
resumed, so a resumed training trained its later epochs on another order with
other dropout masks and selected another epoch with other weights.

Why reseeding per epoch rather than saving the generators' states in the
checkpoint: a saved state reproduces the stream only if everything between the
save and the next epoch draws the same numbers in the resumed process as in the
uninterrupted one, and it does not: a fresh process restores the checkpoint,
builds its data loaders (a DataLoader iterator draws a base seed from the
global generator) and starts workers differently, and every CUDA device has a
state of its own. Reseeding at the start of each epoch from (seed, epoch, rank)
makes epoch e's randomness independent of what ran before it, in any process,
and leaves nothing to store: checkpoints keep holding plain tensors and numbers.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import Sampler


def derive_seed(*keys: int) -> int:
    """A 63-bit seed mixed from integer ``keys`` (SeedSequence: nearby keys give unrelated seeds)."""
    state = np.random.SeedSequence([int(k) % 2**64 for k in keys]).generate_state(2, np.uint32)
    return (int(state[0]) << 31) ^ int(state[1])


def seed_all(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators (torch: every device)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class EpochSampler(Sampler[int]):
    """Indices of one training epoch, a pure function of (seed, epoch).

    Without ``weights`` a permutation of the ``n`` items; with ``weights``,
    ``n`` draws with replacement in proportion to them (class balancing).
    Lightning calls :meth:`set_epoch` before every training epoch (and
    :class:`~isatsleepnet.training.module.EpochSeeding` does too, for a sampler
    that Lightning wraps under DDP).
    """

    def __init__(self, n: int, seed: int, weights: torch.Tensor | None = None) -> None:
        self.n = int(n)
        self.seed = int(seed)
        self.weights = None if weights is None else torch.as_tensor(weights, dtype=torch.float64)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(derive_seed(self.seed, self.epoch, 0x5A4D))
        if self.weights is None:
            order = torch.randperm(self.n, generator=generator)
        else:
            order = torch.multinomial(self.weights, self.n, replacement=True, generator=generator)
        return iter(order.tolist())
