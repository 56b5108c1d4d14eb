// Dashboard behaviour shared by every page: confirmation before destructive forms, and copy
// buttons for secrets shown once.
// Delegated, so that forms the live fax page puts in place later ask too.
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (form.matches("form[data-confirm]") && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
  }
});
document.querySelectorAll("button[data-copy]").forEach(function (button) {
  button.addEventListener("click", function () {
    var status = document.getElementById(button.dataset.status);
    navigator.clipboard.writeText(button.dataset.copy).then(function () {
      if (status) { status.textContent = "Copied."; }
    });
  });
});

// A fax's page follows its status live: every two seconds it fetches the page's live parts
// (status, pages, calls, history) and puts each in place of the element with the same id, until
// the fax is finished. A few lines of fetch rather than a framework; a failed fetch is retried
// more slowly, a page that is not shown waits until it is, and a fax waiting for its send time or
// its next call (minutes to days away) is asked about every 30 seconds.
(function () {
  var INTERVAL = 2000;
  var WAITING_INTERVAL = 30000;
  var status = document.getElementById("fax-status");
  if (!status || !status.dataset.liveUrl || status.dataset.terminal === "true") { return; }
  var url = status.dataset.liveUrl;
  var delay = INTERVAL;
  function schedule() { window.setTimeout(poll, delay); }
  function poll() {
    if (document.hidden) {
      document.addEventListener("visibilitychange", poll, { once: true });
      return;
    }
    fetch(url, { credentials: "same-origin", cache: "no-store", headers: { Accept: "text/html" } })
      .then(function (response) {
        // Logged out (redirected to the login page), no longer allowed, or gone: stop.
        if (response.redirected || response.status === 403 || response.status === 404) {
          throw new Error("stop");
        }
        if (!response.ok) { throw new Error("retry"); }
        return response.text();
      })
      .then(function (html) {
        var fragment = document.createElement("template");
        fragment.innerHTML = html;
        fragment.content.querySelectorAll("[data-live][id]").forEach(function (fresh) {
          var current = document.getElementById(fresh.id);
          if (current) { current.replaceWith(fresh); }
        });
        var fresh = document.getElementById("fax-status");
        delay = fresh && fresh.dataset.waiting === "true" ? WAITING_INTERVAL : INTERVAL;
        if (fresh && fresh.dataset.terminal !== "true") { schedule(); }
      })
      .catch(function (error) {
        if (error.message === "stop") { return; }
        delay = Math.min(delay * 2, 30000);
        schedule();
      });
  }
  if (status.dataset.waiting === "true") { delay = WAITING_INTERVAL; }
  schedule();
})();
