"""A one-page HTML sleep report: one self-contained file (figures embedded as base64 PNG).

It renders the summary that staging also writes as JSON, so the page and the
JSON never disagree. Everything taken from files (labels, names) is escaped.
"""

from __future__ import annotations

import base64
from html import escape
from pathlib import Path
from typing import Any

from isatsleepnet import STAGES, __version__
from isatsleepnet.atomic import atomic_write_text
from isatsleepnet.inference.sleep_stats import LABELS
from isatsleepnet.time_axis import clock_time, elapsed

MAX_REVIEW_ROWS = 300

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;max-width:1100px;color:#222}
h1{font-size:1.5em;margin-bottom:0}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ddd}
.sub{color:#666;margin-top:4px}table{border-collapse:collapse;margin:8px 0;font-size:.92em}
th,td{padding:3px 10px;border-bottom:1px solid #eee;text-align:right}th:first-child,td:first-child{text-align:left}
th{background:#f6f6f6}img{max-width:100%}.note{color:#8a5a00}.cols{display:flex;gap:40px;flex-wrap:wrap}
footer{margin-top:2em;color:#777;font-size:.85em}
.warnings{background:#fdecea;border:2px solid #c62828;border-radius:6px;padding:10px 16px;margin:14px 0;color:#7f1212}
.warnings h2{margin:0 0 6px;border:none;color:#c62828}.warnings li{margin:3px 0}
"""


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.1f}{unit}"
    return f"{value}{unit}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _image(path: Path | None, alt: str) -> str:
    if path is None or not Path(path).is_file():
        return ""
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f'<p><img alt="{escape(alt)}" src="data:image/png;base64,{data}"></p>'


def clock(seconds: float, start: str | None, *, with_date: bool = False) -> str:
    """Clock time of an onset when the PSG start is known, else time from the start (:mod:`isatsleepnet.time_axis`)."""
    return clock_time(seconds, start, with_date=with_date) or elapsed(seconds)


def _summary_rows(stats: dict[str, Any], expert: dict[str, Any] | None) -> list[list[str]]:
    rows = []
    for key, label in LABELS.items():
        unit = " %" if key.endswith("percent") else ("" if key == "awakenings" else " min")
        row = [escape(label), _fmt(stats.get(key), unit)]
        if expert is not None:
            row.append(_fmt(expert.get(key), unit))
        rows.append(row)
    return rows


def _stage_rows(stats: dict[str, Any], expert: dict[str, Any] | None) -> list[list[str]]:
    rows = []
    for name in STAGES:
        s = stats["stages"][name]
        row = [name, _fmt(s["minutes"]), _fmt(s["percent_of_tib"], " %"), _fmt(s["percent_of_tst"], " %")]
        if expert is not None:
            e = expert["stages"][name]
            row += [_fmt(e["minutes"]), _fmt(e["percent_of_tst"], " %")]
        rows.append(row)
    return rows


def _training_data_line(trained: dict[str, Any]) -> str:
    """One line on what the model was trained on: synthetic and real recording counts, when recorded."""
    if "synthetic_recordings" not in trained:
        return ""
    n_syn, n_real = int(trained["synthetic_recordings"]), int(trained.get("real_recordings") or 0)
    line = f"Training data: {n_real} real and {n_syn} synthetic recording(s) (training and validation)"
    profile = trained.get("input_profile") or {}
    if profile:
        line += f"; input profile of {profile.get('n_epochs')} epochs from {profile.get('n_recordings')} recording(s)"
    return f"<p>{escape(line)}.</p>"


def _card_lines(card: dict[str, Any] | None) -> str:
    """The model card in brief (:func:`isatsleepnet.model.card.card_summary`); `isatsleepnet model-info` has it all."""
    if not card:
        return ""
    test = card.get("test")
    tested = (f"test metrics ({test.get('subjects', 0)} subject(s)): accuracy {100 * test['accuracy']:.1f} %, "
              f"Cohen's κ {test['kappa']:.3f}, macro-F1 {100 * test['macro_f1']:.1f} %"
              if test and all(isinstance(test.get(k), (int, float)) for k in ("accuracy", "kappa", "macro_f1"))
              else "no test metrics recorded (a model from `cv` carries its fold's)")
    rows = [("Architecture", card.get("architecture")), ("Context", card.get("context")),
            ("Training data", card.get("training_data")), ("Parent model", card.get("parent") or "none"),
            ("Test", tested)]
    items = "".join(f"<li>{escape(name)}: {escape(str(text))}</li>" for name, text in rows if text)
    loud = (f"<p class='note'><strong>{escape(card['synthetic_warning'])}.</strong></p>"
            if card.get("synthetic_warning") else "")
    return f"<p>Model card (<code>isatsleepnet model-info</code> prints all of it):</p><ul>{items}</ul>{loud}"


def render(summary: dict[str, Any], figures: dict[str, Path | None], review_rows: list[dict[str, Any]]) -> str:
    """The page for one staged recording. ``review_rows``: epoch, onset_s, stage, second, confidence."""
    rec, model, stats = summary["recording"], summary["model"], summary["statistics"]
    expert = summary.get("expert")
    expert_stats = expert["statistics"] if expert else None
    start = rec.get("start")
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Sleep report – {escape(rec['name'])}</title><style>{_CSS}</style></head><body>",
        f"<h1>Sleep report – {escape(rec['name'])}</h1>",
        f"<p class='sub'>{escape(rec['file'])}"
        + (f", recorded {escape(start.replace('T', ' '))}" if start else "")
        + f"; staged automatically by ISATSleepNet ({escape(model['backend'])} backend).</p>",
    ]
    if summary.get("warnings"):  # first thing on the page: what makes every number below doubtful
        parts.append("<div class='warnings' role='alert'><h2>Warnings</h2><ul>" + "".join(
            f"<li>{escape(w)}</li>" for w in summary["warnings"]) + "</ul></div>")
    channels = ", ".join(
        f"{escape(c['role'])}: {escape(c['label'])} ("
        + (f"derived as {escape(c['derived_from'][0])} − {escape(c['derived_from'][1])}, "
           if c.get("derived_from") else "")
        + f"{c['rate']:g} Hz)" for c in rec["channels"]
    )
    parts.append(
        f"<p>{rec['staged_epochs']} epochs of {rec['epoch_seconds']:g} s staged "
        f"(from {clock(rec['window_s'][0], start, with_date=True)} to {clock(rec['window_s'][1], start, with_date=True)}). "
        f"Channels {channels}.</p>"
    )
    parts.append("<h2>Sleep statistics</h2>")
    if rec.get("window_note"):  # beside the numbers it qualifies, not only among the notes
        parts.append(f"<p class='note'><strong>Note:</strong> {escape(rec['window_note'])}.</p>")
    parts.append("<div class='cols'>")
    header = ["", "ISATSleepNet"] + (["expert"] if expert else [])
    parts.append(_table(header, _summary_rows(stats, expert_stats)))
    stage_header = ["stage", "min", "% TIB", "% TST"] + (["expert min", "expert % TST"] if expert else [])
    parts.append(_table(stage_header, _stage_rows(stats, expert_stats)) + "</div>")
    parts.append("<h2>Hypnogram</h2>" + _image(figures.get("hypnogram"), "hypnogram"))
    parts.append("<h2>Hypnodensity</h2>" + _image(figures.get("hypnodensity"), "hypnodensity"))
    if expert and expert.get("agreement") is None:
        parts.append(f"<h2>Agreement with the expert hypnogram</h2><p>{escape(expert['file'])}: "
                     "the expert scores none of the staged epochs, so there is nothing to compare.</p>")
    elif expert:
        agreement = expert["agreement"]
        parts.append(
            f"<h2>Agreement with the expert hypnogram</h2><p>{escape(expert['file'])}: "
            f"{agreement['n_epochs']} scored epochs; accuracy {100 * agreement['accuracy']:.1f} %, "
            f"Cohen's κ {agreement['kappa']:.3f}, macro-F1 {100 * agreement['macro_f1']:.1f} %.</p>"
        )
        cm = agreement["confusion_matrix"]
        rows = [[f"expert {STAGES[i]}", *(str(v) for v in cm[i]),
                 _fmt(100 * agreement["per_class_f1"][STAGES[i]])] for i in range(len(STAGES))]
        parts.append(_table(["", *(f"pred {s}" for s in STAGES), "F1 %"], rows))
    review = summary["review"]
    parts.append(
        f"<h2>Epochs to review</h2><p>{review['flagged_epochs']} epochs "
        f"({_fmt(review['percent'], ' %')}) have a confidence below {review['min_confidence']:g} "
        "(confidence = 1 − entropy of the stage probabilities / log 5; 1 is certain, 0 is uniform). "
        "They are marked in the CSV (column <code>review</code>), in the annotation file and above the hypnodensity.</p>"
    )
    if review_rows:  # the times of the CSV (clock_time) and of the figures' axis (elapsed from the window start)
        shown = review_rows[:MAX_REVIEW_ROWS]
        origin = rec["window_s"][0]
        known = clock_time(0.0, start) is not None
        rows = [[str(r["epoch"]), *([clock_time(r["onset_s"], start)] if known else []),
                 elapsed(r["onset_s"] - origin), escape(r["stage"]), escape(r["second"]),
                 f"{r['confidence']:.2f}"] for r in shown]
        parts.append(_table(["epoch", *(["clock time"] if known else []), "elapsed", "stage", "runner-up",
                             "confidence"], rows))
        parts.append("<p>Elapsed: time from the start of the staged window, as on the figures' time axis.</p>")
        if len(review_rows) > len(shown):
            parts.append(f"<p>… and {len(review_rows) - len(shown)} more in the CSV.</p>")
    if summary.get("notes"):
        parts.append("<h2>Notes</h2><ul>" + "".join(
            f"<li class='note'>{escape(n)}</li>" for n in summary["notes"]) + "</ul>")
    trained = model.get("training") or {}
    parts.append(
        f"<h2>Model</h2><p>{escape(model['file'])}: channels {escape(', '.join(model['channels']))} at "
        f"{model['sampling_rate']:g} Hz, {escape(model['normalize'])} normalisation"
        + (f"; trained on {escape(str(trained.get('data')))}" if trained.get("data") else "")
        + ".</p>" + _training_data_line(trained) + _card_lines(model.get("card"))
    )
    parts.append(
        f"<footer>isatsleepnet {escape(__version__)}. Automatic sleep staging is a decision aid: "
        "an expert should review it, starting with the flagged epochs.</footer></body></html>"
    )
    return "\n".join(parts)


def write_report(path: str | Path, summary: dict[str, Any], figures: dict[str, Path | None],
                 review_rows: list[dict[str, Any]]) -> Path:
    atomic_write_text(path, render(summary, figures, review_rows))
    return Path(path)
