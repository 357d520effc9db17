/* The studio's bus (issue #20): every studio script talks through window.studio.
 *
 *   studio.data              the page's studio-data JSON {module, files, csrf, lang, urls, ...}
 *   studio.files             path -> text of the draft (kept current after every save)
 *   studio.currentPath       the file open in the editor
 *   studio.open(path)        show a file: emits "open" {path, kind} (menu|bpmn|form|test|...)
 *   studio.saveFile(p, text) -> Promise<{findings}>; emits "saved" {path} and "findings"
 *   studio.removeFile(path)  -> Promise<{findings}>
 *   studio.post(url, body)   -> Promise<json> (JSON body, X-CSRFToken header)
 *   studio.on(event, cb) / studio.emit(event, payload)
 */
(function () {
  "use strict";
  var dataNode = document.getElementById("studio-data");
  var data = dataNode ? JSON.parse(dataNode.textContent) : {files: {}, urls: {}};
  var handlers = {};

  function kindOf(path) {
    if (/^menus\/[^/]+\.yaml$/.test(path) && path.indexOf("menus/notifications/") !== 0) return "menu";
    if (/^bpmn\//.test(path)) return "bpmn";
    if (/^forms\/[^/]+\/[^/]+\.yaml$/.test(path)) return "form";
    if (/^tests\//.test(path)) return "test";
    return "file";
  }

  function request(method, url, body) {
    var options = {method: method, credentials: "same-origin",
                   headers: {"Accept": "application/json", "X-CSRFToken": data.csrf}};
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(url, options).then(function (response) {
      return response.json().catch(function () { return {error: response.statusText}; }).then(function (json) {
        if (!response.ok && json && typeof json === "object") json._status = response.status;
        return json;
      });
    });
  }

  var studio = {
    data: data,
    files: data.files || {},
    currentPath: null,
    kindOf: kindOf,
    on: function (event, cb) { (handlers[event] = handlers[event] || []).push(cb); },
    emit: function (event, payload) {
      (handlers[event] || []).forEach(function (cb) {
        try { cb(payload); } catch (err) { if (window.console) console.error("studio", event, err); }
      });
    },
    post: function (url, body) { return request("POST", url, body || {}); },
    get: function (url) { return request("GET", url); },
    open: function (path) {
      studio.currentPath = path;
      studio.emit("open", {path: path, kind: kindOf(path)});
    },
    /** Keep studio.files in step with the server's answer, tell everyone what changed. */
    _apply: function (json, path) {
      if (json.files) studio.files = json.files;
      if (json.file_list) studio.emit("files", {files: json.file_list});
      if (json.findings) studio.emit("findings", {findings: json.findings});
      if (path && !json.error) studio.emit("saved", {path: path});
      return json;
    },
    saveFile: function (path, text) {
      studio.emit("saving", {path: path});
      return studio.post(data.urls.file, {path: path, text: text}).then(function (json) {
        if (json.error) { studio.emit("error", {path: path, message: json.error}); return json; }
        return studio._apply(json, json.path || path);
      });
    },
    removeFile: function (path) {
      return studio.post(data.urls["delete"], {path: path}).then(function (json) {
        if (json.error) { studio.emit("error", {path: path, message: json.error}); return json; }
        studio._apply(json);
        studio.emit("removed", {path: path});
        return json;
      });
    },
    addFile: function (kind, name) {
      return studio.post(data.urls.add, {kind: kind, name: name}).then(function (json) {
        if (json.error) { studio.emit("error", {message: json.error}); return json; }
        studio._apply(json, json.path);
        studio.open(json.path);
        return json;
      });
    },
    lint: function () {
      return studio.get(data.urls.findings).then(function (json) { return studio._apply(json); });
    },
  };
  window.studio = studio;

  // ------------------------------------------------------------------ the page's own parts

  function text(key) {
    var tpl = document.getElementById("studio-text-strings");
    var node = tpl && tpl.content.querySelector('[data-key="' + key + '"]');
    return node ? node.textContent : key;
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k]; else if (k === "className") node.className = attrs[k];
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { node.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
    return node;
  }

  function status(message, bad) {
    var node = document.getElementById("studio-status");
    if (node) { node.textContent = message || ""; node.className = "studio-status" + (bad ? " bad" : ""); }
  }

  function renderFiles(list) {
    var ul = document.getElementById("studio-file-list");
    if (!ul) return;
    ul.innerHTML = "";
    list.forEach(function (f) {
      var li = el("li", {"data-path": f.path, "data-kind": f.kind}, [el("a", {href: "#", className: "studio-file", text: f.path})]);
      if (f.path === studio.currentPath) li.className = "active";
      ul.appendChild(li);
    });
  }

  function renderFindings(findings) {
    var ul = document.getElementById("studio-findings");
    if (!ul) return;
    ul.innerHTML = "";
    if (!findings.length) { ul.appendChild(el("li", {className: "studio-clean", text: text("clean")})); return; }
    findings.forEach(function (f) {
      ul.appendChild(el("li", {className: "studio-finding " + f.severity, "data-path": f.path,
                               "data-line": String(f.line), "data-element": f.element || ""},
        [el("code", {text: f.path + ":" + f.line}), " ", el("b", {text: f.element || ""}), " ", f.message]));
    });
  }

  // which pane shows a kind: the modeler, the form editor, the test run, else the plain text pane
  var PANES = {menu: "studio-menu", bpmn: "studio-process", form: "studio-form", test: "studio-testrun"};

  function paneFor(kind) {
    var id = PANES[kind];
    var pane = id && document.getElementById(id);
    // a part that is not installed leaves its section empty: edit such files as text
    if (pane && kind !== "menu" && !pane.children.length) return "studio-text";
    return id || "studio-text";
  }

  studio.on("open", function (ev) {
    var shown = paneFor(ev.kind);
    Array.prototype.forEach.call(document.querySelectorAll(".studio-pane"), function (pane) {
      pane.hidden = pane.id !== shown;
    });
    Array.prototype.forEach.call(document.querySelectorAll("#studio-file-list li"), function (li) {
      li.className = li.getAttribute("data-path") === ev.path ? "active" : "";
    });
    var remove = document.getElementById("studio-remove");
    if (remove) remove.disabled = ev.kind === "menu";
    if (shown === "studio-text") showText(ev.path);
  });

  function showText(path) {
    Array.prototype.forEach.call(document.querySelectorAll(".studio-pane"), function (pane) {
      pane.hidden = pane.id !== "studio-text";
    });
    document.getElementById("studio-text-path").textContent = path;
    document.getElementById("studio-text-area").value = studio.files[path] || "";
  }
  studio.on("findings", function (ev) { renderFindings(ev.findings || []); });
  studio.on("files", function (ev) { renderFiles(ev.files || []); });
  studio.on("saving", function () { status(text("saving")); });
  studio.on("saved", function () { status(text("saved")); });
  studio.on("error", function (ev) { status(ev.message || text("error"), true); });

  function menuPath() { return "menus/" + data.module + ".yaml"; }

  function showMenu(menu) {
    if (!menu) return;
    var set = function (id, value) { var n = document.getElementById(id); if (n) n.textContent = value; };
    set("menu-version", menu.version);
    set("menu-processes", (menu.processes || []).join(", ") || "—");
    set("menu-forms", (menu.forms || []).join(", ") || "—");
  }

  function renderDiff(json) {
    var box = document.getElementById("studio-diff");
    box.innerHTML = "";
    if (!json.published_version) box.appendChild(el("p", {text: text("new_module")}));
    else box.appendChild(el("p", {text: text("published") + " " + json.published_version}));
    var changes = json.changes || [];
    if (json.published_version && !changes.length) box.appendChild(el("p", {text: text("no_changes")}));
    var ul = el("ul", {id: "studio-diff-list"});
    changes.forEach(function (c) {
      var what = c.element || c.field || "";
      ul.appendChild(el("li", {className: "studio-change " + c.change, "data-path": c.path, "data-change": c.change,
                               "data-element": what},
        [el("code", {text: c.path}), what ? " " + what : "", " — " + text(c.change)]));
    });
    box.appendChild(ul);
  }

  function renderPublish(json) {
    var box = document.getElementById("studio-publish-result");
    box.innerHTML = "";
    if (json.errors) {
      box.className = "alert alert-danger";
      box.appendChild(el("strong", {text: text("not_published")}));
      var ul = el("ul");
      json.errors.forEach(function (f) {
        ul.appendChild(el("li", {}, [el("code", {text: f.path + ":" + f.line}), " ", el("b", {text: f.element || ""}), " ", f.message]));
      });
      box.appendChild(ul);
      studio.emit("findings", {findings: json.errors.concat(json.warnings || [])});
      return;
    }
    if (json.version) {
      box.className = "alert alert-success";
      var message = text("published") + " " + json.version + ". " + text("enable_hint");
      if (json.bumped_from) message = text("bumped") + " " + json.version + ". " + text("enable_hint");
      box.appendChild(el("span", {id: "studio-published-version", "data-version": json.version, text: message}));
      if (json.files) studio.files = json.files;
      studio.emit("published", {version: json.version});
      return;
    }
    box.className = "alert alert-danger";
    box.textContent = json.error || text("error");
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.addEventListener("click", function (e) {
      var link = e.target.closest && e.target.closest("#studio-file-list a.studio-file");
      if (link) { e.preventDefault(); studio.open(link.parentNode.getAttribute("data-path")); return; }
      var item = e.target.closest && e.target.closest("#studio-findings li.studio-finding");
      if (item) {
        var path = item.getAttribute("data-path");
        if (studio.files[path] !== undefined) {
          if (path !== studio.currentPath) studio.open(path);
          studio.emit("reveal", {path: path, line: Number(item.getAttribute("data-line")),
                                 element: item.getAttribute("data-element")});
        }
      }
    });
    var name = document.getElementById("studio-new-name");
    ["process", "form"].forEach(function (kind) {
      var button = document.getElementById("studio-add-" + kind);
      if (button) button.addEventListener("click", function () {
        studio.addFile(kind, (name.value || "").trim()).then(function (json) { if (!json.error) name.value = ""; });
      });
    });
    var remove = document.getElementById("studio-remove");
    if (remove) remove.addEventListener("click", function () {
      var path = studio.currentPath;
      if (!path || !window.confirm(text("confirm_remove"))) return;
      studio.removeFile(path).then(function (json) { if (!json.error) studio.open(menuPath()); });
    });
    var menuForm = document.getElementById("studio-menu-form");
    if (menuForm) menuForm.addEventListener("submit", function (e) {
      e.preventDefault();
      var body = {};
      Array.prototype.forEach.call(menuForm.elements, function (f) { if (f.name) body[f.name] = f.value; });
      status(text("saving"));
      studio.post(data.urls.menu, body).then(function (json) {
        if (json.error) { studio.emit("error", {message: json.error}); return; }
        studio._apply(json, json.path);
        showMenu(json.menu);
      });
    });
    var asYaml = document.getElementById("studio-menu-yaml");
    if (asYaml) asYaml.addEventListener("click", function () { showText(menuPath()); });
    var textSave = document.getElementById("studio-text-save");
    if (textSave) textSave.addEventListener("click", function () {
      studio.saveFile(document.getElementById("studio-text-path").textContent,
                      document.getElementById("studio-text-area").value);
    });
    var diff = document.getElementById("studio-diff-btn");
    if (diff) diff.addEventListener("click", function () { studio.get(data.urls.diff).then(renderDiff); });
    var publish = document.getElementById("studio-publish-btn");
    if (publish) publish.addEventListener("click", function () {
      publish.disabled = true;
      studio.post(data.urls.publish, {}).then(renderPublish).then(function () { publish.disabled = false; },
        function () { publish.disabled = false; });
    });
    // a saved file may change the menu entry's lists (a process or form added or removed)
    studio.on("saved", function () {
      var list = document.getElementById("menu-processes");
      if (!list) return;
      var menu = studio.files[menuPath()] || "";
      var grab = function (key) {
        var m = menu.match(new RegExp("^" + key + ":([\\s\\S]*?)(?=^\\S|$(?![\\s\\S]))", "m"));
        return m ? (m[1].match(/[\w\-./]+\.(?:bpmn|yaml)/g) || []) : [];
      };
      showMenu({version: (menu.match(/^version:\s*"?([^"\n]+)"?/m) || [])[1] || "",
                processes: grab("processes"), forms: grab("forms")});
    });
    setTimeout(function () { studio.open(menuPath()); }, 0);
  });
})();
