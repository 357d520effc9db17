"""Engine tables: process versions, instances, the user-task projection, timers,
message subscriptions and incidents.

Instance state is SpiffWorkflow's JSON *without* the spec (the spec lives once per
version in ``wf_process_version``). ``projection`` on the instance remembers which
task, timer and message rows mirror the current state, so a save only touches the
rows that changed.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Model, utcnow

# Instance statuses.
RUNNING = "running"  # has work the engine can do now (transient inside a step)
WAITING = "waiting"  # waiting for people, timers or messages
COMPLETED = "completed"
INCIDENT = "incident"  # an operation failed; retry_incident resumes it
CANCELLED = "cancelled"

# Task-row statuses.
READY = "ready"
CLAIMED = "claimed"
DONE = "completed"
TASK_CANCELLED = "cancelled"
OPEN_TASK = (READY, CLAIMED)


class ProcessVersion(Model):
    """One immutable deployed version of a BPMN file (its main process id)."""

    __tablename__ = "wf_process_version"
    __table_args__ = (UniqueConstraint("process_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[str] = mapped_column(String(200), index=True)
    version: Mapped[int] = mapped_column(Integer)
    module_id: Mapped[str | None] = mapped_column(String(60), index=True)
    filename: Mapped[str] = mapped_column(String(300))
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    bpmn: Mapped[str] = mapped_column(Text)
    start_messages: Mapped[list] = mapped_column(JSON, default=list)
    deployed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    deployed_by: Mapped[str | None] = mapped_column(String(100))

    def __repr__(self) -> str:
        return f"{self.process_id} v{self.version}"


class ProcessInstance(Model):
    __tablename__ = "wf_instance"
    __table_args__ = (Index("ix_wf_instance_community_status", "community_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("wf_process_version.id"), index=True)
    process_id: Mapped[str] = mapped_column(String(200))
    spec_hash: Mapped[str] = mapped_column(String(64))  # = version.content_hash (cache key)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    business_key: Mapped[str | None] = mapped_column(String(120), index=True)
    status: Mapped[str] = mapped_column(String(20), default=RUNNING)
    lock_version: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str | None] = mapped_column(Text)
    projection: Mapped[dict] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    started_by: Mapped[str | None] = mapped_column(String(100))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)


class TaskRow(Model):
    """A user task as the inbox sees it; one indexed query, no workflow JSON."""

    __tablename__ = "wf_task"
    __table_args__ = (
        Index("ix_wf_task_inbox", "community_id", "status", "role", "due_at"),
        Index("ix_wf_task_assignee", "assignee", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("wf_instance.id"), index=True)
    spiff_task_id: Mapped[str] = mapped_column(String(36))
    element_id: Mapped[str] = mapped_column(String(200))
    community_id: Mapped[int] = mapped_column(Integer)
    role: Mapped[str | None] = mapped_column(String(40))
    assignee: Mapped[str | None] = mapped_column(String(100))
    form_id: Mapped[str | None] = mapped_column(String(120))
    title: Mapped[str | None] = mapped_column(String(300))
    title_en: Mapped[str | None] = mapped_column(String(300), doc="the BPMN camunda:property name_en")
    due_at: Mapped[datetime | None] = mapped_column(DateTime)
    business_key: Mapped[str | None] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(12), default=READY)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime)
    completed_by: Mapped[str | None] = mapped_column(String(100))
    data: Mapped[dict | None] = mapped_column(JSON)


class TimerRow(Model):
    """A waiting timer event; the sweep fires rows whose ``due_at`` has passed."""

    __tablename__ = "wf_timer"
    __table_args__ = (Index("ix_wf_timer_due", "status", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("wf_instance.id"), index=True)
    spiff_task_id: Mapped[str] = mapped_column(String(36))
    element_id: Mapped[str] = mapped_column(String(200))
    due_at: Mapped[datetime] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    fired_at: Mapped[datetime | None] = mapped_column(DateTime)


class MessageWait(Model):
    """An instance waiting for a message, correlated by name and business key."""

    __tablename__ = "wf_message_wait"
    __table_args__ = (Index("ix_wf_message_wait_key", "message_name", "business_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("wf_instance.id"), index=True)
    spiff_task_id: Mapped[str] = mapped_column(String(36))
    element_id: Mapped[str] = mapped_column(String(200))
    message_name: Mapped[str] = mapped_column(String(200))
    business_key: Mapped[str | None] = mapped_column(String(120))
    community_id: Mapped[int] = mapped_column(Integer)


class Incident(Model):
    """An operation that raised; the instance stops there until someone retries."""

    __tablename__ = "wf_incident"

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("wf_instance.id"), index=True)
    community_id: Mapped[int] = mapped_column(Integer, index=True)
    spiff_task_id: Mapped[str] = mapped_column(String(36))
    element_id: Mapped[str] = mapped_column(String(200))
    operation: Mapped[str | None] = mapped_column(String(120))
    error: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default="open")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime)
    resolved_by: Mapped[str | None] = mapped_column(String(100))
