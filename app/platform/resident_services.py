"""Processes a resident starts themselves, from the resident pages (住户服务).

A process is a resident service when its BPMN says so — the process-level extension property
``started_by`` lists ``resident`` — and its module is enabled in the household's community. The
resident who starts it is its ``applicant`` and the household they act for its ``household_id``
(the two names such a process declares in ``start_data``); the process assigns the resident's
own steps to ``${applicant}``, so they reach that resident's task list and no other resident's.
"""
from __future__ import annotations

from functools import lru_cache

from defusedxml import ElementTree
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.engine.models import CLAIMED, READY, ProcessInstance, ProcessVersion, TaskRow
from app.platform.processes import start_process, startable_processes

_CAMUNDA = "{http://camunda.org/schema/1.0/bpmn}"
_BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
RESIDENT = "resident"


@lru_cache(maxsize=512)
def started_by(bpmn: str, process_id: str) -> frozenset[str]:
    """The roles a process's ``started_by`` property names (empty when it has none)."""
    root = ElementTree.fromstring(bpmn.encode() if isinstance(bpmn, str) else bpmn)
    for process in root.iter(f"{_BPMN}process"):
        if process.get("id") != process_id:
            continue
        for ext in process.findall(f"{_BPMN}extensionElements"):
            for prop in ext.iter(f"{_CAMUNDA}property"):
                if (prop.get("name") or "").strip() == "started_by":
                    return frozenset(v.strip() for v in (prop.get("value") or "").split(",") if v.strip())
    return frozenset()


def resident_services(session: Session, community_id: int) -> list[ProcessVersion]:
    """The community's resident services: the version of each that the community runs."""
    return [v for v in startable_processes(session, community_id)
            if RESIDENT in started_by(v.bpmn, v.process_id)]


def start_service(session: Session, *, process_id: str, household, username: str) -> ProcessInstance:
    """Start a resident service for ``household`` as ``username``; ``LookupError`` if it is not one
    here (unknown, not a resident service, or its module is off)."""
    if process_id not in {v.process_id for v in resident_services(session, household.community_id)}:
        raise LookupError(process_id)
    return start_process(session, community_id=household.community_id, process_id=process_id,
                         actor=username, data={"applicant": username, "household_id": household.id})


def my_open_tasks(session: Session, username: str, community_ids: list[int]) -> list[TaskRow]:
    """Open steps assigned to this resident (never a pool: a resident sees only their own)."""
    return list(session.scalars(
        select(TaskRow).where(TaskRow.assignee == username, TaskRow.status.in_((CLAIMED, READY)),
                              TaskRow.community_id.in_(community_ids))
        .order_by(TaskRow.due_at.is_(None), TaskRow.due_at, TaskRow.id)))


def first_task_for(session: Session, instance_id: int, username: str) -> TaskRow | None:
    return session.scalar(select(TaskRow).where(
        TaskRow.instance_id == instance_id, TaskRow.assignee == username,
        TaskRow.status.in_((CLAIMED, READY))).order_by(TaskRow.id))
