"""`evaluate`: a model file over prepared recordings it never saw, with the paper's metrics and a report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from isatsleepnet.engine import Engine
from isatsleepnet.errors import IsatSleepNetError, SettingError
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


OTHER_RUNS: tuple[tuple[str, str], ...] = (
    ("folds.json", "a cv run"),
    ("config.json", "a cv or train run"),
    ("split.json", "a train run"),
    ("model.pt", "a model"),
    ("manifest.csv", "a prepared dataset"),
    ("prepare_config.json", "a prepared dataset"),
)
"""Files that mark a folder as another command's: evaluating into it would replace that run's metrics.json,
report.md and figures with those of one model."""


def refuse_other_run(out: str | Path) -> None:
    """Refuse an output folder that holds another kind of run (a cv or train run, a model, a prepared dataset).

    Examples
    --------
    >>> refuse_other_run("runs/edf20")  # doctest: +SKIP
    Traceback (most recent call last):
    isatsleepnet.errors.IsatSleepNetError: runs/edf20 holds a cv run (folds.json); ...
    """
    out = Path(out)
    for name, kind in OTHER_RUNS:
        if (out / name).exists():
            raise IsatSleepNetError(f"{out} holds {kind} ({name}); evaluating into it would replace its results: "
                                    "choose another {out}")


def check_evaluation(out: str | Path, data_root: str | Path, *, protocol: str | None, batch_size: int) -> None:
    """What `evaluate` refuses before the model is loaded or a file is written: a batch size that cannot
    run, an output folder of another run, and the paper's numbers of another dataset than the data's."""
    from isatsleepnet.evaluation.paper import check_paper_protocol

    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise SettingError("batch_size", f"must be a whole number of at least 1, not {batch_size!r}")
    refuse_other_run(out)
    check_paper_protocol(protocol, data_root)


def model_record(model_path: str | Path, meta: dict[str, Any]) -> dict[str, Any]:
    """The evaluated model in metrics.json: its file and the settings it was trained with, in the layout of a
    cv run's config.json (``train``, ``augment``, ``gan``; ``train`` None when the file records none), so that
    `compare` shows what the model is rather than a default."""
    training = meta.get("training") or {}
    augment = training.get("augment_settings") or training.get("augment")
    return {"file": str(model_path), "weights_sha1": meta.get("weights_sha1"),
            "train": training.get("config") if isinstance(training.get("config"), dict) else None,
            "augment": augment, "gan": augment.get("gan") if isinstance(augment, dict) else None}


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
    Refused before any work (:func:`check_evaluation`): ``batch_size`` below 1, an ``out`` of another run,
    a ``protocol`` of the paper for data of another dataset.
    """
    from isatsleepnet.data.store import PreparedDataset
    from isatsleepnet.data.subjects import check_subjects, recordings_of, subject_names
    from isatsleepnet.data.synthetic.marker import synthetic_training_warning
    from isatsleepnet.evaluation.report import write_report

    subjects = subject_names(subjects)  # "SC400": one subject, not five characters
    check_evaluation(out, data_root, protocol=protocol, batch_size=batch_size)
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
                        warnings=[warning] if warning else [], data=data_root,
                        model=model_record(model_path, predictor.meta))
