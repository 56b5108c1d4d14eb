// The Send a fax page: files chosen with the picker or dropped, listed with their total size;
// a preview step (the same form posted to the preview endpoint, answered with the page count
// and thumbnails) before the Send button is enabled; any change asks for a new preview.
// Without JavaScript the form still sends, with the server's checks.
(function () {
  var form = document.getElementById("send-form");
  if (!form) { return; }
  var input = document.getElementById("id_files");
  var zone = document.getElementById("drop-zone");
  var list = document.getElementById("file-list");
  var summary = document.getElementById("file-summary");
  var preview = document.getElementById("preview");
  var previewButton = document.getElementById("preview-button");
  var sendButton = document.getElementById("send-button");
  var maxFiles = Number(form.dataset.maxFiles);
  var maxBytes = Number(form.dataset.maxBytes);
  var accepted = form.dataset.accept.split(",");
  var chosen = [];

  function size(bytes) {
    return bytes >= 1e6 ? (bytes / 1e6).toFixed(1) + " MB" : Math.ceil(bytes / 1e3) + " KB";
  }
  function acceptable(file) {
    var name = file.name.toLowerCase();
    return accepted.some(function (extension) { return name.endsWith(extension); });
  }
  function sync() {
    var transfer = new DataTransfer();
    chosen.forEach(function (file) { transfer.items.add(file); });
    input.files = transfer.files;
    list.replaceChildren();
    chosen.forEach(function (file, index) {
      var item = document.createElement("li");
      item.textContent = file.name + " (" + size(file.size) + ") ";
      var remove = document.createElement("button");
      remove.type = "button";
      remove.className = "secondary outline file-remove";
      remove.textContent = "Remove";
      remove.addEventListener("click", function () {
        chosen.splice(index, 1);
        sync();
        invalidate();
      });
      item.appendChild(remove);
      list.appendChild(item);
    });
    var total = chosen.reduce(function (sum, file) { return sum + file.size; }, 0);
    var problem = "";
    if (chosen.length > maxFiles) { problem = "At most " + maxFiles + " files."; }
    else if (total > maxBytes) { problem = "At most " + size(maxBytes) + " in all."; }
    input.setCustomValidity(problem);
    summary.textContent = chosen.length
      ? chosen.length + " file" + (chosen.length > 1 ? "s" : "") + ", " + size(total) + " in all. " + problem
      : "";
  }
  function add(files) {
    var refused = [];
    Array.prototype.forEach.call(files, function (file) {
      if (!acceptable(file)) { refused.push(file.name); return; }
      var known = chosen.some(function (other) {
        return other.name === file.name && other.size === file.size && other.lastModified === file.lastModified;
      });
      if (!known) { chosen.push(file); }
    });
    sync();
    if (refused.length) {
      summary.textContent += " Not a PDF, TIFF, PNG or JPEG file: " + refused.join(", ") + ".";
    }
    invalidate();
  }

  input.addEventListener("change", function () { add(input.files); });
  ["dragenter", "dragover"].forEach(function (type) {
    zone.addEventListener(type, function (event) {
      event.preventDefault();
      zone.classList.add("dragging");
    });
  });
  zone.addEventListener("dragleave", function () { zone.classList.remove("dragging"); });
  zone.addEventListener("drop", function (event) {
    event.preventDefault();
    zone.classList.remove("dragging");
    add(event.dataTransfer.files);
  });

  // The preview step: Send is enabled once the form's current values have been previewed.
  // Each change counts, so that a preview answered after a change (the request was on its way)
  // is not taken for the new values'.
  var changes = 0;
  function showStale() {
    preview.replaceChildren();
    var note = document.createElement("p");
    note.id = "preview-stale";
    note.textContent = "The form changed: preview it again before sending.";
    preview.appendChild(note);
  }
  function invalidate() {
    changes += 1;
    sendButton.disabled = true;
    if (preview.firstElementChild) { showStale(); }
  }
  previewButton.hidden = false;
  sendButton.disabled = true;
  form.addEventListener("input", function (event) {
    if (event.target !== input) { invalidate(); }
  });
  previewButton.addEventListener("click", function () {
    if (!form.reportValidity()) { return; }
    previewButton.setAttribute("aria-busy", "true");
    previewButton.disabled = true;
    var previewed = changes;
    fetch(form.dataset.previewUrl, {
      method: "POST",
      body: new FormData(form),
      credentials: "same-origin",
      headers: { Accept: "text/html" },
    })
      .then(function (response) {
        return response.text().then(function (html) { return { ok: response.ok, html: html }; });
      })
      .then(function (answer) {
        if (previewed !== changes) { showStale(); return; }
        var fragment = document.createElement("template");
        fragment.innerHTML = answer.html;
        preview.replaceChildren(fragment.content);
        sendButton.disabled = !answer.ok;
        if (answer.ok) { sendButton.focus(); }
      })
      .catch(function () {
        preview.textContent = "The preview could not be loaded. Check your connection and try again.";
      })
      .finally(function () {
        previewButton.removeAttribute("aria-busy");
        previewButton.disabled = false;
      });
  });
  // A second click while the first request runs is harmless (the token), but pointless.
  form.addEventListener("submit", function () { sendButton.disabled = true; });
})();
