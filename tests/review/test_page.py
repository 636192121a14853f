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


@pytest.fixture
def two_nights(browser, tmp_path):
    """Two staged nights served in one tab, the first one drawn: (their reviews, the page)."""
    reviews = [Review.open(write_staged(tmp_path / "s", STAGES, name=name), reviewer="ana")
               for name in ("night-a", "night-b")]
    server = start_server([(review, recording_of(len(STAGES))) for review in reviews])
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    try:
        page = context.new_page()
        page.goto(server.url)
        wait_drawn(page)
        page.wait_for_selector("#nights:not([hidden])")
        yield reviews, page
    finally:
        context.close()
        server.stop()


def test_a_folder_of_nights_is_listed_and_each_opens_in_the_tab(two_nights):
    reviews, page = two_nights
    assert page.eval_on_selector_all("#nights option", "o => o.map(x => x.value)") == ["night-a", "night-b"]
    with page.expect_navigation():
        page.select_option("#nights", "night-b")
    wait_drawn(page)
    assert page.locator("#night-name").inner_text() == "night-b"
    page.keyboard.press("3")  # epoch 0 of night-b: W -> N3
    wait_for(page, "s.version === 1")
    assert (reviews[1].version, reviews[0].version) == (1, 0) and reviews[1].state.stages[0] == "N3"
    assert "night=night-b" in page.url  # a reload stays on this night


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


# ---------------------------------------------------------------------- edits in flight, numbers, clock times
FIRST = 20  # a staging of a window from 600 s (`stage --start 600`): its epochs are numbered from 20


class HeldEdits:
    """Holds the page's edit requests until released, as a slow disk or a busy server would, without timing:
    what the page does while edits wait is then the same on every machine."""

    def __init__(self, page) -> None:
        self.page = page
        self.held: list = []
        self.holding = True
        page.route("**/api/edit*", self._arrived)

    def _arrived(self, route) -> None:
        if self.holding:
            self.held.append(route)
        else:
            route.continue_()

    def wait_held(self, count: int = 1) -> None:
        for _ in range(500):
            if len(self.held) >= count:
                return
            self.page.wait_for_timeout(20)  # the routes are handed over while the page is waited on
        raise AssertionError(f"{len(self.held)} edit(s) held, {count} expected")

    def release(self, count: int | None = None) -> None:
        """Let `count` held edits through (None: all, and hold no more)."""
        if count is None:
            self.holding = False
        for route in self.held[:count] if count is not None else self.held[:]:
            self.held.remove(route)
            route.continue_()


def status(page) -> str:
    return page.locator("#status").inner_text()


def journal_of(review) -> list[dict]:
    path = review.night.folder / f"{review.night.name}.review.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.fixture
def served_late(tmp_path):
    """A night staged from 600 s: rows 0-39 are epochs 20-59 of the recording."""
    csv_path = write_staged(tmp_path / "s", STAGES, name="night", first=FIRST)
    review = Review.open(csv_path, reviewer="ana")
    server = start_server([(review, recording_of(FIRST + len(STAGES)))])
    yield server
    server.stop()


@pytest.fixture
def late_page(browser, served_late):
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    opened = context.new_page()
    opened.add_init_script("""(() => {  // every text drawn, by canvas: what the ruler and the axis say
        window.drawnText = [];
        const fillText = CanvasRenderingContext2D.prototype.fillText;
        CanvasRenderingContext2D.prototype.fillText = function (text, ...rest) {
            window.drawnText.push([this.canvas.id, String(text)]);
            return fillText.call(this, text, ...rest);
        };
    })()""")
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.goto(served_late.url)
    wait_drawn(opened)
    yield opened
    context.close()
    assert not errors, errors


def test_the_status_says_saving_until_every_queued_edit_is_saved(page, served):
    """Before: each answer said "Saved: epoch 1 ..." while the edits typed after it still waited."""
    held = HeldEdits(page)
    page.keyboard.type("2323")
    wait_for(page, "s.epoch === 4 && s.unsaved === 4")
    held.wait_held()
    assert status(page).startswith("Saving")
    held.release(1)
    wait_for(page, "s.version === 1")
    assert status(page) == "Saving… (3 edits)"
    held.release()
    wait_for(page, "s.version === 4 && s.unsaved === 0")
    assert status(page) == "Saved: epoch 3 W → N3"
    assert [edit["new"] for edit in journal_of(served.review)] == ["N2", "N3", "N2", "N3"]


def test_leaving_with_edits_unsaved_asks_first_and_loses_none(page, served):
    """Before: a reload right after typing kept 3-5 of 8 edits, without a word."""
    held = HeldEdits(page)
    asked: list[str] = []
    page.on("dialog", lambda dialog: (asked.append(dialog.type), dialog.dismiss()))  # "stay on the page"
    page.keyboard.type("23232323")
    held.wait_held()
    page.evaluate("setTimeout(() => location.reload(), 0)")
    for _ in range(250):
        if asked:
            break
        page.wait_for_timeout(20)
    assert asked == ["beforeunload"]
    held.release()
    wait_for(page, "s.version === 8 && s.unsaved === 0")
    assert len(journal_of(served.review)) == 8
    page.reload()  # all saved: nothing to ask
    wait_drawn(page)
    assert asked == ["beforeunload"] and state(page)["version"] == 8 and state(page)["epoch"] == 8


def test_switching_nights_waits_for_the_edits_still_queued(two_nights):
    """Before: choosing another night reloaded the tab at once, and the edits still queued were lost."""
    reviews, page = two_nights
    held = HeldEdits(page)
    page.keyboard.type("333")
    held.wait_held()
    page.select_option("#nights", "night-b")
    page.wait_for_timeout(300)
    assert page.locator("#night-name").inner_text() == "night-a" and "Saving" in status(page)
    held.release()
    page.wait_for_function("document.getElementById('night-name').textContent === 'night-b'", timeout=10_000)
    assert reviews[0].version == 3 and reviews[0].state.stages[:3] == ["N3"] * 3 and reviews[1].version == 0


def test_undo_and_redo_right_after_a_key_act_on_what_it_left(page, served):
    """Before: Ctrl+Z pressed before the stage's answer came was dropped (and Ctrl+Y before the undo's)."""
    held = HeldEdits(page)
    page.keyboard.press("1")
    page.keyboard.press("Control+z")
    page.keyboard.press("Control+y")
    held.wait_held()
    held.release()
    wait_for(page, "s.version === 3 && s.unsaved === 0")
    assert [(e["action"], e["epoch"], e["new"]) for e in journal_of(served.review)] == [
        ("set", 0, "N1"), ("undo", 0, "W"), ("redo", 0, "N1")]
    assert state(page)["stages"][0] == "N1" and status(page) == "Redone: epoch 0 W → N1"
    page.keyboard.press("Control+y")  # nothing left to redo: said, nothing sent
    page.wait_for_function("document.getElementById('status').textContent === 'Nothing to redo'")
    assert served.review.version == 3


def test_a_stale_tab_returns_to_the_epochs_it_could_not_save_and_names_them(late_page, served_late):
    """Before: the tab reloaded at the epoch after the last key, the rejected epochs unnamed, and the next key
    was saved there."""
    page, review = late_page, served_late.review
    token = served_late.url.split("token=")[1]
    answer = page.request.post(served_late.url.split("?")[0] + "api/edit", headers={"X-Review-Token": token},
                               data=json.dumps({"action": "set", "epoch": 0, "stage": "N2", "version": 0}))
    assert answer.status == 200  # another tab scored the first epoch: this one is stale
    held = HeldEdits(page)
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    page.keyboard.type("www")
    wait_for(page, "s.epoch === 8")
    held.wait_held()
    held.release()
    wait_for(page, "s.version === 1 && s.unsaved === 0 && s.stages[0] === 'N2'")
    assert state(page)["epoch"] == 5 and page.locator("#epoch-number").inner_text() == "25"
    notice = page.locator("#notice-text").inner_text()
    assert "epochs 25, 26, 27" in notice and "epoch 25 again" in notice, notice
    page.keyboard.press("2")
    wait_for(page, "s.version === 2")
    assert review.journal.edits[-1].epoch == 5 and review.journal.edits[-1].onset_s == 750.0


def test_clock_times_and_epoch_numbers_are_those_of_the_staged_files(late_page, served_late):
    """Before: a staging from 600 s showed its first epoch at the recording's start time (22:30:00 for
    22:40:00) and numbered it 1 where NAME.hypnogram.csv and NAME.reviewed.csv number it 20."""
    page, review = late_page, served_late.review
    first = (review.night.csv.read_text().splitlines()[1]).split(",")
    assert (first[0], first[1], first[-1]) == ("20", "600", "22:40:00")
    assert page.locator("#epoch-number").inner_text() == "20"
    assert page.locator("#epoch-position").inner_text() == "1 of 40"
    assert page.locator("#epoch-time").inner_text() == "22:40:00"
    assert page.url.endswith("#epoch=20")
    drawn = page.evaluate("window.drawnText")
    ruler = [text for canvas, text in drawn if canvas == "signals"]
    axis = [text for canvas, text in drawn if canvas == "overview"]
    assert "22:40:05" in ruler and "Epoch 20 · W" in ruler and "22:30:05" not in ruler
    assert "23:00" in axis and "22:30" not in axis  # 40 epochs from 22:40
    page.keyboard.press("1")
    wait_for(page, "s.version === 1 && s.unsaved === 0")
    assert status(page) == "Saved: epoch 20 W → N1" and page.url.endswith("#epoch=21")
    reviewed = (review.night.folder / "night.reviewed.csv").read_text().splitlines()
    assert reviewed[1].startswith("20,600,W,") and ",N1,1,ana" in reviewed[1]
    for link, row, number in [("#epoch=27", 7, "27"), ("#epoch=3", 2, "22")]:  # #epoch=3: a link from before
        page.goto(served_late.url + link)
        page.reload()
        wait_drawn(page)
        assert state(page)["epoch"] == row and page.locator("#epoch-number").inner_text() == number
