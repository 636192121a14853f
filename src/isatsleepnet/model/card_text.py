"""A model card as Markdown: ``MODEL_CARD.md`` and what `isatsleepnet model-info` prints.

Plain headings and bullet lists, so that it reads the same in a terminal and
rendered; the numbers are the card's (:func:`isatsleepnet.model.card.model_card`).
"""

from __future__ import annotations

from typing import Any

from isatsleepnet import STAGES

_METRICS = (("accuracy", "accuracy", True), ("kappa", "Cohen's kappa", False), ("macro_f1", "macro-F1", True),
            ("macro_gmean", "macro G-mean", True), ("loss", "loss", False))


def _value(value: Any) -> str:
    if value is None:
        return "unknown (not recorded)"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value) if value else "none"
    return str(value)


def _metrics_lines(metrics: dict[str, Any] | None) -> list[str]:
    if not isinstance(metrics, dict):
        return ["- none recorded"]
    lines = []
    for key, label, percent in _METRICS:
        value = metrics.get(key)
        if isinstance(value, (int, float)):
            lines.append(f"- {label}: {100 * value:.1f} %" if percent else f"- {label}: {value:.3f}")
    per_class = metrics.get("per_class_f1")
    if isinstance(per_class, dict):
        lines.append("- F1 per stage: " + ", ".join(f"{s} {100 * per_class[s]:.1f} %" for s in STAGES
                                                   if isinstance(per_class.get(s), (int, float))))
    for key, label in (("n_epochs", "epochs"), ("epoch", "training epoch (from 0)")):
        if key in metrics:
            lines.append(f"- {label}: {metrics[key]}")
    if metrics.get("subjects"):
        lines.append(f"- subjects ({len(metrics['subjects'])}): {_value(metrics['subjects'])}")
    return lines or ["- none recorded"]


def _derivation(channel: dict[str, Any]) -> str:
    ways = channel.get("derived_from")
    if ways == "unknown" or ways is None:
        return "derivation not recorded"
    texts = [f"derived as {w[0]} − {w[1]}" if isinstance(w, list) and len(w) == 2 else "not derived"
             for w in ways]
    return "; ".join(texts) if texts else "derivation not recorded"


def _source_rates(channel: dict[str, Any]) -> str:
    rates = channel.get("source_rates")
    if not isinstance(rates, list) or not rates:
        return ""
    return ", source rate " + " / ".join(f"{r:g}" for r in rates) + " Hz"


def _stage_counts(counts: dict[str, Any]) -> list[str]:
    lines = []
    for split in ("train", "validation"):
        per_stage = counts.get(split)
        if isinstance(per_stage, dict):
            total = sum(int(v) for v in per_stage.values())
            lines.append(f"- {split} epochs per stage ({total}): "
                         + ", ".join(f"{s} {per_stage.get(s, 0)}" for s in STAGES))
    return lines or ["- epochs per stage: not recorded"]


def _quantization_lines(quantization: Any) -> list[str]:
    """An int8 export's section: how it was quantised and how far it agrees with its float model."""
    if not isinstance(quantization, dict):
        return []
    calibration = quantization.get("calibration") or {}
    agreement, difference = quantization.get("agreement_with_float"), quantization.get("max_probability_difference")
    return ["## Quantisation", "",
            f"- this file is the int8 form of the float32 model (weights sha1 "
            f"`{quantization.get('float_weights_sha1')}`): {quantization.get('method')}",
            f"- calibrated on {calibration.get('epochs')} epochs ({calibration.get('runs')} runs) of "
            f"{calibration.get('source')}",
            f"- on those epochs, int8 and float32 give the same stage to "
            f"{'unknown' if agreement is None else f'{100 * agreement:.2f} %'} of epochs; largest probability "
            f"difference {'unknown' if difference is None else f'{difference:.3g}'}", *_clear_line(quantization), ""]


def _clear_line(quantization: dict[str, Any]) -> list[str]:
    """The agreement over the epochs where the float model's stage leads the next by the record's margin.

    None recorded before 2026-12-07; the margin itself is recorded since 2026-12-08 (0.1 before).
    """
    on_clear = quantization.get("agreement_on_clear_epochs")
    if on_clear is None:
        return []
    margin = quantization.get("clear_margin", 0.1)
    return [f"- on the {quantization.get('clear_epochs')} of them where the float32 model's likeliest stage leads the "
            f"next by {margin:g} or more in probability: {100 * on_clear:.2f} % (the rest are near-ties)"]


def _kind_line(data: dict[str, Any]) -> str:
    """Real or synthetic training data, with the counts when they were recorded (not twice "unknown")."""
    real, synthetic = data.get("real_recordings"), data.get("synthetic_recordings")
    if real is None and synthetic is None:
        return f"- real or synthetic: {data['kind']} (not recorded)"
    return (f"- real or synthetic: {data['kind']} ({_value(real)} real, {_value(synthetic)} synthetic recording(s), "
            "training and validation)")


def card_markdown(card: dict[str, Any]) -> str:
    """The Markdown of a model card, every section present (unknown values say so)."""
    arch, ctx, inp = card["architecture"], card["context"], card["input"]
    data, aug, sel, soft = card["training_data"], card["augmentation"], card["selection"], card["software"]
    lines = [f"# Model card: {card.get('file') or 'ISATSleepNet model'}", ""]
    if card.get("synthetic_warning"):
        lines += [f"> **WARNING: {card['synthetic_warning']}.**", ""]
    lines += [f"- weights sha1: `{card.get('weights_sha1')}`",
              "- model.pt checksum (sha256 of its fields, which loading verifies; not of the file's bytes): "
              f"`{_value(card.get('sha256'))}`", ""]
    lines += _quantization_lines(card.get("quantization"))
    lines += ["## Architecture and size", "",
              f"- {arch['name']}, size: {arch.get('size') or 'custom (no named size)'}",
              f"- parameters: {arch['parameters']:,}" if arch.get("parameters") else "- parameters: unknown"]
    diffs = arch.get("differences_from_paper") or {}
    if diffs:
        lines.append("- differences from the paper's defaults: " + "; ".join(
            f"{k} {d['model']} (paper {d['paper']})" for k, d in diffs.items()))
    else:
        lines.append("- differences from the paper's defaults: none (the paper's architecture)")
    lines += ["", "## Context", "", f"- context: {ctx['epochs']} ({ctx['description']})"]
    head = ctx.get("training") or {}
    if head:
        lines += [f"- encoder (the per-epoch network, trained first): {_value(head.get('encoder'))}",
                  f"- sequence head selected by {_value(head.get('selected_by'))} at its epoch "
                  f"{_value(head.get('selected_epoch'))} (from 0) of {_value(head.get('epochs_run'))}"]
    lines.append("")
    lines += ["## Channels", "",
              f"- {inp['epoch_seconds']:g}-s epochs at {inp['sampling_rate']:g} Hz ({inp.get('n_samples')} samples), "
              f"{inp['normalize']} normalisation"]
    lines += [f"- {c['role']}: {c['label']} ({_derivation(c)}{_source_rates(c)}; model input at {c['rate']:g} Hz)"
              for c in inp["channels"]]
    subjects = data.get("subjects") or {}
    nights = data.get("nights") if isinstance(data.get("nights"), dict) else {}
    lines += ["", "## Training data", "",
              f"- data: {_value(data.get('data'))}",
              f"- datasets (layouts): {_value(data.get('datasets'))}",
              _kind_line(data),
              f"- subjects: {subjects.get('train', 0)} training, {subjects.get('validation', 0)} validation",
              f"- nights: {nights.get('train', 'unknown')} training, {nights.get('validation', 'unknown')} validation"]
    split = [f"protocol {data['protocol']}"] if data.get("protocol") is not None else []
    split += [f"fold {data['fold']}"] if data.get("fold") is not None else []
    if split:
        lines.append(f"- split: {', '.join(split)}")
    lines += _stage_counts(data.get("epochs_per_stage") or {})
    lines += [f"- training subjects: {_value(data.get('train_subjects'))}",
              f"- validation subjects: {_value(data.get('validation_subjects'))}",
              f"- source files seen (sha1, {data['n_seen_sources']}, the models it was fine-tuned from included): "
              + (", ".join(f"`{h}`" for h in data["seen_sources"]) or "none recorded")]
    lines += ["", "## Augmentation", "", f"- mode: {aug['mode']}",
              f"- synthetic training epochs: {_value(aug.get('synthetic_train_epochs'))}"]
    if aug.get("settings"):
        lines.append(f"- settings: {aug['settings']}")
    parent = card.get("parent")
    lines += ["", "## Parent model", ""]
    lines += ([f"- fine-tuned from: {parent.get('file')}", f"- parent sha256: `{parent.get('sha256')}`",
               f"- parent weights sha1: `{parent.get('weights_sha1')}`",
               f"- frozen: {parent.get('freeze')}, learning rate {parent.get('learning_rate')}",
               f"- ancestors: {parent.get('ancestors')}"] if parent else ["- none: trained from scratch"])
    lines += ["", "## Selection", "", f"- selected by: {_value(sel.get('selected_by'))}",
              f"- selected epoch (from 0): {_value(sel.get('selected_epoch'))}"]
    lines += ["", "## Validation metrics", "", *_metrics_lines(card.get("validation_metrics"))]
    test = card.get("test_metrics")
    lines += ["", "## Test metrics", "",
              *(_metrics_lines(test) if test else ["- none: not tested (`isatsleepnet cv` records its test folds)"])]
    lines += ["", "## Software", "", f"- trained with isatsleepnet {_value(soft.get('trained_with'))}",
              f"- saved with isatsleepnet {_value(soft.get('saved_with'))} at {_value(soft.get('saved'))}",
              f"- card made with isatsleepnet {soft.get('card_made_with')}"]
    lines += ["", "## Intended use and limits", "", card["intended_use"], ""]
    lines += [f"- {limit}" for limit in card["limits"]]
    return "\n".join(lines) + "\n"
