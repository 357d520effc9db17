"""Detection on crafted series, findings deduplicated and closed, readings flagged apart,
the partitioned table on PostgreSQL (SQLite and PostgreSQL)."""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select, text

from app.domains.energy.findings import run_detection
from app.domains.energy.models import EnergyFinding, EnergyFlaggedReading, EnergyReading
from app.domains.energy.monthly import monthly_usage
from app.domains.energy.readings import Incoming, store
from app.localtime import from_local, to_local
from tests.support.energy_estate import build, write_series

NOW = from_local(datetime(2026, 11, 20, 6, 0))
START = NOW - timedelta(days=20)


def _hour(t):
    return to_local(t).hour


def household_water(t):  # almost nothing at night
    return 0.0 if _hour(t) in range(1, 6) else 0.02


def test_findings_leak_spike_stuck_lighting_loss_then_closed(session):
    estate = build(session)  # repair not enabled: findings open a manager task
    m = estate.meters
    write_series(session, m["w0"], START, 20 * 24, lambda t: household_water(t) + 0.03)  # leak: 0.03 m3/h at night
    write_series(session, m["w1"], START, 20 * 24, household_water)
    last = write_series(session, m["w2"], START, 19 * 24, household_water)
    store(session, [Incoming(m["w2"].id, START + timedelta(hours=19 * 24 + h), last) for h in range(1, 25)])
    stuck_from = START + timedelta(hours=19 * 24)
    # master: the sub-meters' use + 12% loss
    write_series(session, m["master"], START, 20 * 24, lambda t: (
        household_water(t) * (2 if t > stuck_from else 3) + 0.03) / 0.88)
    write_series(session, m["light"], START, 20 * 24, lambda t: 1.5)  # on all day
    # stairwell: steady, then 10× on the last day (a spike)
    write_series(session, m["stair"], START, 20 * 24, lambda t: 0.5 if t <= NOW - timedelta(hours=24) else 5.0)
    result = run_detection(session, estate.community.id, NOW)
    kinds = dict(session.execute(select(EnergyFinding.kind, EnergyFinding.meter_id).where(
        EnergyFinding.community_id == estate.community.id, EnergyFinding.status == "open")).all())
    assert kinds == {"leak": m["w0"].id, "stuck": m["w2"].id, "lighting": m["light"].id,
                     "loss": m["master"].id, "spike": m["stair"].id}
    assert result["opened"] == 5
    loss = session.scalar(select(EnergyFinding).where(EnergyFinding.kind == "loss",
                                                      EnergyFinding.community_id == estate.community.id))
    assert Decimal(loss.detail["loss_percent"]) == Decimal("12.0")
    leak = session.scalar(select(EnergyFinding).where(EnergyFinding.kind == "leak",
                                                      EnergyFinding.community_id == estate.community.id))
    assert leak.instance_id is not None and leak.work_order is None  # the manager's task
    # again: deduplicated while open
    assert run_detection(session, estate.community.id, NOW + timedelta(minutes=30))["opened"] == 0
    # the leak stops and the lighting is switched off: closed by themselves on the next day
    write_series(session, m["w0"], NOW, 24, household_water, start_value=str(_last(session, m["w0"].id)))
    write_series(session, m["light"], NOW, 24, lambda t: 0.0, start_value=str(_last(session, m["light"].id)))
    run_detection(session, estate.community.id, NOW + timedelta(hours=24))
    assert session.scalar(select(EnergyFinding.status).where(EnergyFinding.id == leak.id)) == "closed"
    assert session.scalar(select(EnergyFinding.status).where(EnergyFinding.kind == "lighting",
                                                             EnergyFinding.community_id == estate.community.id)) \
        == "closed"


def _last(session, meter_id):
    return session.scalar(select(EnergyReading.value).where(EnergyReading.meter_id == meter_id)
                          .order_by(EnergyReading.at.desc()).limit(1))


def test_silent_meter_and_repair_order_when_repair_is_enabled(session):
    from app.domains.devices.registry import register_device
    from app.domains.repair.models import RepairOrder

    estate = build(session, modules=("repair", "energy"))
    device = register_device(session, estate.community.id, "WM-IOT", "远传水表", "water_meter_dn20", "127.0.0.1:5020/9")
    estate.meters["w1"].device_id = device.id
    write_series(session, estate.meters["w1"], NOW - timedelta(hours=30), 12, household_water)
    run_detection(session, estate.community.id, NOW)
    finding = session.scalar(select(EnergyFinding).where(EnergyFinding.community_id == estate.community.id))
    assert finding.kind == "silent" and finding.work_order
    order = session.scalar(select(RepairOrder).where(RepairOrder.number == finding.work_order))
    assert order.category == "public_area" and finding.number in order.description
    assert order.photos and order.photos[0]["content_type"] == "image/png"


def test_backwards_and_out_of_range_kept_apart_from_billable(session):
    estate = build(session)
    meter = estate.meters["w0"]
    t = NOW - timedelta(hours=5)
    counts = store(session, [Incoming(meter.id, t, Decimal("100")), Incoming(meter.id, t + timedelta(hours=1), Decimal("99")),
                             Incoming(meter.id, t + timedelta(hours=2), Decimal("-1")),
                             Incoming(meter.id, t + timedelta(hours=3), Decimal("101"))])
    assert counts == {"good": 2, "backwards": 1, "out_of_range": 1}
    assert session.scalar(select(func.count()).select_from(EnergyReading).where(EnergyReading.meter_id == meter.id)) == 2
    flagged = session.scalars(select(EnergyFlaggedReading).where(EnergyFlaggedReading.meter_id == meter.id)
                              .order_by(EnergyFlaggedReading.at)).all()
    assert [f.quality for f in flagged] == ["backwards", "out_of_range"]
    assert "below the last good reading 100" in flagged[0].reason
    # the month's usage per unit (for tiered water): 100 → 101
    assert monthly_usage(session, estate.community.id, "2026-11") == {estate.households[0].unit_id: Decimal("1")}


def test_readings_table_is_partitioned_on_postgresql(session):
    if session.connection().dialect.name != "postgresql":
        return
    from app.domains.energy.partitions import ensure_partitions

    made = ensure_partitions(session, datetime(2031, 1, 1).date(), months=2)
    assert made == ["energy_reading_2031_01", "energy_reading_2031_02"]
    build_estate = build(session)
    store(session, [Incoming(build_estate.meters["w0"].id, datetime(2031, 1, 15), Decimal("5"))])
    where = session.execute(text("SELECT tableoid::regclass::text FROM energy_reading WHERE at = '2031-01-15'")).scalar()
    assert where == "energy_partitions.energy_reading_2031_01"
    assert session.execute(text("SELECT relkind FROM pg_class WHERE relname = 'energy_reading'")).scalar() == "p"


def test_readings_are_grouped_by_local_day(session):
    from app.domains.energy.days import local_day

    estate = build(session)
    meter = estate.meters["w0"]
    store(session, [Incoming(meter.id, from_local(datetime(2026, 11, 20, 1, 0)), Decimal("1"))])  # 17:00 UTC the day before
    day = session.scalar(select(local_day(session)).where(EnergyReading.meter_id == meter.id))
    assert str(day) == "2026-11-20"


def test_repair_order_of_a_finding_closes_when_consumption_is_normal_again(session):
    """The leak opens a repair order; the leak stops: the finding and its order close by themselves,
    the order's process is cancelled (no technician task left) and its timeline says why."""
    from app.domains.repair.models import RepairEvent, RepairOrder
    from app.engine.models import TaskRow

    estate = build(session, modules=("repair", "energy"))
    m = estate.meters
    for key in ("w1", "w2"):
        write_series(session, m[key], START, 20 * 24, household_water)
    write_series(session, m["w0"], START, 20 * 24, lambda t: household_water(t) + 0.03)
    run_detection(session, estate.community.id, NOW)
    leak = session.scalar(select(EnergyFinding).where(EnergyFinding.community_id == estate.community.id,
                                                      EnergyFinding.kind == "leak"))
    order = session.scalar(select(RepairOrder).where(RepairOrder.number == leak.work_order))
    assert order.status in ("reported", "dispatched", "unassigned")
    write_series(session, m["w0"], NOW, 24, household_water, start_value=str(_last(session, m["w0"].id)))
    run_detection(session, estate.community.id, NOW + timedelta(hours=24))
    session.refresh(order)
    session.refresh(leak)
    assert leak.status == "closed"
    assert order.status == "closed" and order.closed_at is not None
    event = session.scalar(select(RepairEvent).where(RepairEvent.order_id == order.id, RepairEvent.kind == "resolved"))
    assert event is not None and leak.number in event.note and "正常" in event.note
    open_tasks = session.scalar(select(func.count()).select_from(TaskRow).where(
        TaskRow.instance_id == order.instance_id, TaskRow.status.in_(("ready", "claimed"))))
    assert open_tasks == 0
    from app.engine.models import ProcessInstance

    assert session.get(ProcessInstance, order.instance_id).status == "cancelled"
    # a later run changes nothing: no new finding, the order stays closed
    assert run_detection(session, estate.community.id, NOW + timedelta(hours=25))["opened"] == 0
    session.refresh(order)
    assert order.status == "closed"


def test_a_finished_repair_order_only_gets_a_note(session):
    from app.domains.repair import resolve_order
    from app.domains.repair.models import RepairEvent, RepairOrder

    estate = build(session, modules=("repair", "energy"))
    write_series(session, estate.meters["w0"], START, 20 * 24, lambda t: household_water(t) + 0.03)
    run_detection(session, estate.community.id, NOW)
    leak = session.scalar(select(EnergyFinding).where(EnergyFinding.community_id == estate.community.id,
                                                      EnergyFinding.kind == "leak"))
    order = session.scalar(select(RepairOrder).where(RepairOrder.number == leak.work_order))
    order.status = "completed"
    assert resolve_order(session, order.number, community_id=estate.community.id + 999, note="x", actor="t") is None
    resolve_order(session, order.number, community_id=estate.community.id, note="用量已恢复正常", actor="t")
    assert order.status == "completed"
    kinds = session.scalars(select(RepairEvent.kind).where(RepairEvent.order_id == order.id)).all()
    assert "resolved_note" in kinds and "resolved" not in kinds


def test_stuck_readings_are_flagged_apart_from_billable_ones(session):
    """A remote meter that moved before and then shows one value for stuck_hours: those readings go
    to the flagged table as 'stuck' (not billed), the detection reports the meter stuck (not
    silent), and the first moving reading is good again and closes the finding."""
    estate = build(session)
    meter = estate.meters["w1"]
    last = write_series(session, meter, START, 19 * 24, household_water)
    stuck_from = START + timedelta(hours=19 * 24)
    counts = store(session, [Incoming(meter.id, stuck_from + timedelta(hours=h), last) for h in range(1, 25)],
                   stuck_hours=6)
    assert counts == {"good": 5, "stuck": 19}  # 1–5 h unchanged is normal; from the 6th hour on: stuck
    flagged = session.scalars(select(EnergyFlaggedReading).where(EnergyFlaggedReading.meter_id == meter.id)
                              .order_by(EnergyFlaggedReading.at)).all()
    assert {f.quality for f in flagged} == {"stuck"} and len(flagged) == 19
    assert "unchanged since" in flagged[0].reason
    assert session.scalar(select(func.max(EnergyReading.at)).where(EnergyReading.meter_id == meter.id)) \
        == stuck_from + timedelta(hours=5)
    # a later batch goes on flagging while the value does not move
    later = [Incoming(meter.id, stuck_from + timedelta(hours=h), last) for h in range(25, 55)]
    assert store(session, later, stuck_hours=6) == {"stuck": 30}
    now = stuck_from + timedelta(hours=54, minutes=10)  # no good reading in the last day: the flags tell
    run_detection(session, estate.community.id, now)
    rows = session.execute(select(EnergyFinding.kind, EnergyFinding.detail).where(
        EnergyFinding.community_id == estate.community.id, EnergyFinding.meter_id == meter.id,
        EnergyFinding.status == "open")).all()
    assert [r[0] for r in rows] == ["stuck"] and rows[0][1]["flagged"] is True
    # a meter that never moved (an empty flat) is not stuck; the meter moves again: good, finding closed
    idle = estate.meters["w2"]
    assert store(session, [Incoming(idle.id, START + timedelta(hours=h), Decimal("7")) for h in range(30)],
                 stuck_hours=6) == {"good": 30}
    assert store(session, [Incoming(meter.id, now + timedelta(hours=1), last + Decimal("0.5"))], stuck_hours=6) \
        == {"good": 1}
    run_detection(session, estate.community.id, now + timedelta(hours=2))
    assert session.scalar(select(EnergyFinding.status).where(EnergyFinding.community_id == estate.community.id,
                                                             EnergyFinding.kind == "stuck")) == "closed"


def test_backfill_step_derives_the_month_and_the_daily_use_in_one_scan(session):
    """derive_month_and_days stores the same month as the one-scan month query (compute_month),
    its days, and returns each day's use (max − min of the local day's readings)."""
    from app.domains.energy.days import local_day
    from app.domains.energy.models import EnergyDailyUsage, EnergyMonthlyUsage
    from app.domains.energy.monthly import compute_month, derive_month_and_days
    from app.domains.energy.periods import bounds

    estate = build(session)
    m = estate.meters
    write_series(session, m["w0"], START, 20 * 24, lambda t: household_water(t) + 0.03)
    write_series(session, m["stair"], START, 20 * 24, lambda t: 0.5)
    store(session, [Incoming(m["w1"].id, START, Decimal("50")),
                    Incoming(m["w1"].id, START + timedelta(days=3), Decimal("2"), source="replaced"),
                    Incoming(m["w1"].id, START + timedelta(days=4), Decimal("5"))])
    cid, period = estate.community.id, "2026-11"

    def stored():
        return {r.meter_id: (r.start_value, r.end_value, r.usage, r.readings) for r in session.scalars(
            select(EnergyMonthlyUsage).where(EnergyMonthlyUsage.community_id == cid))}

    expected = {r["meter_id"]: (r["start_value"], r["end_value"], r["usage"], r["readings"])
                for r in compute_month(session, cid, period)}
    daily = derive_month_and_days(session, cid, period)
    assert stored() == expected and expected[m["w1"].id][2] == Decimal("3")
    start, end = bounds(period)
    day = local_day(session)
    history = {}
    for meter_id, _, use in session.execute(
            select(EnergyReading.meter_id, day, func.max(EnergyReading.value) - func.min(EnergyReading.value))
            .where(EnergyReading.at >= start, EnergyReading.at < end, EnergyReading.meter_id.in_(list(daily)))
            .group_by(EnergyReading.meter_id, day)):
        history.setdefault(meter_id, []).append(round(float(use), 4))
    assert {k: sorted(round(x, 4) for x in v) for k, v in daily.items()} == {k: sorted(v) for k, v in history.items()}
    days = session.execute(select(EnergyDailyUsage.meter_id, func.sum(EnergyDailyUsage.usage)).where(
        EnergyDailyUsage.community_id == cid).group_by(EnergyDailyUsage.meter_id)).all()
    assert {k: Decimal(v).quantize(Decimal("0.0001")) for k, v in days} == {k: v[2] for k, v in expected.items()}
