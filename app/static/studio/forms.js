/* estateflow studio: the form editor (issue #20, part 2). Plain JS, no bundler.

   A textarea with line numbers; problems are marked at their lines (gutter + message on the
   line), from the live preview (POST /studio/forms-api/preview, debounced) and from the findings
   of a save (studio.js `findings` event). The preview is the task page's own HTML. The field
   palette (GET /studio/forms-api/palette) inserts a field snippet at the cursor. What the user
   typed stays in the textarea whatever fails (and in sessionStorage until it is saved). */
(function () {
  "use strict";

  var DEBOUNCE_MS = 350;
  var FORM_PATH = /^forms\/[a-z0-9][a-z0-9_\-]*\/(?!checklists\/)[a-z0-9][a-z0-9_\-]*\.yaml$/;

  var root, text, gutter, backdrop, errorList, previewBox, previewBody, previewNote, statusEl, pathEl;
  var current = null;          // path of the open form
  var buffers = {};            // path -> text typed (kept when switching files)
  var problems = { preview: [], saved: [] };
  var timer = null, seq = 0, shownSeq = 0;
  var savedText = {};          // path -> the text of its last save (findings are about that text)
  var lastFindings = null;     // the draft's findings of the last lint (all files)

  /* The findings the editor page was rendered with (studio/editor.html's #studio-findings). */
  function pageFindings() {
    var out = [];
    document.querySelectorAll("#studio-findings li.studio-finding[data-path]").forEach(function (li) {
      var message = li.textContent;
      li.querySelectorAll("code, b").forEach(function (n) { message = message.replace(n.textContent, ""); });
      out.push({ path: li.getAttribute("data-path"), line: parseInt(li.getAttribute("data-line"), 10) || 0,
                 element: li.getAttribute("data-element") || "", message: message.trim(),
                 severity: li.classList.contains("warning") ? "warning" : "error" });
    });
    return out;
  }

  function t(key, values) {
    var s = root.getAttribute("data-t-" + key) || key;
    Object.keys(values || {}).forEach(function (k) { s = s.split("{" + k + "}").join(values[k]); });
    return s;
  }

  function studioData() { return (window.studio && window.studio.data) || {}; }
  function storageKey(path) { return "studio-form:" + (studioData().module || "") + ":" + path; }
  function remember(path, value) {
    try { window.sessionStorage.setItem(storageKey(path), value); } catch (e) { /* full or off */ }
  }
  function forget(path) { try { window.sessionStorage.removeItem(storageKey(path)); } catch (e) { /* off */ } }
  function recalled(path) { try { return window.sessionStorage.getItem(storageKey(path)); } catch (e) { return null; } }

  function csrf() {
    var d = studioData();
    if (d.csrf) return d.csrf;
    var meta = document.querySelector('meta[name="csrf-token"], input[name="csrf_token"]');
    return meta ? (meta.content || meta.value) : "";
  }

  function postJSON(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf(), "Accept": "application/json" },
      body: JSON.stringify(body)
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (json) {
        if (!r.ok) throw new Error(json.message || ("HTTP " + r.status));
        return json;
      });
    });
  }

  function setStatus(message, bad) {
    statusEl.textContent = message || "";
    statusEl.classList.toggle("sf-bad", !!bad);
  }

  // ------------------------------------------------------------------ lines and marks

  function allProblems() {
    var seen = {}, out = [];
    problems.preview.concat(problems.saved).forEach(function (p) {
      var key = (p.line || 0) + "|" + p.message;
      if (!seen[key]) { seen[key] = true; out.push(p); }
    });
    return out.sort(function (a, b) { return (a.line || 0) - (b.line || 0); });
  }

  function byLine(list) {
    var m = {};
    list.forEach(function (p) {
      var n = p.line || 1;
      (m[n] = m[n] || []).push(p);
    });
    return m;
  }

  function el(tag, cls, content) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (content !== undefined) e.textContent = content;
    return e;
  }

  function severityClass(list) {
    return list.some(function (p) { return p.severity !== "warning"; }) ? "sf-err" : "sf-warn";
  }

  function paint() {
    var lines = text.value.split("\n");
    var marks = byLine(allProblems());
    var g = document.createDocumentFragment(), b = document.createDocumentFragment();
    var count = Math.max(lines.length, Object.keys(marks).reduce(function (a, k) { return Math.max(a, +k); }, 0));
    for (var i = 1; i <= count; i++) {
      var here = marks[i];
      var ln = el("div", "sf-ln", String(i)), bl = el("div", "sf-bl");
      ln.setAttribute("data-line", i);
      bl.setAttribute("data-line", i);
      bl.appendChild(el("span", "sf-bt", lines[i - 1] === undefined ? "" : lines[i - 1]));
      if (here) {
        var cls = severityClass(here), msg = here.map(function (p) { return p.message; }).join(" · ");
        ln.classList.add(cls); bl.classList.add(cls);
        ln.title = msg;
        bl.appendChild(el("span", "sf-bm", "\u26a0 " + msg));
      }
      g.appendChild(ln); b.appendChild(bl);
    }
    gutter.replaceChildren(g);
    backdrop.replaceChildren(b);
    sync();
    errorList.replaceChildren();
    allProblems().forEach(function (p) {
      var li = el("li", p.severity === "warning" ? "sf-warn" : "sf-err");
      li.setAttribute("data-line", p.line || 0);
      var btn = el("button", null, (p.line ? t("line", { n: p.line }) + ": " : "") + p.message);
      btn.type = "button";
      btn.addEventListener("click", function () { goToLine(p.line || 1); });
      li.appendChild(btn);
      errorList.appendChild(li);
    });
  }

  function sync() {
    var y = "translate(0," + (-text.scrollTop) + "px)";
    gutter.style.transform = y;
    backdrop.style.transform = "translate(" + (-text.scrollLeft) + "px," + (-text.scrollTop) + "px)";
  }

  function lineStart(value, line) {
    var pos = 0;
    for (var i = 1; i < line; i++) {
      var nl = value.indexOf("\n", pos);
      if (nl < 0) return value.length;
      pos = nl + 1;
    }
    return pos;
  }

  function goToLine(line) {
    var start = lineStart(text.value, line), end = text.value.indexOf("\n", start);
    text.focus();
    text.setSelectionRange(start, end < 0 ? text.value.length : end);
    var lineHeight = 20;
    text.scrollTop = Math.max(0, (line - 3) * lineHeight);
    sync();
  }

  // ------------------------------------------------------------------ preview

  function schedulePreview() {
    clearTimeout(timer);
    timer = setTimeout(preview, DEBOUNCE_MS);
  }

  function preview() {
    if (!current) return;
    var mine = ++seq, path = current;
    root.setAttribute("data-preview-state", "pending");
    postJSON(root.getAttribute("data-preview-url"),
             { path: path, text: text.value, module: studioData().module || null,
               locale: root.querySelector(".sf-locale").value || null })
      .then(function (answer) {
        if (mine < shownSeq || path !== current) return;  // an older answer, or another file
        shownSeq = mine;
        problems.preview = (answer.errors || []).map(function (e) {
          return { line: e.line, message: e.message, severity: e.severity || "error", source: "preview" };
        });
        if (answer.html && !problems.preview.length) {
          showPreview(answer.html);
          previewBox.classList.remove("sf-stale");
          previewNote.hidden = true;
        } else {
          previewBox.classList.add("sf-stale");
          previewNote.textContent = t("stale");
          previewNote.hidden = false;
        }
        paint();
        root.setAttribute("data-preview-state", problems.preview.length ? "errors" : "ok");
      })
      .catch(function (err) {
        if (path !== current) return;
        previewBox.classList.add("sf-stale");
        previewNote.textContent = t("preview-failed", { why: err.message });
        previewNote.hidden = false;
        root.setAttribute("data-preview-state", "failed");
      });
  }

  function showPreview(html) {
    previewBody.innerHTML = html;  // the server's own rendering (autoescaped by Jinja)
    var form = previewBody.querySelector("form");
    if (!form) return;
    form.addEventListener("submit", function (ev) { ev.preventDefault(); });
    var apply = function () { if (window.estateflowForms) window.estateflowForms.apply(form); };
    form.addEventListener("change", apply);
    form.addEventListener("input", apply);
    apply();
  }

  // ------------------------------------------------------------------ palette

  function loadPalette() {
    fetch(root.getAttribute("data-palette-url"), { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
      .then(function (json) {
        var list = root.querySelector(".sf-palette ul");
        list.replaceChildren();
        (json.types || []).forEach(function (item) {
          var li = el("li"), btn = el("button", "btn btn-default sf-insert", "+ " + item.label);
          btn.type = "button";
          btn.setAttribute("data-type", item.type);
          btn.addEventListener("click", function () { insertField(item); });
          var details = el("details"), summary = el("summary", null, t("options"));
          details.appendChild(summary);
          var ul = el("ul");
          ul.style.display = "block";
          item.options.forEach(function (o) {
            var row = el("li");
            row.appendChild(el("code", null, o.key));
            row.appendChild(document.createTextNode(" " + o.label));
            ul.appendChild(row);
          });
          details.appendChild(ul);
          li.appendChild(btn); li.appendChild(details);
          list.appendChild(li);
        });
        root.setAttribute("data-palette", "ready");
      })
      .catch(function (err) { setStatus(err.message, true); });
  }

  function uniqueName(value, base) {
    var name = base, n = 2;
    var taken = function (x) { return new RegExp("^\\s*-?\\s*name:\\s*['\"]?" + x + "['\"]?\\s*$", "m").test(value); };
    while (taken(name)) { name = base + "_" + n; n += 1; }
    return name;
  }

  /* Where a new `fields:` item goes: at the cursor's line when it starts an item, else before
     the next item (or top-level key) after the cursor, so no field is split; after the last
     field when the cursor is above `fields:`; a `fields:` key is added when there is none. */
  function insertionPoint(value, cursor) {
    var lines = value.split("\n");
    var fieldsLine = -1;
    for (var i = 0; i < lines.length; i++) if (/^fields\s*:/.test(lines[i])) { fieldsLine = i; break; }
    if (fieldsLine < 0) return { line: -1, indent: "  " };
    var itemIndent = null;
    for (var j = fieldsLine + 1; j < lines.length; j++) {
      var m = /^(\s*)- /.exec(lines[j]);
      if (m) { itemIndent = m[1]; break; }
      if (/^\S/.test(lines[j])) break;
    }
    var indent = itemIndent === null ? "  " : itemIndent;
    var end = lines.length;  // end of the fields block
    for (var k = fieldsLine + 1; k < lines.length; k++) if (/^\S/.test(lines[k])) { end = k; break; }
    var cursorLine = value.slice(0, cursor).split("\n").length - 1;
    if (cursorLine <= fieldsLine || cursorLine >= end) return { line: end, indent: indent };
    var startsItem = function (n) { return lines[n].indexOf(indent + "- ") === 0; };
    var atLineStart = cursor === 0 || value.charAt(cursor - 1) === "\n";
    if (atLineStart && startsItem(cursorLine)) return { line: cursorLine, indent: indent };
    for (var n = cursorLine + 1; n < end; n++) if (startsItem(n)) return { line: n, indent: indent };
    return { line: end, indent: indent };
  }

  function insertField(item) {
    var value = text.value.replace(/^fields:[ \t]*\[\s*\][ \t]*$/m, "fields:");  // an empty flow list
    var name = uniqueName(value, "new_" + item.type);
    var snippet = item.snippet.replace("name: new_" + item.type + "\n", "name: " + name + "\n");
    var at = insertionPoint(value, text.selectionStart);
    if (at.indent !== "  ") snippet = snippet.replace(/^ {2}/gm, at.indent);
    var lines = value.split("\n");
    var firstLine;
    if (at.line < 0) {
      var head = value.replace(/\s*$/, "");
      firstLine = head.split("\n").length + 2;
      value = head + "\nfields:\n" + snippet;
    } else {
      // a trailing empty string of split() is the end of the text
      var before = lines.slice(0, at.line).join("\n"), after = lines.slice(at.line).join("\n");
      if (at.line >= lines.length - 1 && after === "") {
        before = before.replace(/\n*$/, "");
        value = before + "\n" + snippet;
      } else {
        value = (before ? before + "\n" : "") + snippet + after;
      }
      firstLine = value.slice(0, value.indexOf(snippet)).split("\n").length;
    }
    text.value = value;
    var caret = value.indexOf(snippet) + snippet.length - 1;
    text.focus();
    text.setSelectionRange(caret, caret);
    changed();
    setStatus(t("inserted", { n: firstLine }));
  }

  // ------------------------------------------------------------------ editing, saving

  function changed() {
    if (current) { buffers[current] = text.value; remember(current, text.value); }
    problems.saved = [];  // the save's findings were for the text as it was
    paint();
    schedulePreview();
  }

  function save() {
    if (!current || !window.studio || !window.studio.saveFile) return;
    var path = current, value = text.value;
    savedText[path] = value;
    setStatus(t("saving"));
    window.studio.saveFile(path, value).then(function (answer) {
      if (!answer || answer.error) throw new Error((answer && (answer.error || answer.message)) || "?");
      if (path === current && text.value === value) forget(path);
      var mine = ((answer && answer.findings) || []).filter(function (f) { return f.path === path; });
      showFindings(mine, path);
      setStatus(mine.length ? t("saved-findings") : t("saved"), mine.some(function (f) { return f.severity !== "warning"; }));
    }).catch(function (err) {
      setStatus(t("not-saved", { why: (err && err.message) || String(err) }), true);
    });
  }

  function showFindings(findings, path) {
    // findings name lines of the saved text: once the user typed on, they may point elsewhere
    if (path !== current || savedText[path] !== text.value) return;
    problems.saved = findings.map(function (f) {
      return { line: f.line, message: (f.element ? f.element + ": " : "") + f.message,
               severity: f.severity || "error", source: "save" };
    });
    paint();
  }

  function open(path) {
    if (current && current !== path) buffers[current] = text.value;
    current = path;
    var saved = (window.studio && window.studio.files && window.studio.files[path]);
    var value = buffers[path];
    if (value === undefined) value = recalled(path);
    if (value === null || value === undefined) value = saved || "";
    text.value = value;
    if (savedText[path] === undefined && saved !== undefined) savedText[path] = saved;
    pathEl.textContent = path;
    problems = { preview: [], saved: [] };
    previewBody.replaceChildren();
    previewNote.hidden = true;
    setStatus("");
    root.hidden = false;
    root.setAttribute("data-path", path);
    if (lastFindings === null) lastFindings = pageFindings();
    showFindings(lastFindings.filter(function (f) { return f.path === path; }), path);
    paint();
    text.scrollTop = 0; sync();
    preview();
  }

  function hide() {
    if (current) buffers[current] = text.value;
    current = null;
    root.hidden = true;
    root.removeAttribute("data-path");
  }

  function isForm(payload) {
    return payload && (payload.kind === "form" || (!payload.kind && FORM_PATH.test(payload.path || "")));
  }

  var escaped = false;  // Escape, then Tab, leaves the text (Tab alone indents)

  function keydown(ev) {
    if ((ev.ctrlKey || ev.metaKey) && (ev.key === "s" || ev.key === "S")) { ev.preventDefault(); save(); return; }
    var leave = escaped;
    escaped = ev.key === "Escape";
    if (ev.key === "Tab" && !leave && !ev.shiftKey && !ev.altKey && !ev.ctrlKey && !ev.metaKey) {
      ev.preventDefault();  // YAML indents with spaces
      var s = text.selectionStart, e = text.selectionEnd;
      text.setRangeText("  ", s, e, "end");
      changed();
    }
  }

  function connect(studio) {
    studio.on("open", function (payload) { if (isForm(payload)) open(payload.path); else hide(); });
    studio.on("findings", function (payload) {
      lastFindings = (payload && payload.findings) || [];
      if (!current) return;
      showFindings(((payload && payload.findings) || []).filter(function (f) { return f.path === current; }), current);
    });
    studio.on("removed", function (payload) { if (payload && payload.path === current) hide(); });
    // a finding clicked in the page's findings list: select its line
    studio.on("reveal", function (payload) {
      if (payload && payload.path === current && payload.line) goToLine(payload.line);
    });
    if (studio.currentPath && FORM_PATH.test(studio.currentPath)) open(studio.currentPath);
  }

  function init() {
    root = document.getElementById("studio-form-editor");
    if (!root) return;
    text = root.querySelector(".sf-text");
    gutter = root.querySelector(".sf-gutter-in");
    backdrop = root.querySelector(".sf-backdrop-in");
    errorList = root.querySelector(".sf-errors");
    previewBox = root.querySelector(".sf-preview");
    previewBody = root.querySelector(".sf-preview-body");
    previewNote = root.querySelector(".sf-preview-note");
    statusEl = root.querySelector(".sf-status");
    pathEl = root.querySelector(".sf-path");
    text.addEventListener("input", changed);
    text.addEventListener("scroll", sync);
    text.addEventListener("keydown", keydown);
    root.querySelector(".sf-save").addEventListener("click", save);
    root.querySelector(".sf-locale").addEventListener("change", preview);
    loadPalette();
    var tries = 0;
    (function wait() {  // studio.js may load after this script
      if (window.studio && window.studio.on) return connect(window.studio);
      if (++tries < 200) setTimeout(wait, 25);
    })();
    window.studioForms = { open: open, hide: hide, insertField: insertField, preview: preview,
                           get path() { return current; } };
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
