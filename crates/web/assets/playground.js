// prompt-manager web UI: the playground page. Renders as the user types (a debounced POST that
// returns the result fragment), keeps the fields and the JSON editor in step, shows each field's
// problem next to it, turns the output sections into tabs, and keeps the page's URL the
// shareable one (history.replaceState). Without this script the form posts and the page shows
// the same result.
"use strict";

(function () {
  let selectedTab = null;
  let sequence = 0;

  /** Shows one output panel and hides the others (all stay visible without this script). */
  function setupTabs(result) {
    const tabs = [...result.querySelectorAll("[data-tab]")];
    if (!tabs.length) return;
    result.classList.add("tabbed");
    const names = tabs.map((t) => t.dataset.tab);
    if (!names.includes(selectedTab)) selectedTab = names[0];
    for (const tab of tabs) {
      const on = tab.dataset.tab === selectedTab;
      tab.setAttribute("aria-selected", on ? "true" : "false");
      tab.tabIndex = on ? 0 : -1;
      const panel = document.getElementById(tab.dataset.tab);
      if (panel) panel.hidden = !on;
      tab.onclick = (event) => {
        event.preventDefault();
        selectedTab = tab.dataset.tab;
        setupTabs(result);
        tab.focus();
      };
      tab.onkeydown = (event) => {
        const step = event.key === "ArrowRight" ? 1 : event.key === "ArrowLeft" ? -1 : 0;
        if (!step) return;
        event.preventDefault();
        const next = tabs[(tabs.indexOf(tab) + step + tabs.length) % tabs.length];
        selectedTab = next.dataset.tab;
        setupTabs(result);
        next.focus();
      };
    }
  }

  /** Puts each field's problem (from the result's data-errors) next to it. */
  function showErrors(result) {
    let errors = {};
    try {
      errors = JSON.parse(result.dataset.errors || "{}");
    } catch (_) {
      errors = {};
    }
    for (const p of document.querySelectorAll(".field-error[data-error-for]")) {
      const message = errors[p.dataset.errorFor];
      p.textContent = message || "";
      p.hidden = !message;
      const field = p.closest(".field");
      if (field) field.classList.toggle("invalid", !!message);
      const input = document.querySelector(`[aria-describedby="${p.id}"]`);
      if (input) {
        if (message) input.setAttribute("aria-invalid", "true");
        else input.removeAttribute("aria-invalid");
      }
    }
  }

  /** The shareable link as an absolute URL, and the page's own URL set to it. */
  function showShare(result, replace) {
    const share = result.dataset.share;
    const link = document.getElementById("share-url");
    if (!share || !link) return;
    link.textContent = location.origin + share;
    if (replace) history.replaceState(null, "", share);
  }

  /** Fills the fields from a JSON object of variables (after editing the JSON editor). */
  function fillFields(vars) {
    for (const field of document.querySelectorAll(".var-field[data-var]")) {
      const name = field.dataset.var;
      const kind = field.dataset.input;
      if (kind === "checkbox") {
        const box = field.querySelector('input[type="checkbox"]');
        if (box) box.checked = vars[name] === true;
        continue;
      }
      const input = field.querySelector("textarea, input:not([type=hidden])");
      if (!input) continue;
      const value = vars[name];
      if (value === undefined || value === null) input.value = "";
      else if (kind === "json") input.value = JSON.stringify(value, null, 2);
      else input.value = typeof value === "string" ? value : JSON.stringify(value);
    }
  }

  function init() {
    const form = document.getElementById("play-form");
    const result = document.getElementById("result");
    if (!form || !result) return;
    const json = document.getElementById("vars-json");
    for (const hint of form.querySelectorAll(".js-only")) hint.hidden = false;
    setupTabs(result);
    showShare(result, false);

    const render = debounce(async (mode) => {
      const mine = ++sequence;
      const body = new URLSearchParams(new FormData(form));
      body.set("mode", mode);
      let response;
      try {
        response = await fetch(form.action, {
          method: "POST",
          headers: { "x-csrf-token": csrfToken(), "x-requested-with": "fetch" },
          body,
        });
      } catch (_) {
        return; // Offline: the Render button still works once the server is back.
      }
      const text = await response.text();
      if (mine !== sequence) return; // A newer render is on its way.
      const current = document.getElementById("result");
      if (!current) return;
      const doc = new DOMParser().parseFromString(text, "text/html");
      if (!response.ok) {
        // An error page (the prompt was deleted, the session ended): say so in the result.
        const detail = doc.querySelector(".error-page .detail, p");
        const problem = document.createElement("p");
        problem.className = "problem";
        problem.setAttribute("role", "alert");
        problem.textContent = detail ? detail.textContent : `The server answered ${response.status}.`;
        current.querySelector(".problem[role=alert]")?.remove();
        current.querySelector("h2")?.after(problem);
        return;
      }
      const fresh = doc.getElementById("result");
      if (!fresh) return;
      current.replaceWith(fresh);
      setupTabs(fresh);
      showErrors(fresh);
      showShare(fresh, true);
      if (mode === "fields" && json && document.activeElement !== json) {
        try {
          json.value = JSON.stringify(JSON.parse(fresh.dataset.vars || "{}"), null, 2);
        } catch (_) {
          /* keep what is there */
        }
      }
    }, 300);

    form.addEventListener("input", (event) => {
      if (event.target.name === "ref") return;
      if (event.target === json) {
        try {
          const vars = JSON.parse(json.value || "{}");
          if (vars && typeof vars === "object" && !Array.isArray(vars)) fillFields(vars);
        } catch (_) {
          /* the server says what is wrong with it */
        }
        render("json");
      } else {
        render("fields");
      }
    });
    form.addEventListener("change", (event) => {
      if (event.target.type === "checkbox") render("fields");
    });

    // Another version or label has other fields: open its playground with the same variables.
    const ref = document.getElementById("play-ref");
    if (ref) {
      ref.addEventListener("change", () => {
        const vars = document.getElementById("result")?.dataset.vars || "{}";
        const query = new URLSearchParams({ ref: ref.value, vars });
        location.assign(form.dataset.play + "?" + query.toString());
      });
    }
  }

  window.pmInit = window.pmInit || [];
  window.pmInit.push(init);
})();
