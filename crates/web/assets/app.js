// prompt-manager web UI: progressive enhancement only. Every page works without this script;
// it adds search as you type, copy buttons, and the live previews of the edit and playground
// pages. No dependencies, no build step.
"use strict";

/** The session's CSRF token, for script requests that change something. */
function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

/** POSTs a form's fields (url-encoded) and returns the response text; the CSRF header rides along. */
async function postForm(url, form) {
  const body = new URLSearchParams(new FormData(form));
  const response = await fetch(url, {
    method: "POST",
    headers: { "x-csrf-token": csrfToken(), "x-requested-with": "fetch" },
    body,
  });
  return { ok: response.ok, status: response.status, text: await response.text() };
}

/** Calls `fn` once input has paused for `ms`. */
function debounce(fn, ms) {
  let timer;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

/** Replaces the element `selector` of this page by the same element of `html` (a whole page). */
function swapFrom(html, selector) {
  const doc = new DOMParser().parseFromString(html, "text/html");
  const fresh = doc.querySelector(selector);
  const current = document.querySelector(selector);
  if (fresh && current) current.replaceWith(fresh);
}

// Search as you type on the browse page: the same GET the form sends, results swapped in.
function liveSearch() {
  const form = document.querySelector("form[data-live-search]");
  if (!form) return;
  let last = "";
  const run = debounce(async () => {
    const query = new URLSearchParams(new FormData(form)).toString();
    if (query === last) return;
    last = query;
    const url = form.action + "?" + query;
    const response = await fetch(url, { headers: { accept: "text/html" } });
    if (!response.ok) return;
    swapFrom(await response.text(), "#results");
    history.replaceState(null, "", url);
  }, 250);
  form.addEventListener("input", run);
  form.addEventListener("change", run);
}

// Copy buttons: <button data-copy="#element-id">.
function copyButtons() {
  document.addEventListener("click", async (event) => {
    const button = event.target.closest("[data-copy]");
    if (!button) return;
    const source = document.querySelector(button.dataset.copy);
    if (!source) return;
    try {
      await navigator.clipboard.writeText(source.innerText);
      const label = button.textContent;
      button.textContent = "Copied";
      setTimeout(() => (button.textContent = label), 1200);
    } catch (_) {
      const range = document.createRange();
      range.selectNodeContents(source);
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
    }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  liveSearch();
  copyButtons();
  for (const init of window.pmInit || []) init();
});
