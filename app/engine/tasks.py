"""User tasks as people see them: inbox, claim, complete.

The inbox reads only ``wf_task`` (one indexed query). Completing loads the instance,
puts the (already validated) form data into the task, advances, and saves with
the optimistic counter, so of two people completing the same task one wins and
the other gets :class:`ConcurrentUpdate` or :class:`TaskNotOpen`.
"""
from __future__ import annotations

from uuid import UUID

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session
from SpiffWorkflow.util.task import TaskState

from app.engine import store
from app.engine.jsonsafe import jsonable
from app.engine.errors import ConcurrentUpdate, TaskNotFound, TaskNotOpen
from app.engine.models import CLAIMED, DONE, OPEN_TASK, READY, ProcessInstance, TaskRow
from app.engine.runtime import step
from app.engine.timebridge import platform_now
from app.services.audit import record


def get_task(session: Session, task_row_id: int) -> TaskRow:
    row = session.get(TaskRow, task_row_id)
    if row is None:
        raise TaskNotFound(f"no task {task_row_id}")
    return row


def list_inbox(
    session: Session,
    community_ids: list[int] | set[int],
    roles: list[str] | set[str],
    user_id: str,
    order: str = "due",
    limit: int = 50,
    offset: int = 0,
) -> list[TaskRow]:
    """Open tasks in these communities: unclaimed ones for these roles, plus the
    ones this user claimed. ``order``: 'due' (soonest first, no due date last) or
    'created' (newest first)."""
    cond = and_(
        TaskRow.community_id.in_(list(community_ids)),
        or_(
            and_(TaskRow.status == READY, TaskRow.role.in_(list(roles))),
            and_(TaskRow.status == CLAIMED, TaskRow.assignee == user_id),
        ),
    )
    query = select(TaskRow).where(cond)
    if order == "due":
        query = query.order_by(TaskRow.due_at.is_(None), TaskRow.due_at, TaskRow.id)
    elif order == "created":
        query = query.order_by(TaskRow.id.desc())
    else:
        raise ValueError(f"unknown order {order!r}")
    return list(session.scalars(query.limit(limit).offset(offset)))


def claim_task(session: Session, task_row_id: int, user_id: str,
               roles: set[str] | None = None) -> TaskRow:
    """Take a ready task so it leaves the others' inboxes (atomic; no commit)."""
    row = get_task(session, task_row_id)
    if roles is not None and row.role not in roles:
        raise TaskNotOpen(f"task {task_row_id} is for role {row.role!r}")
    now = platform_now()
    result = session.execute(
        update(TaskRow)
        .where(TaskRow.id == task_row_id,
               or_(TaskRow.status == READY,
                   and_(TaskRow.status == CLAIMED, TaskRow.assignee == user_id)))
        .values(status=CLAIMED, assignee=user_id, claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        session.refresh(row)
        raise TaskNotOpen(f"task {task_row_id} is {row.status}"
                          + (f" by {row.assignee}" if row.assignee else ""))
    session.refresh(row)
    return row


def unclaim_task(session: Session, task_row_id: int, user_id: str) -> TaskRow:
    """Give a claimed task back to the role's inbox."""
    result = session.execute(
        update(TaskRow)
        .where(TaskRow.id == task_row_id, TaskRow.status == CLAIMED, TaskRow.assignee == user_id)
        .values(status=READY, assignee=None, claimed_at=None)
        .execution_options(synchronize_session=False)
    )
    row = get_task(session, task_row_id)
    session.refresh(row)
    if result.rowcount != 1:
        raise TaskNotOpen(f"task {task_row_id} is not claimed by {user_id}")
    return row


def task_data(session: Session, task_row_id: int) -> dict:
    """The task's current workflow data (for a form's read-only context)."""
    row = get_task(session, task_row_id)
    instance = session.get(ProcessInstance, row.instance_id)
    wf, _ = store.load_workflow(session, instance)
    task = wf.get_task_from_id(UUID(row.spiff_task_id))
    return dict(task.data) if task is not None else {}


def complete_task(
    session: Session,
    task_row_id: int,
    data: dict,
    actor: str,
    expected_instance_version: int | None = None,
) -> ProcessInstance:
    """Finish a user task with validated form ``data`` and run on to the next wait.

    Raises :class:`TaskNotOpen` if the task is done, cancelled or someone else's
    claim, and :class:`ConcurrentUpdate` if the instance changed since
    ``expected_instance_version`` (or since it was loaded). Does not commit.
    """
    row = get_task(session, task_row_id)
    instance = session.get(ProcessInstance, row.instance_id)
    expected = instance.lock_version if expected_instance_version is None \
        else expected_instance_version
    if instance.lock_version != expected:
        raise ConcurrentUpdate(instance.id, expected)
    if row.status not in OPEN_TASK:
        who = f" by {row.completed_by}" if row.completed_by else ""
        raise TaskNotOpen(f"task {task_row_id} is already {row.status}{who}")
    if row.status == CLAIMED and row.assignee and row.assignee != actor:
        raise TaskNotOpen(f"task {task_row_id} is claimed by {row.assignee}")
    wf, definition = store.load_workflow(session, instance)
    task = wf.get_task_from_id(UUID(row.spiff_task_id))
    if task is None or task.state != TaskState.READY:
        raise TaskNotOpen(f"task {task_row_id} is no longer waiting for input")
    task.data.update(data)
    task.run()
    now = platform_now()
    row.status, row.completed_at, row.completed_by, row.data = DONE, now, actor, jsonable(data)
    record(session, actor=actor, action="task.complete", target_type="task",
           target_id=row.id, community_id=row.community_id,
           after={"instance_id": instance.id, "element": row.element_id, "form": row.form_id,
                  "data": row.data})
    step(session, instance, wf, definition, expected_version=expected, actor=actor,
         finished_task=row.spiff_task_id)
    return instance


__all__ = ["list_inbox", "claim_task", "unclaim_task", "complete_task", "task_data",
           "get_task", "ConcurrentUpdate"]
