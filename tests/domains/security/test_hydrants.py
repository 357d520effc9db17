"""Hydrant pressure: a dip is ignored, low for long enough opens a maintenance order once,
a silent sensor opens one too, recovery closes the alarm, history for the chart."""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app import clock
from app.domains.notifications.models import Notification
from app.domains.security import hydrants
from app.domains.security.models import HydrantAlarm, HydrantReading
from app.engine.models import ProcessInstance, TaskRow
from connectors.router import InboundEvent

AT = datetime(2026, 5, 4, 6, 0)




@pytest.fixture
def estate(session, build_estate):
    clock.freeze(AT)
    yield build_estate(session)
    clock.reset()


def _read(session, estate, mpa: str, minutes: float = 0):
    if minutes:
        clock.advance(timedelta(minutes=minutes))
    return hydrants.record_reading(session, estate.devices["HYD-1"], Decimal(mpa))


def _alarms(session, **where):
    q = select(HydrantAlarm)
    for k, v in where.items():
        q = q.where(getattr(HydrantAlarm, k) == v)
    return session.scalars(q).all()


def test_a_brief_dip_opens_nothing(session, estate):
    _read(session, estate, "0.32")
    _read(session, estate, "0.05", 1)
    _read(session, estate, "0.30", 3)
    assert [(a.status, a.close_reason) for a in _alarms(session)] == [("closed", "recovered_early")]
    assert session.scalar(select(func.count()).select_from(ProcessInstance)) == 0


def test_low_for_longer_than_the_setting_opens_one_work_order_and_recovery_closes(session, estate):
    _read(session, estate, "0.06")
    _read(session, estate, "0.05", 5)
    assert _alarms(session)[0].status == "watching"
    _read(session, estate, "0.04", 6)   # 11 minutes low (setting: 10)
    _read(session, estate, "0.04", 1)   # still low: no second order
    alarm = _alarms(session)[0]
    assert alarm.status == "open" and alarm.min_mpa == Decimal("0.040")
    assert alarm.number == f"HY-{estate.community.code}-{alarm.id:05d}" and alarm.work_order == alarm.number
    instances = session.scalars(select(ProcessInstance)).all()
    assert [(i.process_id, i.business_key) for i in instances] == [("security_hydrant_maintenance", alarm.number)]
    task = session.scalar(select(TaskRow).where(TaskRow.instance_id == instances[0].id))
    assert task.role == "technician" and "2号楼消火栓压力" in task.title
    assert session.scalar(select(func.count()).select_from(Notification)
                          .where(Notification.template == "security.hydrant_alarm")) == 0  # no manager login here
    _read(session, estate, "0.31", 2)
    assert (alarm.status, alarm.close_reason) == ("closed", "recovered")
    assert len(hydrants.history(session, estate.devices["HYD-1"].id)) == 5


def test_sweep_opens_alarms_for_low_and_silent_sensors(session, estate):
    _read(session, estate, "0.05")
    assert hydrants.sweep(session, AT + timedelta(minutes=5)) == 0
    assert hydrants.sweep(session, AT + timedelta(minutes=10)) == 1
    # no reading for 30 minutes (setting): silent
    assert hydrants.sweep(session, AT + timedelta(minutes=31)) == 1
    assert hydrants.sweep(session, AT + timedelta(minutes=40)) == 0  # once
    kinds = sorted((a.kind, a.status) for a in _alarms(session))
    assert kinds == [("low_pressure", "open"), ("silent", "open")]
    clock.freeze(AT + timedelta(minutes=45))
    _read(session, estate, "0.33")
    assert {a.close_reason for a in _alarms(session)} == {"recovered", "reported_again"}


def test_threshold_follows_the_module_setting(session, estate):
    from app.modules.activation import update_settings
    from app.modules.catalog import load_catalog
    from app.settings import get_settings

    update_settings(session, catalog=load_catalog(get_settings().assets_dir), community_id=estate.community.id,
                    module_id="security", settings={"hydrant_min_pressure_mpa": "0.35"}, actor="test")
    _read(session, estate, "0.32")
    assert _alarms(session)[0].status == "watching"


def test_overview_history_and_chart(session, estate):
    for i, v in enumerate(["0.30", "0.31", "0.29"]):
        _read(session, estate, v, 1 if i else 0)
    [status] = hydrants.overview(session, [estate.community.id])
    assert status.state == "ok" and status.last_mpa == Decimal("0.290")
    chart = hydrants.chart_points(hydrants.history(session, status.device.id), Decimal("0.10"))
    assert len(chart["points"].split()) == 3 and chart["threshold_y"] is not None


def test_event_handler_reads_the_payload(session, estate):
    ev = InboundEvent(estate.community.code, "hyd-1", "pressure", {"type": "pressure", "mpa": 0.3, "battery": 80,
                                                                   "at": "2026-05-04T06:00:00Z"},
                      "hydrant_pressure_sensor", "pressure.read", AT)
    reading = hydrants.handle_pressure_event(session, ev)
    assert reading.mpa == Decimal("0.300") and reading.battery == 80
    assert estate.devices["HYD-1"].status == "online"
    assert session.scalar(select(func.count()).select_from(HydrantReading)) == 1


def test_with_the_repair_module_the_work_order_is_a_common_area_repair_order(session, tmp_path, monkeypatch, build_estate):
    from app.domains.repair.models import RepairOrder
    from app.settings import get_settings

    monkeypatch.setenv("ESTATEFLOW_VAR_DIR", str(tmp_path))  # the chart photo is stored as an upload
    get_settings.cache_clear()
    clock.freeze(AT)
    try:
        estate = build_estate(session, modules=["security", "repair"])
        _read(session, estate, "0.05")
        _read(session, estate, "0.05", 11)
        [alarm] = _alarms(session, status="open")
        order = session.scalar(select(RepairOrder).where(RepairOrder.number == alarm.work_order))
        assert order is not None and order.category == "public_area" and alarm.number in order.description
        assert order.location_kind == "community_common" and order.photos[0]["content_type"] == "image/png"
        assert session.scalar(select(func.count()).select_from(ProcessInstance).where(
            ProcessInstance.process_id == "security_hydrant_maintenance")) == 0
    finally:
        clock.reset()
        get_settings.cache_clear()
