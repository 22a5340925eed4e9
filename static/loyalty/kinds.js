// Only the fields of the chosen kind (loyalty/admin_forms.py KindFormMixin).
// A switch (a <select> with data-kind-switch = {choice: [field names]}) shows the rows of the fields
// that belong to its value and hides the others; hidden fields are disabled, so they are not posted
// and the server stores their defaults.  Switches apply in page order: a switch hidden by an earlier
// one counts as unset.  data-kind-blocks = {choice: [element ids]} shows or hides whole blocks (an
// inline's group); when the form is sent, the rows of a hidden inline are marked for deletion.
// A fieldset whose every row is hidden is hidden too.  Plain DOM, no library.
(function () {
  "use strict";

  function rowOf(form, name) {
    return form.querySelector(".field-" + CSS.escape(name));
  }

  function show(el, on) {
    el.classList.toggle("lo-kind-off", !on);  // display: none !important (loyalty/forms.css)
  }

  function setRow(form, name, on) {
    var row = rowOf(form, name);
    if (!row) return;
    show(row, on);
    row.querySelectorAll("input, select, textarea, button").forEach(function (el) {
      if (!("kindDisabled" in el.dataset)) el.dataset.kindDisabled = el.disabled ? "1" : "";
      el.disabled = !on || el.dataset.kindDisabled === "1";
    });
  }

  function names(map) {
    var all = [];
    Object.keys(map).forEach(function (k) { all = all.concat(map[k]); });
    return all;
  }

  function apply(form) {
    var off = {};
    form.querySelectorAll("[data-kind-switch]").forEach(function (sw) {
      var value = (off[sw.name] || sw.disabled) ? null : sw.value;
      var map = JSON.parse(sw.dataset.kindSwitch);
      var on = value !== null && map[value] ? map[value] : [];
      names(map).forEach(function (name) {
        var shown = on.indexOf(name) >= 0;
        if (!shown) off[name] = true;
        setRow(form, name, shown);
      });
      if (sw.dataset.kindBlocks) {
        var blocks = JSON.parse(sw.dataset.kindBlocks);
        var shownBlocks = value !== null && blocks[value] ? blocks[value] : [];
        names(blocks).forEach(function (id) {
          var block = document.getElementById(id);
          if (block) show(block, shownBlocks.indexOf(id) >= 0);
        });
      }
    });
    // Rows holding several fields (the theme's layout) and fieldsets are hidden when all they hold is.
    form.querySelectorAll(".form-row").forEach(function (row) {
      var lines = row.querySelectorAll(":scope > .field-line, :scope > .fieldBox");
      if (lines.length) {
        show(row, Array.prototype.some.call(lines, function (l) { return !l.classList.contains("lo-kind-off"); }));
      }
    });
    form.querySelectorAll("fieldset").forEach(function (fieldset) {
      if (fieldset.closest(".inline-group, .inline-related")) return;
      var rows = fieldset.querySelectorAll(".form-row");
      if (!rows.length) return;
      show(fieldset, Array.prototype.some.call(rows, function (r) { return !r.classList.contains("lo-kind-off"); }));
    });
  }

  function clearHiddenBlocks(form) {
    form.querySelectorAll("[data-kind-blocks]").forEach(function (sw) {
      names(JSON.parse(sw.dataset.kindBlocks)).forEach(function (id) {
        var block = document.getElementById(id);
        if (!block || !block.classList.contains("lo-kind-off")) return;
        block.querySelectorAll("input[name$='-DELETE']").forEach(function (box) { box.checked = true; });
        block.querySelectorAll("input:not([type=hidden]):not([type=checkbox]), textarea").forEach(function (box) {
          box.value = "";
        });
      });
    });
  }

  function init() {
    document.querySelectorAll("form").forEach(function (form) {
      if (!form.querySelector("[data-kind-switch]")) return;
      apply(form);
      form.addEventListener("change", function (event) {
        if (event.target.matches("[data-kind-switch]")) apply(form);
      });
      form.addEventListener("submit", function () { clearHiddenBlocks(form); });
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
