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

  // Where the eye and the keyboard start: on the error summary after a refused save (its
  // links move focus to their field), else on the first item of an editable form.
  function placeFocus(form) {
    var summary = document.getElementById("error-summary");
    if (summary) {
      summary.focus();
      summary.addEventListener("click", function (event) {
        var link = event.target.closest("a[data-focus]");
        var field = link && document.getElementById(link.dataset.focus);
        if (!field) { return; }
        event.preventDefault();
        field.scrollIntoView({ block: "center" });
        field.focus();
      });
      return;
    }
    if (form.dataset.editable === "true") {
      var first = valueInputs(form)[0];
      if (first) { first.focus(); }
    }
  }

  // Unsaved work: leaving the page asks first while a change is neither saved by the user
  // nor by the automatic draft save. A change made while an autosave is on its way stays
  // unsaved until the next one.
  function guardUnsaved(form) {
    if (form.dataset.editable !== "true") { return; }
    var autosave = document.getElementById("autosave");
    var changes = 0;
    var saved = 0;
    var sending = null;
    var submitting = false;
    var deferred = null;
    function markChanged() { changes += 1; }
    form.addEventListener("input", markChanged);
    form.addEventListener("change", markChanged);
    window.addEventListener("beforeunload", function (event) {
      if (submitting || changes === saved) { return; }
      event.preventDefault();
      event.returnValue = "";
    });
    form.addEventListener("submit", function (event) {
      // A save must not cross an autosave on its way (it would carry a stale version):
      // wait for the answer, whose new version the form then sends.
      if (sending !== null) {
        event.preventDefault();
        deferred = { button: event.submitter || null };
        return;
      }
      submitting = true;
    });
    if (!autosave) { return; }
    autosave.addEventListener("htmx:beforeRequest", function (event) {
      if (submitting) { event.preventDefault(); return; }
      sending = changes;
    });
    autosave.addEventListener("htmx:beforeSwap", function (event) {
      // The line says why a draft was not saved (400 refused, 409 stale or completed).
      var status = event.detail.xhr.status;
      if (status === 400 || status === 409 || status === 403) {
        event.detail.shouldSwap = true;
        event.detail.isError = false;
      }
    });
    autosave.addEventListener("htmx:afterRequest", function (event) {
      if (event.detail.successful && sending !== null) { saved = sending; }
      sending = null;
      if (deferred !== null) {
        var button = deferred.button;
        deferred = null;
        if (button) { form.requestSubmit(button); } else { form.requestSubmit(); }
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("entry-form");
    if (form) {
      setup(form);
      applyPspRelevance();
      placeFocus(form);
      guardUnsaved(form);
    }
  });
  document.addEventListener("htmx:afterSwap", applyPspRelevance);
})();
