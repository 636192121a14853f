"""`evaluate`: a model file over prepared recordings it never saw, with the paper's metrics and a report."""

from __future__ import annotations

from pathlib import Path

from isatsleepnet.engine import Engine
from isatsleepnet.errors import IsatSleepNetError
from isatsleepnet.inference.predict import predict_recordings
from isatsleepnet.inference.predictor import load_predictor


def evaluate_model(
    model_path: Path,
    data_root: Path,
    out: Path,
    *,
    subjects: list[str] | None = None,
    protocol: str | None = None,
    engine: Engine | None = None,
    batch_size: int = 64,
    progress: bool = True,
):
    """Predictions, metrics.json, report.md and figures of one model on prepared data.

    A model trained on synthetic recordings says so at the top of report.md and in
    ``metrics["warnings"]`` (the CLI prints them): its numbers measure the pipeline, not sleep staging.
    """
    from isatsleepnet.data.store import PreparedDataset
    from isatsleepnet.data.subjects import check_subjects, recordings_of
    from isatsleepnet.data.synthetic.marker import synthetic_training_warning
    from isatsleepnet.evaluation.report import write_report

    data = PreparedDataset(data_root)
    predictor = load_predictor(model_path, engine=engine)
    training = predictor.meta.get("training") or {}
    chosen = check_subjects(data, subjects) if subjects else data.subjects()
    seen = set(training.get("train_subjects", [])) | set(training.get("validation_subjects", []))
    same_data = Path(training.get("data", "")).resolve() == Path(data_root).resolve()
    overlap = sorted(seen & set(chosen)) if same_data else []
    if overlap:
        raise IsatSleepNetError(
            f"the model was trained or selected on subject(s) {', '.join(overlap[:5])} of this dataset; "
            "evaluate on other subjects (--subjects)"
        )
    recordings = recordings_of(data, chosen)
    # the same recordings stored elsewhere (a copy, an augmented dataset) are caught by their source hash
    seen_sources = set(training.get("seen_sources", []))
    reused = sorted(r.name for r in recordings if r.meta.get("source_sha1") in seen_sources)
    if reused:
        raise IsatSleepNetError(
            f"the model was trained or selected on recording(s) {', '.join(reused[:5])} (same source file); "
            "evaluate on other subjects (--subjects)"
        )
    predictions = predict_recordings(predictor, recordings, out / "predictions", batch_size=batch_size,
                                     progress=progress)
    warning = synthetic_training_warning(training)
    return write_report(out, {0: predictions}, {0: list(chosen)}, title=f"ISATSleepNet evaluation of {Path(model_path).name}",
                        protocol=protocol, notes=[f"model: {model_path}", f"data: {data_root}"],
                        warnings=[warning] if warning else [])
