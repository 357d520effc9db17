/* estateflow forms: apply `data-visible-if` rules in the browser.
   The rule is the JSON tree parsed on the server (app/forms/rules.py), so both sides
   evaluate the same thing; the server re-checks on submit anyway. Hidden fields are
   disabled so they are not posted and their `required` does not block the submit. */
(function () {
  "use strict";
  var FALSE_WORDS = ["", "no", "false", "0", "off"];

  function absent(v) { return v === null || v === undefined || v === "" || (Array.isArray(v) && v.length === 0); }
  function truthy(v) {
    if (absent(v)) return false;
    if (typeof v === "boolean") return v;
    if (Array.isArray(v)) return v.length > 0;
    return FALSE_WORDS.indexOf(String(v).trim().toLowerCase()) < 0;
  }
  function equals(v, lit) {
    if (Array.isArray(v)) return v.some(function (x) { return equals(x, lit); });
    if (lit === null) return absent(v);
    if (absent(v)) return false;
    if (typeof lit === "boolean") return truthy(v) === lit;
    if (typeof lit === "object") {
      var a = Number(String(v).trim()), b = Number(lit.number);
      return String(v).trim() !== "" && !isNaN(a) && a === b;
    }
    return String(v) === lit;
  }
  function evaluate(rule, values) {
    if ("field" in rule) return truthy(values[rule.field]);
    if ("eq" in rule) return equals(values[rule.eq[0]], rule.eq[1]);
    if ("ne" in rule) return !equals(values[rule.ne[0]], rule.ne[1]);
    if ("not" in rule) return !evaluate(rule.not, values);
    if ("and" in rule) return rule.and.every(function (r) { return evaluate(r, values); });
    if ("or" in rule) return rule.or.some(function (r) { return evaluate(r, values); });
    return true;
  }
  function valueOf(wrapper) {
    if (wrapper.hidden) return null;
    var type = wrapper.getAttribute("data-type");
    var inputs = wrapper.querySelectorAll("input, select, textarea");
    if (type === "multi_choice") {
      return Array.prototype.filter.call(inputs, function (i) { return i.checked; })
        .map(function (i) { return i.value; });
    }
    if (type === "yes_no") {
      var checked = Array.prototype.filter.call(inputs, function (i) { return i.checked; })[0];
      return checked ? checked.value === "yes" : null;
    }
    if (type === "photo" || type === "file") {
      var n = 0;
      Array.prototype.forEach.call(inputs, function (i) {
        if (i.type === "checkbox" && i.checked) n += 1;
        if (i.type === "file" && i.files) n += i.files.length;
      });
      return n > 0 ? new Array(n).fill("x") : [];
    }
    return inputs.length ? inputs[0].value : null;
  }
  function apply(form) {
    var fields = form.querySelectorAll("[data-field]");
    for (var pass = 0; pass < fields.length + 1; pass++) {
      var values = {}, changed = false;
      Array.prototype.forEach.call(fields, function (w) { values[w.getAttribute("data-field")] = valueOf(w); });
      Array.prototype.forEach.call(fields, function (w) {
        var src = w.getAttribute("data-visible-if");
        if (!src) return;
        var show = evaluate(JSON.parse(src), values);
        if (w.hidden === show) {
          changed = true;
          w.hidden = !show;
          w.querySelectorAll("input, select, textarea").forEach(function (i) { i.disabled = !show; });
        }
      });
      if (!changed) break;
    }
  }
  function init() {
    document.querySelectorAll("form.ef-form").forEach(function (form) {
      var run = function () { apply(form); };
      form.addEventListener("change", run);
      form.addEventListener("input", run);
      run();
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
  window.estateflowForms = { evaluate: evaluate, apply: apply };
})();
