"""What happened in an instance: task history for people, element ids for the diagram."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session
from SpiffWorkflow.util.task import TaskState

from app.engine import store
from app.engine.errors import ProcessNotFound
from app.engine.models import Incident, ProcessInstance, ProcessVersion, TaskRow


def instance_history(session: Session, instance_id: int) -> dict:
    """Instance summary, its user tasks (who, when, submitted data), incidents and
    the completed element ids (to colour the path on the BPMN diagram)."""
    instance = session.get(ProcessInstance, instance_id)
    if instance is None:
        raise ProcessNotFound(f"no process instance {instance_id}")
    version = session.get(ProcessVersion, instance.version_id)
    tasks = session.scalars(
        select(TaskRow).where(TaskRow.instance_id == instance_id).order_by(TaskRow.id)
    )
    incidents = session.scalars(
        select(Incident).where(Incident.instance_id == instance_id).order_by(Incident.id)
    )
    return {
        "instance": {
            "id": instance.id, "process_id": instance.process_id, "version": version.version,
            "community_id": instance.community_id, "business_key": instance.business_key,
            "status": instance.status, "started_at": instance.started_at,
            "started_by": instance.started_by, "ended_at": instance.ended_at,
            "error": instance.error, "lock_version": instance.lock_version,
        },
        "tasks": [
            {"id": t.id, "element_id": t.element_id, "title": t.title, "role": t.role,
             "form_id": t.form_id, "status": t.status, "assignee": t.assignee,
             "created_at": t.created_at, "due_at": t.due_at, "completed_at": t.completed_at,
             "completed_by": t.completed_by, "data": t.data}
            for t in tasks
        ],
        "incidents": [
            {"id": i.id, "element_id": i.element_id, "operation": i.operation, "error": i.error,
             "status": i.status, "created_at": i.created_at, "resolved_at": i.resolved_at,
             "resolved_by": i.resolved_by}
            for i in incidents
        ],
        "completed_elements": completed_elements(session, instance),
        "notes": _audit_notes(session, instance),
        "notifications": _notifications(session, instance),
    }


def _audit_notes(session: Session, instance: ProcessInstance) -> list[dict]:
    """The audit events about this instance (``audit.note`` and the engine's own), oldest first."""
    from app.platform.models import AuditEvent

    events = session.scalars(select(AuditEvent).where(
        AuditEvent.target_type == "process_instance", AuditEvent.target_id == str(instance.id),
        AuditEvent.community_id == instance.community_id).order_by(AuditEvent.id))
    return [{"at": e.at, "actor": e.actor, "action": e.action,
             "note": (e.after or {}).get("note", "") if isinstance(e.after, dict) else "",
             "element_id": (e.after or {}).get("element_id") if isinstance(e.after, dict) else None}
            for e in events]


def _notifications(session: Session, instance: ProcessInstance) -> list[dict]:
    """What the instance published or sent (``notify.log``, ``notify.send``), oldest first."""
    from app.domains.notifications.delivery import instance_notifications

    return [{"at": n.created_at, "channel": n.channel, "template": n.template, "title": n.title,
             "body": n.body, "user_id": n.user_id, "household_id": n.household_id, "status": n.status,
             "error": n.error, "params": n.params, "locale": n.locale}
            for n in instance_notifications(session, instance.community_id, instance.id)]


def completed_elements(session: Session, instance: ProcessInstance) -> list[str]:
    """BPMN element ids that completed, in the order they did (no duplicates)."""
    if not instance.state:
        return []
    wf, _ = store.load_workflow(session, instance)
    pruned = list((instance.projection or {}).get("pruned_elements", []))
    tasks = list(wf.get_tasks(state=TaskState.COMPLETED))
    for sub in wf.subprocesses.values():
        tasks.extend(sub.get_tasks(state=TaskState.COMPLETED))
    tasks.sort(key=lambda t: t.last_state_change)
    seen: dict[str, None] = dict.fromkeys(pruned)
    for task in tasks:
        bpmn_id = getattr(task.task_spec, "bpmn_id", None)
        if bpmn_id:
            seen.setdefault(bpmn_id, None)
    return list(seen)


def instance_data(session: Session, instance_id: int) -> dict:
    """The instance's variables: the final data when completed, else the data of
    the most recently finished step."""
    instance = session.get(ProcessInstance, instance_id)
    if instance is None:
        raise ProcessNotFound(f"no process instance {instance_id}")
    wf, _ = store.load_workflow(session, instance)
    if wf.is_completed():
        return dict(wf.data)
    return dict(wf.last_task.data) if wf.last_task is not None else dict(wf.task_tree.data)
