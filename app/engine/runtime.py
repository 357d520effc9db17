"""Running instances: start, advance past automatic work, mirror the state into rows.

One step = load (or create) the workflow, change it, ``advance`` (engine steps and
operations until only people, timers or messages can move it), ``sync`` the task,
timer and message rows with what changed, and save with the optimistic counter —
all in the caller's transaction.
"""
from __future__ import annotations

import re
import traceback
from datetime import datetime
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask
from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from app.engine import store
from app.engine.definitions import (
    Definition,
    OperationTask,
    PlatformMessageEventDefinition,
)
from app.engine.errors import ProcessNotFound
from app.engine.evaluator import EvaluationError
from app.engine.models import (
    CANCELLED,
    COMPLETED,
    INCIDENT,
    OPEN_TASK,
    TASK_CANCELLED,
    WAITING,
    Incident,
    MessageWait,
    ProcessInstance,
    ProcessVersion,
    TaskRow,
    TimerRow,
)
from app.engine.operations import OperationContext, get_operation
from app.engine.prune import prune_history
from app.engine.timebridge import platform_now, to_naive_utc
from app.settings import get_settings

_EXPR = re.compile(r"\$\{(.+?)\}")


def latest_version(session: Session, process_id: str) -> ProcessVersion:
    version = session.scalars(
        select(ProcessVersion)
        .where(ProcessVersion.process_id == process_id)
        .order_by(ProcessVersion.version.desc())
        .limit(1)
    ).first()
    if version is None:
        raise ProcessNotFound(f"no deployed process {process_id!r}")
    return version


def start_instance(
    session: Session,
    process_id: str,
    community_id: int,
    business_key: str | None = None,
    actor: str = "system",
    data: dict | None = None,
    message: tuple[str, dict] | None = None,
    version: ProcessVersion | None = None,
) -> ProcessInstance:
    """Start the newest version of ``process_id`` and run it to its first wait.

    ``data`` seeds the workflow's variables; ``message`` (name, payload) triggers a
    message start event. Does not commit.
    """
    now = platform_now()
    if version is None:
        # One statement finds the newest version and inserts the instance.
        started = store.insert_newest(
            session, process_id, community_id=community_id, business_key=business_key,
            status="running", lock_version=0, projection={}, started_at=now, started_by=actor)
        if started is None:
            raise ProcessNotFound(f"no deployed process {process_id!r}")
        instance, number = started
        definition = store.cached_definition(instance.spec_hash)
        if definition is None:
            definition = store.definition_of(session.get(ProcessVersion, instance.version_id))
    else:
        definition = store.definition_of(version)
        number = version.version
        # Not inserted yet: the first statement that needs its id (a task, timer or
        # message row, an operation) inserts it, or the save does.
        instance = ProcessInstance(
            version_id=version.id, process_id=version.process_id,
            spec_hash=version.content_hash, community_id=community_id,
            business_key=business_key, status="running", lock_version=0, state=None,
            projection={}, error=None, started_at=now, started_by=actor, ended_at=None,
        )
    wf = store.new_workflow(definition)
    start_data = dict(data or {})
    start_data.setdefault("business_key", business_key)
    start_data.setdefault("community_id", community_id)
    wf.task_tree.data.update(start_data)
    if message is not None:
        wf.do_engine_steps()
        wf.catch(BpmnEvent(PlatformMessageEventDefinition(message[0]), dict(message[1] or {})))
    audit = [store.audit_row(
        actor=actor, action="process.start", target_type="process_instance",
        target_id=store.THIS_INSTANCE, community_id=community_id,
        after={"process_id": instance.process_id, "version": number,
               "business_key": business_key},
    )]
    step(session, instance, wf, definition, expected_version=0, actor=actor, audit=audit)
    return instance


def step(
    session: Session,
    instance: ProcessInstance,
    wf: BpmnWorkflow,
    definition: Definition,
    expected_version: int,
    actor: str,
    retry: dict[str, Incident] | None = None,
    finished_task: str | None = None,
    audit: list[dict] | None = None,
) -> None:
    """Advance, mirror rows, save. The common tail of every engine action.

    ``finished_task``: uuid of the user task the caller already marked completed
    (so its row is not touched again). ``audit``: audit rows (``store.audit_row``)
    the caller collected for this action; they are written, with the step's own,
    in one INSERT after the save."""
    audit = [] if audit is None else audit
    session.flush()  # the caller's pending ORM changes go first, as autoflush would do
    projection = dict(instance.projection or {})
    if finished_task is not None:
        projection["tasks"] = {k: v for k, v in projection.get("tasks", {}).items()
                               if k != finished_task}
    incidents = dict(projection.get("incidents", {}))
    for uuid in retry or {}:
        incidents.pop(uuid, None)
    open_tasks: list[Task] = []
    error = advance(session, instance, wf, definition, incidents, retry or {}, actor, audit,
                    open_tasks)
    projection["incidents"] = incidents
    sync_rows(session, instance, wf, definition, projection, open_tasks)
    pruned = prune_history(wf)
    if pruned:
        history = projection.get("pruned_elements", [])
        projection["pruned_elements"] = history + [e for e in dict.fromkeys(pruned)
                                                   if e not in history]
    changes: dict = {"projection": projection}
    if incidents:
        changes["status"] = INCIDENT
    elif wf.is_completed():
        changes["status"] = COMPLETED
        changes["ended_at"] = platform_now()
    else:
        changes["status"] = WAITING
    if not incidents:
        changes["error"] = None
    elif error:
        changes["error"] = error
    store.save_instance(session, instance, wf, expected_version, **changes)
    store.insert_audit(session, audit, instance.id)


def _all_tasks(wf: BpmnWorkflow, state: int) -> list[Task]:
    tasks = wf.get_tasks(state=state)
    if wf.subprocesses:
        seen = {id(t) for t in tasks}
        for sub in wf.subprocesses.values():
            for t in sub.get_tasks(state=state):
                if id(t) not in seen:
                    seen.add(id(t))
                    tasks.append(t)
    return tasks


_OPEN_STATES = TaskState.READY | TaskState.WAITING


def evaluate_param(wf: BpmnWorkflow, task: Task, raw: str):
    """``${expr}`` alone keeps the value's type; ``${}`` inside text interpolates;
    anything else is a literal string."""
    text = raw.strip()
    whole = _EXPR.fullmatch(text)
    if whole and len(_EXPR.findall(text)) == 1:  # "${a} and ${b}" is text, not one expression
        return wf.script_engine.evaluate(task, whole.group(1))
    if "${" in raw:
        return _EXPR.sub(lambda m: str(wf.script_engine.evaluate(task, m.group(1))), raw)
    return raw


class LoopWithoutWaitState(Exception):
    """More automatic steps in a row than ``engine_max_automatic_steps``."""

    def __init__(self, bound: int):
        self.bound = bound
        super().__init__(
            f"loop without a wait state: more than {bound} automatic steps ran in a row without "
            "reaching a user task, timer or message, so the instance stopped here. Fix the "
            "loop's exit condition (or the data it reads), then retry to run on.")


class _Held(Exception):
    """A task with an open incident came up: stop the engine steps, leave it READY."""


class _StepCounter:
    """``will_complete_task`` callback: counts automatic steps, holds incident tasks.

    One integer decrement per step (the hot path); the uuid check only runs while the
    instance has open incidents."""

    __slots__ = ("bound", "held", "left", "task", "top")

    def __init__(self, bound: int, held: dict, top: BpmnWorkflow):
        self.top = top
        self.left = bound
        self.bound = bound
        self.task: Task | None = None
        self.held = held

    def __call__(self, task: Task) -> None:
        if self.held and str(task.id) in self.held:
            raise _Held()
        self.left -= 1
        self.task = task
        if self.left < 0:
            raise LoopWithoutWaitState(self.bound)
        workflow = task.workflow
        if workflow is not self.top and workflow.depth >= MAX_CALL_DEPTH:
            caller = self.top.get_task_from_id(workflow.parent_task_id)
            self.task = caller if caller is not None else task
            raise CallsTooDeep()


#: call activities / subprocesses nested deeper than this are a process calling itself
#: (each level makes every later engine step walk all of them)
MAX_CALL_DEPTH = 20


class CallsTooDeep(LoopWithoutWaitState):
    def __init__(self):
        Exception.__init__(
            self, f"call activities nested more than {MAX_CALL_DEPTH} levels deep: the process "
            "keeps calling itself, so the instance stopped here. Remove the recursion, then "
            "retry.")
        self.bound = MAX_CALL_DEPTH


def _refresh_timers(wf: BpmnWorkflow) -> None:
    try:
        wf.refresh_timers()
    except Exception:  # noqa: BLE001 - a broken timer is reported by the step that reached it
        pass


def _failed_task(wf: BpmnWorkflow, exc: Exception, counter: _StepCounter) -> Task | None:
    """The task whose element failed: the exception's own, or the one of the element
    it names (a gateway's check fails while its predecessor completes), or the last run."""
    task = getattr(exc, "task", None)
    if isinstance(task, Task):
        return task
    spec = getattr(exc, "task_spec", None)
    if spec is not None and (counter.task is None or counter.task.task_spec is not spec):
        for candidate in _all_tasks(wf, TaskState.NOT_FINISHED_MASK | TaskState.ERROR):
            if candidate.task_spec is spec:
                return candidate
    return counter.task or wf.last_task


def advance(
    session: Session,
    instance: ProcessInstance,
    wf: BpmnWorkflow,
    definition: Definition,
    incidents: dict[str, int],
    retry: dict[str, Incident],
    actor: str,
    audit: list[dict] | None = None,
    open_tasks: list[Task] | None = None,
) -> str | None:
    """Run engine steps and operations until only people, timers or messages remain.

    Anything authored that fails on the way — an operation, a script, a condition, a
    timer expression, a gateway with nowhere to go — becomes an incident on its element
    (a failing operation's partial database changes are rolled back to a savepoint);
    the rest of the instance is saved as it is, so a retry resumes there. More than
    ``engine_max_automatic_steps`` automatic steps in a row is an incident too ("loop
    without a wait state"), never a completed instance. Returns the last error, if any.
    ``open_tasks`` (a list) receives the READY and WAITING tasks as they are at the end,
    for :func:`sync_rows`.
    """
    error: str | None = None
    counter = _StepCounter(get_settings().engine_max_automatic_steps, incidents, wf)
    stalled: set[str] = set()
    for uuid in retry:
        failed = wf.get_task_from_id(UUID(uuid)) if uuid else None
        if failed is None:
            continue
        if failed.state == TaskState.ERROR:
            failed._set_state(TaskState.READY)  # run it again
        elif failed.state & (TaskState.FUTURE | TaskState.PREDICTED_MASK):
            # it failed while becoming ready (a timer's expression): let it try again
            try:
                failed.task_spec._update(failed)
            except Exception as exc:  # noqa: BLE001 - still failing: the incident stays open
                stalled.add(uuid)
                error = _incident_for(session, instance, failed, exc, retry, incidents, audit)
    while True:
        try:
            wf.do_engine_steps(will_complete_task=counter)
        except _Held:
            _refresh_timers(wf)
        except Exception as exc:  # noqa: BLE001 - authored content failed: an incident
            _refresh_timers(wf)
            task = _failed_task(wf, exc, counter)
            uuid = str(task.id) if task is not None else ""
            if task is not None and uuid not in stalled:
                stalled.add(uuid)
                error = _incident_for(session, instance, task, exc, retry, incidents, audit)
                if not isinstance(exc, LoopWithoutWaitState):
                    continue  # other branches may still move
        found = _all_tasks(wf, _OPEN_STATES)  # one walk of the tree serves the sync too
        pending = [
            t for t in found
            if t.state == TaskState.READY and isinstance(t.task_spec, OperationTask)
            and str(t.id) not in incidents
        ]
        if not pending:
            if open_tasks is not None:
                open_tasks[:] = found
            for uuid, done in retry.items():
                if uuid not in incidents and done.status == "open":
                    done.status, done.resolved_at, done.resolved_by = \
                        "resolved", platform_now(), actor
            return error
        for task in pending:
            meta = definition.service_tasks.get(task.task_spec.bpmn_id)
            uuid = str(task.id)
            counter.left -= 1
            if counter.left < 0:
                error = _incident_for(session, instance, task,
                                      LoopWithoutWaitState(counter.bound), retry, incidents,
                                      audit, meta)
                continue
            store.ensure_inserted(session, instance)  # operations and incidents need its id
            if audit:  # what led here goes into the trail before anything the operation writes
                store.insert_audit(session, audit, instance.id)
                audit.clear()
            try:
                op = get_operation(meta.operation if meta else "")
                params = {k: evaluate_param(wf, task, v) for k, v in (meta.params if meta else {}).items()}
                ctx = OperationContext(
                    session=session, community_id=instance.community_id, instance=instance,
                    business_key=instance.business_key, element_id=task.task_spec.bpmn_id,
                    data=dict(task.data),
                )
                with session.begin_nested():
                    result = op.call(params, ctx)
            except Exception as exc:  # an operation's failure must never lose the instance
                incident = _raise_incident(session, instance, task, meta, exc, retry.get(uuid),
                                           audit)
                incidents[uuid] = incident.id
                error = f"{task.task_spec.bpmn_id}: {type(exc).__name__}: {exc}"
                continue
            if uuid in retry:
                done = retry[uuid]
                done.status, done.resolved_at, done.resolved_by = "resolved", platform_now(), actor
            task.data.update(result)
            task.run()


def _incident_for(session, instance, task, exc, retry, incidents, audit, meta=None) -> str:
    """Record ``exc`` as an incident on ``task``'s element; returns the instance's error."""
    uuid = str(task.id)
    store.ensure_inserted(session, instance)
    if audit:
        store.insert_audit(session, audit, instance.id)
        audit.clear()
    incident = _raise_incident(session, instance, task, meta, exc, retry.get(uuid), audit,
                               reason=describe_failure(task, exc))
    incidents[uuid] = incident.id
    return f"{task.task_spec.bpmn_id}: {incident.error}"


def describe_failure(task: Task, exc: Exception) -> str:
    """One sentence about what failed at ``task``, without SpiffWorkflow internals."""
    if isinstance(exc, LoopWithoutWaitState):
        return str(exc)
    cause = exc
    while getattr(cause, "exception", None) is not None or cause.__cause__ is not None:
        cause = getattr(cause, "exception", None) or cause.__cause__
    message = str(cause).split("\n")[0].strip() or type(cause).__name__
    spec = task.task_spec
    kind = type(spec).__name__
    if "No conditions satisfied" in message or "At least one output required" in message:
        return ("no outgoing flow can be taken here (no condition is true and there is no "
                "default flow); fix the data or the conditions, then retry")
    if kind == "ScriptTask":
        return f"the script failed: {message}"
    if "Gateway" in kind:
        return f"a condition on a flow out of this gateway failed: {message}"
    if isinstance(cause, EvaluationError) or "evaluating expression" in str(exc):
        return f"an expression of this element failed: {message}"
    return f"this step failed: {message}"


def _raise_incident(session, instance, task, meta, exc, existing: Incident | None,
                    audit: list[dict] | None = None, reason: str | None = None) -> Incident:
    error = reason or f"{type(exc).__name__}: {exc}"
    detail = reason or "".join(traceback.format_exception_only(type(exc), exc)).strip()
    incident = existing or Incident(
        instance_id=instance.id, community_id=instance.community_id,
        spiff_task_id=str(task.id), element_id=task.task_spec.bpmn_id,
        operation=meta.operation if meta else None, created_at=platform_now(),
    )
    incident.error = detail or error
    incident.status = "open"
    session.add(incident)
    session.flush()
    row = store.audit_row(
        actor="engine", action="process.incident", target_type="process_instance",
        target_id=instance.id, community_id=instance.community_id,
        after={"element": task.task_spec.bpmn_id, "incident_id": incident.id, "error": error},
    )
    if audit is None:
        store.insert_audit(session, [row])
    else:
        audit.append(row)
    return incident


def _due_of(wf: BpmnWorkflow, task: Task, raw: str | None, created: datetime) -> datetime | None:
    if not raw:
        return None
    value = evaluate_param(wf, task, raw)
    if isinstance(value, datetime):
        return value
    text = str(value).strip()
    if text.upper().startswith("P"):
        parsed = TimerEventDefinition.parse_iso_duration(text)
        return created + TimerEventDefinition.get_timedelta_from_start(parsed, created)
    return to_naive_utc(text)


def _task_title(wf, task, title: str | None) -> str | None:
    if title and "${" in title:
        try:
            return str(evaluate_param(wf, task, title))
        except Exception:  # a title is a label: show it raw rather than fail the step
            return title
    return title


def _assignee_of(wf: BpmnWorkflow, task: Task, raw: str | None) -> str | None:
    """``camunda:assignee``: a username, or ``${expr}`` over task data (empty = nobody)."""
    if not raw:
        return None
    value = evaluate_param(wf, task, raw) if "${" in raw else raw
    value = str(value).strip() if value is not None else ""
    return value[:100] or None


def _timer_due(task: Task) -> datetime | None:
    value = task.internal_data.get("event_value")
    if isinstance(value, dict):  # cycle timer
        value = value.get("next")
    return to_naive_utc(value) if isinstance(value, str) else None


_T = TaskRow.__table__
_TM = TimerRow.__table__
_MW = MessageWait.__table__
# Built once: the same statement objects every step, so their cache keys are memoized
# and the compiled SQL comes from the engine's compiled cache.
_INSERT_TASK = insert(_T).returning(_T.c.id, sort_by_parameter_order=True)
_INSERT_TIMER = insert(_TM)
_INSERT_MESSAGE = insert(_MW)
_CANCEL_TASKS = (
    update(_T)
    .where(_T.c.id.in_(bindparam("_ids", expanding=True)), _T.c.status.in_(OPEN_TASK))
    .values(status=TASK_CANCELLED, completed_at=bindparam("_now"))
)
_MOVE_TIMER = (
    update(_TM)
    .where(_TM.c.instance_id == bindparam("_iid"),
           _TM.c.spiff_task_id == bindparam("_uuid"), _TM.c.status == "pending")
    .values(due_at=bindparam("_due"))
)
_CANCEL_TIMERS = (
    update(_TM)
    .where(_TM.c.instance_id == bindparam("_iid"),
           _TM.c.spiff_task_id.in_(bindparam("_uuids", expanding=True)),
           _TM.c.status == "pending")
    .values(status="cancelled")
)
_DROP_MESSAGES = (
    delete(_MW)
    .where(_MW.c.instance_id == bindparam("_iid"),
           _MW.c.spiff_task_id.in_(bindparam("_uuids", expanding=True)))
)


def sync_rows(
    session: Session,
    instance: ProcessInstance,
    wf: BpmnWorkflow,
    definition: Definition,
    projection: dict,
    open_tasks: list[Task] | None = None,
) -> None:
    """Make task, timer and message rows match the workflow; touch only what changed.

    ``open_tasks``: the workflow's READY and WAITING tasks if the caller has them."""
    if open_tasks is None:
        open_tasks = _all_tasks(wf, _OPEN_STATES)
    ready = TaskState.READY
    now = platform_now()
    old_tasks: dict[str, int] = projection.get("tasks", {})
    old_timers: dict[str, str] = projection.get("timers", {})
    old_msgs: dict[str, str] = projection.get("messages", {})
    new_tasks: dict[str, int] = {}
    new_timers: dict[str, str] = {}
    new_msgs: dict[str, str] = {}
    added_tasks: list[dict] = []
    added_timers: list[dict] = []
    moved_timers: list[dict] = []
    added_msgs: list[dict] = []

    for task in open_tasks:
        if task.state != ready or not isinstance(task.task_spec, UserTask):
            continue
        uuid = str(task.id)
        if uuid in old_tasks:
            new_tasks[uuid] = old_tasks[uuid]
            continue
        meta = definition.user_tasks.get(task.task_spec.bpmn_id)
        title = (meta.title if meta else None) or task.task_spec.bpmn_name
        title, title_en = (_task_title(wf, task, t) for t in (title, meta.title_en if meta else None))
        try:
            assignee = _assignee_of(wf, task, meta.assignee if meta else None)
            due = _due_of(wf, task, meta.due if meta else None, now)
        except Exception as exc:  # noqa: BLE001 - authored: the task still reaches the inbox
            assignee = due = None
            store.ensure_inserted(session, instance)
            incident = _raise_incident(
                session, instance, task, None, exc, None,
                reason=f"the due date or assignee of this task could not be worked out "
                       f"({describe_failure(task, exc).removeprefix('this step failed: ')}); "
                       "the task is in its role's inbox without them. Retry closes this "
                       "incident.")
            projection.setdefault("incidents", {})[uuid] = incident.id
        added_tasks.append({
            "instance_id": None, "spiff_task_id": uuid, "element_id": task.task_spec.bpmn_id,
            "community_id": instance.community_id, "role": meta.role if meta else None,
            "form_id": meta.form_id if meta else None,
            "title": title[:300] if title else None,
            "title_en": title_en[:300] if title_en else None,
            "due_at": due,
            "business_key": instance.business_key, "created_at": now,
            "status": "claimed" if assignee else "ready", "assignee": assignee,
            "claimed_at": now if assignee else None,
        })

    for task in open_tasks:
        spec = task.task_spec
        if task.state != TaskState.WAITING or not isinstance(spec, CatchingEvent):
            continue
        uuid = str(task.id)
        # an event-based gateway waits on several events at once (MultipleEventDefinition)
        definitions = getattr(spec.event_definition, "event_definitions", None) or [spec.event_definition]
        timers = [d for d in definitions if isinstance(d, TimerEventDefinition)]
        messages = [d for d in definitions if isinstance(d, MessageEventDefinition)]
        if timers:
            due = _timer_due(task)
            if due is not None:
                new_timers[uuid] = due.isoformat()
                if old_timers.get(uuid) != new_timers[uuid]:
                    if uuid in old_timers:
                        moved_timers.append({"_iid": instance.id, "_uuid": uuid, "_due": due})
                    else:
                        added_timers.append({"instance_id": None, "spiff_task_id": uuid,
                                             "element_id": spec.bpmn_id, "due_at": due,
                                             "status": "pending"})
        if messages:
            new_msgs[uuid] = ",".join(d.name or "" for d in messages)
            if uuid not in old_msgs:
                added_msgs.extend({
                    "instance_id": None, "spiff_task_id": uuid, "element_id": spec.bpmn_id,
                    "message_name": d.name or "", "business_key": instance.business_key,
                    "community_id": instance.community_id,
                } for d in messages)

    if added_tasks or added_timers or added_msgs:
        store.ensure_inserted(session, instance)  # the new rows point at it
    execute = store.connection(session).execute
    if moved_timers:
        execute(_MOVE_TIMER, moved_timers)
    gone_tasks = [row_id for uuid, row_id in old_tasks.items() if uuid not in new_tasks]
    if gone_tasks:
        execute(_CANCEL_TASKS, {"_ids": gone_tasks, "_now": now})
    gone_timers = [uuid for uuid in old_timers if uuid not in new_timers]
    if gone_timers:
        execute(_CANCEL_TIMERS, {"_iid": instance.id, "_uuids": gone_timers})
    gone_msgs = [uuid for uuid in old_msgs if uuid not in new_msgs]
    if gone_msgs:
        execute(_DROP_MESSAGES, {"_iid": instance.id, "_uuids": gone_msgs})
    for rows in (added_timers, added_msgs, added_tasks):
        for row in rows:
            row["instance_id"] = instance.id
    if added_timers:
        execute(_INSERT_TIMER, added_timers)
    if added_msgs:
        execute(_INSERT_MESSAGE, added_msgs)
    if len(added_tasks) == 1:
        new_tasks[added_tasks[0]["spiff_task_id"]] = execute(_INSERT_TASK, added_tasks[0]).scalar_one()
    elif added_tasks:
        ids = execute(_INSERT_TASK, added_tasks).scalars().all()
        for row, row_id in zip(added_tasks, ids, strict=True):
            new_tasks[row["spiff_task_id"]] = row_id
    projection["tasks"] = new_tasks
    projection["timers"] = new_timers
    projection["messages"] = new_msgs


def cancel_instance(session: Session, instance_id: int, actor: str, reason: str = "") -> ProcessInstance:
    """Stop an instance for good: open tasks, timers and message waits go with it."""
    instance = session.get(ProcessInstance, instance_id)
    if instance is None:
        raise ProcessNotFound(f"no process instance {instance_id}")
    expected = instance.lock_version
    wf, definition = store.load_workflow(session, instance)
    wf.cancel()
    session.flush()
    projection = dict(instance.projection or {})
    now = platform_now()
    ids = list(projection.get("tasks", {}).values())
    if ids:
        session.execute(update(_T).where(_T.c.id.in_(ids), _T.c.status.in_(OPEN_TASK))
                        .values(status=TASK_CANCELLED, completed_at=now, completed_by=actor))
    session.execute(update(_TM).where(_TM.c.instance_id == instance.id,
                                      _TM.c.status == "pending").values(status="cancelled"))
    session.execute(delete(_MW).where(_MW.c.instance_id == instance.id))
    store.save_instance(session, instance, wf, expected, status=CANCELLED, ended_at=now,
                        projection={"tasks": {}, "timers": {}, "messages": {}, "incidents": {}})
    store.insert_audit(session, [store.audit_row(
        actor=actor, action="process.cancel", target_type="process_instance",
        target_id=instance.id, community_id=instance.community_id, after={"reason": reason})])
    return instance


def task_by_uuid(wf: BpmnWorkflow, uuid: str) -> Task | None:
    return wf.get_task_from_id(UUID(uuid))


