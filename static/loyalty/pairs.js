// "Add a row" under a table of two boxes per row (loyalty/admin_forms.py PairsWidget): a copy of the
// last row, emptied.  Without this script the page still has two empty rows to fill.
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest(".lo-pairs-add");
    if (!button) return;
    var table = button.previousElementSibling;
    var body = table && table.tBodies[0];
    if (!body || !body.rows.length) return;
    var row = body.rows[body.rows.length - 1].cloneNode(true);
    row.querySelectorAll("input").forEach(function (box) { box.value = ""; });
    body.appendChild(row);
    row.querySelector("input").focus();
  });
})();
