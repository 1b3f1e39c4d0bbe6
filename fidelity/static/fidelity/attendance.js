/* Attendance on a phone: "All present" marks every member present (the instructor then taps
   the ones who did not come), and the head count follows every tap. A static file: the CSP
   forbids inline scripts. Delegated from the document, since htmx swaps the form. */
(function () {
  "use strict";

  function countPresent(form) {
    var count = form.querySelectorAll('input[type=radio][value=present]:checked').length;
    var shown = form.querySelector("#present-count");
    if (shown) { shown.textContent = String(count); }
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-all-present]") : null;
    if (!button) { return; }
    var form = document.getElementById(button.dataset.allPresent);
    if (!form) { return; }
    form.querySelectorAll('input[type=radio][value=present]').forEach(function (radio) {
      if (!radio.disabled) { radio.checked = true; }
    });
    form.querySelectorAll(".unmarked").forEach(function (badge) { badge.hidden = true; });
    countPresent(form);
  });

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (!target.matches || !target.matches("#attendance input[type=radio]")) { return; }
    var form = target.closest("form");
    var badge = target.closest("li") && target.closest("li").querySelector(".unmarked");
    if (badge) { badge.hidden = true; }
    countPresent(form);
  });
})();
