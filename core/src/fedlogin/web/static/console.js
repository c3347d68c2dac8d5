// fedlogin admin console: small enhancements of pages that work without JavaScript.
// Loaded from the page (never inline: the Content-Security-Policy allows only 'self' scripts).
(function () {
  "use strict";

  // Copy buttons (the Callback URL): shown only where they work.
  function setUpCopyButtons() {
    document.querySelectorAll("button[data-copy]").forEach(function (button) {
      var source = document.getElementById(button.getAttribute("data-copy"));
      if (!source) { return; }
      button.hidden = false;
      var label = button.textContent;
      button.addEventListener("click", function () {
        var done = function () {
          button.textContent = "Copied";
          window.setTimeout(function () { button.textContent = label; }, 2000);
        };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(source.value).then(done, function () {
            source.select();
          });
        } else {
          source.select();
          if (document.execCommand("copy")) { done(); }
        }
      });
    });
  }

  // The Callback URL follows the identifier typed on a new provider's form.
  function setUpCallbackUrl() {
    var identifier = document.querySelector("input[data-callback-identifier]");
    var output = document.getElementById("callback-url");
    if (!identifier || !output) { return; }
    var base = output.getAttribute("data-callback-base");
    var echo = document.querySelector("[data-callback-echo]");
    identifier.addEventListener("input", function () {
      var value = base + (identifier.value.trim().toLowerCase() || "{identifier}");
      output.value = value;
      if (echo) { echo.textContent = value; }
    });
  }

  // Logo upload: preview the chosen file (a data: URL, which the page's policy allows).
  function setUpLogoPreview() {
    var input = document.querySelector("input[type=file][name=logo]");
    var preview = document.getElementById("logo-preview");
    if (!input || !preview) { return; }
    input.addEventListener("change", function () {
      var file = input.files && input.files[0];
      if (!file) {
        preview.src = preview.getAttribute("data-original");
        return;
      }
      var reader = new FileReader();
      reader.addEventListener("load", function () { preview.src = reader.result; });
      reader.readAsDataURL(file);
    });
  }

  // Test Connection without leaving the page: post the form's values, show the report.
  function setUpConnectionTest() {
    var button = document.getElementById("test-connection");
    var output = document.getElementById("connection-report");
    if (!button || !output || !window.fetch) { return; }
    var form = button.form;
    // form.action would be the buttons named "action"; the attribute is the URL.
    var url = form.getAttribute("action") || window.location.href;
    button.addEventListener("click", function (event) {
      event.preventDefault();
      var data = new FormData(form);
      data.set("action", "test");
      ["logo", "logo_pending", "client_secret"].forEach(function (name) { data.delete(name); });
      var label = button.textContent;
      button.setAttribute("aria-busy", "true");
      button.disabled = true;
      button.textContent = "Testing…";
      fetch(url, {
        method: "POST",
        body: data,
        credentials: "same-origin",
        headers: { "X-Fedlogin-Fragment": "connection-report" }
      }).then(function (response) {
        return response.text().then(function (text) {
          if (!response.ok) { throw new Error("The server answered " + response.status + "."); }
          output.innerHTML = text;
        });
      }).catch(function (error) {
        var message = document.createElement("p");
        message.className = "report failed";
        message.setAttribute("role", "alert");
        message.textContent = "The test could not be run: " + error.message +
          " Reload the page and try again.";
        output.replaceChildren(message);
      }).finally(function () {
        button.removeAttribute("aria-busy");
        button.disabled = false;
        button.textContent = label;
        var result = document.getElementById("connection-result");
        if (result) { result.focus(); }
      });
    });
  }

  // A refused form: move the keyboard to the summary of what needs attention.
  function focusErrorSummary() {
    var summary = document.getElementById("error-summary");
    if (summary) { summary.focus(); }
  }

  document.addEventListener("DOMContentLoaded", function () {
    setUpCopyButtons();
    setUpCallbackUrl();
    setUpLogoPreview();
    setUpConnectionTest();
    focusErrorSummary();
  });
})();
