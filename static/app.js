// edensync console: small progressive enhancements. Every page works without them.
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  // Forms that destroy or disable something ask first.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) {
        event.preventDefault();
      }
    });
  });

  // Pages showing runs in progress refresh themselves while visible
  // (without JavaScript, their "Refresh" link does it).
  var live = document.querySelector("[data-live]");
  if (live) {
    var seconds = parseInt(live.getAttribute("data-live"), 10) || 2;
    setInterval(function () {
      if (document.visibilityState === "visible") {
        window.location.reload();
      }
    }, seconds * 1000);
  }

  // Copy buttons are hidden without JavaScript and shown when they can work.
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var target = document.querySelector(button.getAttribute("data-copy"));
    if (!target || !navigator.clipboard) {
      return;
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(target.textContent.trim()).then(function () {
        button.textContent = "Copied";
        setTimeout(function () { button.textContent = "Copy"; }, 1500);
      });
    });
  });
});
