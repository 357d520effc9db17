"""Processes a resident starts themselves, from the resident pages (住户服务).

A process is a resident service when its BPMN says so — the process-level extension property
``started_by`` lists ``resident`` — and its module is enabled in the household's community. Of the
names such a process declares in ``start_data``, the platform gives: ``applicant`` (the
resident's login), ``household_id`` (the household they act for) and ``owner`` (the login of the
household's owner, ``''`` when the owner has none). The process assigns the resident's own steps
to ``${applicant}`` (or ``${owner}``), so they reach that person's task list and no one else's.
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
def process_property(bpmn: str, process_id: str, name: str) -> frozenset[str]:
    """The comma-separated values of a process-level extension property (empty when absent)."""
    root = ElementTree.fromstring(bpmn.encode() if isinstance(bpmn, str) else bpmn)
    for process in root.iter(f"{_BPMN}process"):
        if process.get("id") != process_id:
            continue
        for ext in process.findall(f"{_BPMN}extensionElements"):
            for prop in ext.iter(f"{_CAMUNDA}property"):
                if (prop.get("name") or "").strip() == name:
                    return frozenset(v.strip() for v in (prop.get("value") or "").split(",") if v.strip())
    return frozenset()


def started_by(bpmn: str, process_id: str) -> frozenset[str]:
    """The roles a process's ``started_by`` property names."""
    return process_property(bpmn, process_id, "started_by")


def household_owner_login(session: Session, household_id: int) -> str:
    """The login of the household's owner, '' when the owner has none (the front desk asks)."""
    from app.domains.estate.models import Resident

    user_id = session.scalar(select(Resident.user_id).where(
        Resident.household_id == household_id, Resident.relation == "owner", Resident.user_id.is_not(None))
        .order_by(Resident.id).limit(1))
    if user_id is None:
        return ""
    from flask_appbuilder.security.sqla.models import User

    return session.scalar(select(User.username).where(User.id == user_id)) or ""


def resident_services(session: Session, community_id: int) -> list[ProcessVersion]:
    """The community's resident services: the version of each that the community runs."""
    return [v for v in startable_processes(session, community_id)
            if RESIDENT in started_by(v.bpmn, v.process_id)]


def start_service(session: Session, *, process_id: str, household, username: str) -> ProcessInstance:
    """Start a resident service for ``household`` as ``username``; ``LookupError`` if it is not one
    here (unknown, not a resident service, or its module is off)."""
    version = next((v for v in resident_services(session, household.community_id) if v.process_id == process_id),
                   None)
    if version is None:
        raise LookupError(process_id)
    data = {"applicant": username, "household_id": household.id}
    if "owner" in process_property(version.bpmn, process_id, "start_data"):
        data["owner"] = household_owner_login(session, household.id)
    return start_process(session, community_id=household.community_id, process_id=process_id,
                         actor=username, data=data)


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
