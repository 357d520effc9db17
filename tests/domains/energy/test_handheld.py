"""Handheld reading through its process: previous reading shown, dial photo required, a
lower reading asks 'meter replaced?', a far-off one asks to check, nothing stored until
confirmed (SQLite and PostgreSQL)."""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from app import clock
from app.domains.energy import handheld
from app.domains.energy.errors import EnergyError
from app.domains.energy.models import EnergyMonthlyUsage, EnergyReading
from app.domains.energy.readings import Incoming, store
from app.engine import claim_task, complete_task
from app.engine.history import instance_data
from app.engine.models import TaskRow
from connectors.simulators.devices import TINY_PNG
from tests.support.energy_estate import build

AT = datetime(2026, 11, 20, 2, 0)


def _photo():
    import base64

    from app.forms.uploads import store_upload

    raw = TINY_PNG if isinstance(TINY_PNG, bytes) else base64.b64decode(TINY_PNG.split(",")[-1])
    return [store_upload(raw, "dial.png")]


def test_handheld_round_asks_then_stores(session):
    clock.freeze(AT)
    try:
        estate = build(session)
        meter = estate.meters["w1"]
        meter.handheld = True
        store(session, [Incoming(meter.id, AT - timedelta(days=30), Decimal("100")),
                        Incoming(meter.id, AT - timedelta(days=10), Decimal("110"))])
        session.add(EnergyMonthlyUsage(community_id=estate.community.id, meter_id=meter.id, period="2026-10",
                                       start_value=Decimal("100"), end_value=Decimal("130"), usage=Decimal("30"),
                                       readings=2))  # 1 m3 a day
        session.flush()
        assert handheld.start_round(session, estate.community.id, actor="manager") == 1
        assert handheld.start_round(session, estate.community.id, actor="manager") == 0  # one open task per meter
        task = session.scalar(select(TaskRow).where(TaskRow.community_id == estate.community.id,
                                                    TaskRow.status == "ready"))
        assert task.form_id == "energy/handheld_reading"
        assert instance_data(session, task.instance_id)["previous_value"] == "110"
        photo = _photo()
        claim_task(session, task.id, "tech")
        complete_task(session, task.id, {"reading": "105", "dial_photo": photo, "confirmed": False}, "tech")
        again = session.scalar(select(TaskRow).where(TaskRow.instance_id == task.instance_id, TaskRow.status == "ready"))
        assert again is not None and "换表" in instance_data(session, again.instance_id)["handheld_message"]
        assert session.scalar(select(EnergyReading.value).where(EnergyReading.meter_id == meter.id)
                              .order_by(EnergyReading.at.desc()).limit(1)) == Decimal("110")
        claim_task(session, again.id, "tech")
        complete_task(session, again.id, {"reading": "200", "dial_photo": photo, "confirmed": False}, "tech")
        third = session.scalar(select(TaskRow).where(TaskRow.instance_id == task.instance_id, TaskRow.status == "ready"))
        assert "远高于" in instance_data(session, third.instance_id)["handheld_message"]  # 90 m3 in 10 days vs 1 m3/day
        claim_task(session, third.id, "tech")
        complete_task(session, third.id, {"reading": "118", "dial_photo": photo, "confirmed": False}, "tech")
        assert session.scalar(select(TaskRow.id).where(TaskRow.instance_id == task.instance_id,
                                                       TaskRow.status == "ready")) is None
        last = session.scalar(select(EnergyReading).where(EnergyReading.meter_id == meter.id)
                              .order_by(EnergyReading.at.desc()).limit(1))
        assert (last.value, last.source) == (Decimal("118"), "handheld")
    finally:
        clock.reset()


def test_handheld_needs_a_photo_and_a_replacement_is_a_new_count(session):
    estate = build(session)
    meter = estate.meters["w0"]
    store(session, [Incoming(meter.id, datetime(2026, 11, 1), Decimal("500"))])
    with pytest.raises(EnergyError) as err:
        handheld.submit(session, meter.id, "510", [], "tech")
    assert err.value.code == "photo_required"
    ref = [{"sha256": "a" * 64, "name": "d.png", "content_type": "image/png"}]
    with pytest.raises(EnergyError) as err:
        handheld.submit(session, meter.id, "3", ref, "tech")
    assert err.value.code == "backwards" and "500" in err.value.message("zh")
    assert handheld.submit(session, meter.id, "3", ref, "tech", confirmed=True)["source"] == "replaced"


def test_measure_saving_same_days_before_and_after(session):
    from app.domains.energy import measures

    estate = build(session)
    meter = estate.meters["stair"]
    day = datetime(2026, 11, 10)
    from app.localtime import from_local

    d0 = from_local(day)
    # 10 kWh a day for 5 days before, 7 a day after (the day itself: 20)
    store(session, [Incoming(meter.id, d0 - timedelta(days=5), Decimal("1000")),
                    Incoming(meter.id, d0, Decimal("1050")),
                    Incoming(meter.id, d0 + timedelta(days=1), Decimal("1070")),
                    Incoming(meter.id, d0 + timedelta(days=6), Decimal("1105"))])
    m = measures.add_measure(session, estate.community.id, meter.id, "LED", day, "manager", days=5)
    result = measures.saving(session, m, now=d0 + timedelta(days=7))
    assert (result.before.use, result.after.use, result.percent) == (Decimal("50"), Decimal("35"), Decimal("30.0"))
    assert measures.saving(session, m, now=d0 + timedelta(days=3)).reason == "after_running"
