// Randomisation confirm page: once the form is submitted, disable its button so a second
// click cannot send another request. (The server copes anyway: the form's token is an
// idempotency key, so a repeated submission returns the first allocation.)
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-once")) return;
  if (form.dataset.submitted === "true") {
    event.preventDefault();
    return;
  }
  form.dataset.submitted = "true";
  for (const button of form.querySelectorAll("button[type=submit]")) {
    button.setAttribute("aria-disabled", "true");
    button.textContent = "Randomising…";
  }
});
