/* ISATSleepNet review page: the night, the current window, keys and edits.
 *
 * The server is the one record: an edit shows only once the server answers that it is on
 * disk, and every edit names the version it was made on (a stale tab gets 409 and reloads).
 * Edits wait in a queue, sent one after another; until it is empty the status says "Saving…",
 * leaving the page asks first and switching nights waits.
 * Epochs are rows here (as edits name them) and numbers on screen (as NAME.hypnogram.csv
 * numbers them: from the recording's start, whatever window was staged).
 * Drawing is draw.js's, requests api.js's, the channel list and filters controls.js's and
 * the side panels' text panels.js's: this file holds the page's state and what changes it.
 */
"use strict";

(function () {
  const D = window.ReviewDraw;
  const C = window.ReviewControls;
  const TOKEN = new URLSearchParams(location.search).get("token") || "";
  const NIGHT = decodeURIComponent((/night=([^&]+)/.exec(location.hash) || ["", ""])[1]);  // "": the first
  const api = window.ReviewApi.client(TOKEN, NIGHT);
  const request = api.request;
  const errorOf = window.ReviewApi.errorOf;
  const $ = (id) => document.getElementById(id);

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
    pending: new Map(),   // epoch -> the last edit setting it that is not saved yet
    derived: [],          // derivations A-B the reviewer added to the channel list
    filters: {},          // channel type -> [high-pass, low-pass, notch] Hz (null: off), sent with each window
    spectrogram: null,    // the overview's spectrogram image, once loaded
    spectrogramNote: "",  // why there is none
  };
  const outbox = [];     // edits not sent yet, in order: each goes on the version the one before it left
  let sending = null;   // the edit on its way to the server
  const flushed = [];   // callbacks waiting for the queue to empty
  let noticeShown = false;

  // ------------------------------------------------------------------ the read-only hook for tests
  function publish() {
    window.reviewState = Object.freeze({
      epoch: ui.epoch,
      version: ui.night ? ui.night.version : null,
      stages: ui.night ? Object.freeze(ui.night.stages.slice()) : Object.freeze([]),
      unsaved: unsaved(),
      drawn: ui.drawn,
      spectrogram: ui.spectrogram !== null,
      overview: ui.layout ? Object.freeze(Object.assign({}, ui.layout)) : null,  // where each row of the strip lies
    });
  }
  publish();

  // ------------------------------------------------------------------ loading
  /** A folder of nights: a list in the header, each with its progress; choosing one opens it in this tab. */
  async function loadNightList() {
    const response = await request("api/nights");
    if (!response.ok) return;
    const nights = await response.json();
    window.ReviewPanels.nightList($("nights"), nights, ui.night ? ui.night.name : null, async (name) => {
      if (unsaved()) setStatus("Saving, then opening " + name + "…", "busy");
      const said = await whenSaved();  // the edits still queued go to this night's journal first
      if (said && said.kind === "error") {  // one was not saved: stay, so that its message is read
        $("nights").value = ui.night.name;
        return;
      }
      location.hash = "night=" + encodeURIComponent(name);
      location.reload();
    });
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
      const { header, image } = await api.fetchSpectrogram();
      ui.spectrogram = D.spectrogramImage(image, header.epochs, header.frequencies);
    } catch (error) {
      ui.spectrogramNote = error.message;
    }
    if (ui.night) drawOverview();
    publish();
  }

  // ------------------------------------------------------------------ edits
  function score(stage) {
    if (!ui.night) return;
    const epoch = ui.epoch;
    const body = { action: "set", epoch, stage };
    ui.pending.set(epoch, body);
    queueEdit(body);
    if ($("advance").checked && epoch < ui.night.stages.length - 1) goTo(epoch + 1);
    else refresh();
  }

  /** Edits queued or on their way: the page is not saved while there are any. */
  function unsaved() {
    return outbox.length + (sending ? 1 : 0);
  }

  function savingText() {
    const n = unsaved();
    return n > 1 ? "Saving… (" + n + " edits)" : "Saving…";
  }

  /** A promise of what the queued edits said ({text, kind}; null: none queued), once every edit queued so far
   *  (and any queued meanwhile) is answered. */
  function whenSaved() {
    return unsaved() ? new Promise((resolve) => flushed.push(resolve)) : Promise.resolve(null);
  }

  function queueEdit(body) {
    outbox.push(body);
    setStatus(savingText(), "busy");
    if (!sending) sendQueued();
  }

  /** Send the queued edits one by one. Only once the queue is empty does the status say what they did
   *  (the last answer, or the first failure among them): "Saved" never shows while an edit still waits. */
  async function sendQueued() {
    let said = null;
    while (outbox.length) {
      sending = outbox.shift();
      let word;
      try {
        word = await sendEdit(sending);
      } catch (error) {
        word = { text: "Not saved: " + error.message, kind: "error" };
      }
      sending = null;
      if (word && !(said && said.kind === "error")) said = word;
      if (outbox.length) setStatus(savingText(), "busy");
    }
    if (said) setStatus(said.text, said.kind);
    refresh();
    for (const resolve of flushed.splice(0)) resolve(said);
  }

  /** Send one edit; returns what to say of it ({text, kind}). */
  async function sendEdit(body) {
    const night = ui.night;
    if (body.action !== "set" && !night[body.action === "undo" ? "can_undo" : "can_redo"]) {
      return { text: "Nothing to " + body.action, kind: "muted" };  // checked on the night the edits before left
    }
    const payload = Object.assign({}, body, { version: night.version });
    let response;
    try {
      response = await request("api/edit", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(payload),
      });
    } finally {
      if (body.action === "set" && ui.pending.get(body.epoch) === body) ui.pending.delete(body.epoch);
    }
    if (response.status === 409) return reloadAfterConflict(body);
    if (!response.ok) {
      refresh();
      return { text: "Not saved: " + (await errorOf(response)), kind: "error" };
    }
    const answer = await response.json();
    night.stages[answer.edit.epoch] = answer.edit.new;
    if (answer.edit.action === "set") night.reviewed[answer.edit.epoch] = night.reviewed[answer.edit.epoch] || "you";
    for (const key of ["version", "can_undo", "can_redo", "progress", "agreement", "agreement_with_expert"]) {
      night[key] = answer[key];
    }
    if (answer.edit.action !== "set") {
      // Who had reviewed the epoch before is the server's to know: take its word for it.
      const fresh = await request("api/night").then((r) => (r.ok ? r.json() : null)).catch(() => null);
      if (fresh && fresh.version === night.version) night.reviewed = fresh.reviewed;
      if (ui.epoch !== answer.edit.epoch) ui.epoch = answer.edit.epoch;  // show what changed
    }
    refresh();
    const verb = { set: "Saved", undo: "Undone", redo: "Redone" }[answer.edit.action];
    return { text: verb + ": epoch " + numberOf(answer.edit.epoch) + " " + answer.edit.old + " → " + answer.edit.new,
      kind: "ok" };
  }

  /** The night was changed elsewhere (another tab or window): `body` and every edit queued behind it were made on
   *  what this tab showed, so none is sent. The night is reloaded and the page goes to the first epoch they
   *  would have changed, naming them all, so that the reviewer scores them again instead of passing them by. */
  async function reloadAfterConflict(body) {
    const rejected = [body].concat(outbox.splice(0));
    ui.pending.clear();
    await loadNight();
    rejected.push(...outbox.splice(0));  // keys pressed while the night reloaded were made on the old one too
    ui.pending.clear();
    const rows = [...new Set(rejected.filter((edit) => edit.action === "set").map((edit) => edit.epoch))];
    const steps = rejected.filter((edit) => edit.action !== "set").map((edit) => edit.action);
    const lost = [];
    if (rows.length) lost.push((rows.length > 1 ? "your stages for epochs " : "your stage for epoch ") +
      rows.map(numberOf).join(", "));
    if (steps.length) lost.push("your " + steps.join(", "));
    let text = "This night was changed elsewhere (another tab or window): the page reloaded it and did not save " +
      lost.join(" and ") + ".";
    if (rows.length) {
      ui.epoch = rows[0];
      text += " It is at epoch " + numberOf(rows[0]) + " again: check it, then score again.";
    }
    showNotice(text);
    refresh();
    return { text: "Not saved: changed elsewhere, reloaded", kind: "error" };
  }

  /** The epoch's number as NAME.hypnogram.csv and NAME.reviewed.csv give it (row `row` of the night). */
  function numberOf(row) {
    return ui.night.numbers[row];
  }

  /** The row of the epoch numbered `number` (an address's #epoch=). An address from before the page used the
   *  CSV's numbers counted rows from 1: a number below the night's first epoch is read that way; one in a gap
   *  or past the end lands on the next epoch there is. */
  function rowOf(number) {
    const numbers = ui.night.numbers;
    const exact = numbers.indexOf(number);
    if (exact >= 0) return exact;
    if (number < numbers[0] && number >= 1 && number <= numbers.length) return number - 1;
    const after = numbers.findIndex((n) => n > number);
    return after >= 0 ? after : numbers.length - 1;
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
    "prev-window": () => goToWindow(-1),
    "next-window": () => goToWindow(1),
    "prev-flagged": () => seek(-1, (i) => ui.night.flagged[i], "flagged epoch"),
    "next-flagged": () => seek(1, (i) => ui.night.flagged[i], "flagged epoch"),
    "prev-disagreement": () => seek(-1, disagrees, "disagreement with scorer 2"),
    "next-disagreement": () => seek(1, disagrees, "disagreement with scorer 2"),
  };

  /** Undo or redo: queued behind the edits not answered yet, so that it acts on the night they leave
   *  (Ctrl+Z right after a key undoes that key's stage). */
  function step(action) {
    if (!ui.night) return;
    if (!unsaved() && !ui.night[action === "undo" ? "can_undo" : "can_redo"]) {
      setStatus("Nothing to " + action, "muted");
      return;
    }
    queueEdit({ action });
    refresh();
  }

  function gain(factor, label) {
    for (const name of label ? [label] : ui.channels) {
      if (ui.ranges[name]) ui.ranges[name] = ui.ranges[name] / factor;
    }
    drawSignals();
  }

  /** The same place in the window before (-1) or after (1) the current one; the first or last epoch when there is
   *  none. Windows may hold fewer epochs than the window's length (the last before a gap): step by window, not by
   *  so many epochs, so that none is skipped. */
  function goToWindow(step) {
    const [from, to] = windowEpochs();
    const n = ui.night.stages.length;
    if (step > 0 ? to >= n : from <= 0) return goTo(step > 0 ? n - 1 : 0);
    const [nextFrom, nextTo] = windowOf(step > 0 ? to : from - 1);
    goTo(Math.min(nextFrom + (ui.epoch - from), nextTo - 1));
  }

  // ------------------------------------------------------------------ the window
  /** First and past-last epoch of the window holding the current epoch. */
  function windowEpochs() {
    return windowOf(ui.epoch);
  }

  /** First and past-last epoch of the window holding epoch `row`. Windows tile each stretch of epochs that follow
   *  one another in time, and start again after a gap (an EDF+D's, or samples not staged): the signals are shown in
   *  real time from the window's first epoch, so an epoch past a gap in the same window would lie beyond its end. */
  function windowOf(row) {
    const per = epochsPerWindow();
    let runStart = 0;
    let runEnd = ui.night.stages.length;
    for (const gap of ui.night.gaps || []) {  // in order of rows
      if (gap.after + 1 <= row) runStart = gap.after + 1;
      else { runEnd = gap.after + 1; break; }
    }
    const from = runStart + Math.floor((row - runStart) / per) * per;
    return [from, Math.min(from + per, runEnd)];
  }

  function windowStartOf(fromEpoch) {
    const night = ui.night;
    return night.onsets.length ? night.onsets[fromEpoch] : fromEpoch * night.epoch_seconds;
  }

  function loadWindow() {
    const night = ui.night;
    const [from, to] = windowEpochs();
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
    api.fetchWindow(start, ui.seconds, channels, ui.filters).then((traces) => {
      if (ui.windowKey !== key) return;
      ui.traces = traces;
      ui.message = "";
      for (const trace of traces) {  // (a window with nothing recorded says nothing of a channel's spread)
        const recorded = trace.samples.some((v) => v === v);
        if (!ui.ranges[trace.label] && recorded) ui.ranges[trace.label] = C.autoRange(trace.samples);
      }
      drawSignals();
    }).catch((error) => {
      if (ui.windowKey !== key) return;
      ui.message = "These signals could not be read: " + error.message;
      drawSignals();
    });
    // Prefetch the neighbouring windows.
    const neighbours = [];
    if (to < night.stages.length) neighbours.push(to);
    if (from > 0) neighbours.push(windowOf(from - 1)[0]);
    for (const next of neighbours) {
      api.fetchWindow(windowStartOf(next), ui.seconds, channels, ui.filters).catch(() => {});
    }
  }

  function drawSignals() {
    const night = ui.night;
    if (!night) return;
    const [from, to] = windowEpochs();
    const start = windowStartOf(from);
    const epochs = [];
    for (let i = from; i < to; i++) {
      epochs.push({ number: numberOf(i), onset: windowStartOf(i), stage: night.stages[i], model: night.model[i],
        current: i === ui.epoch });
    }
    const types = {};
    for (const c of allChannels()) types[c.label] = c.type;
    const traces = (ui.traces || []).map((t) => {
      const type = types[t.label] || "other";
      let offset = 0;
      const recorded = type === "other" ? t.samples.filter((v) => v === v) : null;  // NaN: not recorded (a gap)
      if (recorded && recorded.length) {  // unfiltered: centre on the window's median
        const sorted = recorded.sort();
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

  /** A time within the recording (s from its start, as onsets are) as seconds of the day: the recording's start
   *  plus `t`, as NAME.hypnogram.csv's clock_time; seconds from the start when the start is not known. */
  function clockOf(t) {
    const day = startOfDay();
    return day === null ? t : day + t;
  }

  // ------------------------------------------------------------------ the page around the canvases
  function setUp() {
    const night = ui.night;
    $("night-name").textContent = night.name;
    document.title = night.name + " · Sleep stage review";
    const saved = C.readSettings(night.name);
    ui.seconds = C.windowChoices($("window-seconds"), night.windows, saved.seconds);
    ui.derived = Array.isArray(saved.derived) ? saved.derived.filter((x) => typeof x === "string") : [];
    ui.filters = saved.filters && typeof saved.filters === "object" ? saved.filters : {};
    const labels = allChannels().map((c) => c.label);
    const chosen = (saved.channels || []).filter((label) => labels.indexOf(label) >= 0);
    ui.channels = chosen.length ? chosen : C.defaultChannels(night.channels);
    for (const c of allChannels()) {
      if (C.DEFAULT_RANGE[c.type]) ui.ranges[c.label] = C.DEFAULT_RANGE[c.type];
    }
    if (typeof saved.advance === "boolean") $("advance").checked = saved.advance;
    buildControls();
    $("derivation-form").addEventListener("submit", (event) => {
      event.preventDefault();
      addDerivation($("derivation").value).then(() => { $("derivation").value = ""; });
    });
    document.body.classList.toggle("no-expert", night.expert === null);
    const fromHash = /epoch=(\d+)/.exec(location.hash);
    ui.epoch = fromHash ? rowOf(Number(fromHash[1])) : 0;
    if (night.recovered_bytes > 0 && !noticeShown) {
      noticeShown = true;
      showNotice("The review's journal ended in a line cut short (" + night.recovered_bytes + " bytes, as a kill " +
        "during a save leaves it): that line was dropped, every edit before it is kept.");
    }
    window.ReviewPanels.legend($("legend"), night.expert !== null);
    $("overview").style.height = D.overviewHeight(night.expert !== null) + "px";
  }

  /** The channel list and the filters of the channel types it holds. */
  function buildControls() {
    const channels = ui.night.channels.length ? allChannels() : [];
    C.buildChannelList($("channels"), channels, ui.channels, (label, on) => {
      const shown = new Set(ui.channels);
      if (on) shown.add(label); else shown.delete(label);
      ui.channels = allChannels().map((x) => x.label).filter((x) => shown.has(x));
      saveSettings();
      refresh();
    }, (label, factor) => gain(factor, label));
    const types = [];
    for (const c of allChannels()) if (types.indexOf(c.type) < 0) types.push(c.type);
    C.buildFilters($("filters"), types, ui.filters, () => {
      saveSettings();
      refresh();
    });
  }

  /** The recording's channels, then the derivations the reviewer added (each typed by its first channel). */
  function allChannels() {
    const derived = ui.derived.map((label) => ({ label: label, type: C.typeOf(label), derived: true }));
    return ui.night.channels.concat(derived);
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
    const type = C.typeOf(label);
    if (C.DEFAULT_RANGE[type] && !ui.ranges[label]) ui.ranges[label] = C.DEFAULT_RANGE[type];
    buildControls();
    saveSettings();
    refresh();
  }

  function saveSettings() {
    C.saveSettings(ui.night.name, {
      seconds: ui.seconds, channels: ui.channels, advance: $("advance").checked, derived: ui.derived,
      filters: ui.filters,
    });
  }

  function refreshPanels() {
    const night = ui.night;
    const i = ui.epoch;
    const onset = night.onsets.length ? night.onsets[i] : i * night.epoch_seconds;
    const pending = ui.pending.get(i);
    window.ReviewPanels.show(night, i, {
      number: numberOf(i), pending: pending && pending.stage, busy: unsaved() > 0,
      time: D.clockLabel(clockOf(onset), startOfDay() === null, true),
    });
  }

  function drawOverview() {
    const night = ui.night;
    const [from, to] = windowEpochs();
    ui.layout = D.drawOverview($("overview"), {
      model: night.model, stages: night.stages, expert: night.expert, reviewed: night.reviewed,
      probabilities: night.probabilities, confidence: night.confidence, flagged: night.flagged,
      onsets: night.onsets, epochSeconds: night.epoch_seconds, clockOf, elapsed: startOfDay() === null,
      windowFrom: from, windowTo: to, epoch: ui.epoch,
      spectrogram: ui.spectrogram || null, spectrogramNote: ui.spectrogramNote || "",
      lights: night.lights || null, gaps: night.gaps || [],
    });
  }

  function refresh() {
    if (!ui.night) return;
    history.replaceState(null, "", location.pathname + location.search + "#" +
      (NIGHT ? "night=" + encodeURIComponent(NIGHT) + "&" : "") + "epoch=" + numberOf(ui.epoch));
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
  window.ReviewKeys.bind({
    ready: () => ui.night !== null, score, go: (name) => GO[name](), undo: () => step("undo"),
    redo: () => step("redo"), gain: (factor) => gain(factor),
    keymap: toggleKeymap,
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
  $("undo").addEventListener("click", () => step("undo"));
  $("redo").addEventListener("click", () => step("redo"));
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

  // Leaving while edits wait (a reload, closing the tab, another address) asks first: they would be lost.
  window.addEventListener("beforeunload", (event) => {
    if (!unsaved()) return;
    event.preventDefault();
    event.returnValue = "";  // older browsers ask only when this is set
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
