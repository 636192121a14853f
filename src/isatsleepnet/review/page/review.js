/* ISATSleepNet review page: the night, the current window, keys and edits.
 *
 * The server is the one record: an edit shows only once the server answers that it is on
 * disk, and every edit names the version it was made on (a stale tab gets 409 and reloads).
 * Every request carries the page's token in the X-Review-Token header.
 */
"use strict";

(function () {
  const D = window.ReviewDraw;
  const TOKEN = new URLSearchParams(location.search).get("token") || "";
  const NIGHT = decodeURIComponent((/night=([^&]+)/.exec(location.hash) || ["", ""])[1]);  // "": the first
  const $ = (id) => document.getElementById(id);
  const DEFAULT_RANGE = { eeg: 75, eog: 150, emg: 40, ecg: 800 };  // µV filling half a lane
  const CACHE_SIZE = 12;

  const ui = {
    night: null,          // /api/night, with stages, reviewed, version... kept current
    epoch: 0,
    seconds: 30,
    channels: [],         // labels shown, in the night's order
    ranges: {},           // label -> µV filling half a lane
    drawn: 0,
    layout: null,         // the overview's geometry, for clicks
    windowKey: "",        // the window the signal canvas shows
    traces: null,         // its traces, once loaded
    message: "",
    pending: new Map(),   // epoch -> stage sent, not yet saved
    derived: [],          // derivations A-B the reviewer added to the channel list
    filters: {},          // channel type -> [high-pass, low-pass, notch] Hz (null: off), sent with each window
    spectrogram: null,    // the overview's spectrogram image, once loaded
    spectrogramNote: "",  // why there is none
  };
  const cache = new Map();  // "start|seconds|channels" -> Promise of traces
  let edits = Promise.resolve();  // edits go one after another, each on the version the last one left
  let generation = 0;             // a reload drops the edits queued before it
  let noticeShown = false;

  // ------------------------------------------------------------------ the read-only hook for tests
  function publish() {
    window.reviewState = Object.freeze({
      epoch: ui.epoch,
      version: ui.night ? ui.night.version : null,
      stages: ui.night ? Object.freeze(ui.night.stages.slice()) : Object.freeze([]),
      drawn: ui.drawn,
      spectrogram: ui.spectrogram !== null,
    });
  }
  publish();

  // ------------------------------------------------------------------ requests
  async function request(path, options) {
    const init = Object.assign({}, options || {});
    init.headers = Object.assign({ "X-Review-Token": TOKEN }, init.headers || {});
    if (NIGHT && path.startsWith("api/") && path !== "api/nights") {  // the night of a folder this tab shows
      path += (path.indexOf("?") >= 0 ? "&" : "?") + "night=" + encodeURIComponent(NIGHT);
    }
    return fetch(path, init);
  }

  /** A folder of nights: a list in the header, each with its progress; choosing one opens it in this tab. */
  async function loadNightList() {
    const response = await request("api/nights");
    if (!response.ok) return;
    const nights = await response.json();
    const select = $("nights");
    if (nights.length < 2) return;
    select.textContent = "";
    for (const item of nights) {
      const option = document.createElement("option");
      option.value = item.name;
      option.textContent = item.name + " — " + item.flagged_reviewed + " / " + item.flagged + " flagged reviewed";
      select.appendChild(option);
    }
    select.value = ui.night ? ui.night.name : nights[0].name;
    select.hidden = false;
    select.onchange = () => {
      location.hash = "night=" + encodeURIComponent(select.value);
      location.reload();
    };
  }

  async function loadNight() {
    const response = await request("api/night");
    if (!response.ok) throw new Error(await errorOf(response));
    const night = await response.json();
    const first = ui.night === null;
    ui.night = night;
    if (first) {
      setUp();
      loadSpectrogram();
    }
    ui.epoch = clamp(ui.epoch, 0, night.stages.length - 1);
    refresh();
  }

  /** The night's spectrogram (computed by the server once, then cached): drawn in the overview when it arrives. */
  async function loadSpectrogram() {
    try {
      const response = await request("api/spectrogram");
      if (!response.ok) {
        ui.spectrogramNote = await errorOf(response);
      } else {
        const buffer = await response.arrayBuffer();
        const size = new DataView(buffer).getUint32(0, true);
        const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 4, size)));
        const image = new Uint8Array(buffer, 4 + size);
        ui.spectrogram = D.spectrogramImage(image, header.epochs, header.frequencies);
      }
    } catch (error) {
      ui.spectrogramNote = "no spectrogram: " + error.message;
    }
    if (ui.night) drawOverview();
    publish();
  }

  async function errorOf(response) {
    try {
      const body = await response.json();
      if (body && body.error) return body.error;
    } catch (e) { /* not JSON */ }
    return "the server answered " + response.status;
  }

  /** The traces of one window, parsed from the packed binary answer. */
  function fetchWindow(start, seconds, channels) {
    const filters = JSON.stringify(ui.filters);
    const key = start + "|" + seconds + "|" + channels.join(",") + "|" + filters;
    if (cache.has(key)) {
      const hit = cache.get(key);
      cache.delete(key);
      cache.set(key, hit);  // most recently used last
      return hit;
    }
    const query = "api/window?start=" + encodeURIComponent(start) + "&seconds=" + seconds +
      "&channels=" + encodeURIComponent(channels.join(",")) + "&filters=" + encodeURIComponent(filters);
    const promise = request(query).then(async (response) => {
      if (!response.ok) throw new Error(await errorOf(response));
      const buffer = await response.arrayBuffer();
      const size = new DataView(buffer).getUint32(0, true);
      const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 4, size)));
      const total = header.reduce((sum, h) => sum + h.n, 0);
      const samples = new Float32Array(buffer, 4 + size, total);
      let at = 0;
      return header.map((h) => {
        const trace = { label: h.label, rate: h.rate, start: h.start, samples: samples.subarray(at, at + h.n) };
        at += h.n;
        return trace;
      });
    });
    promise.catch(() => cache.delete(key));  // a failed window is asked again next time
    cache.set(key, promise);
    while (cache.size > CACHE_SIZE) cache.delete(cache.keys().next().value);
    return promise;
  }

  // ------------------------------------------------------------------ edits
  function score(stage) {
    if (!ui.night) return;
    const epoch = ui.epoch;
    ui.pending.set(epoch, stage);
    queueEdit({ action: "set", epoch, stage });
    if ($("advance").checked && epoch < ui.night.stages.length - 1) goTo(epoch + 1);
    else refresh();
  }

  function queueEdit(body) {
    const mine = generation;
    edits = edits.then(() => (mine === generation ? sendEdit(body) : undefined)).catch((error) => {
      setStatus("Not saved: " + error.message, "error");
    });
    setStatus("Saving…", "busy");
  }

  async function sendEdit(body) {
    const payload = Object.assign({}, body, { version: ui.night.version });
    let response;
    try {
      response = await request("api/edit", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(payload),
      });
    } finally {
      if (body.action === "set") ui.pending.delete(body.epoch);
    }
    if (response.status === 409) {
      generation += 1;
      ui.pending.clear();
      showNotice("This night was changed elsewhere (another tab or window): the page reloaded it. " +
        "Check the current epoch, then score again.");
      await loadNight();
      setStatus("Reloaded", "error");
      return;
    }
    if (!response.ok) {
      setStatus("Not saved: " + (await errorOf(response)), "error");
      refresh();
      return;
    }
    const answer = await response.json();
    const night = ui.night;
    night.stages[answer.edit.epoch] = answer.edit.new;
    if (answer.edit.action === "set") night.reviewed[answer.edit.epoch] = night.reviewed[answer.edit.epoch] || "you";
    for (const key of ["version", "can_undo", "can_redo", "progress", "agreement", "agreement_with_expert"]) {
      night[key] = answer[key];
    }
    const verb = { set: "Saved", undo: "Undone", redo: "Redone" }[answer.edit.action];
    setStatus(verb + ": epoch " + (answer.edit.epoch + 1) + " " + answer.edit.old + " → " + answer.edit.new, "ok");
    if (answer.edit.action !== "set") {
      // Who had reviewed the epoch before is the server's to know: take its word for it.
      const fresh = await request("api/night").then((r) => (r.ok ? r.json() : null)).catch(() => null);
      if (fresh && fresh.version === night.version) night.reviewed = fresh.reviewed;
      if (ui.epoch !== answer.edit.epoch) ui.epoch = answer.edit.epoch;  // show what changed
    }
    refresh();
  }

  // ------------------------------------------------------------------ navigation
  function clamp(value, lo, hi) {
    return Math.max(lo, Math.min(hi, value));
  }

  function goTo(epoch) {
    if (!ui.night) return;
    ui.epoch = clamp(epoch, 0, ui.night.stages.length - 1);
    refresh();
  }

  /** The next epoch after (step 1) or before (step -1) the current one where `test(i)` holds. */
  function seek(step, test, what) {
    const n = ui.night.stages.length;
    for (let i = ui.epoch + step; i >= 0 && i < n; i += step) {
      if (test(i)) return goTo(i);
    }
    setStatus("No " + what + (step > 0 ? " after" : " before") + " this epoch", "muted");
  }

  function disagrees(i) {
    const e = ui.night.expert;
    return e !== null && D.STAGES.indexOf(e[i]) >= 0 && e[i] !== ui.night.stages[i];
  }

  function epochsPerWindow() {
    return Math.max(1, Math.round(ui.seconds / ui.night.epoch_seconds));
  }

  const GO = {
    first: () => goTo(0),
    last: () => goTo(ui.night.stages.length - 1),
    prev: () => goTo(ui.epoch - 1),
    next: () => goTo(ui.epoch + 1),
    "prev-window": () => goTo(ui.epoch - epochsPerWindow()),
    "next-window": () => goTo(ui.epoch + epochsPerWindow()),
    "prev-flagged": () => seek(-1, (i) => ui.night.flagged[i], "flagged epoch"),
    "next-flagged": () => seek(1, (i) => ui.night.flagged[i], "flagged epoch"),
    "prev-disagreement": () => seek(-1, disagrees, "disagreement with scorer 2"),
    "next-disagreement": () => seek(1, disagrees, "disagreement with scorer 2"),
  };

  function undo() {
    if (ui.night && ui.night.can_undo) queueEdit({ action: "undo" });
  }

  function redo() {
    if (ui.night && ui.night.can_redo) queueEdit({ action: "redo" });
  }

  function gain(factor, label) {
    for (const name of label ? [label] : ui.channels) {
      if (ui.ranges[name]) ui.ranges[name] = ui.ranges[name] / factor;
    }
    drawSignals();
  }

  // ------------------------------------------------------------------ the window
  /** First and past-last epoch of the window holding the current epoch (windows tile the night). */
  function windowEpochs() {
    const per = epochsPerWindow();
    const from = Math.floor(ui.epoch / per) * per;
    return [from, Math.min(from + per, ui.night.stages.length)];
  }

  function windowStartOf(fromEpoch) {
    const night = ui.night;
    return night.onsets.length ? night.onsets[fromEpoch] : fromEpoch * night.epoch_seconds;
  }

  function loadWindow() {
    const night = ui.night;
    const [from] = windowEpochs();
    const start = windowStartOf(from);
    const key = start + "|" + ui.seconds + "|" + ui.channels.join(",") + "|" + JSON.stringify(ui.filters);
    if (key === ui.windowKey && ui.traces) return drawSignals();
    ui.windowKey = key;
    ui.traces = null;
    if (!night.channels.length) {
      ui.message = "The recording is not open: no signals to show. Scoring still works.";
      return drawSignals();
    }
    if (!ui.channels.length) {
      ui.message = "";
      return drawSignals();
    }
    const channels = ui.channels.slice();
    fetchWindow(start, ui.seconds, channels).then((traces) => {
      if (ui.windowKey !== key) return;
      ui.traces = traces;
      ui.message = "";
      for (const trace of traces) {
        if (!ui.ranges[trace.label]) ui.ranges[trace.label] = autoRange(trace.samples);
      }
      drawSignals();
    }).catch((error) => {
      if (ui.windowKey !== key) return;
      ui.message = "These signals could not be read: " + error.message;
      drawSignals();
    });
    // Prefetch the neighbouring windows.
    const per = epochsPerWindow();
    for (const next of [from + per, from - per]) {
      if (next >= 0 && next < night.stages.length) fetchWindow(windowStartOf(next), ui.seconds, channels).catch(() => {});
    }
  }

  /** A range for a channel of no known type: its spread in the first window seen. */
  function autoRange(samples) {
    if (!samples.length) return 100;
    const sorted = Float32Array.from(samples).sort();
    const lo = sorted[Math.floor(sorted.length * 0.01)];
    const hi = sorted[Math.floor(sorted.length * 0.99)];
    return Math.max((hi - lo) / 1.6, 1e-3);
  }

  function drawSignals() {
    const night = ui.night;
    if (!night) return;
    const [from, to] = windowEpochs();
    const start = windowStartOf(from);
    const epochs = [];
    for (let i = from; i < to; i++) {
      epochs.push({ index: i, onset: windowStartOf(i), stage: shownStage(i), model: night.model[i], current: i === ui.epoch });
    }
    const types = {};
    for (const c of allChannels()) types[c.label] = c.type;
    const traces = (ui.traces || []).map((t) => {
      const type = types[t.label] || "other";
      let offset = 0;
      if (type === "other" && t.samples.length) {  // unfiltered: centre on the window's median
        const sorted = Float32Array.from(t.samples).sort();
        offset = sorted[Math.floor(sorted.length / 2)];
      }
      return Object.assign({}, t, { type, offset, range: ui.ranges[t.label] || 100 });
    });
    const loading = ui.channels.length && !ui.traces && !ui.message && night.channels.length;
    D.drawSignals($("signals"), {
      traces,
      windowStart: start,
      seconds: ui.seconds,
      epochs,
      epochSeconds: night.epoch_seconds,
      clockOf: clockOf,
      elapsed: startOfDay() === null,
      message: ui.message || (loading ? "Loading…" : ""),
    });
    if (!loading) {
      ui.drawn += 1;
      publish();
    }
  }

  // ------------------------------------------------------------------ clock time
  let startSeconds;  // seconds of the day of the night's start (null: not known)
  function startOfDay() {
    if (startSeconds !== undefined) return startSeconds;
    const match = ui.night.start && /T(\d{2}):(\d{2}):(\d{2}(?:\.\d+)?)/.exec(ui.night.start);
    startSeconds = match ? Number(match[1]) * 3600 + Number(match[2]) * 60 + Number(match[3]) : null;
    return startSeconds;
  }

  /** A time within the recording (s) as seconds of the day (or elapsed seconds when no start is known). */
  function clockOf(t) {
    const origin = ui.night.onsets.length ? ui.night.onsets[0] : 0;
    const day = startOfDay();
    return day === null ? t - origin : day + t - origin;
  }

  // ------------------------------------------------------------------ the page around the canvases
  function shownStage(i) {
    return ui.night.stages[i];
  }

  function setUp() {
    const night = ui.night;
    $("night-name").textContent = night.name;
    document.title = night.name + " · Sleep stage review";
    const saved = readSettings();
    const select = $("window-seconds");
    for (const seconds of night.windows) {
      const option = document.createElement("option");
      option.value = String(seconds);
      option.textContent = seconds < 60 ? seconds + " s" : seconds / 60 + " min";
      select.appendChild(option);
    }
    ui.seconds = night.windows.indexOf(saved.seconds) >= 0 ? saved.seconds : (night.windows.indexOf(30) >= 0 ? 30 : night.windows[0]);
    select.value = String(ui.seconds);
    ui.derived = Array.isArray(saved.derived) ? saved.derived.filter((x) => typeof x === "string") : [];
    ui.filters = saved.filters && typeof saved.filters === "object" ? saved.filters : {};
    const labels = allChannels().map((c) => c.label);
    const chosen = (saved.channels || []).filter((label) => labels.indexOf(label) >= 0);
    ui.channels = chosen.length ? chosen : defaultChannels(night.channels);
    for (const c of night.channels) {
      if (DEFAULT_RANGE[c.type]) ui.ranges[c.label] = DEFAULT_RANGE[c.type];
    }
    if (typeof saved.advance === "boolean") $("advance").checked = saved.advance;
    for (const label of ui.derived) {
      const type = typeOf(label);
      if (DEFAULT_RANGE[type]) ui.ranges[label] = DEFAULT_RANGE[type];
    }
    buildChannelList();
    buildFilters();
    $("derivation-form").addEventListener("submit", (event) => {
      event.preventDefault();
      addDerivation($("derivation").value).then(() => { $("derivation").value = ""; });
    });
    document.body.classList.toggle("no-expert", night.expert === null);
    const fromHash = /epoch=(\d+)/.exec(location.hash);
    ui.epoch = fromHash ? Number(fromHash[1]) - 1 : 0;
    if (night.recovered_bytes > 0 && !noticeShown) {
      noticeShown = true;
      showNotice("The review's journal ended in a line cut short (" + night.recovered_bytes + " bytes, as a kill " +
        "during a save leaves it): that line was dropped, every edit before it is kept.");
    }
    const legend = $("legend");
    for (const stage of D.STAGES) {
      const item = document.createElement("span");
      item.innerHTML = '<i style="background:' + D.STAGE_COLORS[stage] + '"></i>' + stage;
      legend.appendChild(item);
    }
    legend.insertAdjacentHTML("beforeend", '<span><i class="mark changed"></i>changed</span>' +
      '<span><i class="mark flagged"></i>flagged</span>' +
      (night.expert !== null ? '<span><i class="mark disagree"></i>differs from scorer 2</span>' : ""));
    $("overview").style.height = D.overviewHeight(night.expert !== null) + "px";
  }

  function defaultChannels(channels) {
    const picked = channels.filter((c) => c.type === "eeg" || c.type === "eog").map((c) => c.label);
    return picked.length ? picked : channels.slice(0, 3).map((c) => c.label);
  }

  function buildChannelList() {
    const box = $("channels");
    box.textContent = "";
    if (!ui.night.channels.length) {
      box.innerHTML = '<p class="muted">No recording open: no channels.</p>';
      return;
    }
    for (const c of allChannels()) {
      const row = document.createElement("div");
      row.className = "channel";
      const label = document.createElement("label");
      const box2 = document.createElement("input");
      box2.type = "checkbox";
      box2.checked = ui.channels.indexOf(c.label) >= 0;
      box2.addEventListener("change", () => {
        const on = new Set(ui.channels);
        if (box2.checked) on.add(c.label); else on.delete(c.label);
        ui.channels = allChannels().map((x) => x.label).filter((x) => on.has(x));
        saveSettings();
        refresh();
      });
      label.appendChild(box2);
      label.appendChild(document.createTextNode(" " + c.label));
      const type = document.createElement("span");
      type.className = "type " + c.type;
      type.textContent = c.type.toUpperCase();
      const down = document.createElement("button");
      down.type = "button";
      down.textContent = "−";
      down.title = "Lower the gain of " + c.label;
      down.addEventListener("click", () => gain(1 / 1.5, c.label));
      const up = document.createElement("button");
      up.type = "button";
      up.textContent = "+";
      up.title = "Raise the gain of " + c.label;
      up.addEventListener("click", () => gain(1.5, c.label));
      row.append(label, type, down, up);
      box.appendChild(row);
    }
  }

  /** The recording's channels, then the derivations the reviewer added (each typed by its first channel). */
  function allChannels() {
    const derived = ui.derived.map((label) => ({ label: label, type: typeOf(label), derived: true }));
    return ui.night.channels.concat(derived);
  }

  function typeOf(label) {
    const key = label.toLowerCase();
    for (const kind of ["eog", "emg", "ecg", "eeg"]) if (key.indexOf(kind) >= 0) return kind;
    if (/^(e[12]|loc|roc)\b/.test(key)) return "eog";
    if (/^chin/.test(key)) return "emg";
    return /^(fp|f|c|o|p|t|a|m)\d|^(fpz|cz|oz|pz|fz)/.test(key) ? "eeg" : "other";
  }

  /** Add a derivation A-B once the server has shown it can form it (else say why, add nothing). */
  async function addDerivation(label) {
    label = label.trim();
    if (!label || allChannels().some((c) => c.label === label)) return;
    const probe = await request("api/window?start=0&seconds=30&channels=" + encodeURIComponent(label));
    if (!probe.ok) {
      setStatus(await errorOf(probe), "error");
      return;
    }
    ui.derived.push(label);
    ui.channels.push(label);
    const type = typeOf(label);
    if (DEFAULT_RANGE[type] && !ui.ranges[label]) ui.ranges[label] = DEFAULT_RANGE[type];
    buildChannelList();
    buildFilters();
    saveSettings();
    refresh();
  }

  const FILTER_CHOICES = [[null, 0.1, 0.3, 0.5, 1, 5, 10], [null, 15, 30, 35, 70, 100], [null, 50, 60]];
  const DEFAULT_FILTERS = { eeg: [0.3, 35, null], eog: [0.3, 35, null], emg: [10, 100, null], ecg: [0.3, 70, null],
    other: [null, null, null] };

  /** High-pass, low-pass and notch per channel type shown (AASM's routine settings by default). */
  function buildFilters() {
    const box = $("filters");
    box.textContent = "";
    const types = [];
    for (const c of allChannels()) if (types.indexOf(c.type) < 0) types.push(c.type);
    box.insertAdjacentHTML("beforeend", '<span class="head"></span><span class="head">high-pass</span>' +
      '<span class="head">low-pass</span><span class="head">notch</span>');
    for (const type of types) {
      const current = ui.filters[type] || DEFAULT_FILTERS[type] || DEFAULT_FILTERS.other;
      ui.filters[type] = current.slice();
      const name = document.createElement("span");
      name.textContent = type.toUpperCase();
      box.appendChild(name);
      FILTER_CHOICES.forEach((choices, k) => {
        const select = document.createElement("select");
        select.setAttribute("aria-label", type + [" high-pass", " low-pass", " notch"][k]);
        select.dataset.type = type;
        for (const hz of choices) {
          const option = document.createElement("option");
          option.value = hz === null ? "" : String(hz);
          option.textContent = hz === null ? "off" : hz + " Hz";
          select.appendChild(option);
        }
        select.value = current[k] === null ? "" : String(current[k]);
        select.addEventListener("change", () => {
          ui.filters[type][k] = select.value === "" ? null : Number(select.value);
          saveSettings();
          refresh();
        });
        box.appendChild(select);
      });
    }
  }

  function readSettings() {
    try {
      return JSON.parse(localStorage.getItem("isatsleepnet-review:" + ui.night.name) || "{}") || {};
    } catch (e) {
      return {};
    }
  }

  function saveSettings() {
    try {
      localStorage.setItem("isatsleepnet-review:" + ui.night.name, JSON.stringify({
        seconds: ui.seconds, channels: ui.channels, advance: $("advance").checked, derived: ui.derived,
        filters: ui.filters,
      }));
    } catch (e) { /* private mode: settings are not kept */ }
  }

  function percent(x) {
    return x === null || x === undefined ? "–" : (100 * x).toFixed(1) + " %";
  }

  function agreementBlock(title, agreement) {
    if (!agreement || !agreement.epochs) return "";
    const kappa = agreement.kappa === null ? "–" : agreement.kappa.toFixed(2);
    let cells = "";
    for (const stage of D.STAGES) {
      const share = agreement.per_stage[stage];
      cells += "<td>" + (share === undefined ? "–" : Math.round(100 * share) + "%") + "</td>";
    }
    return '<div class="agreement"><h3>' + title + "</h3>" +
      '<div class="figures"><span><b>' + percent(agreement.accuracy) + "</b> accuracy</span>" +
      "<span><b>" + kappa + "</b> κ</span><span><b>" + agreement.epochs + "</b> epochs</span></div>" +
      "<table><tr>" + D.STAGES.map((s) => '<th style="color:' + D.STAGE_COLORS[s] + '">' + s + "</th>").join("") +
      "</tr><tr>" + cells + "</tr></table></div>";
  }

  function refreshPanels() {
    const night = ui.night;
    const i = ui.epoch;
    const n = night.stages.length;
    $("epoch-number").textContent = i + 1 + " / " + n;
    const onset = night.onsets.length ? night.onsets[i] : i * night.epoch_seconds;
    $("epoch-time").textContent = D.clockLabel(clockOf(onset), startOfDay() === null, true);
    $("epoch-model").innerHTML = pill(night.model[i]);
    const pending = ui.pending.get(i);
    $("epoch-final").innerHTML = pill(night.stages[i]) +
      (night.reviewed[i] ? ' <span class="muted">reviewed' + (night.reviewed[i] === "you" ? "" : " by " + escapeHtml(night.reviewed[i])) + "</span>" : "") +
      (pending ? ' <span class="saving">saving ' + pending + "…</span>" : "");
    const expert = night.expert ? night.expert[i] : null;
    $("epoch-expert").innerHTML = expert === null ? "–" : D.STAGES.indexOf(expert) >= 0 ? pill(expert) : '<span class="muted">not scored</span>';
    $("epoch-confidence").innerHTML = percent(night.confidence[i]) + (night.flagged[i] ? ' <span class="flag">flagged</span>' : "");
    D.drawProbabilities($("probabilities"), night.probabilities[i], night.model[i]);
    for (const button of document.querySelectorAll("#stage-buttons button")) {
      button.classList.toggle("current", button.dataset.stage === night.stages[i]);
    }
    $("undo").disabled = !night.can_undo;
    $("redo").disabled = !night.can_redo;
    const p = night.progress;
    $("flagged-reviewed").textContent = p.flagged_reviewed + " / " + p.flagged;
    $("flagged-meter").style.width = (p.flagged ? (100 * p.flagged_reviewed) / p.flagged : 100) + "%";
    $("epochs-reviewed").textContent = p.reviewed + " / " + p.epochs;
    $("epochs-changed").textContent = String(p.changed);
    const blocks = p.reviewed ? agreementBlock("Model vs reviewer", night.agreement) : "";
    const expertBlock = p.reviewed ? agreementBlock("Final vs scorer 2", night.agreement_with_expert) : "";
    $("agreement").innerHTML = blocks + expertBlock ||
      '<p class="muted">Agreement shows once an epoch is reviewed.</p>';
  }

  function pill(stage) {
    return '<span class="pill" style="background:' + (D.STAGE_COLORS[stage] || "#999") + '" data-stage="' +
      escapeHtml(stage) + '">' + escapeHtml(stage) + "</span>";
  }

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  }

  function drawOverview() {
    const night = ui.night;
    const [from, to] = windowEpochs();
    ui.layout = D.drawOverview($("overview"), {
      model: night.model, stages: night.stages, expert: night.expert, reviewed: night.reviewed,
      probabilities: night.probabilities, confidence: night.confidence, flagged: night.flagged,
      onsets: night.onsets, epochSeconds: night.epoch_seconds, startSeconds: startOfDay(),
      windowFrom: from, windowTo: to, epoch: ui.epoch,
      spectrogram: ui.spectrogram || null, spectrogramNote: ui.spectrogramNote || "",
      lights: night.lights || null, gaps: night.gaps || [],
    });
  }

  function refresh() {
    if (!ui.night) return;
    history.replaceState(null, "", location.pathname + location.search + "#" +
      (NIGHT ? "night=" + encodeURIComponent(NIGHT) + "&" : "") + "epoch=" + (ui.epoch + 1));
    refreshPanels();
    drawOverview();
    loadWindow();
    publish();
  }

  let statusTimer = null;
  function setStatus(text, kind) {
    const status = $("status");
    status.textContent = text;
    status.className = "status " + (kind || "");
    clearTimeout(statusTimer);
    if (kind === "ok" || kind === "muted") statusTimer = setTimeout(() => { status.textContent = ""; }, 4000);
  }

  function showNotice(text) {
    $("notice-text").textContent = text;
    $("notice").hidden = false;
  }

  function toggleKeymap(show) {
    const map = $("keymap");
    map.hidden = show === undefined ? !map.hidden : !show;
  }

  // ------------------------------------------------------------------ keys and buttons
  const STAGE_KEYS = { w: "W", W: "W", 0: "W", 1: "N1", 2: "N2", 3: "N3", r: "REM", R: "REM", 5: "REM" };
  const NAV_KEYS = {
    ArrowLeft: "prev", ArrowRight: "next", PageUp: "prev-window", PageDown: "next-window",
    "]": "next-flagged", "[": "prev-flagged", "}": "next-disagreement", "{": "prev-disagreement",
    Home: "first", End: "last",
  };

  document.addEventListener("keydown", (event) => {
    if (!ui.night) return;
    const target = event.target;
    if (target && (target.tagName === "SELECT" || (target.tagName === "INPUT" && target.type !== "checkbox"))) return;
    const key = event.key;
    if (event.ctrlKey || event.metaKey) {
      const lower = key.toLowerCase();
      if (lower === "z" && !event.shiftKey) { event.preventDefault(); undo(); }
      else if (lower === "y" || (lower === "z" && event.shiftKey)) { event.preventDefault(); redo(); }
      return;
    }
    if (event.altKey) return;
    if (key === "?") { event.preventDefault(); toggleKeymap(); return; }
    if (key === "Escape") { toggleKeymap(false); return; }
    if (Object.prototype.hasOwnProperty.call(STAGE_KEYS, key)) { event.preventDefault(); score(STAGE_KEYS[key]); return; }
    if (NAV_KEYS[key]) { event.preventDefault(); GO[NAV_KEYS[key]](); return; }
    if (key === "+" || key === "=") { event.preventDefault(); gain(1.5); return; }
    if (key === "-" || key === "_") { event.preventDefault(); gain(1 / 1.5); }
  });

  for (const button of document.querySelectorAll("#stage-buttons button")) {
    button.addEventListener("click", () => score(button.dataset.stage));
  }
  for (const button of document.querySelectorAll("[data-go]")) {
    button.addEventListener("click", () => ui.night && GO[button.dataset.go]());
  }
  // Buttons give the focus back, so that Space or Enter never repeats a click meant once.
  document.addEventListener("click", (event) => {
    if (event.target.closest && event.target.closest("button")) event.target.closest("button").blur();
  });
  $("undo").addEventListener("click", undo);
  $("redo").addEventListener("click", redo);
  $("gain-up").addEventListener("click", () => gain(1.5));
  $("gain-down").addEventListener("click", () => gain(1 / 1.5));
  $("help-button").addEventListener("click", () => toggleKeymap());
  $("keymap-close").addEventListener("click", () => toggleKeymap(false));
  $("keymap").addEventListener("click", (event) => { if (event.target === $("keymap")) toggleKeymap(false); });
  $("notice-close").addEventListener("click", () => { $("notice").hidden = true; });
  $("advance").addEventListener("change", saveSettings);
  $("window-seconds").addEventListener("change", (event) => {
    ui.seconds = Number(event.target.value);
    saveSettings();
    event.target.blur();
    refresh();
  });
  $("overview").addEventListener("click", (event) => {
    const layout = ui.layout;
    if (!layout) return;
    const box = event.currentTarget.getBoundingClientRect();
    const x = event.clientX - box.left - layout.left;
    if (x < 0 || x > layout.width) return;
    goTo(Math.floor((x / layout.width) * layout.n));
  });

  let resizeTimer = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => { if (ui.night) { drawOverview(); drawSignals(); refreshPanels(); } }, 80);
  });

  loadNight().then(loadNightList).catch((error) => {
    $("night-name").textContent = "The night could not be loaded";
    setStatus(error.message, "error");
  });
})();
