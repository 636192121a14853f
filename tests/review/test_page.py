"""The review page in a real browser (Chromium through Playwright) against a running review server."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

sync_api = pytest.importorskip("playwright.sync_api", reason="the page tests drive a browser with Playwright")
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
if CHROMIUM is None:
    pytest.skip("the page tests need a Chromium binary (chromium on PATH or /usr/bin/chromium)",
                allow_module_level=True)

from isatsleepnet.data.readers.memory import MemoryRecording  # noqa: E402
from isatsleepnet.review.serve import start_server  # noqa: E402
from isatsleepnet.review.session import Review  # noqa: E402
from tests.review.conftest import write_staged  # noqa: E402

RATE = 100.0
STAGES = (["W"] * 4 + ["N1", "N2", "N2", "N3", "N3", "N2", "REM", "REM"]) * 3 + ["N2"] * 4  # 40 epochs
EXPERT = [("N1" if i in (5, 20) else s) for i, s in enumerate(STAGES)]  # differs from the model at 2, 5, 10, 20
CHANNELS = ["EEG Fpz-Cz", "EOG horizontal", "EMG submental"]


def recording_of(epochs: int) -> MemoryRecording:
    rng = np.random.default_rng(1)
    t = np.arange(int(epochs * 30 * RATE)) / RATE
    signals = np.stack([40 * np.sin(2 * np.pi * 2 * t) + rng.normal(0, 5, t.size),
                        80 * np.sin(2 * np.pi * 0.5 * t) + rng.normal(0, 5, t.size),
                        rng.normal(0, 10, t.size)])
    return MemoryRecording.from_arrays(signals, RATE, CHANNELS)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def served(tmp_path):
    csv_path = write_staged(tmp_path / "s", STAGES, name="night", expert=EXPERT)
    review = Review.open(csv_path, reviewer="ana")
    server = start_server([(review, recording_of(len(STAGES)))])
    yield server
    server.stop()


@pytest.fixture
def page(browser, served):
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.goto(served.url)
    wait_drawn(opened)
    yield opened
    context.close()
    assert not errors, errors


def state(page) -> dict:
    return page.evaluate("JSON.parse(JSON.stringify(window.reviewState))")


def wait_drawn(page, more_than: int = 0) -> None:
    page.wait_for_function(f"window.reviewState && window.reviewState.drawn > {more_than}", timeout=10_000)


def wait_for(page, condition: str) -> None:
    page.wait_for_function(f"(s => {condition})(window.reviewState)", timeout=10_000)


def dark_trace_pixels(page) -> int:
    """Dark pixels in the signal canvas's plot area (below the ruler, right of the labels): the traces."""
    return page.evaluate("""() => {
        const canvas = document.getElementById('signals');
        const ratio = canvas.width / canvas.getBoundingClientRect().width;
        const x0 = Math.round(130 * ratio), y0 = Math.round(40 * ratio);
        const data = canvas.getContext('2d').getImageData(x0, y0, canvas.width - x0, canvas.height - y0).data;
        let dark = 0;
        for (let i = 0; i < data.length; i += 4) {
            if (data[i + 3] > 200 && 0.299 * data[i] + 0.587 * data[i + 1] + 0.114 * data[i + 2] < 120) dark++;
        }
        return dark;
    }""")


def test_the_page_opens_and_draws_the_signals(page, served):
    assert page.title().startswith("night")
    assert dark_trace_pixels(page) > 2000  # three traces across the window, not an empty grid
    checked = page.eval_on_selector_all("#channels input", "boxes => boxes.map(b => b.checked)")
    assert checked == [True, True, False]  # default: the EEG and EOG channels
    assert page.locator("#flagged-reviewed").inner_text() == "0 / 2"
    overview = page.evaluate("""() => { const c = document.getElementById('overview');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let ink = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) ink++; return ink; }""")
    assert overview > 10_000

    wait_for(page, "s.spectrogram")  # fetched after the night, computed once and cached beside the review
    assert (served.review.night.folder / "night.review-spectrogram.npz").is_file()


def test_keys_page_and_relabel_saved_on_the_server(page, served):
    page.keyboard.press("ArrowRight")
    wait_for(page, "s.epoch === 1")
    page.keyboard.press("1")  # epoch 1 (W) -> N1, then the page advances to epoch 2
    wait_for(page, "s.stages[1] === 'N1'")
    assert state(page)["epoch"] == 2 and state(page)["version"] == 1
    assert served.review.state.stages[1] == "N1" and served.review.state.reviewed[1] == "ana"
    journal = (served.review.night.folder / "night.review.jsonl").read_text().splitlines()
    assert len(journal) == 1 and json.loads(journal[0])["new"] == "N1"
    assert page.locator("#epochs-reviewed").inner_text() == "1 / 40"
    assert "accuracy" in page.locator("#agreement").inner_text()
    page.keyboard.press("PageDown")
    wait_for(page, "s.epoch === 3")
    page.keyboard.press("End")
    wait_for(page, "s.epoch === 39")
    page.keyboard.press("Home")
    wait_for(page, "s.epoch === 0")


def test_undo_and_redo_with_ctrl_z_and_ctrl_y(page, served):
    page.keyboard.press("3")
    wait_for(page, "s.stages[0] === 'N3'")
    page.keyboard.press("Control+z")
    wait_for(page, "s.stages[0] === 'W' && s.version === 2")
    assert served.review.state.stages[0] == "W"
    page.keyboard.press("Control+y")
    wait_for(page, "s.stages[0] === 'N3' && s.version === 3")
    page.keyboard.press("Control+z")
    wait_for(page, "s.version === 4")
    page.keyboard.press("Control+Shift+Z")
    wait_for(page, "s.stages[0] === 'N3' && s.version === 5")
    assert served.review.state.stages[0] == "N3" and served.review.version == 5


def test_brackets_go_to_the_flagged_epochs_and_braces_to_disagreements(page):
    page.keyboard.press("]")
    wait_for(page, "s.epoch === 2")
    page.keyboard.press("]")
    wait_for(page, "s.epoch === 10")
    page.keyboard.press("[")
    wait_for(page, "s.epoch === 2")
    page.keyboard.press("}")
    wait_for(page, "s.epoch === 5")
    page.keyboard.press("}")  # the flagged epochs are N1 to the model, not so to the second scorer
    wait_for(page, "s.epoch === 10")
    page.keyboard.press("}")
    wait_for(page, "s.epoch === 20")
    page.keyboard.press("{")
    wait_for(page, "s.epoch === 10")


def test_a_reload_resumes_where_the_review_stands(page, served):
    page.keyboard.press("ArrowRight")
    page.keyboard.press("r")
    wait_for(page, "s.stages[1] === 'REM' && s.epoch === 2")
    before = state(page)
    page.reload()
    wait_drawn(page)
    after = state(page)
    assert after["stages"] == before["stages"] and after["version"] == before["version"] == 1
    assert after["epoch"] == 2


def test_a_stale_tab_reloads_the_night_instead_of_overwriting(page, served):
    token = served.url.split("token=")[1]
    answer = page.request.post(served.url.split("?")[0] + "api/edit", headers={"X-Review-Token": token},
                               data=json.dumps({"action": "set", "epoch": 0, "stage": "N2", "version": 0}))
    assert answer.status == 200
    page.keyboard.press("5")  # made on version 0: refused with 409, the page reloads the night
    wait_for(page, "s.version === 1 && s.stages[0] === 'N2'")
    assert page.locator("#notice").is_visible() and "reloaded" in page.locator("#notice-text").inner_text()
    assert served.review.state.stages[0] == "N2" and served.review.version == 1


def test_window_length_gain_and_key_map(page):
    drawn = state(page)["drawn"]
    page.select_option("#window-seconds", "120")
    wait_drawn(page, drawn)
    assert dark_trace_pixels(page) > 2000
    drawn = state(page)["drawn"]
    page.keyboard.press("+")
    wait_drawn(page, drawn)
    assert page.locator("#keymap").is_hidden()
    page.keyboard.press("?")
    assert page.locator("#keymap").is_visible()
    page.keyboard.press("?")
    assert page.locator("#keymap").is_hidden()


def test_a_request_without_the_token_gets_403(page, served):
    bare = served.url.split("?")[0]
    assert page.request.get(bare).status == 403
    assert page.request.get(bare + "api/night").status == 403
    assert page.request.get(bare + "page/review.js").status == 403
    assert page.request.get(served.url).status == 200


def test_a_folder_of_nights_is_listed_and_each_opens_in_the_tab(browser, tmp_path):
    reviews = [Review.open(write_staged(tmp_path / "s", STAGES, name=name), reviewer="ana")
               for name in ("night-a", "night-b")]
    server = start_server([(review, recording_of(len(STAGES))) for review in reviews])
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    try:
        page = context.new_page()
        page.goto(server.url)
        wait_drawn(page)
        page.wait_for_selector("#nights:not([hidden])")
        assert page.eval_on_selector_all("#nights option", "o => o.map(x => x.value)") == ["night-a", "night-b"]
        with page.expect_navigation():
            page.select_option("#nights", "night-b")
        wait_drawn(page)
        assert page.locator("#night-name").inner_text() == "night-b"
        page.keyboard.press("3")  # epoch 0 of night-b: W -> N3
        wait_for(page, "s.version === 1")
        assert (reviews[1].version, reviews[0].version) == (1, 0) and reviews[1].state.stages[0] == "N3"
        assert "night=night-b" in page.url  # a reload stays on this night
    finally:
        context.close()
        server.stop()


def test_a_derivation_and_the_display_filters_change_what_is_drawn(page, served):
    page.fill("#derivation", "EEG Fpz-Cz-EMG submental")
    page.click("#derivation-form button")
    page.wait_for_function("document.querySelectorAll('#channels input').length === 4")
    drawn = state(page)["drawn"]
    wait_drawn(page, drawn - 1)
    page.fill("#derivation", "nonsense")
    page.click("#derivation-form button")
    page.wait_for_function("document.getElementById('status').textContent.includes('neither a channel')")
    assert page.eval_on_selector_all("#channels input", "b => b.length") == 4  # refused: not added
    drawn = state(page)["drawn"]
    page.select_option("select[aria-label='eeg low-pass']", "15")
    wait_drawn(page, drawn)
    assert page.evaluate("JSON.parse(localStorage.getItem('isatsleepnet-review:night')).filters.eeg") == [0.3, 15, None]
