/* Instrument forms: fast keyboard entry and the PSP conditional questions.
   Loaded as a static file (the CSP forbids inline scripts). */
(function () {
  "use strict";

  function valueInputs(form) {
    return Array.prototype.filter.call(form.querySelectorAll(".value"), function (el) {
      return !el.disabled && !el.closest("[hidden]");
    });
  }

  function setup(form) {
    // Enter in a value jumps to the next item's value instead of submitting the form.
    form.addEventListener("keydown", function (event) {
      var target = event.target;
      if (event.key !== "Enter" || !target.classList || !target.classList.contains("value")) {
        return;
      }
      event.preventDefault();
      var inputs = valueInputs(form);
      var next = inputs[inputs.indexOf(target) + 1];
      if (next) { next.focus(); } else {
        var complete = document.getElementById("save-complete");
        if (complete) { complete.focus(); }
      }
    });
    // A value and a missing reason exclude each other: choosing one clears the other.
    form.addEventListener("change", function (event) {
      var target = event.target;
      var code = target.dataset ? target.dataset.item : null;
      if (!code) { return; }
      var row = document.getElementById("row-" + code);
      if (!row) { return; }
      if (target.classList.contains("reason") && target.value) {
        var value = row.querySelector(".value");
        if (value) { value.value = ""; }
      } else if (target.classList.contains("value") && target.value) {
        var reason = row.querySelector(".reason");
        if (reason) { reason.value = ""; }
      }
    });
  }

  // PSP: show the follow-up question of the interval the domains give (11-20: prompts,
  // 1-10: survival risk); a hidden question is disabled so that it is not sent.
  function applyPspRelevance() {
    var hint = document.getElementById("psp-interval");
    if (!hint) { return; }
    var decile = hint.dataset.decile;
    var rules = { PSP_D9_PROMPT: "11", PSP_D10_SURVIVAL: "1" };
    Object.keys(rules).forEach(function (code) {
      var row = document.getElementById("row-" + code);
      if (!row) { return; }
      var relevant = decile === rules[code];
      row.hidden = !relevant;
      var form = row.closest("form");
      if (form && form.dataset.readonly !== "true") {
        row.querySelectorAll("select, input").forEach(function (el) { el.disabled = !relevant; });
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("entry-form");
    if (form) {
      setup(form);
      applyPspRelevance();
    }
  });
  document.addEventListener("htmx:afterSwap", applyPspRelevance);
})();
