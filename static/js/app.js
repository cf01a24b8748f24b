// FluenzR dashboard behaviour: no inline scripts (strict CSP), progressive enhancement only.
(function () {
  "use strict";

  document.addEventListener("click", function (event) {
    var target = event.target.closest("[data-toggle='sidebar']");
    if (target) {
      var open = document.body.classList.toggle("sidebar-open");
      target.setAttribute("aria-expanded", open ? "true" : "false");
      return;
    }
    var dismiss = event.target.closest("[data-dismiss='toast']");
    if (dismiss) {
      dismiss.closest(".toast").remove();
      return;
    }
    var copy = event.target.closest("[data-copy]");
    if (copy) {
      var source = document.querySelector(copy.getAttribute("data-copy"));
      if (source && navigator.clipboard) {
        navigator.clipboard.writeText(source.textContent.trim());
        copy.textContent = copy.getAttribute("data-copied") || "✓";
      }
      return;
    }
    // Close open menus when clicking elsewhere.
    document.querySelectorAll("details.dropdown[open]").forEach(function (menu) {
      if (!menu.contains(event.target)) menu.removeAttribute("open");
    });
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    document.querySelectorAll("details.dropdown[open]").forEach(function (menu) {
      menu.removeAttribute("open");
      var summary = menu.querySelector("summary");
      if (summary) summary.focus();
    });
    if (document.body.classList.contains("sidebar-open")) {
      document.body.classList.remove("sidebar-open");
    }
  });

  // A destructive action asks once, naming what will be lost.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var message = form.getAttribute("data-confirm");
    if (!message && form.elements.action && form.elements.action.value === "delete") {
      message = form.getAttribute("data-confirm-delete");
    }
    if (message && !window.confirm(message)) event.preventDefault();
  });

  // "Select all" checkboxes tick every checkbox of the same name on the page.
  document.addEventListener("change", function (event) {
    var all = event.target.closest("[data-check-all]");
    if (!all) return;
    var name = all.getAttribute("data-check-all");
    document.querySelectorAll("input[type='checkbox'][name='" + name + "']").forEach(function (box) {
      box.checked = all.checked;
    });
  });

  // SMTP/IMAP presets: choosing a provider fills in its servers, ports and security.
  function applyPreset(select, overwrite) {
    var presets = JSON.parse(select.getAttribute("data-presets") || "{}");
    var preset = presets[select.value];
    var help = document.getElementById("preset-help");
    if (help) help.textContent = preset ? preset.help : "";
    if (!preset || !overwrite) return;
    var form = select.form;
    ["smtp_host", "smtp_port", "smtp_security", "imap_host", "imap_port", "imap_security"].forEach(
      function (name) {
        if (form.elements[name]) form.elements[name].value = preset[name];
      }
    );
    if (form.elements.append_to_sent) form.elements.append_to_sent.checked = preset.append_to_sent;
  }
  document.addEventListener("change", function (event) {
    if (event.target.matches("select[data-presets]")) applyPreset(event.target, true);
  });
  document.querySelectorAll("select[data-presets]").forEach(function (select) {
    var form = select.form;
    var empty = form && form.elements.smtp_host && !form.elements.smtp_host.value;
    applyPreset(select, Boolean(empty));
  });
})();

/* Campaigns */
// The variable menu inserts {{name}} at the cursor of the subject or body last focused in
// its form (the body when none was).
(function () {
  "use strict";

  var lastTarget = new WeakMap();
  document.addEventListener("focusin", function (event) {
    var field = event.target.closest("[data-variable-target]");
    if (field && field.form) lastTarget.set(field.form, field);
  });
  document.addEventListener("change", function (event) {
    var menu = event.target.closest("select[data-insert-variable]");
    if (!menu || !menu.value) return;
    var form = menu.form || menu.closest("form");
    var field = (form && lastTarget.get(form)) || (form && form.querySelector("textarea[data-variable-target]"));
    var text = "{{" + menu.value + "}}";
    menu.value = "";
    if (!field) return;
    var start = typeof field.selectionStart === "number" ? field.selectionStart : field.value.length;
    var end = typeof field.selectionEnd === "number" ? field.selectionEnd : start;
    field.value = field.value.slice(0, start) + text + field.value.slice(end);
    field.focus();
    field.setSelectionRange(start + text.length, start + text.length);
  });
})();
