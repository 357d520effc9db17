/* The studio's test-run panel (issue #20, part 4): start the draft's process in the scratch
 * community, complete its ready tasks as their roles with the task page's own form, fire
 * timers now, retry incidents, see the path on the diagram and the data at each step, save
 * the run as a test case (tests/<module>/<name>.yaml) of the draft.
 *
 * Talks to /studio/run (app/web/views/studio_run.py) through window.studio (studio.js).
 */
(function () {
  "use strict";
  var root = document.getElementById("studio-testrun-panel");
  if (!root) return;
  var studio = window.studio;
  var base = root.getAttribute("data-base");
  var run = null;       // the run's state, as the server sent it
  var viewer = null;    // the bpmn-js navigated viewer of the run's diagram
  var shownXml = null;  // the XML the viewer has imported

  function $(id) { return document.getElementById(id); }

  function t(key, params) {
    var tpl = $("testrun-strings");
    var node = tpl && tpl.content.querySelector('[data-key="' + key + '"]');
    var text = node ? node.textContent : key;
    Object.keys(params || {}).forEach(function (k) { text = text.replace("{" + k + "}", params[k]); });
    return text;
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else if (k === "className") node.className = attrs[k];
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { node.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
    return node;
  }

  function moduleId() { return studio.data.module; }
  function url(tail) { return base + "/" + encodeURIComponent(moduleId()) + tail; }

  function status(message, bad) {
    var node = $("testrun-status");
    node.textContent = message || "";
    node.className = "testrun-status" + (bad ? " bad" : "");
  }

  function showErrors(errors) {
    var ul = $("testrun-errors");
    ul.innerHTML = "";
    (errors || []).forEach(function (f) {
      ul.appendChild(el("li", {className: "studio-finding " + (f.severity || "error"), "data-element": f.element || ""},
        [el("code", {text: (f.path || "") + (f.line ? ":" + f.line : "")}), " ", el("b", {text: f.element || ""}), " ",
         f.message]));
    });
  }

  // ------------------------------------------------------------------ processes of the draft

  function fillProcesses() {
    var select = $("testrun-process");
    var current = select.value;
    select.innerHTML = "";
    Object.keys(studio.files || {}).filter(function (p) { return /^bpmn\/.+\.bpmn$/.test(p); }).sort()
      .forEach(function (p) { select.appendChild(el("option", {value: p, text: p})); });
    if (current) select.value = current;
    $("testrun-start").disabled = !select.options.length;
    if (!select.options.length) status(t("no_process"));
  }

  // ------------------------------------------------------------------ the diagram

  function loadViewer() {
    // The navigated viewer sets window.BpmnJS; the modeler's bundle may own that name: keep it.
    if (loadViewer.promise) return loadViewer.promise;
    loadViewer.promise = new Promise(function (resolve) {
      var saved = window.BpmnJS;
      var script = document.createElement("script");
      script.src = root.getAttribute("data-viewer");
      script.onload = function () {
        var Viewer = window.BpmnJS;
        if (saved !== undefined) window.BpmnJS = saved;
        resolve(Viewer || null);
      };
      script.onerror = function () { resolve(null); };
      document.head.appendChild(script);
    });
    return loadViewer.promise;
  }

  function drawPath() {
    var box = $("testrun-diagram");
    if (!run) return;
    $("testrun-path").textContent = t("path") + ": " + (run.path.join(" → ") || "—");
    box.setAttribute("data-done", run.path.join(","));
    box.setAttribute("data-active", run.active.join(","));
    loadViewer().then(function (Viewer) {
      if (!Viewer) return;
      var ready = Promise.resolve();
      if (!viewer) viewer = new Viewer({container: box});
      if (shownXml !== run.bpmn) {
        box.hidden = false;
        shownXml = run.bpmn;
        ready = viewer.importXML(run.bpmn).then(function () {
          var shapes = viewer.get("elementRegistry").filter(function (e) { return e.type !== "bpmn:Process" && e.type !== "label"; });
          if (!shapes.length) { box.hidden = true; return; }  // no layout in the file: the path text stays
          viewer.get("canvas").zoom("fit-viewport");
        });
      }
      return ready.then(function () {
        var canvas = viewer.get("canvas");
        viewer.get("elementRegistry").forEach(function (e) {
          canvas.removeMarker(e.id, "ef-done");
          canvas.removeMarker(e.id, "ef-active");
        });
        run.path.forEach(function (id) { try { canvas.addMarker(id, "ef-done"); } catch (err) { /* not drawn */ } });
        run.active.forEach(function (id) { try { canvas.addMarker(id, "ef-active"); } catch (err) { /* not drawn */ } });
        box.setAttribute("data-rendered", "yes");
      });
    }).catch(function () { box.hidden = true; });
  }

  // ------------------------------------------------------------------ the run's panel

  function json(value) { return JSON.stringify(value, null, 1); }

  function render(state) {
    run = state;
    root.setAttribute("data-run", String(state.id));
    root.setAttribute("data-status", state.status);
    status(state.status_label);
    var tasks = $("testrun-tasks");
    tasks.innerHTML = "";
    state.tasks.forEach(function (task) {
      var button = el("button", {type: "button", className: "btn btn-default btn-sm testrun-task",
                                 "data-task": String(task.id), "data-element": task.element, "data-role": task.role || ""},
        [el("b", {text: task.title}), " ", t("as", {role: task.role_label})]);
      button.addEventListener("click", function () { openTask(task); });
      tasks.appendChild(button);
    });
    if (!state.tasks.length) tasks.appendChild(el("span", {className: "ef-help", text: t("none")}));
    var timers = $("testrun-timers");
    timers.innerHTML = "";
    state.timers.forEach(function (timer) {
      var button = el("button", {type: "button", className: "btn btn-warning btn-sm testrun-timer",
                                 "data-timer": String(timer.id), "data-element": timer.element},
        [t("fire") + ": ", el("b", {text: timer.element}), " (" + t("due", {when: timer.due_at.replace("T", " ").slice(0, 16)}) + ")"]);
      button.addEventListener("click", function () { act("/" + state.id + "/timer/" + timer.id + "/fire", {}); });
      timers.appendChild(button);
    });
    if (!state.timers.length) timers.appendChild(el("span", {className: "ef-help", text: t("none")}));
    var incidents = $("testrun-incidents");
    incidents.innerHTML = "";
    state.incidents.forEach(function (incident) {
      var retry = el("button", {type: "button", className: "btn btn-warning btn-xs testrun-retry",
                                "data-incident": String(incident.id), text: t("retry")});
      retry.addEventListener("click", function () { act("/" + state.id + "/incident/" + incident.id + "/retry", {}); });
      incidents.appendChild(el("div", {className: "testrun-incident", "data-element": incident.element},
        [el("b", {text: t("incident") + " · " + incident.element}), " ", el("code", {text: incident.error}), " ", retry]));
    });
    var steps = $("testrun-steps");
    steps.innerHTML = "";
    state.steps.forEach(function (step) {
      steps.appendChild(el("li", {className: "testrun-step", "data-element": step.element, "data-action": step.action}, [
        el("b", {text: step.action_label}), " ", el("code", {text: step.element}),
        step.role_label ? " · " + step.role_label : "", " · " + t("status") + ": " + step.status_label,
        el("details", {}, [el("summary", {text: t("data_in")}), el("pre", {text: json(step.data_in)})]),
        el("details", {}, [el("summary", {text: t("data_after")}), el("pre", {className: "testrun-data-after", text: json(step.data_after)})]),
      ]));
    });
    drawPath();
  }

  function busy(on) {
    Array.prototype.forEach.call(root.querySelectorAll("button"), function (b) { b.disabled = !!on; });
    if (on) status(t("working"));
  }

  function answer(result) {
    busy(false);
    if (result.errors) { showErrors(result.errors); status(result.errors[0].message, true); return result; }
    showErrors([]);
    if (result.id) render(result);
    return result;
  }

  function act(tail, body) {
    busy(true);
    return studio.post(url(tail), body).then(answer, function (err) { busy(false); status(String(err), true); });
  }

  function openTask(task) {
    var box = $("testrun-form");
    box.innerHTML = "";
    studio.get(url("/" + run.id + "/task/" + task.id + "/form")).then(function (result) {
      if (result.errors) { showErrors(result.errors); return; }
      box.setAttribute("data-task", String(task.id));
      box.appendChild(el("h4", {text: task.title + " · " + t("as", {role: task.role_label})}));
      if (result.message) box.appendChild(el("p", {className: "ef-help", text: result.message}));
      var holder = el("div", {});
      holder.innerHTML = result.html || '<form class="ef-form"><button type="submit" class="ef-submit">OK</button></form>';
      box.appendChild(holder);
      var form = holder.querySelector("form");
      form.addEventListener("submit", function (e) {
        e.preventDefault();
        submitTask(task, form);
      });
    });
  }

  function submitTask(task, form) {
    var data = {};
    var fd = new FormData(form);
    fd.forEach(function (value, name) {
      if (name === "csrf_token" || name === "_version" || typeof value !== "string") return;
      if (Object.prototype.hasOwnProperty.call(data, name)) {
        data[name] = [].concat(data[name], value);
      } else {
        data[name] = form.querySelectorAll('input[type="checkbox"][name="' + name + '"]').length > 1 ? [value] : value;
      }
    });
    busy(true);
    studio.post(url("/" + run.id + "/task/" + task.id), {role: task.role, data: data}).then(function (result) {
      busy(false);
      if (result.form_errors) { showFormErrors(form, result.form_errors); status(t("form_errors"), true); return; }
      if (result.errors) { showErrors(result.errors); status(result.errors[0].message, true); return; }
      $("testrun-form").innerHTML = "";
      showErrors([]);
      render(result);
    });
  }

  function showFormErrors(form, errors) {
    Array.prototype.forEach.call(form.querySelectorAll(".testrun-field-error"), function (n) { n.remove(); });
    Object.keys(errors).forEach(function (name) {
      var input = form.querySelector('[name="' + name + '"]');
      var message = el("p", {className: "testrun-field-error text-danger", "data-field": name, text: errors[name].join(" ")});
      var group = input ? (input.closest(".ef-field, fieldset, div") || input.parentNode) : form;
      group.appendChild(message);
    });
  }

  // ------------------------------------------------------------------ wiring

  $("testrun-start").addEventListener("click", function () {
    $("testrun-form").innerHTML = "";
    busy(true);
    studio.post(url("/start"), {path: $("testrun-process").value}).then(function (result) {
      answer(result);
      if (result.id) status(t("started") + " " + result.status_label);
    });
  });

  $("testrun-save").addEventListener("click", function () {
    if (!run) return;
    var name = $("testrun-case-name").value.trim();
    busy(true);
    studio.post(url("/" + run.id + "/save"), {name: name}).then(function (result) {
      busy(false);
      if (result.errors) { showErrors(result.errors); return; }
      $("testrun-saved").textContent = t("saved", {path: result.path});
      $("testrun-saved").setAttribute("data-path", result.path);
      studio.files[result.path] = result.text;
      studio.emit("findings", {findings: result.findings || []});
      if (result.file_list) studio.emit("files", {files: result.file_list});
    });
  });

  /** A button beside the file list opens this panel (it has no file of its own). */
  function addOpener() {
    var files = $("studio-files");
    if (!files || $("studio-open-testrun")) return;
    var button = el("button", {type: "button", className: "btn btn-info btn-sm", id: "studio-open-testrun", text: t("open")});
    button.addEventListener("click", function () {
      Array.prototype.forEach.call(document.querySelectorAll(".studio-pane"), function (pane) {
        pane.hidden = pane.id !== "studio-testrun";
      });
      fillProcesses();
      $("testrun-case-text").hidden = true;
    });
    files.appendChild(button);
  }

  studio.on("open", function (ev) {
    if (ev.kind !== "test") return;
    var pre = $("testrun-case-text");
    pre.textContent = studio.files[ev.path] || "";
    pre.hidden = false;
    fillProcesses();
  });
  studio.on("saved", fillProcesses);
  addOpener();
  fillProcesses();
})();
