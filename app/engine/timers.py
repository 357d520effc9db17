"""Firing due timers (intermediate and boundary, durations, dates and cycles).

Timer rows carry the due time, so the sweep is one indexed query. On PostgreSQL
several workers can sweep at once: ``FOR UPDATE SKIP LOCKED`` hands each due row
to one of them.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session
from SpiffWorkflow.util.task import TaskState

from app.engine import store
from app.engine.models import CANCELLED, COMPLETED, ProcessInstance, TimerRow
from app.engine.runtime import step
from app.engine.timebridge import engine_now, platform_now


def fire_due_timers(session: Session, now: datetime | None = None, limit: int = 500) -> int:
    """Fire timers due at or before ``now`` (default: platform clock); returns how
    many fired. Does not commit: the caller commits the batch."""
    now = now or platform_now()
    rows = list(session.scalars(
        select(TimerRow)
        .where(TimerRow.status == "pending", TimerRow.due_at <= now)
        .order_by(TimerRow.due_at, TimerRow.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ))
    by_instance: dict[int, list[TimerRow]] = defaultdict(list)
    for row in rows:
        by_instance[row.instance_id].append(row)
    fired = 0
    # Spiff fires strictly after the due time; "due at T" should fire at T.
    with engine_now(now + timedelta(microseconds=1)):
        for instance_id, timer_rows in by_instance.items():
            fired += _fire(session, instance_id, timer_rows, now)
    return fired


def fire_timers_now(session: Session, instance_id: int, rows: list[TimerRow], at: datetime) -> int:
    """Fire these timer rows of one instance as if the clock read ``at`` (a studio test run's
    "fire now", which must not sweep anybody else's timers). Does not commit."""
    with engine_now(at + timedelta(microseconds=1)):
        return _fire(session, instance_id, rows, at)


def _fire(session: Session, instance_id: int, timer_rows: list[TimerRow], now: datetime) -> int:
    instance = session.get(ProcessInstance, instance_id)
    if instance.status in (COMPLETED, CANCELLED):
        for row in timer_rows:
            row.status = "cancelled"
        return 0
    expected = instance.lock_version
    wf, definition = store.load_workflow(session, instance)
    wf.refresh_timers()
    fired = 0
    audit: list[dict] = []
    for row in timer_rows:
        task = wf.get_task_from_id(UUID(row.spiff_task_id))
        if task is None or task.state != TaskState.WAITING:
            row.status, row.fired_at = "fired", now
            fired += 1
            audit.append(store.audit_row(
                actor="timer", action="timer.fire", target_type="process_instance",
                target_id=instance.id, community_id=instance.community_id,
                after={"element": row.element_id, "due_at": row.due_at.isoformat()}))
    step(session, instance, wf, definition, expected_version=expected, actor="timer",
         audit=audit)
    return fired
