// Dashboard behaviour shared by every page: confirmation before destructive forms, and copy
// buttons for secrets shown once.
document.querySelectorAll("form[data-confirm]").forEach(function (form) {
  form.addEventListener("submit", function (event) {
    if (!window.confirm(form.dataset.confirm)) { event.preventDefault(); }
  });
});
document.querySelectorAll("button[data-copy]").forEach(function (button) {
  button.addEventListener("click", function () {
    var status = document.getElementById(button.dataset.status);
    navigator.clipboard.writeText(button.dataset.copy).then(function () {
      if (status) { status.textContent = "Copied."; }
    });
  });
});
