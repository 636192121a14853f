/* ISATSleepNet review page: canvas drawing (overview strip, signals, probability bars).
 *
 * Plain script, no modules: it defines one global, ReviewDraw, that review.js uses.
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

  /** Clock-time ticks: a step in minutes that leaves about 70 px between labels. */
  function timeTicks(totalSeconds, width) {
    const steps = [1, 2, 5, 10, 15, 30, 60, 120, 180, 240, 360];
    for (const minutes of steps) {
      if ((minutes * 60 * width) / Math.max(totalSeconds, 1) >= 70) return minutes * 60;
    }
    return 720 * 60;
  }

  /**
   * The overview strip. `view`: {model, stages, expert, reviewed, probabilities, confidence, flagged,
   * onsets, epochSeconds, startSeconds (of day, or null), windowFrom, windowTo, epoch}.
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
    // Clock-time axis.
    const origin = view.onsets.length ? view.onsets[0] : 0;
    const total = n * view.epochSeconds;
    const step = timeTicks(total, width);
    const clockOf = (t) => (view.startSeconds === null ? t - origin : view.startSeconds + t - origin);
    const first = Math.ceil(clockOf(origin) / step) * step;
    font(ctx, 10, "400");
    ctx.fillStyle = MUTED;
    ctx.strokeStyle = "#c5ced8";
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    for (let c = first; c <= clockOf(origin + total) + 1e-6; c += step) {
      const px = left + ((c - clockOf(origin)) * width) / Math.max(total, 1);
      ctx.beginPath();
      ctx.moveTo(px, 4);
      ctx.lineTo(px, top);
      ctx.stroke();
      ctx.fillText(clockLabel(c, view.startSeconds === null, false), px, top + 3);
    }
    // Lights off/on (from the recording's annotations) and the gaps where no epoch was staged.
    const rowAt = (t) => {  // the fractional row of time t (s from the recording start)
      let lo = 0, hi = n - 1;
      while (lo < hi) { const mid = (lo + hi + 1) >> 1; if (view.onsets[mid] <= t) lo = mid; else hi = mid - 1; }
      return lo + Math.max(0, Math.min(1, (t - view.onsets[lo]) / view.epochSeconds));
    };
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
      ctx.fillText("gap " + Math.round(gap.seconds / 60) + " min", px, top - 14);
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

  /** "23:05" / "23:05:30" for a clock time in seconds of the day; elapsed "1:05" when `elapsed`. */
  function clockLabel(seconds, elapsed, withSeconds) {
    const s = Math.round(elapsed ? seconds : ((seconds % 86400) + 86400) % 86400);
    const hh = Math.floor(s / 3600);
    const mm = String(Math.floor((s % 3600) / 60)).padStart(2, "0");
    const ss = String(s % 60).padStart(2, "0");
    const hours = elapsed ? String(hh) : String(hh).padStart(2, "0");
    return withSeconds ? hours + ":" + mm + ":" + ss : hours + ":" + mm;
  }

  // ------------------------------------------------------------------ signals
  /**
   * The signals of one window. `view`: {traces: [{label, type, samples, rate, start, range}],
   * windowStart, seconds, epochs: [{index, onset, stage, model, current}], epochSeconds,
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
      const text = (view.seconds > 60 ? "" : "Epoch ") + (epoch.index + 1) + " · " + epoch.stage +
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
      drawTrace(ctx, trace, tx, center, scale, left, plotW);
      ctx.restore();
    });
  }

  /** One trace: every sample when they are few, else each pixel column's minimum and maximum. */
  function drawTrace(ctx, trace, tx, center, scale, left, plotW) {
    const data = trace.samples;
    const n = data.length;
    if (!n) return;
    const offset = trace.offset || 0;
    const y = (v) => center - (v - offset) * scale;
    const x0 = tx(trace.start);
    const dx = tx(trace.start + 1 / trace.rate) - x0;  // px per sample
    ctx.beginPath();
    if (dx >= 0.5) {
      ctx.moveTo(x0, y(data[0]));
      for (let i = 1; i < n; i++) ctx.lineTo(x0 + i * dx, y(data[i]));
    } else {
      const columns = Math.ceil(n * dx);
      let i = 0;
      for (let c = 0; c <= columns && i < n; c++) {
        const end = Math.min(n, Math.floor((c + 1) / dx));
        let lo = data[i], hi = data[i];
        for (let j = i + 1; j < end; j++) {
          const v = data[j];
          if (v < lo) lo = v;
          if (v > hi) hi = v;
        }
        const px = x0 + c;
        if (c === 0) ctx.moveTo(px, y(data[i]));
        ctx.lineTo(px, y(hi));
        ctx.lineTo(px, y(lo));
        i = Math.max(end, i + 1);
      }
    }
    ctx.stroke();
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
    STAGES, STAGE_COLORS, LEVELS, setup, overviewHeight, drawOverview, spectrogramImage, drawSignals, drawProbabilities, clockLabel,
  };
})();
