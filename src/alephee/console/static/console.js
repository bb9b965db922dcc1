// Operator console: small progressive enhancements only (every page works without script).
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  // The navigation starts open on wide screens (it is a <details> element so narrow screens can fold it).
  var menu = document.querySelector("details.menu");
  if (menu && window.matchMedia("(min-width: 721px)").matches) { menu.open = true; }
  // Forms that change something irreversible ask first.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });
  // "Copy" next to a secret shown once.
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source || !navigator.clipboard) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(source.textContent.trim());
    });
  });
});
