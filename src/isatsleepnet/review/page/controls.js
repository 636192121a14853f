/* ISATSleepNet review page: the channel list, the display filters and the settings kept per night.
 *
 * Plain script, no modules: it defines one global, ReviewControls, that review.js uses.
 * The controls hold no state: they show the values given and report changes to callbacks.
 */
"use strict";

(function () {
  const DEFAULT_RANGE = { eeg: 75, eog: 150, emg: 40, ecg: 800 };  // µV filling half a lane
  const FILTER_CHOICES = [[null, 0.1, 0.3, 0.5, 1, 5, 10], [null, 15, 30, 35, 70, 100], [null, 50, 60]];
  // High-pass, low-pass, notch (Hz, null: off): AASM's routine display settings.
  const DEFAULT_FILTERS = { eeg: [0.3, 35, null], eog: [0.3, 35, null], emg: [10, 100, null], ecg: [0.3, 70, null],
    other: [null, null, null] };

  /** The type of a channel the server did not type (a derivation): by its first channel's name. */
  function typeOf(label) {
    const key = label.toLowerCase();
    for (const kind of ["eog", "emg", "ecg", "eeg"]) if (key.indexOf(kind) >= 0) return kind;
    if (/^(e[12]|loc|roc)\b/.test(key)) return "eog";
    if (/^chin/.test(key)) return "emg";
    return /^(fp|f|c|o|p|t|a|m)\d|^(fpz|cz|oz|pz|fz)/.test(key) ? "eeg" : "other";
  }

  /** The channels shown when the reviewer has not chosen: EEG and EOG, else the first three. */
  function defaultChannels(channels) {
    const picked = channels.filter((c) => c.type === "eeg" || c.type === "eog").map((c) => c.label);
    return picked.length ? picked : channels.slice(0, 3).map((c) => c.label);
  }

  /** A range for a channel of no known type: its spread in the first window seen. */
  function autoRange(samples) {
    const sorted = Float32Array.from(samples).filter((v) => v === v).sort();  // NaN: not recorded (a gap)
    if (!sorted.length) return 100;
    const lo = sorted[Math.floor(sorted.length * 0.01)];
    const hi = sorted[Math.floor(sorted.length * 0.99)];
    return Math.max((hi - lo) / 1.6, 1e-3);
  }

  function settingsKey(night) {
    return "isatsleepnet-review:" + night;
  }

  /** The window, channels, auto-advance, derivations and filters chosen for this night before ({} if none). */
  function readSettings(night) {
    try {
      return JSON.parse(localStorage.getItem(settingsKey(night)) || "{}") || {};
    } catch (e) {
      return {};
    }
  }

  function saveSettings(night, settings) {
    try {
      localStorage.setItem(settingsKey(night), JSON.stringify(settings));
    } catch (e) { /* private mode: settings are not kept */ }
  }

  /** The window lengths offered in `select`; returns the one chosen: `saved` if offered, else 30 s, else the first. */
  function windowChoices(select, windows, saved) {
    for (const seconds of windows) {
      const option = document.createElement("option");
      option.value = String(seconds);
      option.textContent = seconds < 60 ? seconds + " s" : seconds / 60 + " min";
      select.appendChild(option);
    }
    const chosen = windows.indexOf(saved) >= 0 ? saved : (windows.indexOf(30) >= 0 ? 30 : windows[0]);
    select.value = String(chosen);
    return chosen;
  }

  function button(text, title, onClick) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = text;
    b.title = title;
    b.addEventListener("click", onClick);
    return b;
  }

  /** One row per channel ({label, type}): a check box (shown or not) and its gain buttons. */
  function buildChannelList(box, channels, shown, onToggle, onGain) {
    box.textContent = "";
    if (!channels.length) {
      box.innerHTML = '<p class="muted">No recording open: no channels.</p>';
      return;
    }
    for (const c of channels) {
      const row = document.createElement("div");
      row.className = "channel";
      const label = document.createElement("label");
      const check = document.createElement("input");
      check.type = "checkbox";
      check.checked = shown.indexOf(c.label) >= 0;
      check.addEventListener("change", () => onToggle(c.label, check.checked));
      label.append(check, document.createTextNode(" " + c.label));
      const type = document.createElement("span");
      type.className = "type " + c.type;
      type.textContent = c.type.toUpperCase();
      row.append(label, type, button("−", "Lower the gain of " + c.label, () => onGain(c.label, 1 / 1.5)),
        button("+", "Raise the gain of " + c.label, () => onGain(c.label, 1.5)));
      box.appendChild(row);
    }
  }

  /** High-pass, low-pass and notch per channel type in `types`; `filters` (type -> [hp, lp, notch]) is
   *  completed with the defaults and changed in place; `onChange` follows each change. */
  function buildFilters(box, types, filters, onChange) {
    box.textContent = "";
    box.insertAdjacentHTML("beforeend", '<span class="head"></span><span class="head">high-pass</span>' +
      '<span class="head">low-pass</span><span class="head">notch</span>');
    for (const type of types) {
      const current = filters[type] || DEFAULT_FILTERS[type] || DEFAULT_FILTERS.other;
      filters[type] = current.slice();
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
          filters[type][k] = select.value === "" ? null : Number(select.value);
          onChange();
        });
        box.appendChild(select);
      });
    }
  }

  window.ReviewControls = {
    DEFAULT_RANGE, typeOf, defaultChannels, autoRange, readSettings, saveSettings, windowChoices, buildChannelList,
    buildFilters,
  };
})();
