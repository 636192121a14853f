"""Run a model file over prepared recordings and keep its predictions."""

from __future__ import annotations

from pathlib import Path

from tqdm.auto import tqdm

from isatsleepnet.data.store import PreparedRecording
from isatsleepnet.errors import IsatSleepNetError
from isatsleepnet.evaluation.predictions import RecordingPrediction
from isatsleepnet.inference.checkpoint import ModelFile, load_model_file
from isatsleepnet.inference.predict import best_device, predict_probabilities


def predict_recordings(
    model_path: Path,
    recordings: list[PreparedRecording],
    out: Path,
    *,
    device: str = "auto",
    batch_size: int = 64,
    progress: bool = True,
) -> list[RecordingPrediction]:
    """Predict every recording (skipping those already saved in ``out``) and save each one.

    ``out/model.sha1`` names the weights whose predictions the folder holds, so
    that a rerun with another model can never pick up the first one's results.
    Recordings the model cannot read as they are prepared are refused first (:func:`check_data_fits`).
    """
    model_file = load_model_file(model_path)
    check_data_fits(model_path, model_file, recordings)
    out.mkdir(parents=True, exist_ok=True)
    _claim_folder(out, model_path, model_file)
    model = None
    predictions = []
    for rec in tqdm(recordings, desc="predict", unit="rec", disable=not progress, leave=False):
        saved = out / f"{rec.name}.npz"
        if saved.is_file():
            predictions.append(RecordingPrediction.load(saved))
            continue
        if model is None:
            model = model_file.build(device=best_device(device))
        probs = predict_probabilities(model, rec, channels=model_file.channels,
                                      normalize=model_file.normalize, batch_size=batch_size)
        real = rec.real  # the loader never yields synthetic epochs; keep truth and onsets aligned with it
        prediction = RecordingPrediction(rec.name, rec.subject, rec.labels[real].astype(int), probs, rec.onsets[real])
        prediction.save(out)
        predictions.append(prediction)
    return predictions


def check_data_fits(model_path: Path, model_file: ModelFile, recordings: list[PreparedRecording]) -> None:
    """Refuse recordings prepared at another rate or epoch length, or without the model's channels.

    Why before predicting: the network would otherwise fail on the first batch with a
    shape error, or (same sample count at another rate) stage every epoch wrongly;
    the message says how to prepare the data again.
    """
    rate, seconds = float(model_file.sampling_rate), float(model_file.epoch_seconds)
    n_samples = int(model_file.model_config.get("n_samples", round(rate * seconds)))
    works = f"{model_path}: works at {rate:g} Hz, {seconds:g}-s epochs"
    for rec in recordings:
        rec_rate = rec.sampling_rate
        rec_seconds = float(rec.meta.get("epoch_seconds", 30.0))
        if abs(rec_rate - rate) > 1e-9 * rate:
            raise IsatSleepNetError(f"{works}; {rec.path} was prepared at {rec_rate:g} Hz: "
                                    f"prepare it again with --sampling-rate {rate:g}")
        if abs(rec_seconds - seconds) > 1e-9 * seconds:
            raise IsatSleepNetError(f"{works}; {rec.path} was prepared in {rec_seconds:g}-s epochs: "
                                    f"prepare it again with --epoch-seconds {seconds:g}")
        rec_samples = rec.meta.get("n_samples", n_samples)
        if rec_samples != n_samples:
            raise IsatSleepNetError(f"{works} ({n_samples} samples); {rec.path} holds {rec_samples} samples "
                                    f"per epoch: prepare it again with --sampling-rate {rate:g} "
                                    f"--epoch-seconds {seconds:g}")
        missing = [c for c in model_file.channels if c not in rec.channels]
        if missing:
            raise IsatSleepNetError(f"{model_path}: reads the channels {', '.join(model_file.channels)}; "
                                    f"{rec.path} lacks {', '.join(missing)} (it has {', '.join(rec.channels)})")


def _claim_folder(out: Path, model_path: Path, model_file) -> None:
    from isatsleepnet.atomic import atomic_write_text

    marker = out / "model.sha1"
    digest = model_file.weights_sha1()
    if marker.is_file():
        if marker.read_text().split()[0] != digest:
            raise IsatSleepNetError(f"{out} holds predictions of another model; use another --out or delete it")
    elif any(out.glob("*.npz")):
        raise IsatSleepNetError(f"{out} holds predictions of an unknown model; use another --out or delete it")
    else:
        atomic_write_text(marker, f"{digest}  {Path(model_path).resolve()}\n")


def evaluate_model(
    model_path: Path,
    data_root: Path,
    out: Path,
    *,
    subjects: list[str] | None = None,
    protocol: str | None = None,
    device: str = "auto",
    batch_size: int = 64,
    progress: bool = True,
):
    """Predictions, metrics.json, report.md and figures of one model on prepared data.

    A model trained on synthetic recordings says so at the top of report.md and in
    ``metrics["warnings"]`` (the CLI prints them): its numbers measure the pipeline, not sleep staging.
    """
    from isatsleepnet.data.store import PreparedDataset
    from isatsleepnet.data.synthetic.marker import synthetic_training_warning
    from isatsleepnet.evaluation.report import write_report
    from isatsleepnet.training.data import recordings_of

    data = PreparedDataset(data_root)
    model_file = load_model_file(model_path)
    chosen = subjects or data.subjects()
    unknown = sorted(set(chosen) - set(data.subjects()))
    if unknown:
        raise IsatSleepNetError(f"subjects not in {data_root}: {', '.join(unknown)}")
    seen = set(model_file.training.get("train_subjects", [])) | set(model_file.training.get("validation_subjects", []))
    same_data = Path(model_file.training.get("data", "")).resolve() == Path(data_root).resolve()
    overlap = sorted(seen & set(chosen)) if same_data else []
    if overlap:
        raise IsatSleepNetError(
            f"the model was trained or selected on subject(s) {', '.join(overlap[:5])} of this dataset; "
            "evaluate on other subjects (--subjects)"
        )
    recordings = recordings_of(data, chosen)
    # the same recordings stored elsewhere (a copy, an augmented dataset) are caught by their source hash
    seen_sources = set(model_file.training.get("seen_sources", []))
    reused = sorted(r.name for r in recordings if r.meta.get("source_sha1") in seen_sources)
    if reused:
        raise IsatSleepNetError(
            f"the model was trained or selected on recording(s) {', '.join(reused[:5])} (same source file); "
            "evaluate on other subjects (--subjects)"
        )
    predictions = predict_recordings(model_path, recordings, out / "predictions", device=device,
                                     batch_size=batch_size, progress=progress)
    warning = synthetic_training_warning(model_file.training)
    return write_report(out, {0: predictions}, {0: list(chosen)}, title=f"ISATSleepNet evaluation of {Path(model_path).name}",
                        protocol=protocol, notes=[f"model: {model_path}", f"data: {data_root}"],
                        warnings=[warning] if warning else [])
