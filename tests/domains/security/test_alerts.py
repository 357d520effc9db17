"""Camera alerts: dedupe by event id, grouping into incidents, one process per incident,
parking notices to the registered household, the alert steps."""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app import clock
from app.domains.notifications.models import Notification
from app.domains.security import alerts
from app.domains.security.models import SecurityAlert, SecurityIncident
from app.engine.models import ProcessInstance, TaskRow
from app.platform.models import UploadGrant
from connectors.router import InboundEvent
from connectors.simulators.devices import TINY_PNG

AT = datetime(2026, 5, 4, 6, 0)


@pytest.fixture
def frozen():
    clock.freeze(AT)
    yield AT
    clock.reset()


@pytest.fixture
def estate(session, frozen, tmp_path, monkeypatch, build_estate):
    from app.settings import get_settings

    monkeypatch.setenv("ESTATEFLOW_VAR_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield build_estate(session)
    get_settings.cache_clear()


def _event(estate, device="cam-1", **payload):
    body = {"type": "alert", "kind": "thrown_object", "confidence": 0.91, "snapshot": TINY_PNG,
            "zone": "", "at": "2026-05-04T06:00:00+00:00", **payload}
    return InboundEvent(estate.community.code, device, "alert", body, "ai_camera", "camera.alert",
                        clock.now(), f"estateflow/{estate.community.code}/{device}/event")


def _count(session, model, **where):
    q = select(func.count()).select_from(model)
    for k, v in where.items():
        q = q.where(getattr(model, k) == v)
    return session.scalar(q)


def test_same_alert_twice_starts_one_process(session, estate):
    first = alerts.handle_alert_event(session, _event(estate))
    again = alerts.handle_alert_event(session, _event(estate))
    assert first is not None and again is None
    incident = session.get(SecurityIncident, first.incident_id)
    assert incident.number == f"AL-{estate.community.code}-{incident.id:06d}"
    assert incident.location == "1号楼南侧" and incident.alert_count == 1
    assert _count(session, ProcessInstance, business_key=incident.number) == 1
    task = session.scalar(select(TaskRow).where(TaskRow.instance_id == incident.instance_id))
    assert task.role == "guard" and task.form_id == "security/acknowledge"
    assert "1号楼南侧" in task.title and "高空抛物" in task.title
    assert task.due_at == AT + timedelta(minutes=5)
    # the snapshot is stored as an upload this community may read
    assert incident.snapshot["content_type"] == "image/png"
    assert session.get(UploadGrant, (incident.snapshot["sha256"], estate.community.id)) is not None


def test_repeats_within_the_window_join_one_incident(session, estate):
    for i in range(5):
        alerts.handle_alert_event(session, _event(estate, at=f"2026-05-04T06:0{i}:00+00:00", confidence=0.5 + i / 10))
        clock.advance(timedelta(minutes=1))
    # another kind from the same camera and another camera are separate incidents
    alerts.handle_alert_event(session, _event(estate, kind="loitering"))
    alerts.handle_alert_event(session, _event(estate, device="cam-2"))
    assert _count(session, SecurityAlert) == 7
    incidents = session.scalars(select(SecurityIncident).order_by(SecurityIncident.id)).all()
    assert [(i.device_code, i.kind, i.alert_count) for i in incidents] == [
        ("CAM-1", "thrown_object", 5), ("CAM-1", "loitering", 1), ("CAM-2", "thrown_object", 1)]
    assert incidents[0].max_confidence == Decimal("0.900")
    assert _count(session, ProcessInstance) == 3
    # after the window (10 minutes by default) the next alert is a new incident
    clock.advance(timedelta(minutes=11))
    alerts.handle_alert_event(session, _event(estate, at="2026-05-04T06:30:00+00:00"))
    assert _count(session, SecurityIncident, kind="thrown_object", device_code="CAM-1") == 2


def test_grouping_window_follows_the_module_setting(session, estate):
    from app.modules.activation import update_settings
    from app.modules.catalog import load_catalog
    from app.settings import get_settings

    update_settings(session, catalog=load_catalog(get_settings().assets_dir), community_id=estate.community.id,
                    module_id="security", settings={"alert_group_window_minutes": 1}, actor="test")
    alerts.handle_alert_event(session, _event(estate, at="2026-05-04T06:00:00+00:00"))
    clock.advance(timedelta(minutes=2))
    alerts.handle_alert_event(session, _event(estate, at="2026-05-04T06:02:00+00:00"))
    assert _count(session, SecurityIncident) == 2


def test_illegal_parking_with_a_known_plate_notifies_the_household(session, estate):
    alert = alerts.handle_alert_event(session, _event(estate, device="cam-2", kind="fire_lane_blocked",
                                                      plate="京a12345"))
    incident = session.get(SecurityIncident, alert.incident_id)
    assert incident.plate == "京A12345" and incident.household_id == estate.households[0].id
    notes = session.scalars(select(Notification).where(Notification.template == "security.parking_notice")).all()
    assert len(notes) == 1 and notes[0].household_id == estate.households[0].id
    assert "京A12345" in notes[0].title and "北侧消防通道" in notes[0].body
    # an unknown plate: the incident still opens, nobody is notified
    alerts.handle_alert_event(session, _event(estate, device="cam-1", kind="illegal_parking", plate="京Z00000"))
    assert _count(session, Notification, template="security.parking_notice") == 1


def test_alert_steps_record_times_and_outcome(session, estate):
    incident = session.get(SecurityIncident, alerts.handle_alert_event(session, _event(estate)).incident_id)
    clock.advance(timedelta(minutes=2))
    alerts.acknowledge(session, incident.id, "guard_t")
    clock.advance(timedelta(minutes=10))
    alerts.close(session, incident.id, outcome="false_alarm", note="树叶", photos=None, actor="guard_t")
    assert incident.status == "closed" and incident.outcome == "false_alarm"
    assert incident.acknowledged_at - incident.first_at == timedelta(minutes=2)
    assert incident.closed_at - incident.first_at == timedelta(minutes=12)
    with pytest.raises(ValueError, match="unknown outcome"):
        alerts.close(session, incident.id, outcome="whatever", note=None, photos=None, actor="x")


def test_unknown_kind_and_unknown_community_are_refused(session, estate):
    with pytest.raises(alerts.AlertRejected):
        alerts.handle_alert_event(session, _event(estate, kind="ufo"))
    ev = _event(estate)
    bad = InboundEvent("NOPE", ev.device, ev.type, ev.payload, ev.profile, ev.capability, ev.received_at)
    with pytest.raises(alerts.AlertRejected, match="unknown community"):
        alerts.handle_alert_event(session, bad)
    assert _count(session, SecurityAlert) == 0


def test_without_the_module_the_incident_is_recorded_without_a_process(session, frozen, tmp_path, monkeypatch, build_estate):
    estate = build_estate(session, modules=[])
    alert = alerts.handle_alert_event(session, _event(estate))
    assert session.get(SecurityIncident, alert.incident_id).instance_id is None
    assert _count(session, ProcessInstance) == 0
