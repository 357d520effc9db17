"""Test runs of a studio draft: its process, run by the real engine, in the scratch community.

A run deploys the draft's BPMN text as a *scratch* process version (``studio-scratch:<process
id>``, see :mod:`app.studio.scratch`), which no real community can start and no process list
shows; enables the module in the scratch community (the draft's own settings defaults answer
``module.settings``); and starts an instance there with sample start data (a sample household
and its resident). Then the consultant acts as each role in turn: completes the ready tasks
with form data, validated by the draft's form exactly as the task page validates a submission;
fires a waiting timer now (the run's own clock moves forward to the timer's due time, nobody
else's timer is touched); retries an incident. Every action is a step of the run: the element,
the role, the data in, the process data after it and the path so far.

Service tasks run their real operations, against the scratch community's rows only. It has no
devices, so an operation that would command hardware finds none and becomes an incident of
the run; nothing reaches a real device.

Every function takes a SQLAlchemy session and never commits.
"""
from __future__ import annotations

import contextlib
import math
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from app import clock
from app.assets.errors import AssetError
from app.studio.run_models import StudioTestRun
from app.studio.scratch import (
    SCRATCH_PROCESS_PREFIX,
    ensure_scratch_community,
    sample_start_data,
)


class TestRunError(Exception):
    """A run cannot do what was asked; ``findings`` say where (file, line, element, reason)."""

    __test__ = False  # not a pytest class

    def __init__(self, findings: list[AssetError] | str, file: str = "", element: str = ""):
        if isinstance(findings, str):
            findings = [AssetError(file, 0, element, findings)]
        self.findings = findings
        super().__init__("; ".join(str(f) for f in findings))


# --------------------------------------------------------------------------- the draft's parts


def _texts(files: Mapping[str, str | bytes]) -> dict[str, str]:
    return {p: (t.decode("utf-8") if isinstance(t, bytes) else t) for p, t in files.items()}


def draft_module(files: Mapping[str, str], module_id: str):
    """The draft's ``ModuleDef`` (its menu entry parsed as the catalogue does), or None."""
    from app.modules.catalog import _parse as parse_menu

    menu = f"menus/{module_id}.yaml"
    if menu not in files:
        return None
    scratch = Path(tempfile.mkdtemp(prefix="ef-studio-run-"))
    try:
        for rel, text in files.items():
            target = scratch / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        module, _errors = parse_menu(scratch / menu, scratch)
    except Exception:  # noqa: BLE001 - a broken menu only costs the settings defaults
        module = None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return module


def _installation_forms():
    from app.forms.definitions import FormRegistry
    from app.settings import get_settings

    return FormRegistry(Path(get_settings().assets_dir) / "forms")


def draft_form(files: Mapping[str, str], form_id: str | None):
    """The form ``form_id`` as the draft has it (``forms/<form_id>.yaml``), else the
    installation's; None when neither has a usable one."""
    from app.forms.definitions import parse_form_text

    if not form_id:
        return None
    path = f"forms/{form_id}.yaml"
    if path in files:
        form, errors = parse_form_text(files[path], path, form_id)
        return form if form is not None and not errors else None
    registry = _installation_forms()
    return registry.get(form_id) if form_id in registry else None


def known_form_fields(files: Mapping[str, str]) -> dict[str, set[str]]:
    """Form id -> field names: the installation's forms, then the draft's own."""
    from app.forms.definitions import parse_form_text

    registry = _installation_forms()
    known = {fid: {f.name for f in registry.get(fid).fields} for fid in registry.ids()}
    for path, text in files.items():
        if path.startswith("forms/") and path.endswith(".yaml") and "/checklists/" not in path:
            form_id = path[len("forms/"):-len(".yaml")]
            form, _errors = parse_form_text(text, path, form_id)
            known[form_id] = {f.name for f in form.fields} if form is not None else set()
    return known


def draft_processes(files: Mapping[str, str]) -> list[str]:
    return sorted(p for p in files if p.startswith("bpmn/") and p.endswith(".bpmn"))


# --------------------------------------------------------------------------- scratch deployment


def _scratch_version(session: Session, path: str, data: bytes, module_id: str, actor: str):
    """The scratch version of this BPMN text (made once per content): ``studio-scratch:<id>``."""
    from app.engine import store
    from app.engine.definitions import build_definition, content_hash
    from app.engine.models import ProcessVersion
    from app.engine.xmlsafe import parse_xml

    tree, _ = parse_xml(data, path)
    definition = build_definition(tree, path)
    process_id = f"{SCRATCH_PROCESS_PREFIX}{definition.process_id}"[:200]
    digest = content_hash(data)
    found = session.scalar(select(ProcessVersion).where(ProcessVersion.process_id == process_id,
                                                        ProcessVersion.content_hash == digest).limit(1))
    if found is not None:
        return found
    newest = session.scalar(select(ProcessVersion.version).where(ProcessVersion.process_id == process_id)
                            .order_by(ProcessVersion.version.desc()).limit(1))
    version = ProcessVersion(process_id=process_id, version=(newest or 0) + 1, module_id=module_id,
                             filename=path, content_hash=digest, bpmn=data.decode("utf-8"),
                             start_messages=definition.start_messages, deployed_by=actor)
    session.add(version)
    session.flush()
    store.remember_definition(digest, definition)
    return version


def _enable_in_scratch(session: Session, community_id: int, module_id: str, module) -> None:
    from app.modules.models import ModuleActivation

    row = session.scalar(select(ModuleActivation).where(ModuleActivation.community_id == community_id,
                                                        ModuleActivation.module_id == module_id))
    if row is None:
        row = ModuleActivation(community_id=community_id, module_id=module_id, settings={})
        session.add(row)
    row.version = (getattr(module, "version", None) or "0.0.0")[:20]
    row.enabled = True
    row.changed_by = "studio"
    session.flush()


@contextlib.contextmanager
def _run_clock(run: StudioTestRun, module=None) -> Iterator[None]:
    """The engine works at the run's own time, with the draft's module definition."""
    from datetime import timedelta

    from app.engine.timebridge import engine_now
    from app.platform.module_settings import draft_modules

    at = clock.now() + timedelta(seconds=run.clock_offset_s or 0)
    modules = {run.module_id: module} if module is not None else {}
    with engine_now(at), draft_modules(modules):
        yield


# --------------------------------------------------------------------------- actions


def start_run(session: Session, files: Mapping[str, str | bytes], process_path: str, *, module_id: str,
              actor: str, start_data: dict | None = None) -> StudioTestRun:
    """Start the draft's process ``process_path`` in the scratch community (no commit).

    Raises :class:`TestRunError` with the validator's findings when the process cannot run."""
    from app.engine.operations import known_operations
    from app.engine.runtime import start_instance
    from app.engine.validation import validate_bpmn
    from app.platform.discovery import load_operations
    from app.roles import KNOWN_ROLES

    texts = _texts(files)
    if process_path not in texts:
        raise TestRunError(f"no process {process_path} in the draft of module {module_id!r}",
                           file=process_path, element="file")
    data = texts[process_path].encode("utf-8")
    load_operations()
    errors = validate_bpmn(data, process_path, known_form_fields(texts), known_operations(), set(KNOWN_ROLES))
    if errors:
        raise TestRunError(errors)
    community = ensure_scratch_community(session)
    module = draft_module(texts, module_id)
    _enable_in_scratch(session, community.id, module_id, module)
    version = _scratch_version(session, process_path, data, module_id, actor)
    run = StudioTestRun(module_id=module_id, process_path=process_path, community_id=community.id,
                        files=texts, start_data=dict(start_data or {}), steps=[], clock_offset_s=0,
                        started_by=actor, started_at=clock.now())
    session.add(run)
    session.flush()
    seed = {**sample_start_data(session, community.id), **run.start_data}
    with _run_clock(run, module):
        instance = start_instance(session, version.process_id, community.id, business_key=f"TEST-{run.id}",
                                  actor=actor, data=seed, version=version)
    run.instance_id = instance.id
    session.flush()
    path = _path(session, run)
    _record(session, run, "start", path[0] if path else "", None, seed)
    return run


def complete_run_task(session: Session, run: StudioTestRun, task_id: int, role: str | None,
                      values: Mapping[str, Any], actor: str, locale: str | None = None) -> dict[str, list[str]]:
    """Complete a ready task of the run as ``role`` with form ``values`` (what the browser
    posts, or a test case's data). Returns the form's errors per field (nothing done then)."""
    from app.engine.tasks import complete_task
    from app.forms import jsonable, parse_submission
    from app.forms.render import display_value

    row = ready_task(session, run, task_id)
    if row.role and role != row.role:
        raise TestRunError(f"task {row.element_id} is for role {row.role!r}, not {role!r}",
                           file=run.process_path, element=row.element_id)
    form = draft_form(run.files, row.form_id)
    if row.form_id and form is None:
        raise TestRunError(f"the form {row.form_id} of task {row.element_id} is missing or broken",
                           file=f"forms/{row.form_id}.yaml", element=row.element_id)
    if form is not None:
        pairs = []
        for name, value in values.items():
            for item in (value if isinstance(value, list) else [value]):
                shown = display_value(item)
                pairs.append((name, shown if isinstance(shown, str) else str(shown)))
        data, errors, _raw = parse_submission(form, MultiDict(pairs), None, session=session,
                                              community_id=run.community_id, locale=locale)
        if errors:
            return errors
        data = jsonable(data)
    else:
        data = jsonable(dict(values))
    with _run_clock(run, draft_module(run.files, run.module_id)):
        complete_task(session, row.id, data, row.assignee or actor)
    _record(session, run, "task", row.element_id, row.role, data)
    return {}


def fire_run_timer(session: Session, run: StudioTestRun, timer_id: int) -> None:
    """Fire a waiting timer of the run now: the run's clock moves on to its due time."""
    from datetime import timedelta

    from app.engine.models import TimerRow
    from app.engine.timers import fire_timers_now

    row = session.get(TimerRow, timer_id)
    if row is None or row.instance_id != run.instance_id or row.status != "pending":
        raise TestRunError(f"timer {timer_id} is not waiting in this run", file=run.process_path,
                           element=getattr(row, "element_id", "timer"))
    real_now = clock.now()
    ahead = math.ceil((row.due_at - real_now).total_seconds())
    run.clock_offset_s = max(run.clock_offset_s or 0, ahead)
    at = max(row.due_at, real_now + timedelta(seconds=run.clock_offset_s))
    with _run_clock(run, draft_module(run.files, run.module_id)):
        fire_timers_now(session, run.instance_id, [row], at)
    _record(session, run, "timer", row.element_id, None, {})


def retry_run_incident(session: Session, run: StudioTestRun, incident_id: int, actor: str) -> None:
    from app.engine.incidents import retry_incident
    from app.engine.models import Incident

    incident = session.get(Incident, incident_id)
    if incident is None or incident.instance_id != run.instance_id or incident.status != "open":
        raise TestRunError(f"incident {incident_id} is not open in this run", file=run.process_path,
                           element=getattr(incident, "element_id", "incident"))
    with _run_clock(run, draft_module(run.files, run.module_id)):
        retry_incident(session, incident_id, actor)
    _record(session, run, "retry", incident.element_id, None, {})


# --------------------------------------------------------------------------- what the run shows


def ready_task(session: Session, run: StudioTestRun, task_id: int):
    from app.engine.models import OPEN_TASK, TaskRow

    row = session.get(TaskRow, task_id)
    if row is None or row.instance_id != run.instance_id or row.status not in OPEN_TASK:
        raise TestRunError(f"task {task_id} is not ready in this run", file=run.process_path,
                           element=getattr(row, "element_id", "task"))
    return row


def _path(session: Session, run: StudioTestRun) -> list[str]:
    from app.engine.history import completed_elements
    from app.engine.models import ProcessInstance

    instance = session.get(ProcessInstance, run.instance_id)
    return completed_elements(session, instance) if instance is not None else []


def _record(session: Session, run: StudioTestRun, action: str, element: str, role: str | None,
            data_in: dict) -> None:
    from app.engine.history import instance_data
    from app.engine.jsonsafe import jsonable
    from app.engine.models import ProcessInstance

    session.flush()
    instance = session.get(ProcessInstance, run.instance_id)
    run.steps = [*(run.steps or []), {
        "n": len(run.steps or []) + 1, "action": action, "element": element, "role": role,
        "data_in": jsonable(data_in), "data_after": jsonable(instance_data(session, run.instance_id)),
        "path": _path(session, run), "status": instance.status,
    }]
    session.flush()


def open_tasks(session: Session, run: StudioTestRun) -> list:
    from app.engine.models import OPEN_TASK, TaskRow

    return list(session.scalars(select(TaskRow).where(TaskRow.instance_id == run.instance_id,
                                                      TaskRow.status.in_(OPEN_TASK)).order_by(TaskRow.id)))


def waiting_timers(session: Session, run: StudioTestRun) -> list:
    from app.engine.models import TimerRow

    return list(session.scalars(select(TimerRow).where(TimerRow.instance_id == run.instance_id,
                                                       TimerRow.status == "pending").order_by(TimerRow.id)))


def open_incidents(session: Session, run: StudioTestRun) -> list:
    from app.engine.models import Incident

    return list(session.scalars(select(Incident).where(Incident.instance_id == run.instance_id,
                                                       Incident.status == "open").order_by(Incident.id)))


def run_state(session: Session, run: StudioTestRun) -> dict:
    """Everything the run's panel shows, as JSON types (role and status as codes: the view labels them)."""
    from app.engine.models import ProcessInstance

    instance = session.get(ProcessInstance, run.instance_id)
    tasks = open_tasks(session, run)
    timers = waiting_timers(session, run)
    incidents = open_incidents(session, run)
    return {
        "id": run.id, "module": run.module_id, "process_path": run.process_path,
        "status": instance.status if instance is not None else "",
        "tasks": [{"id": t.id, "element": t.element_id, "title": t.title or t.element_id, "role": t.role,
                   "form_id": t.form_id, "assignee": t.assignee} for t in tasks],
        "timers": [{"id": t.id, "element": t.element_id, "due_at": t.due_at.isoformat()} for t in timers],
        "incidents": [{"id": i.id, "element": i.element_id, "operation": i.operation, "error": i.error}
                      for i in incidents],
        "steps": list(run.steps or []),
        "path": _path(session, run),
        "active": [t.element_id for t in tasks] + [t.element_id for t in timers]
                  + [i.element_id for i in incidents],
        "clock_offset_s": run.clock_offset_s or 0,
        "bpmn": run.files.get(run.process_path, ""),
    }


def get_run(session: Session, run_id: int, module_id: str | None = None) -> StudioTestRun | None:
    run = session.get(StudioTestRun, run_id)
    if run is None or (module_id is not None and run.module_id != module_id):
        return None
    return run
