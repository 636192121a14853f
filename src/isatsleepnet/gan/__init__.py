"""Physio-GAN: synthetic EEG/EOG epochs of one channel and stage under spectral and temporal constraints.

Modules: ``config`` (settings), ``data`` (real training epochs), ``generator``
and ``discriminator`` (networks), ``losses``, ``train`` (loop, checkpoints,
per-channel driver), ``quality`` (real-vs-generated report). Importing this
package does not import torch; import the submodules you need.
"""

__all__ = ["config", "data", "discriminator", "generator", "losses", "quality", "train"]
