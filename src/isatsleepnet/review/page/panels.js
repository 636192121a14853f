/* ISATSleepNet review page: the side panels' text (current epoch, progress, agreement).
 *
 * Plain script, no modules: it defines one global, ReviewPanels, that review.js uses.
 * Every function writes from the values it is given and keeps no state of its own.
 */
"use strict";

(function () {
  const D = window.ReviewDraw;
  const $ = (id) => document.getElementById(id);

  function percent(x) {
    return x === null || x === undefined ? "–" : (100 * x).toFixed(1) + " %";
  }

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  }

  /** A stage as a coloured label. */
  function pill(stage) {
    return '<span class="pill" style="background:' + (D.STAGE_COLORS[stage] || "#999") + '" data-stage="' +
      escapeHtml(stage) + '">' + escapeHtml(stage) + "</span>";
  }

  /** Accuracy, kappa, epochs and per-stage agreement, or "" before anything is compared. */
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

  /** Fill the panels for row `i` of `night`. `epoch`: {number (as NAME.hypnogram.csv numbers it), time (its
   *  clock label), pending (the stage being saved, or undefined), busy (edits still wait to be saved)}. */
  function show(night, i, epoch) {
    const pending = epoch.pending;
    $("epoch-number").textContent = String(epoch.number);
    $("epoch-position").textContent = (i + 1) + " of " + night.stages.length;
    $("epoch-time").textContent = epoch.time;
    $("epoch-model").innerHTML = pill(night.model[i]);
    const by = night.reviewed[i];
    $("epoch-final").innerHTML = pill(night.stages[i]) +
      (by ? ' <span class="muted">reviewed' + (by === "you" ? "" : " by " + escapeHtml(by)) + "</span>" : "") +
      (pending ? ' <span class="saving">saving ' + pending + "…</span>" : "");
    const expert = night.expert ? night.expert[i] : null;
    $("epoch-expert").innerHTML = expert === null ? "–" :
      D.STAGES.indexOf(expert) >= 0 ? pill(expert) : '<span class="muted">not scored</span>';
    $("epoch-confidence").innerHTML = percent(night.confidence[i]) +
      (night.flagged[i] ? ' <span class="flag">flagged</span>' : "");
    D.drawProbabilities($("probabilities"), night.probabilities[i], night.model[i]);
    for (const button of document.querySelectorAll("#stage-buttons button")) {
      button.classList.toggle("current", button.dataset.stage === night.stages[i]);
    }
    $("undo").disabled = !night.can_undo && !epoch.busy;  // while edits wait, what they leave decides
    $("redo").disabled = !night.can_redo && !epoch.busy;
    const p = night.progress;
    $("flagged-reviewed").textContent = p.flagged_reviewed + " / " + p.flagged;
    $("flagged-meter").style.width = (p.flagged ? (100 * p.flagged_reviewed) / p.flagged : 100) + "%";
    $("epochs-reviewed").textContent = p.reviewed + " / " + p.epochs;
    $("epochs-changed").textContent = String(p.changed);
    const blocks = p.reviewed ? agreementBlock("Model vs reviewer", night.agreement) +
      agreementBlock("Final vs scorer 2", night.agreement_with_expert) : "";
    $("agreement").innerHTML = blocks || '<p class="muted">Agreement shows once an epoch is reviewed.</p>';
  }

  /** The stage colours and marks of the overview; the scorer-2 mark only when there is one. */
  function legend(box, hasExpert) {
    for (const stage of D.STAGES) {
      const item = document.createElement("span");
      item.innerHTML = '<i style="background:' + D.STAGE_COLORS[stage] + '"></i>' + stage;
      box.appendChild(item);
    }
    box.insertAdjacentHTML("beforeend", '<span><i class="mark changed"></i>changed</span>' +
      '<span><i class="mark flagged"></i>flagged</span>' +
      (hasExpert ? '<span><i class="mark disagree"></i>differs from scorer 2</span>' : ""));
  }

  /** A folder's nights (from /api/nights) in `select`, each with its review progress; shown from two nights on. */
  function nightList(select, nights, current, onChoose) {
    if (nights.length < 2) return;
    select.textContent = "";
    for (const item of nights) {
      const option = document.createElement("option");
      option.value = item.name;
      option.textContent = item.name + " — " + item.flagged_reviewed + " / " + item.flagged + " flagged reviewed";
      select.appendChild(option);
    }
    select.value = current || nights[0].name;
    select.hidden = false;
    select.onchange = () => onChoose(select.value);
  }

  window.ReviewPanels = { show, legend, nightList, percent, pill, escapeHtml, agreementBlock };
})();
