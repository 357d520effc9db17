"""Timers follow the platform clock: escalation without sleeping."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from app import clock
from app.engine.history import instance_data
from app.engine.models import ProcessInstance, TimerRow
from app.engine.runtime import start_instance
from app.engine.tasks import complete_task
from app.engine.timers import fire_due_timers
from app.platform.models import AuditEvent

T0 = datetime(2026, 3, 2, 9, 0)


def test_boundary_timer_escalates_unfinished_repair(session, community, deploy, open_tasks):
    clock.freeze(T0)
    deploy("escalation.bpmn")
    inst = start_instance(session, "escalation", community.id, "WO-1")
    session.commit()
    [repair] = open_tasks(inst.id)
    assert repair.due_at == T0 + timedelta(hours=2)
    timer = session.scalars(select(TimerRow).where(TimerRow.instance_id == inst.id)).one()
    assert timer.due_at == T0 + timedelta(hours=2) and timer.element_id == "too_late"

    clock.advance(timedelta(hours=1, minutes=59))
    assert fire_due_timers(session) == 0
    session.commit()
    assert [t.element_id for t in open_tasks(inst.id)] == ["repair"]

    clock.advance(timedelta(minutes=1))
    assert fire_due_timers(session) == 1
    session.commit()
    [escalate] = open_tasks(inst.id)
    assert (escalate.element_id, escalate.role) == ("escalate", "manager")
    session.refresh(repair)
    assert repair.status == "cancelled"
    assert fire_due_timers(session) == 0  # fired once only
    complete_task(session, escalate.id, {}, actor="boss")
    session.commit()
    assert session.get(ProcessInstance, inst.id).status == "completed"
    assert "timer.fire" in session.scalars(select(AuditEvent.action)).all()


def test_finished_task_cancels_its_boundary_timer(session, community, deploy, open_tasks):
    clock.freeze(T0)
    deploy("escalation.bpmn")
    inst = start_instance(session, "escalation", community.id, "WO-1")
    [repair] = open_tasks(inst.id)
    complete_task(session, repair.id, {"fixed": True}, actor="tech")
    session.commit()
    clock.advance(timedelta(hours=3))
    assert fire_due_timers(session) == 0
    assert session.scalars(select(TimerRow.status)).all() == ["cancelled"]


def test_intermediate_timer_waits_a_day(session, community, deploy):
    clock.freeze(T0)
    deploy("wait_timer.bpmn")
    inst = start_instance(session, "wait_timer", community.id, "R-1")
    session.commit()
    assert inst.status == "waiting"
    assert fire_due_timers(session, now=T0 + timedelta(hours=23)) == 0
    assert fire_due_timers(session, now=T0 + timedelta(days=1)) == 1
    session.commit()
    assert session.get(ProcessInstance, inst.id).status == "completed"
    assert instance_data(session, inst.id)["reminded"] == "yes"
