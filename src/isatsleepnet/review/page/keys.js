/* ISATSleepNet review page: the key map (the same as the "?" panel and docs/review.md).
 *
 * Plain script, no modules: it defines one global, ReviewKeys, that review.js uses.
 * Keys are read from the page, not from a select or text field the reviewer is typing in.
 */
"use strict";

(function () {
  const STAGE_KEYS = { w: "W", W: "W", 0: "W", 1: "N1", 2: "N2", 3: "N3", r: "REM", R: "REM", 5: "REM" };
  const NAV_KEYS = {
    ArrowLeft: "prev", ArrowRight: "next", PageUp: "prev-window", PageDown: "next-window",
    "]": "next-flagged", "[": "prev-flagged", "}": "next-disagreement", "{": "prev-disagreement",
    Home: "first", End: "last",
  };

  /** Call `actions` on keys: {ready() -> bool, score(stage), go(name of NAV_KEYS' values), undo(), redo(),
   *  gain(factor), keymap(show: true/false/undefined to toggle)}. */
  function bind(actions) {
    document.addEventListener("keydown", (event) => {
      if (!actions.ready()) return;
      const target = event.target;
      if (target && (target.tagName === "SELECT" || (target.tagName === "INPUT" && target.type !== "checkbox"))) return;
      const key = event.key;
      if (event.ctrlKey || event.metaKey) {
        const lower = key.toLowerCase();
        if (lower === "z" && !event.shiftKey) { event.preventDefault(); actions.undo(); }
        else if (lower === "y" || (lower === "z" && event.shiftKey)) { event.preventDefault(); actions.redo(); }
        return;
      }
      if (event.altKey) return;
      if (key === "?") { event.preventDefault(); actions.keymap(); return; }
      if (key === "Escape") { actions.keymap(false); return; }
      if (Object.prototype.hasOwnProperty.call(STAGE_KEYS, key)) { event.preventDefault(); actions.score(STAGE_KEYS[key]); return; }
      if (NAV_KEYS[key]) { event.preventDefault(); actions.go(NAV_KEYS[key]); return; }
      if (key === "+" || key === "=") { event.preventDefault(); actions.gain(1.5); return; }
      if (key === "-" || key === "_") { event.preventDefault(); actions.gain(1 / 1.5); }
    });
  }

  window.ReviewKeys = { bind, STAGE_KEYS, NAV_KEYS };
})();
