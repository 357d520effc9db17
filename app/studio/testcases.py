"""Test cases: a studio test run saved as ``tests/<module id>/<name>.yaml`` in the package.

A test case names the process, the steps (a task completed as a role with its data, a timer
fired, an incident retried) and what the run must end with: the path (element ids in the
order they completed), the instance status and the tasks still waiting. ``check_package``
replays every test case of a package (in a savepoint that is rolled back, in the scratch
community), so an upload whose process or forms no longer give the saved result is refused
with a finding naming the test file, the step and what differed.

Example::

    name: large amount
    process: bpmn/trial/request.bpmn
    steps:
      - task: ask
        role: resident
        data: {amount: 900, reason: new door}
      - timer: reminder
      - task: approve
        role: manager
        data: {approved: true}
    expect:
      status: completed
      path: [start, load_settings, ask, size, reminder, note_late, approve, record, done]
      waiting: []
"""
from __future__ import annotations

import re
from collections.abc import Mapping

import yaml
from sqlalchemy.orm import Session

from app.assets.errors import AssetError, AssetInvalid
from app.studio.run_models import StudioTestRun

_NAME = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,79}$")
_STEP_KINDS = ("task", "timer", "retry")
_TOP_KEYS = {"name", "process", "start_data", "steps", "expect"}


def case_path(module_id: str, name: str) -> str:
    return f"tests/{module_id}/{name}.yaml"


def slug(name: str) -> str:
    """A file name from what the consultant typed (``Large amount`` -> ``large_amount``)."""
    text = re.sub(r"[^a-z0-9_\-]+", "_", name.strip().lower()).strip("_-")
    return text[:80] or "case"


def case_from_run(session: Session, run: StudioTestRun, name: str) -> str:
    """The YAML text of a test case that repeats ``run`` and expects where it is now."""
    from app.studio.testrun import open_tasks, run_state

    steps: list[dict] = []
    for step in run.steps or []:
        if step["action"] == "task":
            steps.append({"task": step["element"], "role": step["role"], "data": step["data_in"]})
        elif step["action"] in ("timer", "retry"):
            steps.append({step["action"]: step["element"]})
    state = run_state(session, run)
    doc = {"name": name, "process": run.process_path}
    if run.start_data:
        doc["start_data"] = run.start_data
    doc["steps"] = steps
    doc["expect"] = {"status": state["status"], "path": state["path"],
                     "waiting": sorted(t.element_id for t in open_tasks(session, run))}
    header = "# A studio test run, saved as a test case: replayed on every upload of this module.\n"
    return header + yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, default_flow_style=None, width=100)


# --------------------------------------------------------------------------- reading


def parse_case(text: str, path: str) -> tuple[dict | None, list[AssetError]]:
    """The test case in ``text`` with the line of each part, or the problems found."""
    from app.assets.yaml_lines import load_yaml_text

    try:
        doc = load_yaml_text(text, path)
    except AssetInvalid as exc:
        return None, list(exc.errors)
    errors: list[AssetError] = []
    if not hasattr(doc, "line_of"):
        return None, [AssetError(path, 1, "test", "must be a mapping with process, steps and expect")]
    for key in doc:
        if key not in _TOP_KEYS:
            errors.append(AssetError(path, doc.line_of(key), str(key),
                                     f"unknown key (expected one of: {', '.join(sorted(_TOP_KEYS))})"))
    if not isinstance(doc.get("process"), str) or not doc["process"].startswith("bpmn/"):
        errors.append(AssetError(path, doc.line_of("process") if "process" in doc else 1, "process",
                                 "the process file the test runs, e.g. bpmn/<id>/<name>.bpmn"))
    steps = doc.get("steps")
    if not isinstance(steps, list):
        errors.append(AssetError(path, doc.line_of("steps") if "steps" in doc else 1, "steps",
                                 "must be a list of steps (task, timer or retry)"))
        steps = []
    for i, step in enumerate(steps):
        line = steps.line_of(i) if hasattr(steps, "line_of") else 1
        kinds = [k for k in _STEP_KINDS if isinstance(step, Mapping) and k in step]
        if len(kinds) != 1 or not isinstance(step[kinds[0]], str):
            errors.append(AssetError(path, line, f"steps[{i}]",
                                     "a step names one element: task: <id>, timer: <id> or retry: <id>"))
        elif kinds[0] == "task" and not isinstance(step.get("data", {}), Mapping):
            errors.append(AssetError(path, line, f"steps[{i}].data", "must be a mapping of field: value"))
    expect = doc.get("expect")
    if not isinstance(expect, Mapping):
        errors.append(AssetError(path, doc.line_of("expect") if "expect" in doc else 1, "expect",
                                 "must say what the run ends with (status, path, waiting)"))
    elif "path" in expect and not isinstance(expect["path"], list):
        errors.append(AssetError(path, expect.line_of("path"), "expect.path", "must be a list of element ids"))
    if "start_data" in doc and not isinstance(doc["start_data"], Mapping):
        errors.append(AssetError(path, doc.line_of("start_data"), "start_data", "must be a mapping"))
    return (doc if not errors else None), errors


def case_files(files: Mapping[str, object]) -> list[str]:
    return sorted(p for p in files if p.startswith("tests/") and p.endswith(".yaml"))


# --------------------------------------------------------------------------- replaying


def _line(seq, i: int, fallback: int = 1) -> int:
    return seq.line_of(i) if hasattr(seq, "line_of") else fallback


def replay_case(session: Session, files: Mapping[str, str | bytes], path: str, module_id: str,
                actor: str = "studio") -> list[AssetError]:
    """Run the test case ``path`` of ``files`` again; what differed, as findings on the test
    file. Writes in the caller's transaction: :func:`replay_package` rolls it back."""
    from app.studio.testrun import (
        TestRunError,
        _texts,
        complete_run_task,
        fire_run_timer,
        open_incidents,
        open_tasks,
        retry_run_incident,
        run_state,
        start_run,
        waiting_timers,
    )

    texts = _texts(files)
    doc, errors = parse_case(texts[path], path)
    if doc is None:
        return errors
    steps = doc.get("steps") or []
    try:
        run = start_run(session, texts, doc["process"], module_id=module_id, actor=actor,
                        start_data=dict(doc.get("start_data") or {}))
    except TestRunError as exc:
        reasons = "; ".join(f"{f.file}:{f.line}: {f.element}: {f.reason}" for f in exc.findings[:3])
        return [AssetError(path, doc.line_of("process"), "process", f"the process cannot start: {reasons}")]
    for i, step in enumerate(steps):
        line = _line(steps, i)
        kind = next(k for k in _STEP_KINDS if k in step)
        element = step[kind]
        where = f"steps[{i}]"
        label = f"step {i + 1} ({kind} {element})"
        try:
            if kind == "task":
                found = [t for t in open_tasks(session, run) if t.element_id == element]
                if not found:
                    return [AssetError(path, line, where, f"{label}: the task is not ready; "
                                       f"{_where_now(session, run, open_tasks, waiting_timers, open_incidents)}")]
                errs = complete_run_task(session, run, found[0].id, step.get("role"), dict(step.get("data") or {}),
                                         actor)
                if errs:
                    said = "; ".join(f"{k}: {', '.join(v)}" for k, v in errs.items())
                    return [AssetError(path, line, where, f"{label}: the form {found[0].form_id} refuses the "
                                       f"data ({said})")]
            elif kind == "timer":
                found = [t for t in waiting_timers(session, run) if t.element_id == element]
                if not found:
                    return [AssetError(path, line, where, f"{label}: no such timer is waiting; "
                                       f"{_where_now(session, run, open_tasks, waiting_timers, open_incidents)}")]
                fire_run_timer(session, run, found[0].id)
            else:
                found = [x for x in open_incidents(session, run) if x.element_id == element]
                if not found:
                    return [AssetError(path, line, where, f"{label}: no incident is open there; "
                                       f"{_where_now(session, run, open_tasks, waiting_timers, open_incidents)}")]
                retry_run_incident(session, run, found[0].id, actor)
        except TestRunError as exc:
            return [AssetError(path, line, where, f"{label}: {exc.findings[0].reason}")]
    return _compare(session, run, doc, path, run_state, open_tasks)


def _where_now(session, run, open_tasks, waiting_timers, open_incidents) -> str:
    from app.engine.models import ProcessInstance

    instance = session.get(ProcessInstance, run.instance_id)
    tasks = ", ".join(t.element_id for t in open_tasks(session, run)) or "none"
    timers = ", ".join(t.element_id for t in waiting_timers(session, run)) or "none"
    text = f"the run is {instance.status} with tasks ready: {tasks}; timers waiting: {timers}"
    incidents = open_incidents(session, run)
    if incidents:
        text += "; incidents: " + "; ".join(f"{i.element_id}: {i.error}" for i in incidents)
    return text


def _compare(session, run, doc, path, run_state, open_tasks) -> list[AssetError]:
    expect = doc["expect"]
    state = run_state(session, run)
    found: list[AssetError] = []
    if "status" in expect and str(expect["status"]) != state["status"]:
        extra = "".join(f"; incident at {i['element']}: {i['error']}" for i in state["incidents"])
        found.append(AssetError(path, expect.line_of("status"), "expect.status",
                                f"the run ended {state['status']}, the test case expects {expect['status']}{extra}"))
    if "path" in expect:
        want = [str(e) for e in expect["path"] or []]
        got = state["path"]
        if want != got:
            at = next((k for k, (a, b) in enumerate(zip(want, got)) if a != b), min(len(want), len(got)))
            element = want[at] if at < len(want) else got[at]
            found.append(AssetError(path, expect.line_of("path"), "expect.path",
                                    f"the path differs from element {at + 1} ({element}) on: expected "
                                    f"{' → '.join(want) or 'nothing'}, got {' → '.join(got) or 'nothing'}"))
    if "waiting" in expect:
        want = sorted(str(e) for e in expect["waiting"] or [])
        got = sorted(t.element_id for t in open_tasks(session, run))
        if want != got:
            found.append(AssetError(path, expect.line_of("waiting"), "expect.waiting",
                                    f"tasks still ready: expected {', '.join(want) or 'none'}, "
                                    f"got {', '.join(got) or 'none'}"))
    return found


def replay_package(session: Session, files: Mapping[str, str | bytes], module_id: str) -> list[AssetError]:
    """Replay every test case of a package; nothing of it stays in the database."""
    paths = case_files(files)
    findings: list[AssetError] = []
    for path in paths:
        nested = session.begin_nested()
        try:
            findings.extend(replay_case(session, files, path, module_id))
        except Exception as exc:  # noqa: BLE001 - a replay that breaks is a finding, never a 500
            findings.append(AssetError(path, 1, "test", f"the test case could not be replayed: "
                                       f"{type(exc).__name__}: {exc}"))
        finally:
            nested.rollback()
    return findings
