"""The camera alert process (bpmn/security/alert.bpmn) step by step, with the platform clock:
acknowledge → outcome → closed; an alert nobody acknowledges escalates to the managers on a
timer (the guard's task stays); 'escalate to the manager' adds a manager task."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from app import clock
from app.domains.estate.models import UserCommunity
from app.domains.notifications.models import Notification
from app.domains.security import alerts
from app.domains.security.models import SecurityIncident
from app.engine import claim_task, complete_task, fire_due_timers, instance_history
from app.engine.models import ProcessInstance, TaskRow
from connectors.router import InboundEvent
from connectors.simulators.devices import TINY_PNG

AT = datetime(2026, 5, 4, 6, 0)


def _load_estate_builder():
    from tests.support.security_estate import build_estate

    return build_estate


build_estate = _load_estate_builder()


@pytest.fixture
def estate(session, tmp_path, monkeypatch):
    from flask_appbuilder.security.sqla.models import Role, User

    from app.settings import get_settings

    monkeypatch.setenv("ESTATEFLOW_VAR_DIR", str(tmp_path))
    get_settings.cache_clear()
    clock.freeze(AT)
    estate = build_estate(session)
    role = session.scalar(select(Role).where(Role.name == "Manager")) or Role(name="Manager")
    manager = User(first_name="李", last_name="经理", username=f"mgr-{estate.community.code}",
                   email=f"{estate.community.code}@example.org", active=True, roles=[role])
    session.add(manager)
    session.flush()
    session.add(UserCommunity(user_id=manager.id, community_id=estate.community.id))
    session.flush()
    estate.manager = manager
    yield estate
    clock.reset()
    get_settings.cache_clear()


def _alert(session, estate):
    ev = InboundEvent(estate.community.code, "cam-1", "alert",
                      {"type": "alert", "kind": "thrown_object", "confidence": 0.9, "snapshot": TINY_PNG,
                       "at": "2026-05-04T06:00:00Z"}, "ai_camera", "camera.alert", AT)
    alert = alerts.handle_alert_event(session, ev)
    return session.get(SecurityIncident, alert.incident_id)


def _open_task(session, instance_id):
    return session.scalar(select(TaskRow).where(TaskRow.instance_id == instance_id,
                                                TaskRow.status.in_(("ready", "claimed"))))


def test_acknowledge_then_record_the_outcome_closes_the_alert(session, estate):
    incident = _alert(session, estate)
    ack = _open_task(session, incident.instance_id)
    assert ack.element_id == "acknowledge" and ack.due_at == AT + timedelta(minutes=5)
    clock.advance(timedelta(minutes=2))
    claim_task(session, ack.id, "guard_t")
    complete_task(session, ack.id, {"ack_note": "马上到"}, "guard_t")
    assert incident.status == "acknowledged" and incident.acknowledged_by == "guard_t"
    handle = _open_task(session, incident.instance_id)
    assert handle.element_id == "handle" and handle.form_id == "security/outcome"
    # the follow-up goes to the guard who acknowledged, already in their hands
    assert (handle.status, handle.assignee) == ("claimed", "guard_t")
    clock.advance(timedelta(minutes=8))
    claim_task(session, handle.id, "guard_t")
    complete_task(session, handle.id, {"outcome": "false_alarm", "outcome_note": "塑料袋被风吹落"}, "guard_t")
    assert (incident.status, incident.outcome, incident.closed_by) == ("closed", "false_alarm", "guard_t")
    assert incident.closed_at == AT + timedelta(minutes=10)
    instance = session.get(ProcessInstance, incident.instance_id)
    assert instance.status == "completed"
    # the escalation timer was cancelled with the acknowledgement: nothing fires later
    assert fire_due_timers(session, now=AT + timedelta(hours=1)) == 0
    assert incident.escalated_at is None


def test_an_unacknowledged_alert_escalates_on_a_timer(session, estate):
    incident = _alert(session, estate)
    assert fire_due_timers(session, now=clock.now()) == 0
    clock.advance(timedelta(minutes=5, seconds=1))
    assert fire_due_timers(session) == 1
    assert incident.escalated_at == AT + timedelta(minutes=5, seconds=1)
    note = session.scalar(select(Notification).where(Notification.template == "security.alert_escalated"))
    assert note.user_id == estate.manager.id and incident.number in note.title
    # the guard's task is still there (non-interrupting) and the flow goes on
    ack = _open_task(session, incident.instance_id)
    assert ack.element_id == "acknowledge"
    completed = instance_history(session, incident.instance_id)["completed_elements"]
    assert "escalate" in completed


def test_escalating_to_the_manager_adds_a_manager_task(session, estate):
    incident = _alert(session, estate)
    for data in ({"ack_note": ""}, {"outcome": "manager", "outcome_note": "需要物业经理协调"}):
        task = _open_task(session, incident.instance_id)
        claim_task(session, task.id, "guard_t")
        complete_task(session, task.id, data, "guard_t")
    review = _open_task(session, incident.instance_id)
    assert review.role == "manager" and review.form_id == "security/manager_review"
    assert incident.status == "acknowledged"
    claim_task(session, review.id, "mgr")
    complete_task(session, review.id, {"manager_note": "已联系业主"}, "mgr")
    assert incident.status == "closed" and incident.outcome == "manager" and incident.closed_by == "mgr"
    assert "已联系业主" in incident.outcome_note
