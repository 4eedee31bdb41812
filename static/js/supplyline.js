// Small page behaviours, wired by data attributes instead of inline handlers, which the
// Content-Security-Policy forbids (docs/security.md). Listeners sit on the document, so
// they also cover HTML that htmx swaps in later.
"use strict";

// <input data-select-on-focus>: select the whole value on focus, e.g. a new API key to copy.
document.addEventListener("focusin", (event) => {
  const target = event.target;
  if (target instanceof HTMLInputElement && target.hasAttribute("data-select-on-focus")) {
    target.select();
  }
});
