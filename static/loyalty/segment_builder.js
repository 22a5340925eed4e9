// The segment builder (analytics/segment_builder.py SegmentBuilder): groups of conditions joined by
// AND or OR, nested, written as the stored rule tree into the hidden input beside it, with the live
// number of members it matches ("预估人数") asked of the admin's count endpoint as the operator types.
// The server renders the field list (labels, options, units), the sentences in the operator's language
// and the theme's CSS classes into data attributes; this file holds no text of its own.  Plain DOM.
(function () {
  "use strict";

  var MAX_DEPTH = 4;  // groups inside the root group; the server allows five levels in all

  function make(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") node.textContent = attrs[key];
      else if (key.slice(0, 2) === "on") node.addEventListener(key.slice(2), attrs[key]);
      else if (attrs[key] !== null && attrs[key] !== undefined && attrs[key] !== false) node.setAttribute(key, attrs[key]);
    });
    (children || []).forEach(function (child) {
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  // "1,000" / "１０００" / " 1000 " → 1000; "" → null; anything else → NaN.
  function number(text, scale) {
    var raw = String(text)
      .replace(/[\uFF10-\uFF19\uFF0E]/g, function (c) { return String.fromCharCode(c.charCodeAt(0) - 0xFEE0); })
      .replace(/[,，\s¥￥]/g, "");
    if (raw === "") return null;
    if (!/^-?\d+(\.\d+)?$/.test(raw)) return NaN;
    return Math.round(parseFloat(raw) * (scale || 1));
  }

  function Builder(root) {
    this.root = root;
    this.input = document.getElementById(root.dataset.for);
    this.fields = JSON.parse(root.dataset.fields);
    this.spec = {};
    this.fields.forEach(function (f) { this.spec[f.field] = f; }, this);
    this.t = JSON.parse(root.dataset.texts);
    this.cls = JSON.parse(root.dataset.classes);
    this.url = root.dataset.countUrl;
    this.seq = 0;
    this.timer = null;
    this.rule = this.read();
    this.tree = root.querySelector(".sb-tree");
    this.countValue = root.querySelector(".sb-count-value");
    this.countNote = root.querySelector(".sb-count-note");
    this.render();
    this.sync();
  }

  Builder.prototype.read = function () {
    var rule;
    try { rule = JSON.parse(this.input.value || "null"); } catch (e) { rule = null; }
    if (!rule || typeof rule !== "object" || Array.isArray(rule)) return {op: "and", conditions: []};
    if ("field" in rule) return {op: "and", conditions: [rule]};
    if (!Array.isArray(rule.conditions)) rule.conditions = [];
    if (rule.op !== "or") rule.op = "and";
    return rule;
  };

  Builder.prototype.select = function (options, value, extra) {
    var box = make("select", Object.assign({"class": this.cls.select}, extra || {}));
    options.forEach(function (o) {
      var opt = make("option", {value: o[0], text: o[1]});
      if (String(o[0]) === String(value)) opt.selected = true;
      box.appendChild(opt);
    });
    return box;
  };

  Builder.prototype.box = function (value, extra) {
    return make("input", Object.assign({type: "text", inputmode: "decimal", "class": this.cls.input + " sb-num", value: value}, extra || {}));
  };

  Builder.prototype.button = function (text, onclick, extra) {
    return make("button", Object.assign({type: "button", "class": this.cls.button, text: text, onclick: onclick}, extra || {}));
  };

  Builder.prototype.fresh = function (spec) {
    if (spec.type === "choices") return [];
    if (spec.type === "range") return {};
    if (spec.type === "days") return spec.default || "";
    return "";
  };

  Builder.prototype.render = function () {
    this.tree.textContent = "";
    this.tree.appendChild(this.group(this.rule, 0, null));
  };

  Builder.prototype.group = function (group, depth, parent) {
    var self = this;
    var box = make("div", {"class": "sb-group", "data-depth": depth});
    var op = this.select([["and", this.t.all], ["or", this.t.any]], group.op, {"class": this.cls.select + " sb-group-op"});
    op.addEventListener("change", function () { group.op = op.value; self.changed(true); });
    var head = make("div", {"class": "sb-head"}, [make("span", {text: this.t.members_who}), op]);
    if (parent) {
      head.appendChild(this.button(this.t.remove_group, function () {
        parent.conditions.splice(parent.conditions.indexOf(group), 1);
        self.changed(true);
      }, {"class": this.cls.button_light + " sb-remove"}));
    }
    box.appendChild(head);
    group.conditions.forEach(function (item, i) {
      if (i) box.appendChild(make("div", {"class": "sb-join", text: group.op === "or" ? self.t.or : self.t.and}));
      box.appendChild(item && typeof item === "object" && "field" in item ? self.leaf(item, group) : self.group(item, depth + 1, group));
    });
    if (!group.conditions.length) box.appendChild(make("p", {"class": "sb-empty", text: this.t.empty}));
    var actions = make("div", {"class": "sb-actions"}, [
      this.button(this.t.add_condition, function () {
        var spec = self.fields[0];
        group.conditions.push({field: spec.field, value: self.fresh(spec)});
        self.changed(true);
      }, {"class": this.cls.button_light + " sb-add-condition"}),
    ]);
    if (depth < MAX_DEPTH) {
      actions.appendChild(this.button(this.t.add_group, function () {
        var spec = self.fields[0];
        group.conditions.push({op: group.op === "and" ? "or" : "and", conditions: [{field: spec.field, value: self.fresh(spec)}]});
        self.changed(true);
      }, {"class": this.cls.button_light + " sb-add-group"}));
    }
    box.appendChild(actions);
    return box;
  };

  Builder.prototype.leaf = function (leaf, group) {
    var self = this;
    var spec = this.spec[leaf.field];
    var row = make("div", {"class": "sb-cond", "data-field": leaf.field});
    var options = this.fields.map(function (f) { return [f.field, f.label]; });
    if (!spec) options.push([leaf.field, this.t.unknown + " " + leaf.field]);
    var field = this.select(options, leaf.field, {"class": this.cls.select + " sb-field"});
    field.addEventListener("change", function () {
      leaf.field = field.value;
      leaf.value = self.fresh(self.spec[leaf.field]);
      self.changed(true);
    });
    row.appendChild(field);
    if (spec) row.appendChild(this.values(leaf, spec));
    row.appendChild(this.button(this.t.remove, function () {
      group.conditions.splice(group.conditions.indexOf(leaf), 1);
      self.changed(true);
    }, {"class": this.cls.button_light + " sb-remove"}));
    return row;
  };

  Builder.prototype.values = function (leaf, spec) {
    var self = this;
    var wrap = make("div", {"class": "sb-values"});
    if (spec.type === "choices") {
      if (!Array.isArray(leaf.value)) leaf.value = [];
      wrap.appendChild(make("span", {text: this.t.is_any_of}));
      if (!spec.options.length) wrap.appendChild(make("span", {"class": "sb-error", text: this.t.no_options}));
      spec.options.forEach(function (o) {
        var tick = make("input", {type: "checkbox", "class": self.cls.checkbox, value: o[0]});
        tick.checked = leaf.value.some(function (v) { return String(v) === String(o[0]); });
        tick.addEventListener("change", function () {
          leaf.value = leaf.value.filter(function (v) { return String(v) !== String(o[0]); });
          if (tick.checked) leaf.value.push(o[0]);
          self.changed(false);
        });
        wrap.appendChild(make("label", {}, [tick, o[1]]));
      });
    } else if (spec.type === "range") {
      var value = leaf.value && typeof leaf.value === "object" && !Array.isArray(leaf.value) ? leaf.value : {};
      leaf.value = value;
      var scale = spec.scale || 1;
      var shown = function (v) { return v === null || v === undefined || v === "" ? "" : String(v / scale); };
      var mode = "min" in value && "max" in value ? "between" : "max" in value ? "max" : "min";
      var op = this.select([["min", this.t.at_least], ["max", this.t.at_most], ["between", this.t.between]], mode, {"class": this.cls.select + " sb-op"});
      var low = this.box(shown(value.min), {"class": this.cls.input + " sb-num sb-min", "aria-label": this.t.at_least});
      var high = this.box(shown(value.max), {"class": this.cls.input + " sb-num sb-max", "aria-label": this.t.at_most});
      var andWord = make("span", {text: this.t.and_word});
      var layout = function () {
        low.style.display = op.value === "max" ? "none" : "";
        high.style.display = op.value === "min" ? "none" : "";
        andWord.style.display = op.value === "between" ? "" : "none";
      };
      var update = function () {
        leaf.value = {};
        var a = number(low.value, scale), b = number(high.value, scale);
        if (op.value !== "max" && a !== null) leaf.value.min = isNaN(a) ? low.value : a;
        if (op.value !== "min" && b !== null) leaf.value.max = isNaN(b) ? high.value : b;
        self.changed(false);
      };
      op.addEventListener("change", function () { layout(); update(); });
      low.addEventListener("input", update);
      high.addEventListener("input", update);
      layout();
      wrap.appendChild(op);
      wrap.appendChild(low);
      wrap.appendChild(andWord);
      wrap.appendChild(high);
      if (spec.unit) wrap.appendChild(make("span", {text: spec.unit}));
    } else if (spec.type === "date") {
      var day = make("input", {type: "date", "class": this.cls.input + " sb-date", value: typeof leaf.value === "string" ? leaf.value : ""});
      day.addEventListener("input", function () { leaf.value = day.value; self.changed(false); });
      wrap.appendChild(day);
    } else if (spec.type === "days") {
      var days = this.box(leaf.value === undefined ? "" : String(leaf.value), {"class": this.cls.input + " sb-num sb-days"});
      days.addEventListener("input", function () {
        var n = number(days.value, 1);
        leaf.value = n === null ? "" : isNaN(n) ? days.value : n;
        self.changed(false);
      });
      wrap.appendChild(days);
      if (spec.unit) wrap.appendChild(make("span", {text: spec.unit}));
    }
    if (spec.help) wrap.appendChild(make("span", {"class": "sb-help", text: spec.help}));
    return wrap;
  };

  Builder.prototype.changed = function (structural) {
    if (structural) this.render();
    this.sync();
  };

  Builder.prototype.sync = function () {
    this.input.value = JSON.stringify(this.rule);
    var self = this;
    clearTimeout(this.timer);
    if (!this.rule.conditions.length) {  // nothing to count yet: say what to do, not what is wrong
      this.seq++;
      this.root.classList.remove("sb-invalid");
      this.countValue.textContent = "—";
      this.countNote.textContent = this.t.add_first;
      return;
    }
    this.countNote.textContent = this.t.counting;
    this.timer = setTimeout(function () { self.count(); }, 350);
  };

  Builder.prototype.count = function () {
    var self = this;
    var seq = ++this.seq;
    var body = new FormData();
    body.append("rules", this.input.value);
    var token = this.input.form && this.input.form.querySelector("[name=csrfmiddlewaretoken]");
    if (token) body.append("csrfmiddlewaretoken", token.value);
    fetch(this.url, {method: "POST", body: body, credentials: "same-origin", headers: {"X-Requested-With": "XMLHttpRequest"}})
      .then(function (response) { return response.json(); })
      .then(function (answer) {
        if (seq !== self.seq) return;  // a later change is already being counted
        self.root.classList.toggle("sb-invalid", answer.count === undefined);
        if (answer.count !== undefined) {
          self.countValue.textContent = Number(answer.count).toLocaleString("en-US");
          self.countNote.textContent = self.t.people;
          self.root.dataset.count = answer.count;
        } else {
          self.countValue.textContent = "—";
          self.countNote.textContent = answer.message || self.t.failed;
          delete self.root.dataset.count;
        }
      })
      .catch(function () {
        if (seq === self.seq) self.countNote.textContent = self.t.failed;
      });
  };

  function init() {
    document.querySelectorAll(".sb[data-for]").forEach(function (root) {
      if (!root.sbBuilder) root.sbBuilder = new Builder(root);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
