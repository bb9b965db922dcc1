// Progressive enhancement only: every page works without this file.
// 1. A form submits once: its submit buttons are disabled while the next page loads (no double orders).
// 2. The flash message takes the focus so keyboard and screen-reader users hear it first.
"use strict";
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (!(form instanceof HTMLFormElement)) return;
  window.setTimeout(function () {
    var buttons = document.querySelectorAll("button[type=submit]");
    for (var i = 0; i < buttons.length; i++) {
      if (buttons[i].form === form) buttons[i].disabled = true;
    }
  }, 0);
});
document.addEventListener("DOMContentLoaded", function () {
  var flash = document.querySelector(".flash");
  if (flash) {
    flash.setAttribute("tabindex", "-1");
    flash.focus();
  }
});
window.addEventListener("pageshow", function (event) {
  if (!event.persisted) return; // back/forward cache: give the buttons back
  var buttons = document.querySelectorAll("button[type=submit][disabled]:not([aria-describedby=not-ready])");
  for (var i = 0; i < buttons.length; i++) buttons[i].disabled = false;
});
