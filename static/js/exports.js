/* The export page says whether the next export is blinded or unblinded before it starts:
   the sentence follows the "unblinded" box. Static file (CSP). */
(function () {
  "use strict";
  function update() {
    var kind = document.getElementById("export-kind");
    var box = document.querySelector('input[name="unblinded"]');
    if (!kind) { return; }
    var unblinded = Boolean(box && box.checked);
    kind.textContent = unblinded ? kind.dataset.unblinded : kind.dataset.blinded;
    kind.classList.toggle("unblinded", unblinded);
  }
  document.addEventListener("DOMContentLoaded", function () {
    update();
    document.addEventListener("change", function (event) {
      if (event.target.name === "unblinded") { update(); }
    });
  });
})();
