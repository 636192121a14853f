"""The review server's HTTP interface: one night, its windows of signals, and its edits.

Why each request carries a token: the server listens on a port any local user can reach;
as Jupyter does, a random token in the printed address is the key, and a request
without it gets 403. Requests name epochs and channels of the one night the server was
started for; no path from a request reaches the file system.

Endpoints (each with ``?token=...`` or the header ``X-Review-Token``; those under ``/api``
name their night with ``?night=NAME``, the first one by default):

- ``GET /``: the page (``index.html``, the token written into its links); ``GET /page/NAME``
  its scripts and style, from the package;
- ``GET /api/nights``: the nights served, each with its review progress;
- ``GET /api/night``: the night as JSON (stages, probabilities, flags, channels, progress; ``onsets``
  in seconds from the recording's start; ``numbers``, each epoch's number in NAME.hypnogram.csv's
  ``epoch`` column, which the page shows: edits name the row);
- ``GET /api/window?start=S&seconds=30&channels=A,B-C&filters=JSON``: signals (a channel, or a
  derivation of two) from ``S`` seconds after the recording's start, display-filtered
  (:func:`display_filters`; AASM's defaults otherwise), packed by :func:`isatsleepnet.review.windows.pack`
  (NaN where an EDF+D recorded nothing: each recording is read in real time,
  :func:`~isatsleepnet.data.readers.real_time.in_real_time`, as staging reads it);
- ``GET /api/spectrogram``: the first EEG channel's spectrogram, one column per epoch, packed by
  :meth:`isatsleepnet.review.overview.Spectrogram.pack` (computed once, cached beside the review);
- ``POST /api/edit`` with ``{"action": "set"|"undo"|"redo", "epoch", "stage", "version"}``:
  answered once the edit is on disk; 409 when ``version`` is stale (reload), 400 for a bad edit.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Sequence
from typing import Any

from isatsleepnet.data.readers.recording import Recording
from isatsleepnet.errors import IsatSleepNetError, SettingError
from isatsleepnet.review.session import Review, epoch_numbers
from isatsleepnet.review.state import StaleVersion
from isatsleepnet.review.windows import WINDOW_SECONDS, DisplayFilter, channel_type, pack, read_window

TOKEN_HEADER = "X-Review-Token"


def new_token() -> str:
    """A random token for the address (32 bytes, URL-safe)."""
    return secrets.token_urlsafe(32)


def night_summary(review: Review, recording: Recording | None) -> dict[str, Any]:
    """What the page needs of the night, as JSON-ready values."""
    night, state = review.night, review.state
    channels = [] if recording is None else [
        {"label": s.label, "rate": float(s.rate), "type": channel_type(s.label)} for s in recording.signals]
    return {
        "name": night.name,
        "epoch_seconds": night.epoch_seconds,
        "start": night.start.isoformat() if night.start else None,
        "onsets": [float(x) for x in night.onsets_s],
        "numbers": epoch_numbers(night),
        "model": state.model,
        "stages": state.stages,
        "reviewed": state.reviewed,
        "probabilities": [[round(float(p), 4) for p in row] for row in night.probabilities],
        "confidence": [round(float(c), 4) for c in night.confidence],
        "flagged": [bool(f) for f in night.flagged],
        "expert": night.expert,
        "channels": channels,
        "windows": list(WINDOW_SECONDS),
        "lights": lights_of(recording),
        "gaps": gaps_of(night.onsets_s, night.epoch_seconds),
        "recovered_bytes": review.journal.recovered_bytes,
        **_progress(review),
    }


def lights_of(recording: Recording | None) -> dict[str, float | None]:
    """Onsets (s) of the first "Lights off" annotation and of the last "Lights on" after it (None: none)."""
    from isatsleepnet.inference.raw import lights_marker

    if recording is None:
        return {"off": None, "on": None}
    markers = [(lights_marker(a.text), a.onset) for a in recording.annotations]
    offs = sorted(onset for kind, onset in markers if kind == "off")
    off = offs[0] if offs else None
    ons = [onset for kind, onset in markers if kind == "on" and (off is None or onset > off)]
    return {"off": off, "on": max(ons) if ons else None}


def gaps_of(onsets_s: Any, epoch_seconds: float) -> list[dict[str, float]]:
    """Where the staged epochs skip time (an EDF+D gap, samples that were not finite): after which row, how long.

    Examples
    --------
    >>> gaps_of([0.0, 30.0, 120.0, 150.0], 30.0)
    [{'after': 1, 'seconds': 60.0}]
    """
    return [{"after": i, "seconds": float(b - a - epoch_seconds)}
            for i, (a, b) in enumerate(zip(onsets_s[:-1], onsets_s[1:])) if b - a > epoch_seconds + 1e-6]


def display_filters(text: str | None) -> dict[str, DisplayFilter]:
    """The ``filters`` of a window request: JSON ``{"eeg": [high_pass, low_pass, notch], "C4-M1": [...]}``
    (a channel type or label; ``null`` for a filter that is off), checked; absent: the defaults.

    Examples
    --------
    >>> display_filters('{"emg": [10, null, 50]}')
    {'emg': DisplayFilter(high_pass=10, low_pass=None, notch=50)}
    """
    if not text:
        return {}
    try:
        given = json.loads(text)
        if not isinstance(given, dict) or not all(isinstance(v, list) and len(v) == 3 for v in given.values()):
            raise ValueError("not an object of [high_pass, low_pass, notch] lists")
    except ValueError as exc:
        raise SettingError("filters", f"must be JSON such as {{\"eeg\": [0.3, 35, null]}} ({exc})") from None
    return {str(key): DisplayFilter(*value) for key, value in given.items()}


def _progress(review: Review) -> dict[str, Any]:
    return {"version": review.version, "can_undo": review.state.can_undo, "can_redo": review.state.can_redo,
            "progress": review.progress(), "agreement": review.agreement(),
            "agreement_with_expert": review.agreement_with_expert()}


def night_list(nights: Sequence[tuple[Review, Recording | None]]) -> list[dict[str, Any]]:
    """Each night of the server with its review progress, for the page's list of nights."""
    return [{"name": review.night.name, **review.progress()} for review, _ in nights]


def review_app(nights: Sequence[tuple[Review, Recording | None]], token: str) -> Any:
    """The Starlette application serving ``nights`` (each a review and its recording) to holders of ``token``.

    Every ``/api`` request names its night with ``?night=NAME`` (default: the first).

    Examples
    --------
    >>> from starlette.testclient import TestClient  # doctest: +SKIP
    >>> client = TestClient(review_app([(review, recording)], "secret"))  # doctest: +SKIP
    >>> client.get("/api/night", headers={"X-Review-Token": "secret"}).json()["version"]  # doctest: +SKIP
    0
    """
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    from isatsleepnet.data.readers.real_time import in_real_time

    if not nights:
        raise IsatSleepNetError("a review server needs at least one night")
    # windows and the spectrogram index samples by time from the recording's start: an EDF+D's gaps and late
    # first record must be where they were recorded (staging maps them the same way)
    nights = [(review, None if recording is None else in_real_time(recording)) for review, recording in nights]
    by_name = {review.night.name: (review, recording) for review, recording in nights}
    first = nights[0][0].night.name
    edits = threading.Lock()  # one edit at a time: each journal is appended in order
    overview = threading.Lock()  # a spectrogram is computed once, by the first request that needs it

    def allowed(request: Request) -> bool:
        given = request.query_params.get("token") or request.headers.get(TOKEN_HEADER) or ""
        return secrets.compare_digest(given.encode(), token.encode())

    def refused() -> JSONResponse:
        return JSONResponse({"error": "this address needs the token printed when the server started"},
                            status_code=403)

    def chosen(request: Request) -> tuple[Review, Recording | None] | None:
        return by_name.get(request.query_params.get("night") or first)

    def unknown(request: Request) -> JSONResponse:
        return JSONResponse({"error": f"no night {request.query_params.get('night')!r} here; nights: "
                                      f"{', '.join(by_name)}"}, status_code=404)

    def night_list_route(request: Request) -> Response:
        if not allowed(request):
            return refused()
        with edits:
            return JSONResponse(night_list(nights))

    def night(request: Request) -> Response:
        if not allowed(request):
            return refused()
        if (picked := chosen(request)) is None:
            return unknown(request)
        with edits:
            return JSONResponse(night_summary(*picked))

    def window(request: Request) -> Response:
        if not allowed(request):
            return refused()
        if (picked := chosen(request)) is None:
            return unknown(request)
        recording = picked[1]
        if recording is None:
            return JSONResponse({"error": "the recording is not open: no signals to show"}, status_code=404)
        params = request.query_params
        try:
            start = float(params.get("start", "0"))
            seconds = int(params.get("seconds", "30"))
        except ValueError:
            return JSONResponse({"error": "start and seconds must be numbers"}, status_code=400)
        labels = [c for c in params.get("channels", "").split(",") if c]
        if not labels:
            return JSONResponse({"error": "name one or more channels"}, status_code=400)
        try:
            filters = display_filters(params.get("filters"))
            traces = read_window(recording, labels, start, seconds, filters)
        except IsatSleepNetError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return Response(pack(traces), media_type="application/octet-stream")

    async def edit(request: Request) -> Response:
        if not allowed(request):
            return refused()
        if (picked := chosen(request)) is None:
            return unknown(request)
        try:
            body = json.loads(await request.body())
            action, version = body["action"], body["version"]
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"error": "an edit is JSON with action, version (and epoch, stage to set)"},
                                status_code=400)
        return _apply(picked[0], action, body, version)

    def _apply(review: Review, action: str, body: dict[str, Any], version: Any) -> Response:
        if isinstance(version, bool) or not isinstance(version, int):
            return JSONResponse({"error": f"version must be a whole number, not {version!r}"}, status_code=400)
        with edits:
            try:
                if action == "set":
                    made = review.set_stage(body.get("epoch"), body.get("stage"), version=version)
                elif action == "undo":
                    made = review.undo(version=version)
                elif action == "redo":
                    made = review.redo(version=version)
                else:
                    raise SettingError("action", f"must be set, undo or redo, not {action!r}")
            except StaleVersion as exc:
                return JSONResponse({"error": str(exc), "version": exc.current}, status_code=409)
            except IsatSleepNetError as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
            return JSONResponse({"edit": {"epoch": made.epoch, "old": made.old, "new": made.new,
                                          "action": made.action}, **_progress(review)})

    def spectrogram(request: Request) -> Response:
        from isatsleepnet.review.overview import cached, first_eeg

        if not allowed(request):
            return refused()
        if (picked := chosen(request)) is None:
            return unknown(request)
        review, recording = picked
        label = first_eeg(recording) if recording is not None else None
        if recording is None or label is None:
            return JSONResponse({"error": "the recording has no EEG channel to show a spectrogram of"},
                                status_code=404)
        with overview:
            result = cached(review.path(".review-spectrogram.npz"), recording, label, review.night.onsets_s,
                            review.night.epoch_seconds)
        return Response(result.pack(), media_type="application/octet-stream")

    def page(request: Request) -> Response:
        if not allowed(request):
            return refused()
        return Response(page_file("index.html").replace("{{TOKEN}}", token), media_type="text/html",
                        headers={"Cache-Control": "no-store"})

    def asset(request: Request) -> Response:
        if not allowed(request):
            return refused()
        name = request.path_params["name"]
        if name not in PAGE_FILES:  # only the page's own files: no path from a request reaches the disk
            return JSONResponse({"error": "no such file"}, status_code=404)
        return Response(page_file(name), media_type=PAGE_FILES[name], headers={"Cache-Control": "no-store"})

    return Starlette(routes=[Route("/", page), Route("/page/{name}", asset), Route("/api/nights", night_list_route),
                             Route("/api/night", night), Route("/api/window", window),
                             Route("/api/spectrogram", spectrogram), Route("/api/edit", edit, methods=["POST"])])


PAGE_FILES = {"index.html": "text/html", "review.css": "text/css",
              **{f"{name}.js": "text/javascript"
                 for name in ("draw", "overview", "signals", "api", "controls", "panels", "keys", "review")}}
"""The page's files (in ``isatsleepnet/review/page/``) and their types; nothing else is served."""


def page_file(name: str) -> str:
    """The text of one of the page's files, shipped inside the package."""
    from importlib import resources

    return resources.files("isatsleepnet.review").joinpath("page", name).read_text(encoding="utf-8")
