"""The review page on an EDF+D (tests/review/conftest.py's write_gapped_edf) in a real browser.

Before: the overview's clock ticks ran evenly over the rows, so after a gap each tick stood on an epoch
recorded that much later; a window in a gap showed empty lanes without a word; a gap inside a window
was drawn over by a straight line; paging by window skipped the epochs of a window cut short by a gap.
"""

from __future__ import annotations

import re

import pytest

from isatsleepnet.data.readers.edf import EdfRecording
from isatsleepnet.review.serve import start_server
from isatsleepnet.review.session import Review
from tests.review.conftest import GAPPED_NUMBERS, MODEL_STAGES, write_gapped_edf, write_staged
from tests.review.test_page import browser, state, wait_drawn, wait_for  # noqa: F401 - browser: a fixture

CAPTURE = """(() => {  // every text drawn, with its canvas and x (CSS px)
    window.drawnAt = [];
    const fillText = CanvasRenderingContext2D.prototype.fillText;
    CanvasRenderingContext2D.prototype.fillText = function (text, x, ...rest) {
        window.drawnAt.push([this.canvas.id, String(text), x]);
        return fillText.call(this, text, x, ...rest);
    };
})()"""
NO_DATA = "no data recorded here (a gap of the recording)"


@pytest.fixture
def served(tmp_path):
    """Rows 0-7: 22:30-22:34 (records 0-7); a 30-s gap; rows 8-13: 22:34:30-22:37:30; row 14: 22:40, inside a
    10-min gap; rows 15-20: 22:47:30-22:50:30 (the staged night starts at 22:30:00)."""
    edf = write_gapped_edf(tmp_path / "night.edf")
    stages = (MODEL_STAGES * 2)[:len(GAPPED_NUMBERS)]
    review = Review.open(write_staged(tmp_path / "s", stages, numbers=GAPPED_NUMBERS, recording=edf), reviewer="ana")
    server = start_server([(review, EdfRecording.open(edf))])
    yield server
    server.stop()


def open_page(browser, url: str):  # noqa: F811 - the fixture's browser
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.add_init_script(CAPTURE)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    wait_drawn(page)
    return context, page, errors


def drawn(page, canvas: str) -> list[tuple[str, float]]:
    return [(text, x) for where, text, x in page.evaluate("window.drawnAt") if where == canvas]


def dark_pixels(page, x0: float, x1: float) -> int:
    """Dark pixels (the traces) of the signal canvas between x0 and x1 (CSS px), below the ruler."""
    return page.evaluate("""([x0, x1]) => {
        const canvas = document.getElementById('signals');
        const ratio = canvas.width / canvas.getBoundingClientRect().width;
        const y0 = Math.round(40 * ratio);
        const data = canvas.getContext('2d').getImageData(Math.round(x0 * ratio), y0, Math.round((x1 - x0) * ratio),
                                                          canvas.height - y0).data;
        let dark = 0;
        for (let i = 0; i < data.length; i += 4) {
            if (data[i + 3] > 200 && 0.299 * data[i] + 0.587 * data[i + 1] + 0.114 * data[i + 2] < 120) dark++;
        }
        return dark;
    }""", [x0, x1])


def test_the_overview_ticks_after_a_gap_stand_on_the_epochs_recorded_then(browser, served):  # noqa: F811
    context, page, errors = open_page(browser, served.url)
    try:
        page.keyboard.press("ArrowRight")  # the overview drawn again, its geometry published
        wait_for(page, "s.epoch === 1 && s.overview")
        layout = state(page)["overview"]
        assert layout["n"] == len(GAPPED_NUMBERS)
        row_x = {round(layout["left"] + row * layout["width"] / layout["n"]): row for row in range(layout["n"])}
        ticks = {text: x for text, x in drawn(page, "overview") if re.fullmatch(r"\d\d:\d\d", text)}
        at = {text: row_x.get(round(x)) for text, x in ticks.items()}
        # 22:35 is 300 s: row 9 (epoch 10, 300-330 s), not row 10 as 10 rows of 30 s would have it
        assert at["22:30"] == 0 and at["22:35"] == 9 and at["22:37"] == 13
        assert at["22:40"] == 14  # the row inside the long gap
        assert at["22:48"] == 16 and at["22:50"] == 20  # after the 10-min gap (before: past the axis, not drawn)
        assert not {"22:34", "22:38", "22:44", "22:46"} & set(ticks)  # no row holds these times: no tick
        assert not errors, errors
    finally:
        context.close()


def test_a_window_with_nothing_recorded_says_so(browser, served):  # noqa: F811
    context, page, errors = open_page(browser, served.url + "#epoch=20")
    try:
        wait_for(page, "s.epoch === 14")
        page.wait_for_function(f"window.drawnAt.some(d => d[0] === 'signals' && d[1] === {NO_DATA!r})")
        assert sum(text == NO_DATA for text, _ in drawn(page, "signals")) >= 2  # in each lane: EEG and EOG
        assert not errors, errors
    finally:
        context.close()


def test_a_gap_in_a_window_breaks_the_trace_and_paging_keeps_every_window(browser, served):  # noqa: F811
    context, page, errors = open_page(browser, served.url)
    try:
        done = state(page)["drawn"]
        page.select_option("#window-seconds", "300")  # 0-300 s: rows 0-7, the 30-s gap (240-270 s), record 8
        wait_drawn(page, done)
        page.wait_for_function("window.drawnAt.some(d => d[0] === 'signals' && d[1] === 'EEG Fpz-Cz')")
        width = page.evaluate("document.getElementById('signals').getBoundingClientRect().width")
        tx = lambda t: 118 + t * (width - 128) / 300  # noqa: E731 - signals.js's plot: 118 px left, 10 right
        assert dark_pixels(page, tx(200), tx(235)) > 200 and dark_pixels(page, tx(272), tx(298)) > 200
        assert dark_pixels(page, tx(243), tx(267)) == 0  # before: a straight line across the gap
        walk = []
        for key in ["PageDown"] * 3 + ["PageUp"] * 3:
            page.keyboard.press(key)
            walk.append(page.evaluate("window.reviewState.epoch"))
        # windows [0, 8), [8, 14), [14, 15), [15, 21): before, PageDown went 0 -> 10, past rows 8 and 9
        assert walk == [8, 14, 15, 14, 8, 0]
        assert not errors, errors
    finally:
        context.close()
