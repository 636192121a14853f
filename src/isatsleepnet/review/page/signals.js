/* ISATSleepNet review page: the signals of the current window (traces, epochs, grid, scale bars).
 *
 * Plain script, no modules: it adds to the global ReviewDraw (draw.js, loaded first).
 * Every function draws from the values it is given and keeps no state of its own.
 */
"use strict";

(function () {
  const { STAGE_COLORS, TRACE_COLORS, INK, MUTED, setup, font, niceBelow, microvolts, roundRect, fit, clockLabel } = window.ReviewDraw;

  /**
   * The signals of one window. `view`: {traces: [{label, type, samples, rate, start, range}],
   * windowStart, seconds, epochs: [{number, onset, stage, model, current}], epochSeconds,
   * clockOf(t) -> seconds of day or elapsed, elapsed, message}. `range` is the µV that fills half a lane.
   */
  function drawSignals(canvas, view) {
    const { ctx, w, h } = setup(canvas);
    const left = 118;
    const right = 10;
    const ruler = 30;
    const plotW = Math.max(10, w - left - right);
    const pxPerSecond = plotW / view.seconds;
    const tx = (t) => left + (t - view.windowStart) * pxPerSecond;
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, w, h);
    const lanes = view.traces.length;
    const laneH = lanes ? (h - ruler - 6) / lanes : 0;

    // The current epoch's band, when the window holds more than one epoch.
    for (const epoch of view.epochs) {
      if (epoch.current && view.seconds > view.epochSeconds) {
        ctx.fillStyle = "rgba(250, 204, 21, 0.14)";
        ctx.fillRect(tx(epoch.onset), ruler, view.epochSeconds * pxPerSecond, h - ruler);
      }
    }
    // Alternating lane backgrounds.
    for (let k = 0; k < lanes; k++) {
      if (k % 2 === 1) {
        ctx.fillStyle = "rgba(15, 23, 42, 0.025)";
        ctx.fillRect(left, ruler + k * laneH, plotW, laneH);
      }
    }
    // 1-s grid (5-s when seconds would be closer than 4 px), then epoch boundaries.
    const gridStep = pxPerSecond >= 4 ? 1 : 5;
    ctx.strokeStyle = "#e6ebf1";
    ctx.lineWidth = 1;
    ctx.beginPath();
    for (let t = Math.ceil(view.windowStart / gridStep) * gridStep; t <= view.windowStart + view.seconds; t += gridStep) {
      const px = Math.round(tx(t)) + 0.5;
      ctx.moveTo(px, ruler);
      ctx.lineTo(px, h);
    }
    ctx.stroke();
    ctx.strokeStyle = "#8795a6";
    ctx.beginPath();
    for (const epoch of view.epochs) {
      for (const t of [epoch.onset, epoch.onset + view.epochSeconds]) {
        if (t < view.windowStart - 1e-6 || t > view.windowStart + view.seconds + 1e-6) continue;
        const px = Math.round(tx(t)) + 0.5;
        ctx.moveTo(px, ruler - 8);
        ctx.lineTo(px, h);
      }
    }
    ctx.stroke();

    // Ruler: clock times, and each epoch's number and final stage.
    const labelEvery = view.seconds <= 30 ? 5 : view.seconds <= 60 ? 10 : view.seconds <= 120 ? 15 : 30;
    font(ctx, 10, "400");
    ctx.fillStyle = MUTED;
    ctx.textAlign = "center";
    ctx.textBaseline = "bottom";
    for (let t = Math.ceil(view.windowStart / labelEvery) * labelEvery; t < view.windowStart + view.seconds; t += labelEvery) {
      if (tx(t) - left < 24) continue;
      ctx.fillText(clockLabel(view.clockOf(t), view.elapsed, true), tx(t), ruler - 1);
    }
    for (const epoch of view.epochs) {
      const x0 = Math.max(tx(epoch.onset), left);
      const width = Math.min(tx(epoch.onset + view.epochSeconds), left + plotW) - x0;
      if (width < 30) continue;
      const text = (view.seconds > 60 ? "" : "Epoch ") + epoch.number + " · " + epoch.stage +
        (epoch.stage !== epoch.model ? " (model " + epoch.model + ")" : "");
      font(ctx, 11, epoch.current ? "700" : "500");
      const tw = Math.min(ctx.measureText(text).width + 12, width - 4);
      ctx.fillStyle = STAGE_COLORS[epoch.stage] || "#888";
      ctx.globalAlpha = epoch.current ? 1 : 0.75;
      roundRect(ctx, x0 + 3, 2, tw, 15, 4);
      ctx.fill();
      ctx.globalAlpha = 1;
      ctx.fillStyle = epoch.stage === "W" || epoch.stage === "N1" ? INK : "#ffffff";
      ctx.textAlign = "left";
      ctx.textBaseline = "middle";
      ctx.save();
      ctx.beginPath();
      ctx.rect(x0 + 3, 2, tw, 15);
      ctx.clip();
      ctx.fillText(text, x0 + 9, 10);
      ctx.restore();
    }

    if (!lanes || view.message) {
      font(ctx, 14, "500");
      ctx.fillStyle = MUTED;
      ctx.textAlign = "center";
      ctx.textBaseline = "middle";
      ctx.fillText(view.message || "No channel chosen: tick one or more in Channels.", left + plotW / 2, ruler + (h - ruler) / 2);
      return;
    }

    // Each channel in its lane: label, scale bar, trace.
    view.traces.forEach((trace, k) => {
      const top = ruler + k * laneH;
      const center = top + laneH / 2;
      const scale = laneH / 2 / trace.range;  // px per µV
      font(ctx, 12, "600");
      ctx.fillStyle = INK;
      ctx.textAlign = "left";
      ctx.textBaseline = "top";
      ctx.fillText(fit(ctx, trace.label, left - 12), 8, top + 4);
      font(ctx, 10, "400");
      ctx.fillStyle = MUTED;
      ctx.fillText(trace.type.toUpperCase(), 8, top + 19);
      const bar = niceBelow(trace.range * 0.8);
      const barPx = bar * scale;
      ctx.strokeStyle = INK;
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.moveTo(left - 12, center - barPx / 2);
      ctx.lineTo(left - 12, center + barPx / 2);
      ctx.moveTo(left - 16, center - barPx / 2);
      ctx.lineTo(left - 8, center - barPx / 2);
      ctx.moveTo(left - 16, center + barPx / 2);
      ctx.lineTo(left - 8, center + barPx / 2);
      ctx.stroke();
      ctx.lineWidth = 1;
      font(ctx, 10, "400");
      ctx.fillStyle = INK;
      ctx.textAlign = "right";
      ctx.textBaseline = "middle";
      ctx.fillText(microvolts(bar), left - 20, center);
      if (k > 0) {
        ctx.strokeStyle = "#d5dce4";
        ctx.beginPath();
        ctx.moveTo(0, Math.round(top) + 0.5);
        ctx.lineTo(w, Math.round(top) + 0.5);
        ctx.stroke();
      }
      ctx.save();
      ctx.beginPath();
      ctx.rect(left, top + 1, plotW, laneH - 2);
      ctx.clip();
      ctx.strokeStyle = TRACE_COLORS[trace.type] || TRACE_COLORS.other;
      ctx.lineWidth = 1;
      const drawn = drawTrace(ctx, trace, tx, center, scale, left, plotW);
      ctx.restore();
      if (!drawn) {  // an empty lane says why, rather than look like a flat or disconnected channel
        font(ctx, 12, "500");
        ctx.fillStyle = MUTED;
        ctx.textAlign = "center";
        ctx.textBaseline = "middle";
        ctx.fillText(trace.samples.length ? "no data recorded here (a gap of the recording)"
          : "no data here: the recording ends before this window", left + plotW / 2, center);
      }
    });
  }

  /**
   * One trace: every sample when they are few, else each pixel column's minimum and maximum. A NaN sample (nothing
   * recorded there: a gap of an EDF+D) lifts the pen, so that the line breaks: lineTo ignores a NaN and would join
   * the samples on either side of the gap with a straight line. Returns whether any sample was drawn.
   */
  function drawTrace(ctx, trace, tx, center, scale, left, plotW) {
    const data = trace.samples;
    const n = data.length;
    const offset = trace.offset || 0;
    const y = (v) => center - (v - offset) * scale;
    const x0 = tx(trace.start);
    const dx = tx(trace.start + 1 / trace.rate) - x0;  // px per sample
    let down = false;  // whether the pen is on the paper: the last point drawn was recorded
    let drawn = false;
    const to = (px, py) => {
      if (down) ctx.lineTo(px, py); else ctx.moveTo(px, py);
      down = true;
      drawn = true;
    };
    ctx.beginPath();
    if (dx >= 0.5) {
      for (let i = 0; i < n; i++) {
        const v = data[i];
        if (v === v) to(x0 + i * dx, y(v)); else down = false;
      }
    } else {
      const columns = Math.ceil(n * dx);
      let i = 0;
      for (let c = 0; c <= columns && i < n; c++) {
        const end = Math.max(Math.min(n, Math.floor((c + 1) / dx)), i + 1);
        let lo = Infinity, hi = -Infinity, entry = NaN;
        for (let j = i; j < end; j++) {
          const v = data[j];
          if (v !== v) continue;  // NaN: not recorded
          if (entry !== entry) entry = v;
          if (v < lo) lo = v;
          if (v > hi) hi = v;
        }
        const px = x0 + c;
        if (entry !== entry) {
          down = false;
        } else {
          if (!down) to(px, y(entry));
          to(px, y(hi));
          to(px, y(lo));
        }
        if (data[end - 1] !== data[end - 1]) down = false;  // the column ends in a gap: the next one starts anew
        i = end;
      }
    }
    ctx.stroke();
    return drawn;
  }

  Object.assign(window.ReviewDraw, { drawSignals });
})();
