"""`evaluate`: a model file over prepared recordings it never saw, with the paper's metrics and a report."""

from __future__ import annotations

from pathlib import Path

from isatsleepnet.engine import Engine
from isatsleepnet.errors import IsatSleepNetError
from isatsleepnet.inference.predict import predict_recordings
from isatsleepnet.inference.predictor import load_predictor


def check_unseen(training: dict, data_root: Path, subjects: list[str], recordings: list,
                 hint: str = "evaluate on other subjects ({subjects})") -> None:
    """Refuse subjects or recordings that the model, or any model it was fine-tuned from, was trained or
    selected on: by subject within the same dataset (its own and its ``ancestors``'), and by source-file
    hash anywhere (``seen_sources``, the union over its ancestors: a copy, an augmented dataset).

    ``hint`` ends the message and is a template like it: it may name settings as ``{setting}``.
    """
    here = Path(data_root).resolve()
    own = {"data": training.get("data", ""),
           "subjects": [*training.get("train_subjects", []), *training.get("validation_subjects", [])]}
    for model in [own, *(training.get("ancestors") or [])]:
        same_data = bool(model.get("data")) and Path(str(model["data"])).resolve() == here
        overlap = sorted(set(model.get("subjects") or []) & set(subjects)) if same_data else []
        if overlap:
            whom = "the model" if model is own else f"its base model {model.get('file')}"
            raise IsatSleepNetError(f"{whom} was trained or selected on subject(s) {', '.join(overlap[:5])} of "
                                    f"this dataset; {hint}")
    seen_sources = set(training.get("seen_sources", []))
    reused = sorted(r.name for r in recordings if r.meta.get("source_sha1") in seen_sources)
    if reused:
        raise IsatSleepNetError(
            f"the model (or a model it was fine-tuned from) was trained or selected on recording(s) "
            f"{', '.join(reused[:5])} (same source file); {hint}"
        )


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
    recordings = recordings_of(data, chosen)
    check_unseen(training, data_root, chosen, recordings)
    predictions = predict_recordings(predictor, recordings, out / "predictions", batch_size=batch_size,
                                     progress=progress)
    warning = synthetic_training_warning(training)
    return write_report(out, {0: predictions}, {0: list(chosen)}, title=f"ISATSleepNet evaluation of {Path(model_path).name}",
                        protocol=protocol, notes=[f"model: {model_path}", f"data: {data_root}"],
                        warnings=[warning] if warning else [])
