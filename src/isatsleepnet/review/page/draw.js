/* ISATSleepNet review page: what every canvas shares (stage colours, sizing, fonts, scales,
 * clock labels) and the probability bars. overview.js and signals.js add their drawings.
 *
 * Plain script, no modules: it defines one global, ReviewDraw, that the other scripts use.
 * Every function draws from the values it is given and keeps no state of its own.
 */
"use strict";

(function () {
  const STAGES = ["W", "N1", "N2", "N3", "REM"];
  // Fixed colours per stage, the same in every part of the page.
  const STAGE_COLORS = { W: "#e3a72f", N1: "#73c2d6", N2: "#3478b9", N3: "#1b2f66", REM: "#d64545" };
  // Hypnogram levels, top to bottom (the usual clinical order: REM just below wake).
  const LEVELS = ["W", "REM", "N1", "N2", "N3"];
  const TRACE_COLORS = { eeg: "#1f3b63", eog: "#0b6e4f", emg: "#5b3596", ecg: "#8f2a2a", other: "#374151" };
  const FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
  const INK = "#1f2933";
  const MUTED = "#66788a";

  /** Size the canvas backing store to its CSS box and device pixels; returns {ctx, w, h} in CSS pixels. */
  function setup(canvas) {
    const ratio = window.devicePixelRatio || 1;
    const box = canvas.getBoundingClientRect();
    const w = Math.max(1, Math.round(box.width));
    const h = Math.max(1, Math.round(box.height));
    if (canvas.width !== Math.round(w * ratio) || canvas.height !== Math.round(h * ratio)) {
      canvas.width = Math.round(w * ratio);
      canvas.height = Math.round(h * ratio);
    }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, w, h);
    return { ctx, w, h };
  }

  function font(ctx, size, weight) {
    ctx.font = (weight || "400") + " " + size + "px " + FONT;
  }

  /** The largest 1-2-5 value not above `limit` (at least `floor`). */
  function niceBelow(limit, floor) {
    if (!(limit > 0)) return floor || 1;
    const power = Math.pow(10, Math.floor(Math.log10(limit)));
    let best = power;
    for (const step of [1, 2, 5, 10]) if (step * power <= limit) best = step * power;
    return Math.max(best, floor || 0);
  }

  /** "12.5 µV" style label of a scale value. */
  function microvolts(value) {
    if (value >= 1000) return (value / 1000).toLocaleString("en", { maximumFractionDigits: 1 }) + " mV";
    return value.toLocaleString("en", { maximumFractionDigits: 2 }) + " µV";
  }

  // ------------------------------------------------------------------ overview strip

  /** Clock-time ticks: a step in minutes that leaves about 70 px between labels. */
  function timeTicks(totalSeconds, width) {
    const steps = [1, 2, 5, 10, 15, 30, 60, 120, 180, 240, 360];
    for (const minutes of steps) {
      if ((minutes * 60 * width) / Math.max(totalSeconds, 1) >= 70) return minutes * 60;
    }
    return 720 * 60;
  }

  /** "23:05" / "23:05:30" for a clock time in seconds of the day; elapsed "1:05" when `elapsed`. */
  function clockLabel(seconds, elapsed, withSeconds) {
    const s = Math.round(elapsed ? seconds : ((seconds % 86400) + 86400) % 86400);
    const hh = Math.floor(s / 3600);
    const mm = String(Math.floor((s % 3600) / 60)).padStart(2, "0");
    const ss = String(s % 60).padStart(2, "0");
    const hours = elapsed ? String(hh) : String(hh).padStart(2, "0");
    return withSeconds ? hours + ":" + mm + ":" + ss : hours + ":" + mm;
  }

  function roundRect(ctx, x, y, w, h, r) {
    ctx.beginPath();
    ctx.moveTo(x + r, y);
    ctx.arcTo(x + w, y, x + w, y + h, r);
    ctx.arcTo(x + w, y + h, x, y + h, r);
    ctx.arcTo(x, y + h, x, y, r);
    ctx.arcTo(x, y, x + w, y, r);
    ctx.closePath();
  }

  /** `text` shortened with an ellipsis to fit `width` px in the current font. */
  function fit(ctx, text, width) {
    if (ctx.measureText(text).width <= width) return text;
    let cut = text;
    while (cut.length > 1 && ctx.measureText(cut + "…").width > width) cut = cut.slice(0, -1);
    return cut + "…";
  }

  // ------------------------------------------------------------------ probabilities
  /** The model's five probabilities for one epoch as horizontal bars; the model's stage in bold. */
  function drawProbabilities(canvas, probabilities, modelStage) {
    const { ctx, w, h } = setup(canvas);
    const rowH = h / STAGES.length;
    const left = 40;
    const right = 46;
    STAGES.forEach((stage, k) => {
      const p = probabilities ? probabilities[k] || 0 : 0;
      const y = k * rowH;
      const bold = stage === modelStage;
      font(ctx, 11, bold ? "700" : "500");
      ctx.fillStyle = INK;
      ctx.textAlign = "left";
      ctx.textBaseline = "middle";
      ctx.fillText(stage, 4, y + rowH / 2);
      ctx.fillStyle = "#edf1f5";
      roundRect(ctx, left, y + 4, w - left - right, rowH - 8, 3);
      ctx.fill();
      ctx.fillStyle = STAGE_COLORS[stage];
      if (p > 0) {
        roundRect(ctx, left, y + 4, Math.max((w - left - right) * p, 3), rowH - 8, 3);
        ctx.fill();
      }
      ctx.fillStyle = bold ? INK : MUTED;
      ctx.textAlign = "right";
      ctx.fillText(Math.round(p * 100) + " %", w - 4, y + rowH / 2);
    });
  }

  window.ReviewDraw = {
    STAGES, STAGE_COLORS, LEVELS, TRACE_COLORS, FONT, INK, MUTED, setup, font, niceBelow, microvolts, roundRect, fit,
    clockLabel, timeTicks, drawProbabilities,
  };
})();
