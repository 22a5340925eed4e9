// Beside every 折 box (loyalty/money.py ZheInput): what a ¥100 order pays at the discount being typed.
// The server renders the same sentence; this keeps it live.  The wrapper carries the sentences in the
// operator's language and how many decimals the stored unit holds (8.8 for percent, 8.85 for basis points).
(function () {
  "use strict";

  function yuan(fen) {
    var cents = String(fen % 100);
    return "¥" + Math.floor(fen / 100).toLocaleString("en-US") + "." + (cents.length < 2 ? "0" + cents : cents);
  }

  function update(box) {
    var wrap = box.closest(".zhe-input");
    var out = wrap && wrap.querySelector(".zhe-preview");
    if (!out) return;
    var decimals = Number(wrap.dataset.decimals);
    var raw = box.value
      .replace(/[\uFF10-\uFF19\uFF0E]/g, function (c) { return String.fromCharCode(c.charCodeAt(0) - 0xFEE0); })
      .replace(/\s+/g, "")
      .replace(/折$/, "");
    if (raw === "") {
      out.textContent = wrap.dataset.none;
      return;
    }
    var steps = Math.pow(10, decimals);                // 折 in tenths (or hundredths)
    var units = Math.round(parseFloat(raw) * steps);
    var valid = new RegExp("^(\\d+(\\.\\d{0," + decimals + "})?|\\.\\d{1," + decimals + "})$").test(raw);
    if (!valid || units < 1 || units > 10 * steps - 1) {
      out.textContent = wrap.dataset.invalid;
      return;
    }
    out.textContent = wrap.dataset.pays.replace("{amount}", yuan(units * 1000 / steps));  // ¥100 × 折 / 10
  }

  document.addEventListener("input", function (event) {
    if (event.target.matches && event.target.matches(".zhe-input input")) update(event.target);
  });
})();
