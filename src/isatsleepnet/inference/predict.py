"""Prepared recordings through the one :class:`~isatsleepnet.inference.predictor.Predictor`.

`evaluate`, the test predictions of `cv` and `stage` all compute probabilities
with the same predictor (the same fused graph, normalisation and softmax), so
the metrics a run reports are those of the code that stages.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from isatsleepnet.atomic import atomic_write_text
from isatsleepnet.data.store import PreparedRecording
from isatsleepnet.engine import Engine
from isatsleepnet.errors import IsatSleepNetError
from isatsleepnet.evaluation.predictions import RecordingPrediction
from isatsleepnet.inference.predictor import Predictor, load_predictor

READ_EPOCHS = 512  # epochs read from the memory map at a time: bounded memory on any night


def predict_prepared(predictor: Predictor, recording: PreparedRecording, batch_size: int = 64) -> np.ndarray:
    """Stage probabilities (n_real_epochs x 5) of a prepared recording's recorded epochs.

    Synthetic (augmented) epochs are never predicted; a non-finite epoch is an
    error naming its recording and epoch, never a NaN probability.
    """
    channels = [recording.channels.index(c) for c in predictor.inputs.channels]
    positions = np.flatnonzero(recording.real)
    epochs, outputs = recording.epochs, []
    for i in range(0, len(positions), READ_EPOCHS):
        chunk = positions[i : i + READ_EPOCHS]
        x = np.asarray(epochs[chunk], dtype=np.float32)[:, channels]
        bad = ~np.isfinite(x).all(axis=(1, 2))
        if bad.any():
            raise IsatSleepNetError(f"{recording.path}: epoch {int(chunk[bad][0])} holds NaN or infinite samples; "
                                    "prepare the recording again or leave it out")
        outputs.append(predictor.outputs(x, batch_size))
    if not outputs:
        return np.zeros((0, 5), dtype=np.float64)
    # the epochs' numbers on the recording's grid: a context model reads only consecutive ones as neighbours
    index = np.round(recording.onsets[positions] / predictor.inputs.epoch_seconds).astype(np.int64)
    return predictor.probabilities_from(np.concatenate(outputs), index)


def check_data_fits(predictor: Predictor, recordings: list[PreparedRecording]) -> None:
    """Refuse recordings prepared at another rate or epoch length, or without the model's channels.

    Why before predicting: the network would otherwise fail on the first batch with a
    shape error, or (same sample count at another rate) stage every epoch wrongly;
    the message says how to prepare the data again.
    """
    inputs = predictor.inputs
    rate, seconds, n_samples = inputs.sampling_rate, inputs.epoch_seconds, inputs.n_samples
    works = f"{predictor.source}: works at {rate:g} Hz, {seconds:g}-s epochs"
    for rec in recordings:
        rec_rate = rec.sampling_rate
        rec_seconds = float(rec.meta.get("epoch_seconds", 30.0))
        if abs(rec_rate - rate) > 1e-9 * rate:
            raise IsatSleepNetError(f"{works}; {rec.path} was prepared at {rec_rate:g} Hz: "
                                    f"prepare it again with {{sampling_rate}} {rate:g}")
        if abs(rec_seconds - seconds) > 1e-9 * seconds:
            raise IsatSleepNetError(f"{works}; {rec.path} was prepared in {rec_seconds:g}-s epochs: "
                                    f"prepare it again with {{epoch_seconds}} {seconds:g}")
        rec_samples = rec.meta.get("n_samples", n_samples)
        if rec_samples != n_samples:
            raise IsatSleepNetError(f"{works} ({n_samples} samples); {rec.path} holds {rec_samples} samples "
                                    f"per epoch: prepare it again with {{sampling_rate}} {rate:g} "
                                    f"{{epoch_seconds}} {seconds:g}")
        missing = [c for c in inputs.channels if c not in rec.channels]
        if missing:
            raise IsatSleepNetError(f"{predictor.source}: reads the channels {', '.join(inputs.channels)}; "
                                    f"{rec.path} lacks {', '.join(missing)} (it has {', '.join(rec.channels)})")


def _claim_folder(out: Path, predictor: Predictor) -> None:
    """``out/model.sha1`` names the weights whose predictions the folder holds."""
    marker = out / "model.sha1"
    digest = predictor.identity
    if marker.is_file():
        if marker.read_text().split()[0] != digest:
            raise IsatSleepNetError(f"{out} holds predictions of another model; use another {{out}} or delete it")
    elif any(out.glob("*.npz")):
        raise IsatSleepNetError(f"{out} holds predictions of an unknown model; use another {{out}} or delete it")
    else:
        atomic_write_text(marker, f"{digest}  {Path(predictor.source).resolve()}\n")


def predict_recordings(
    model: str | Path | Predictor,
    recordings: list[PreparedRecording],
    out: Path,
    *,
    engine: Engine | None = None,
    batch_size: int = 64,
    progress: bool = True,
) -> list[RecordingPrediction]:
    """Predict every recording (skipping those already saved in ``out``) and save each one.

    ``out/model.sha1`` names the weights whose predictions the folder holds, so
    that a rerun with another model can never pick up the first one's results.
    Recordings the model cannot read as they are prepared are refused first (:func:`check_data_fits`).
    """
    predictor = model if isinstance(model, Predictor) else load_predictor(model, engine=engine)
    check_data_fits(predictor, recordings)
    out.mkdir(parents=True, exist_ok=True)
    _claim_folder(out, predictor)
    predictions = []
    for rec in tqdm(recordings, desc="predict", unit="rec", disable=not progress, leave=False):
        saved = out / f"{rec.name}.npz"
        if saved.is_file():
            predictions.append(RecordingPrediction.load(saved))
            continue
        probs = predict_prepared(predictor, rec, batch_size)
        real = rec.real  # synthetic epochs are never predicted; keep truth and onsets aligned with the real ones
        prediction = RecordingPrediction(rec.name, rec.subject, rec.labels[real].astype(int), probs, rec.onsets[real])
        prediction.save(out)
        predictions.append(prediction)
    return predictions
