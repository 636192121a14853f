/* ISATSleepNet review page: the whole night's strip (hypnograms, hypnodensity, confidence, spectrogram).
 *
 * Plain script, no modules: it adds to the global ReviewDraw (draw.js, loaded first).
 * Every function draws from the values it is given and keeps no state of its own.
 */
"use strict";

(function () {
  const { STAGES, STAGE_COLORS, LEVELS, INK, MUTED, setup, font, clockLabel, timeTicks } = window.ReviewDraw;

  /** Rows of the overview, with their heights in CSS pixels. */
  function overviewRows(hasExpert) {
    const rows = [
      { key: "model", label: "Model", h: 52 },
      { key: "stages", label: "Reviewed", h: 52 },
    ];
    if (hasExpert) rows.push({ key: "expert", label: "Scorer 2", h: 52 });
    rows.push({ key: "density", label: "Hypnodensity", h: 32 });
    rows.push({ key: "spectrogram", label: "Spectrogram", h: 40 });
    rows.push({ key: "confidence", label: "Confidence", h: 26 });
    return rows;
  }

  /** The overview canvas's height for a night with or without a second scorer. */
  function overviewHeight(hasExpert) {
    return overviewRows(hasExpert).reduce((sum, row) => sum + row.h + 6, 0) + 24;
  }

  function drawHypnogram(ctx, stages, x, top, h, colorOf) {
    const pad = 5;
    const levelY = (stage) => top + pad + (LEVELS.indexOf(stage) * (h - 2 * pad)) / (LEVELS.length - 1);
    // Connecting lines first, then each epoch's level in its stage colour.
    ctx.strokeStyle = "#9aa8b6";
    ctx.lineWidth = 1;
    ctx.beginPath();
    let previous = null;
    for (let i = 0; i < stages.length; i++) {
      const stage = stages[i];
      if (LEVELS.indexOf(stage) < 0) { previous = null; continue; }
      const y = levelY(stage);
      if (previous !== null && previous !== y) {
        ctx.moveTo(x(i), previous);
        ctx.lineTo(x(i), y);
      }
      previous = y;
    }
    ctx.stroke();
    for (let i = 0; i < stages.length; i++) {
      const stage = stages[i];
      if (LEVELS.indexOf(stage) < 0) continue;
      ctx.fillStyle = colorOf ? colorOf(i, stage) : STAGE_COLORS[stage];
      const thick = stage === "REM" ? 4 : 3;
      ctx.fillRect(x(i), levelY(stage) - thick / 2, Math.max(x(i + 1) - x(i), 0.75), thick);
    }
    // Level names at the left edge of the plot.
    font(ctx, 8, "500");
    ctx.fillStyle = MUTED;
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    for (const stage of LEVELS) ctx.fillText(stage === "REM" ? "R" : stage, x(0) - 4, levelY(stage));
  }

  /**
   * The overview strip. `view`: {model, stages, expert, reviewed, probabilities, confidence, flagged,
   * onsets (s from the recording's start), epochSeconds, clockOf(t) -> seconds of day or elapsed, elapsed (no clock
   * time known), windowFrom, windowTo, epoch}.
   * Returns {left, width, n}: what a click needs to find its epoch.
   */
  function drawOverview(canvas, view) {
    const { ctx, w } = setup(canvas);
    const n = view.stages.length;
    const left = 96;
    const width = Math.max(10, w - left - 14);
    const x = (i) => left + (i * width) / Math.max(n, 1);
    const rows = overviewRows(view.expert !== null);
    let top = 4;
    for (const row of rows) {
      ctx.fillStyle = "#f7f9fb";
      ctx.fillRect(left, top, width, row.h);
      font(ctx, 11, "600");
      ctx.fillStyle = INK;
      ctx.textAlign = "left";
      ctx.textBaseline = "middle";
      ctx.fillText(row.label, 8, top + row.h / 2);
      if (row.key === "model") {
        drawHypnogram(ctx, view.model, x, top, row.h);
      } else if (row.key === "stages") {
        for (let i = 0; i < n; i++) {  // reviewed epochs: a light tint; changed ones: a mark below
          if (view.reviewed[i]) {
            ctx.fillStyle = "rgba(46, 160, 67, 0.13)";
            ctx.fillRect(x(i), top, x(i + 1) - x(i), row.h);
          }
        }
        drawHypnogram(ctx, view.stages, x, top, row.h);
        ctx.fillStyle = "#e8590c";
        for (let i = 0; i < n; i++) {
          if (view.stages[i] !== view.model[i]) ctx.fillRect(x(i), top + row.h - 3, Math.max(x(i + 1) - x(i), 1.5), 3);
        }
      } else if (row.key === "expert") {
        drawHypnogram(ctx, view.expert, x, top, row.h);
        ctx.fillStyle = "rgba(134, 142, 150, 0.35)";  // unscored or movement in the second scorer's hypnogram
        for (let i = 0; i < n; i++) {
          if (view.expert[i] === "?") ctx.fillRect(x(i), top + 1, Math.max(x(i + 1) - x(i), 1.5), row.h - 2);
        }
        ctx.fillStyle = "#7c3aed";
        for (let i = 0; i < n; i++) {
          const e = view.expert[i];
          if (STAGES.indexOf(e) >= 0 && e !== view.stages[i]) {
            ctx.fillRect(x(i), top + row.h - 3, Math.max(x(i + 1) - x(i), 1.5), 3);
          }
        }
      } else if (row.key === "density") {
        for (let i = 0; i < n; i++) {
          const p = view.probabilities[i] || [];
          let y = top;
          for (const stage of LEVELS) {  // stacked in hypnogram order: W on top, N3 at the bottom
            const share = p[STAGES.indexOf(stage)] || 0;
            ctx.fillStyle = STAGE_COLORS[stage];
            ctx.fillRect(x(i), y, x(i + 1) - x(i) + 0.35, share * row.h);
            y += share * row.h;
          }
        }
      } else if (row.key === "spectrogram") {
        if (view.spectrogram) {  // one column per epoch, 0.5 Hz at the bottom to 30 Hz at the top
          ctx.imageSmoothingEnabled = false;
          ctx.drawImage(view.spectrogram.canvas, left, top, width, row.h);
          ctx.imageSmoothingEnabled = true;
          font(ctx, 8, "500");
          ctx.fillStyle = MUTED;
          ctx.textAlign = "right";
          ctx.textBaseline = "middle";
          ctx.fillText(view.spectrogram.high + " Hz", left - 4, top + 5);
          ctx.fillText(view.spectrogram.low + " Hz", left - 4, top + row.h - 5);
        } else {
          font(ctx, 10, "400");
          ctx.fillStyle = MUTED;
          ctx.textAlign = "left";
          ctx.textBaseline = "middle";
          ctx.fillText(view.spectrogramNote || "computing…", left + 6, top + row.h / 2);
        }
      } else if (row.key === "confidence") {
        for (let i = 0; i < n; i++) {
          const c = Math.max(0, Math.min(1, view.confidence[i] || 0));
          ctx.fillStyle = view.flagged[i] ? (view.reviewed[i] ? "#2f9e44" : "#e03131") : "#9fb3c8";
          ctx.fillRect(x(i), top + row.h * (1 - c), Math.max(x(i + 1) - x(i) - 0.3, 0.75), row.h * c);
          if (view.flagged[i]) ctx.fillRect(x(i), top, Math.max(x(i + 1) - x(i) - 0.3, 1), 2);
        }
      }
      row.top = top;
      top += row.h + 6;
    }
    // Clock-time axis: each tick at the row recorded at its time. Rows are epochs, not time: after a gap the
    // night's time jumps while the rows go on, so a tick is placed by the onsets, and a time no row holds (a gap's,
    // marked below) gets no tick.
    const rowAt = (t) => {  // the fractional row of time t (s from the recording start)
      let lo = 0, hi = n - 1;
      while (lo < hi) { const mid = (lo + hi + 1) >> 1; if (view.onsets[mid] <= t) lo = mid; else hi = mid - 1; }
      return lo + Math.max(0, Math.min(1, (t - view.onsets[lo]) / view.epochSeconds));
    };
    const staged = (t) => {  // whether a row holds time t (the end of the last row counts, not the start of a gap)
      const row = Math.floor(rowAt(t));
      if (row >= n) return t <= view.onsets[n - 1] + view.epochSeconds + 1e-6;
      return t >= view.onsets[row] - 1e-6 && t < view.onsets[row] + view.epochSeconds - 1e-6;
    };
    const step = timeTicks(n * view.epochSeconds, width);
    const clockOf = view.clockOf;  // the page's one clock: the recording's start plus the onset
    font(ctx, 10, "400");
    ctx.fillStyle = MUTED;
    ctx.strokeStyle = "#c5ced8";
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    if (n) {
      const origin = view.onsets[0];
      const end = view.onsets[n - 1] + view.epochSeconds;
      let lastPx = -Infinity;
      for (let c = Math.ceil(clockOf(origin) / step) * step; c <= clockOf(end) + 1e-6; c += step) {
        const t = origin + (c - clockOf(origin));
        if (!staged(t)) continue;
        const px = x(rowAt(t));
        if (px - lastPx < 40) continue;  // two ticks either side of a gap would print over each other
        lastPx = px;
        ctx.beginPath();
        ctx.moveTo(px, 4);
        ctx.lineTo(px, top);
        ctx.stroke();
        ctx.fillText(clockLabel(c, view.elapsed, false), px, top + 3);
      }
    }
    // Lights off/on (from the recording's annotations) and the gaps where no epoch was staged.
    font(ctx, 9, "600");
    ctx.textBaseline = "top";
    for (const [key, label] of [["off", "lights off"], ["on", "lights on"]]) {
      const t = view.lights ? view.lights[key] : null;
      if (t === null || t === undefined || !n) continue;
      const px = x(rowAt(t));
      ctx.strokeStyle = "#f08c00";
      ctx.setLineDash([4, 3]);
      ctx.beginPath();
      ctx.moveTo(px, 4);
      ctx.lineTo(px, top);
      ctx.stroke();
      ctx.setLineDash([]);
      ctx.fillStyle = "#d9480f";
      ctx.textAlign = key === "off" ? "left" : "right";
      ctx.fillText(label, px + (key === "off" ? 3 : -3), 5);
    }
    for (const gap of view.gaps || []) {
      const px = x(gap.after + 1);
      ctx.fillStyle = "rgba(73, 80, 87, 0.55)";
      ctx.fillRect(px - 1.5, 4, 3, top - 8);
      ctx.fillStyle = "#495057";
      ctx.textAlign = "center";
      const length = gap.seconds < 90 ? Math.round(gap.seconds) + " s" : Math.round(gap.seconds / 60) + " min";
      ctx.fillText("gap " + length, px, top - 14);
    }
    // The current window, and the current epoch within it.
    const wx = x(view.windowFrom);
    const ww = Math.max(x(view.windowTo) - wx, 2);
    ctx.fillStyle = "rgba(37, 99, 235, 0.13)";
    ctx.fillRect(wx, 2, ww, top - 4);
    ctx.strokeStyle = "#2563eb";
    ctx.lineWidth = 1.5;
    ctx.strokeRect(wx, 2, ww, top - 4);
    ctx.fillStyle = "#2563eb";
    ctx.fillRect(x(view.epoch) + (x(view.epoch + 1) - x(view.epoch)) / 2 - 1, 2, 2, top - 4);
    ctx.lineWidth = 1;
    return { left, width, n };
  }

  /**
   * The spectrogram as an image one pixel per epoch and frequency: `image` holds `epochs` rows of
   * `frequencies.length` values 0-255 (log power, scaled by the server). Drawn scaled by drawOverview.
   */
  function spectrogramImage(image, epochs, frequencies) {
    const nf = frequencies.length;
    const canvas = document.createElement("canvas");
    canvas.width = Math.max(epochs, 1);
    canvas.height = Math.max(nf, 1);
    const ctx = canvas.getContext("2d");
    const pixels = ctx.createImageData(canvas.width, canvas.height);
    for (let e = 0; e < epochs; e++) {
      for (let f = 0; f < nf; f++) {
        const v = image[e * nf + f] / 255;
        const at = ((nf - 1 - f) * canvas.width + e) * 4;  // low frequencies at the bottom
        // dark blue -> teal -> yellow: a perceptually ordered ramp of our own
        pixels.data[at] = Math.round(20 + 230 * Math.max(0, v - 0.45) / 0.55);
        pixels.data[at + 1] = Math.round(30 + 200 * v);
        pixels.data[at + 2] = Math.round(90 + 90 * Math.sin(Math.PI * Math.min(v, 0.9)) - 60 * v);
        pixels.data[at + 3] = 255;
      }
    }
    ctx.putImageData(pixels, 0, 0);
    return { canvas, low: frequencies[0], high: frequencies[nf - 1] };
  }


  Object.assign(window.ReviewDraw, { overviewHeight, drawOverview, spectrogramImage });
})();
