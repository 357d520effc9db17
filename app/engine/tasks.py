"""User tasks as people see them: inbox, claim, complete.

The inbox reads only ``wf_task`` (one indexed query). Completing loads the instance,
puts the (already validated) form data into the task, advances, and saves with
the optimistic counter, so of two people completing the same task one wins and
the other gets :class:`ConcurrentUpdate` or :class:`TaskNotOpen`.
"""
from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any
from uuid import UUID

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import and_, bindparam, inspect, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from app.engine import store
from app.engine.errors import (
    ConcurrentUpdate,
    EngineError,
    StepFailed,
    TaskNotFound,
    TaskNotOpen,
)
from app.engine.jsonsafe import jsonable
from app.engine.models import CLAIMED, DONE, OPEN_TASK, READY, ProcessInstance, TaskRow
from app.engine.runtime import step
from app.engine.timebridge import platform_now

log = logging.getLogger("estateflow.engine")


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
    row, instance = _task_and_instance(session, task_row_id)
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
    try:
        _complete(session, row, instance, wf, definition, task, data, actor, expected)
    except EngineError:
        raise
    except Exception as exc:  # never a bare 500: the caller rolls back and shows why
        log.exception("completing task %s of instance %s failed", task_row_id, instance.id)
        raise StepFailed(row.element_id, exc) from exc
    return instance


def _complete(session, row, instance, wf, definition, task, data, actor, expected) -> None:
    """The part of :func:`complete_task` that runs authored content."""
    task.data.update(data)
    task.run()
    now = platform_now()
    done = {"status": DONE, "completed_at": now, "completed_by": actor, "data": jsonable(data)}
    session.flush()  # the caller's pending ORM changes go first, as autoflush would do
    store.connection(session).execute(_FINISH_TASK, {**done, "_id": row.id})
    if isinstance(row, TaskRow):  # the session holds it: show it the new values
        for key, value in done.items():
            set_committed_value(row, key, value)
    audit = [store.audit_row(
        actor=actor, action="task.complete", target_type="task", target_id=row.id,
        community_id=row.community_id,
        after={"instance_id": instance.id, "element": row.element_id, "form": row.form_id,
               "data": done["data"]})]
    step(session, instance, wf, definition, expected_version=expected, actor=actor,
         finished_task=row.spiff_task_id, audit=audit)


_T = TaskRow.__table__
_FINISH_TASK = (
    update(_T).where(_T.c.id == bindparam("_id"))
    .values(status=bindparam("status"), completed_at=bindparam("completed_at"),
            completed_by=bindparam("completed_by"), data=bindparam("data"))
)
_I = ProcessInstance.__table__
_T_KEYS = tuple(c.key for c in _T.c)
_I_KEYS = tuple(c.key for c in _I.c)
_TASK_AND_INSTANCE = (  # Core: one row, no ORM loading machinery
    select(*_T.c, *_I.c)
    .join_from(_T, _I, _I.c.id == _T.c.instance_id)
    .where(_T.c.id == bindparam("_task_row_id"))
)
_TASK_AND_INSTANCE_ORM = (
    select(TaskRow, ProcessInstance)
    .join(ProcessInstance, ProcessInstance.id == TaskRow.instance_id)
    .where(TaskRow.id == bindparam("_task_row_id"))
)


def _task_and_instance(session: Session, task_row_id: int) -> tuple[Any, ProcessInstance]:
    """The task row and its instance in one Core query.

    The instance is returned as ``session.get`` would: the session's own object if it
    has one, else a new persistent object made from the row as if the ORM had loaded it.
    The task row is the session's ``TaskRow`` if it has one, else a read-only view of
    the row (no ORM object is built for something the caller never sees)."""
    session.flush()  # as the ORM query would (autoflush)
    params = {"_task_row_id": task_row_id}
    found = store.connection(session).execute(_TASK_AND_INSTANCE, params).first()
    if found is None:
        raise TaskNotFound(f"no task {task_row_id}")
    n = len(_T_KEYS)
    identity_map = session.identity_map
    row = identity_map.get(identity_key(TaskRow, found[0]))
    instance = identity_map.get(identity_key(ProcessInstance, found[n]))
    if (row is not None and inspect(row).unloaded) or \
            (instance is not None and inspect(instance).unloaded):
        # in the session but (partly) expired: let the ORM load them the usual way
        return session.execute(_TASK_AND_INSTANCE_ORM, params).one()
    if row is None:
        row = SimpleNamespace(**dict(zip(_T_KEYS, found[:n])))
    if instance is None:
        instance = store.loaded_instance(session, dict(zip(_I_KEYS, found[n:])))
    return row, instance


__all__ = ["list_inbox", "claim_task", "unclaim_task", "complete_task", "task_data",
           "get_task", "ConcurrentUpdate"]
