"""Phase 2 of a context model: a sequence model over the epoch embeddings of a trained per-epoch network.

Why two phases. Physio-GAN and transform augmentation make single epochs with no
neighbours, so the per-epoch network (phase 1, :func:`~isatsleepnet.training.fit.train_split`,
augmented or not, into ``OUT/encoder/``) learns what an epoch looks like, and the
context head (:class:`~isatsleepnet.model.context.ContextHead`) then learns from
windows of consecutive *real* epochs how neighbours change the stage. The encoder
is frozen in phase 2: its embeddings and logits are computed once per recording
(``OUT/context/features/``, memory-mapped, ~1 KB per epoch against 36 KB of raw
samples), so phase 2 reads a few MB per night and takes seconds per epoch on a CPU.

Training windows are ``context`` consecutive epochs of one recording (stride
half a window, the last window of a run ending at its end); a run of epochs is
broken where the prepared store skips epochs (unscored or movement epochs that
`prepare` dropped, a gap), never bridged. A run shorter than the window is one
shorter window, padded, its padding excluded from the loss. Validation stages
every validation recording exactly as `stage` will (:func:`~isatsleepnet.model.context.apply_context`)
and selects the epoch by macro-F1, with early stopping. A checkpoint
(``OUT/context/last.pt``, read with ``weights_only=True``) is written every epoch;
a killed run continues from it with the result of an uninterrupted one (each
epoch's window order and dropout come from a generator seeded by (seed, epoch)).
"""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from isatsleepnet.atomic import atomic_path, atomic_write_text
from isatsleepnet.data.normalize import normalize_epochs
from isatsleepnet.data.store import PreparedDataset, PreparedRecording
from isatsleepnet.data.subjects import recordings_of
from isatsleepnet.engine import Engine
from isatsleepnet.errors import IsatSleepNetError
from isatsleepnet.evaluation.metrics import compute_metrics
from isatsleepnet.model.config import ModelConfig
from isatsleepnet.model.context import ContextHead, apply_context
from isatsleepnet.model.context_plan import runs_of
from isatsleepnet.model.file import ModelFile, load_model_file
from isatsleepnet.torchfile import load_plain
from isatsleepnet.training.config import TrainConfig
from isatsleepnet.training.folds import Fold, class_weights
from isatsleepnet.training.loss import HybridLoss

ENCODER_DIR = "encoder"
CONTEXT_DIR = "context"
CONTEXT_KEYS = ("context", "context_model", "context_hidden", "context_layers")
LOG_COLUMNS = ("epoch", "train_loss", "val_accuracy", "val_macro_f1")

logger = logging.getLogger(__name__)


def context_of(config: TrainConfig) -> int:
    """The training window of a configuration (0: the per-epoch network)."""
    return int(config.model.get("context", 0) or 0)


def per_epoch_config(config: TrainConfig) -> TrainConfig:
    """The configuration of phase 1: the same, without the context settings."""
    return replace(config, model={k: v for k, v in config.model.items() if k not in CONTEXT_KEYS})


@dataclass
class Features:
    """One recording's per-epoch network outputs (logits then embedding), epoch numbers and labels."""

    name: str
    outputs: np.ndarray  # (n, n_classes + E) float32, memory-mapped
    index: np.ndarray  # epoch numbers on the recording's grid
    labels: np.ndarray


@torch.no_grad()
def epoch_features(encoder: ModelFile, recordings: list[PreparedRecording], folder: Path,
                   engine: Engine, batch_size: int = 64) -> list[Features]:
    """The frozen encoder's outputs for the recorded epochs of each recording, cached in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    network = None
    result = []
    epoch_s = encoder.epoch_seconds
    for rec in recordings:
        path = folder / f"{rec.name}.npy"
        positions = np.flatnonzero(rec.real)
        if not path.is_file():
            if network is None:
                network = encoder.build("fused", device=engine.torch_device())
            channels = [rec.channels.index(c) for c in encoder.channels]
            chunks = []
            for i in range(0, len(positions), batch_size):
                x = normalize_epochs(np.asarray(rec.epochs[positions[i : i + batch_size]])[:, channels],
                                     encoder.normalize)
                chunks.append(network.logits_and_embedding(torch.from_numpy(x)).float().cpu().numpy())
            with atomic_path(path) as tmp:
                with open(tmp, "wb") as f:
                    np.save(f, np.concatenate(chunks).astype(np.float32))
        outputs = np.load(path, mmap_mode="r")
        index = np.round(rec.onsets[positions] / epoch_s).astype(np.int64)
        result.append(Features(rec.name, outputs, index, rec.labels[positions].astype(np.int64)))
    return result


def training_windows(features: list[Features], length: int) -> np.ndarray:
    """(recording, first row, width) of every training window: stride length // 2, runs never bridged."""
    windows = []
    stride = max(1, length // 2)
    for r, f in enumerate(features):
        for start, stop in runs_of(f.index):
            n = stop - start
            if n <= length:
                windows.append((r, start, n))
                continue
            firsts = list(range(start, stop - length + 1, stride))
            if firsts[-1] != stop - length:
                firsts.append(stop - length)
            windows += [(r, s, length) for s in firsts]
    return np.array(windows, dtype=np.int64).reshape(-1, 3)


def _batch(features: list[Features], windows: np.ndarray, length: int, n_classes: int) -> tuple[torch.Tensor, ...]:
    width = features[0].outputs.shape[1]
    x = np.zeros((len(windows), length, width), dtype=np.float32)
    y = np.full((len(windows), length), -1, dtype=np.int64)  # -1: padding, never in the loss
    for i, (r, start, n) in enumerate(windows):
        x[i, :n] = features[r].outputs[start : start + n]
        y[i, :n] = features[r].labels[start : start + n]
    x_t = torch.from_numpy(x)
    return x_t[..., n_classes:], x_t[..., :n_classes], torch.from_numpy(y)


def _validate(head: ContextHead, features: list[Features], length: int) -> dict[str, Any]:
    head.eval()
    truth, predicted = [], []
    for f in features:
        logits = apply_context(head, torch.from_numpy(np.array(f.outputs)), f.index, length)
        truth.append(f.labels)
        predicted.append(logits.argmax(1).numpy())
    return compute_metrics(np.concatenate(truth), np.concatenate(predicted))


def _log(path: Path, rows: list[dict[str, Any]]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=LOG_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, buf.getvalue())


def fit_context(data: PreparedDataset, fold: Fold, encoder_path: Path, out: Path, config: TrainConfig, *,
                engine: Engine | None = None) -> Path:
    """Train the context head of ``config.model["context"]`` epochs on a trained encoder; returns out/model.pt.

    The epochs (``context_epochs``), learning rate (``context_learning_rate``)
    and patience are TrainConfig settings; the window, hidden size and layers are
    ModelConfig's (``context``, ``context_hidden``, ``context_layers``). Each epoch's loss
    (and validation macro-F1) is a status line of the ``isatsleepnet`` logger.
    """
    engine = engine or Engine()
    final = out / "model.pt"
    if final.is_file():
        return final
    length = context_of(config)
    encoder = load_model_file(encoder_path)
    model_config = {**encoder.model_config, **{k: v for k, v in config.model.items() if k in CONTEXT_KEYS}}
    head_config = ModelConfig(**model_config)
    work = out / CONTEXT_DIR
    train = epoch_features(encoder, recordings_of(data, fold.train), work / "features", engine)
    val = epoch_features(encoder, recordings_of(data, fold.validation), work / "features", engine)
    windows = training_windows(train, length)
    if len(windows) == 0:
        raise IsatSleepNetError(f"fold {fold.index}: no training epochs for the context model")
    n_classes = head_config.n_classes
    counts = np.bincount(np.concatenate([f.labels for f in train]), minlength=n_classes)
    torch.manual_seed(config.seed)
    head = ContextHead(head_config)
    loss_fn = HybridLoss(config.loss_alpha, torch.tensor(class_weights(counts), dtype=torch.float32)
                         if config.class_weighted else None)
    optimizer = torch.optim.AdamW(head.parameters(), lr=config.context_learning_rate, weight_decay=config.weight_decay)
    state: dict[str, Any] = {"epoch": -1, "best_score": -1.0, "best_epoch": -1, "bad_epochs": 0, "rows": []}
    best_head = {k: v.clone() for k, v in head.state_dict().items()}
    checkpoint = work / "last.pt"
    if checkpoint.is_file():
        saved = load_plain(checkpoint, "context checkpoint", hint="delete it to train the context head again")
        head.load_state_dict(saved["head"])
        optimizer.load_state_dict(saved["optimizer"])
        best_head = saved["best_head"]
        state = {k: saved[k] for k in state}
    for epoch in range(state["epoch"] + 1, config.context_epochs):
        if val and state["bad_epochs"] > config.early_stopping_patience:
            break
        head.train()
        rng = torch.Generator().manual_seed(config.seed * 1_000_003 + epoch)
        order = torch.randperm(len(windows), generator=rng).numpy()
        losses = []
        for i in range(0, len(order), config.batch_size):
            embeddings, logits, y = _batch(train, windows[order[i : i + config.batch_size]], length, n_classes)
            out_logits = head(embeddings, logits)
            keep = y >= 0
            loss = loss_fn(out_logits[keep], y[keep])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(float(loss.detach()))
        row = {"epoch": epoch, "train_loss": f"{np.mean(losses):.6g}", "val_accuracy": "", "val_macro_f1": ""}
        score = float(epoch)  # without validation subjects: the last epoch
        if val:
            metrics = _validate(head, val, length)
            score = metrics["macro_f1"]
            row.update(val_accuracy=f"{metrics['accuracy']:.6g}", val_macro_f1=f"{score:.6g}")
        if score > state["best_score"]:
            state.update(best_score=score, best_epoch=epoch, bad_epochs=0)
            best_head = {k: v.clone() for k, v in head.state_dict().items()}
        else:
            state["bad_epochs"] += 1
        state["epoch"] = epoch
        state["rows"] = [*state["rows"], row]
        _log(work / "metrics.csv", state["rows"])
        with atomic_path(checkpoint) as tmp:
            torch.save({**state, "head": head.state_dict(), "optimizer": optimizer.state_dict(),
                        "best_head": best_head}, tmp)
        shown = f", validation macro-F1 {100 * score:.1f} %" if val else ""
        logger.info("  context epoch %d/%d: loss %.4f%s", epoch + 1, config.context_epochs, np.mean(losses), shown)
    head.load_state_dict(best_head)
    selected = _validate(head, val, length) if val else {}
    ModelFile(
        model_config=model_config,
        state_dict={**encoder.state_dict, **{f"context.{k}": v for k, v in head.state_dict().items()}},
        channels=encoder.channels, roles=encoder.roles, sampling_rate=encoder.sampling_rate,
        epoch_seconds=encoder.epoch_seconds, normalize=encoder.normalize,
        training={**encoder.training, "config": asdict(config),
                  "context": {"window": length, "encoder": str(encoder_path), "encoder_weights_sha1":
                              encoder.weights_sha1(), "windows": int(len(windows)),
                              "selected_epoch": state["best_epoch"], "epochs_run": state["epoch"] + 1,
                              "selected_by": "validation macro-F1" if val else "last epoch (no validation subjects)",
                              "encoder_validation": encoder.metrics.get("validation")}},
        metrics={"validation": {"epoch": state["best_epoch"], **{k: selected[k] for k in
                                                               ("accuracy", "kappa", "macro_f1")}}} if val else {},
    ).save(final)
    return final


def check_training(data: PreparedDataset, fold: Fold, config: TrainConfig) -> None:
    """What :func:`train_with_context` would refuse at its start, checked before a run writes anything."""
    from isatsleepnet.training.fit import check_split

    check_split(data, fold, per_epoch_config(config))  # phase 1's network is the one a base model must fit


def train_with_context(data: PreparedDataset, fold: Fold, out: Path, config: TrainConfig, *,
                       engine: Engine | None = None, progress: bool = True, **phase1: Any) -> Path:
    """``out/model.pt`` of ``config``: the per-epoch network, or (``model["context"]`` > 0) the per-epoch
    network trained into ``out/encoder/`` (with ``phase1``'s augmentation) and the context head on it."""
    from isatsleepnet.training.fit import train_split

    if not context_of(config):
        return train_split(data, fold, out, config, progress=progress, engine=engine, **phase1)
    logger.info("  phase 1: the per-epoch network -> %s", out / ENCODER_DIR)
    encoder = train_split(data, fold, out / ENCODER_DIR, per_epoch_config(config), progress=progress, engine=engine,
                          **phase1)
    logger.info("  phase 2: context over %d epochs on the frozen network -> %s", context_of(config), out / "model.pt")
    return fit_context(data, fold, encoder, out, config, engine=engine)
