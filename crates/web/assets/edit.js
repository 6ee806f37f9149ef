// The edit and new-prompt pages: chat cards added, removed and moved in place (the same changes
// the submit buttons ask the server for without JavaScript), and the preview refreshed as you
// type. The form still posts as it would without this script; nothing is saved from here.
"use strict";

(function () {
  const form = document.querySelector("form[data-prompt-form]");
  if (!form) return;
  // Not `form.action`: the buttons named `action` shadow it.
  const target = form.getAttribute("action");
  const cards = form.querySelector("[data-cards]");

  /** Renames a card's fields, ids and buttons for its position `i` (0-based) of `count`. */
  function renumber() {
    if (!cards) return;
    const all = Array.from(cards.querySelectorAll(":scope > [data-card]"));
    all.forEach((card, i) => {
      const n = i + 1;
      card.querySelectorAll("[name]").forEach((el) => {
        el.name = el.name.replace(/^m(\d+|__I__)\./, `m${i}.`);
      });
      card.querySelectorAll("[id]").forEach((el) => {
        el.id = el.id.replace(/^m(\d+|__I__)-/, `m${i}-`);
      });
      card.querySelectorAll("label[for]").forEach((el) => {
        el.htmlFor = el.htmlFor.replace(/^m(\d+|__I__)-/, `m${i}-`);
      });
      const pos = card.querySelector("[data-pos]");
      if (pos) pos.textContent = `#${n}`;
      card.querySelectorAll("button[name=action]").forEach((b) => {
        const verb = b.value.split(":")[0];
        b.value = `${verb}:${i}`;
        const label = b.getAttribute("aria-label");
        if (label) b.setAttribute("aria-label", label.replace(/#(\d+|__N__)/, `#${n}`));
        if (verb === "move_up") b.disabled = i === 0;
        if (verb === "move_down") b.disabled = i === all.length - 1;
      });
    });
  }

  function flash(card) {
    card.classList.add("moved");
    setTimeout(() => card.classList.remove("moved"), 600);
  }

  function addCard(kind) {
    const template = form.querySelector(`template[data-card-template="${kind}"]`);
    if (!template || !cards) return;
    const wrapper = document.createElement("div");
    wrapper.innerHTML = template.innerHTML.trim();
    const card = wrapper.firstElementChild;
    cards.appendChild(card);
    renumber();
    const focus = card.querySelector("textarea") || card.querySelector("input[type=text]");
    if (focus) focus.focus();
    schedulePreview();
  }

  form.addEventListener("click", (event) => {
    const button = event.target.closest("button");
    if (!button || !form.contains(button)) return;
    const card = button.closest("[data-card]");
    if (button.hasAttribute("data-add")) {
      event.preventDefault();
      addCard(button.dataset.add);
    } else if (card && button.hasAttribute("data-remove")) {
      event.preventDefault();
      const next = card.nextElementSibling || card.previousElementSibling;
      card.remove();
      renumber();
      const target = next && next.querySelector("button[data-remove]");
      if (target) target.focus();
      schedulePreview();
    } else if (card && button.hasAttribute("data-move")) {
      event.preventDefault();
      const up = button.dataset.move === "-1";
      const sibling = up ? card.previousElementSibling : card.nextElementSibling;
      if (!sibling) return;
      if (up) cards.insertBefore(card, sibling);
      else cards.insertBefore(sibling, card);
      renumber();
      flash(card);
      const again = card.querySelector(`button[data-move="${button.dataset.move}"]`);
      (again && !again.disabled ? again : card.querySelector("button[data-move]")).focus();
      schedulePreview();
    } else if (button.hasAttribute("data-preview")) {
      event.preventDefault();
      preview(button);
    }
  });

  // A role change recolours its card.
  form.addEventListener("change", (event) => {
    if (!event.target.matches("[data-role]")) return;
    const card = event.target.closest("[data-card]");
    card.className = card.className.replace(/role-\w+/, `role-${event.target.value}`);
  });

  /** Posts the form as "preview" and swaps in the preview and the save box. */
  let inFlight = 0;
  async function preview(submitter) {
    const data = new FormData(form);
    data.set("action", "preview");
    const ticket = ++inFlight;
    let response;
    try {
      response = await fetch(target, {
        method: "POST",
        headers: { "x-csrf-token": typeof csrfToken === "function" ? csrfToken() : "", "x-requested-with": "fetch" },
        body: new URLSearchParams(data),
      });
    } catch (_) {
      return;
    }
    const html = await response.text();
    if (ticket !== inFlight) return; // a newer preview is on its way
    const doc = new DOMParser().parseFromString(html, "text/html");
    const fresh = doc.querySelector("#preview");
    if (!fresh) {
      // An error page (signed out, too large): show its message where the preview goes.
      const detail = doc.querySelector(".detail");
      const box = document.querySelector("#preview");
      if (box) {
        box.innerHTML = "";
        const p = document.createElement("p");
        p.className = "problem";
        p.textContent = detail ? detail.textContent : `The preview failed (HTTP ${response.status}).`;
        box.appendChild(p);
      }
      return;
    }
    document.querySelector("#preview").replaceWith(fresh);
    const save = doc.querySelector(".save-box");
    const current = document.querySelector(".save-box");
    if (save && current) {
      // Keep what the user is typing in the changelog.
      const typing = document.activeElement && document.activeElement.id === "changelog";
      if (!typing) current.replaceWith(save);
    }
    if (submitter) fresh.scrollIntoView({ behavior: "smooth", block: "start" });
  }

  let timer;
  function schedulePreview() {
    if (!document.querySelector("#preview section")) return; // only once a preview is shown
    clearTimeout(timer);
    timer = setTimeout(() => preview(null), 700);
  }
  form.addEventListener("input", (event) => {
    if (event.target.id === "changelog") return;
    schedulePreview();
  });
})();
