"""The company level reads per community × month roll-ups (the ``kpi_rollup`` flow): the same
figures as the raw tables, hand-checked on two small communities; a community the roll-ups do
not cover sends the tile back to the raw tables; the flow skips a community refreshed a
moment ago; the page says how fresh a rolled-up figure is. SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from app.domains.devices.models import Device
from app.domains.fees.models import Bill
from app.domains.repair.models import RepairOrder
from app.domains.security.models import SecurityIncident
from app.engine.models import ProcessInstance, ProcessVersion, TaskRow
from app.modules.models import ModuleActivation
from app.platform import kpi
from app.platform.models import KpiRollup
from connectors.models import DeviceError
from tests.support.kpi_estate import NOW, build_kpi_estate


def _fill(session, estate, k: int) -> None:
    """Bills, orders, tasks, device faults and incidents in 2026-10 and 2026-11 (k varies them)."""
    cid = estate.community.id
    for m in ("fees", "repair", "security"):
        session.add(ModuleActivation(community_id=cid, module_id=m, version="1.0.0", enabled=True))
    for i, h in enumerate(estate.households):
        for period in ("2026-10", "2026-11"):
            paid = 10000 if (i + k) % 3 else 2500 * k
            session.add(Bill(number=f"{estate.community.code}-{period}-{i}", community_id=cid, household_id=h.id,
                             period=period, status="paid" if paid == 10000 else "partially_paid",
                             amount_cents=10000, paid_cents=paid, due_date=date(2026, int(period[5:]), 15)))
    t0 = datetime(2026, 10, 6, 2, 0)
    for i in range(5):
        reported = t0 + timedelta(days=9 * i)
        accepted = reported + timedelta(minutes=10 * (i + k)) if i != 4 else None
        session.add(RepairOrder(number=f"{estate.community.code}-R{i}", community_id=cid, category="plumbing",
                                description="x", photos=[], location_kind="unit",
                                status="closed" if accepted and i % 2 == 0 else "accepted" if accepted else "unassigned",
                                reported_at=reported, accepted_at=accepted,
                                completed_at=reported + timedelta(hours=2 + i) if accepted and i % 2 == 0 else None,
                                declined_staff_ids=[], building_id=estate.buildings[0].id))
    version = ProcessVersion(process_id=f"p{k}", version=1, filename="p.bpmn", content_hash="h", bpmn="<x/>")
    session.add(version)
    session.flush()
    instance = ProcessInstance(version_id=version.id, process_id=f"p{k}", spec_hash="h", community_id=cid)
    session.add(instance)
    session.flush()
    for i in range(4):
        at = datetime(2026, 10, 5 + 20 * (i % 2), 2) + timedelta(hours=i)
        # "wang" works in both communities on the same days: a staff-day counts once
        session.add(TaskRow(instance_id=instance.id, spiff_task_id=f"t{i}", element_id="e", community_id=cid,
                            role="technician", status="completed", created_at=at - timedelta(hours=1),
                            claimed_at=at - timedelta(minutes=5 * (i + k)), completed_at=at,
                            completed_by="wang" if i < 2 else f"li{k}"))
    devices = [Device(community_id=cid, code=f"D{i}", name=f"d{i}", profile="door_controller", address=f"a{k}{i}",
                      status=s) for i, s in enumerate(["online", "offline", "online"])]
    session.add_all(devices)
    session.flush()
    session.add_all([DeviceError(device_id=devices[0].id, kind="timeout", message="x", at=datetime(2026, 10, 3)),
                     DeviceError(device_id=devices[0].id, kind="timeout", message="x", at=datetime(2026, 11, 3)),
                     DeviceError(device_id=devices[k].id, kind="timeout", message="x", at=datetime(2026, 11, 9))])
    first = datetime(2026, 10, 10, 2)
    session.add_all([SecurityIncident(number=f"{estate.community.code}-S{i}", community_id=cid, device_code="CAM",
                                      kind="fire", first_at=first + timedelta(days=25 * i), last_at=first,
                                      alert_count=i + 1, status="closed" if i == 0 else "acknowledged",
                                      acknowledged_at=first + timedelta(days=25 * i, minutes=3 + k),
                                      closed_at=first + timedelta(minutes=40) if i == 0 else None)
                     for i in range(2)])
    session.flush()


def _figures(built) -> dict:
    return {b.tile.id: ({f.key: f.value for f in b.data.figures}, b.data.chart) for b in built}


def test_rollups_give_the_raw_figures_and_say_how_fresh(session):
    a, b = build_kpi_estate(session), build_kpi_estate(session)
    _fill(session, a, 1)
    _fill(session, b, 2)
    scope = kpi.month_scope([a.community.id, b.community.id], 3, NOW)
    raw = kpi.build_dashboard(session, scope)
    raw_one = _figures(kpi.build_dashboard(session, a.scope()))
    assert all(t.data.as_of is None for t in raw)  # nothing rolled up yet: the raw tables
    for estate in (a, b):
        kpi.refresh_rollups(session, estate.community.id, NOW)
    rolled = kpi.build_dashboard(session, scope)
    as_of = {t.tile.id: t.data.as_of for t in rolled}
    assert {k for k, v in as_of.items() if v == NOW} == {"fees.collection", "repair.response", "repair.backlog",
                                                        "devices.health", "security.alerts", "engine.staff"}
    assert _figures(rolled) == _figures(raw)
    fig = _figures(rolled)
    # by hand: 12 bills of 100 元; a: households 0 and 2... (i+k)%3 == 0 → 25 元 (k=1: i=2), b: 50 元 (i=1)
    assert fig["fees.collection"][0]["collection_rate"] == kpi.percent(4 * 10000 * 2 + 2 * 2500 + 2 * 5000, 120000)
    # staff-days: wang on 10-05 and 10-25 (both communities: once each), li1 and li2 on two days each
    assert fig["engine.staff"][0]["tasks_per_staff_day"] == kpi.rounded(8 / 6, 2)
    # devices with a fault in the period: a: D0, D1; b: D0, D2 → 4 of 6
    assert fig["devices.health"][0]["failure_rate"] == kpi.percent(4, 6)
    # response minutes: a 10,20,30,40; b 20,30,40,50 → median 30
    assert fig["repair.response"][0]["median_response"] == 30.0
    # one community's view reads its roll-ups too (same figures as its raw tables); a building's is live
    one = kpi.build_dashboard(session, a.scope())
    assert _figures(one) == raw_one
    assert {t.tile.id for t in one if t.data.as_of == NOW} == {"fees.collection", "repair.response", "devices.health",
                                                               "security.alerts", "engine.staff"}
    by_building = kpi.build_dashboard(session, a.scope(building=0))
    assert all(t.data.as_of is None for t in by_building if not t.whole_community)  # its own figures: live
    assert {t.tile.id for t in by_building if t.data.as_of == NOW} == {"security.alerts", "engine.staff"}
    # a scope a roll-up does not cover is read live
    c = build_kpi_estate(session)  # never refreshed, fees enabled
    session.add(ModuleActivation(community_id=c.community.id, module_id="fees", version="1.0.0", enabled=True))
    session.flush()
    wider = {t.tile.id: t.data.as_of for t in kpi.build_dashboard(
        session, kpi.month_scope([a.community.id, b.community.id, c.community.id], 3, NOW))}
    assert wider["fees.collection"] is None and wider["devices.health"] is None
    assert wider["repair.response"] == NOW  # repair is on in a and b only, both covered
    older = kpi.month_scope([a.community.id, b.community.id], 3, NOW + timedelta(days=60))  # 2027-01 not covered
    assert all(t.data.as_of is None for t in kpi.build_dashboard(session, older))


def test_refresh_replaces_rows_and_the_flow_skips_a_fresh_community(session, db_engine):
    from workflows.kpi_rollup import refresh

    a = build_kpi_estate(session)
    _fill(session, a, 1)
    kpi.refresh_rollups(session, a.community.id, NOW)
    kpi.refresh_rollups(session, a.community.id, NOW + timedelta(minutes=1))
    rows = session.query(KpiRollup).filter(KpiRollup.community_id == a.community.id,
                                           KpiRollup.metric == "fees.collection").all()
    assert sorted(r.month for r in rows) == ["*", "2026-10", "2026-11"]
    assert {r.n for r in rows if r.month != "*"} == {3}
    assert kpi.last_refresh(session, a.community.id) == NOW + timedelta(minutes=1)
    session.commit()
    url = db_engine.url.render_as_string(hide_password=False)
    from app import clock

    out = refresh(url, [a.community.code], fresh_minutes=0)
    assert out[a.community.code]["fees.collection"] == 2
    assert refresh(url, [a.community.code]) == {}  # refreshed a moment ago: skipped
    session.expire_all()
    assert kpi.last_refresh(session, a.community.id) >= clock.now() - timedelta(minutes=5)


def _now_figures(session, scope) -> dict:
    built = {t.tile.id: t for t in kpi.build_dashboard(session, scope)}
    return {tile: ({f.key: f.value for f in built[tile].data.figures}, built[tile].data.as_of)
            for tile in ("repair.backlog", "devices.health", "security.alerts")}


def test_now_figures_come_from_the_flows_snapshot_with_its_time(session):
    """Open/overdue orders, devices online and open incidents at company level: the snapshot
    the flow took equals the live figures at that moment; it keeps them (and says when) until
    the next refresh; too old, taken after the scope's "now", or missing for one community:
    the tables are read live."""
    a, b = build_kpi_estate(session), build_kpi_estate(session)
    _fill(session, a, 1)
    _fill(session, b, 2)
    for order in session.query(RepairOrder).filter(RepairOrder.community_id == a.community.id):
        order.response_due_at = order.reported_at + timedelta(minutes=30)
        order.resolution_due_at = order.reported_at + timedelta(days=30)
    session.flush()
    scope = kpi.month_scope([a.community.id, b.community.id], 3, NOW)
    live = _now_figures(session, scope)
    assert {k: v[1] for k, v in live.items()} == {"repair.backlog": None, "devices.health": None,
                                                  "security.alerts": None}
    # by hand: per community orders 1 and 3 accepted, 4 unassigned (alive); in a, order 1 is past its
    # 30 days unresolved (reported 10-15) and order 4 past its 30 minutes unaccepted; b has no limits
    assert live["repair.backlog"][0] == {"open": 6, "overdue": 2, "unassigned": 2}
    assert live["devices.health"][0]["online_rate"] == kpi.percent(4, 6)
    assert live["security.alerts"][0]["open"] == 2
    for estate in (a, b):
        kpi.refresh_rollups(session, estate.community.id, NOW)
    snapped = _now_figures(session, scope)
    assert {k: v[0] for k, v in snapped.items()} == {k: v[0] for k, v in live.items()}
    assert {v[1] for v in snapped.values()} == {NOW}
    # the world moves on: an order closed, a device offline, an incident closed
    order = session.query(RepairOrder).filter(RepairOrder.community_id == a.community.id,
                                              RepairOrder.status == "unassigned").one()
    order.status = "cancelled"
    session.query(Device).filter(Device.community_id == b.community.id, Device.status == "online").first().status = \
        "offline"
    session.query(SecurityIncident).filter(SecurityIncident.community_id == a.community.id,
                                           SecurityIncident.status != "closed").one().status = "closed"
    session.flush()
    later = kpi.month_scope([a.community.id, b.community.id], 3, NOW + timedelta(minutes=10))
    kept = _now_figures(session, later)
    assert {k: v[0] for k, v in kept.items()} == {k: v[0] for k, v in live.items()}
    assert {v[1] for v in kept.values()} == {NOW}  # and the page says "as of NOW"
    now_live = _now_figures(session, kpi.month_scope([a.community.id, b.community.id], 3,
                                                     NOW + kpi.SNAPSHOT_MAX_AGE + timedelta(minutes=1)))
    assert now_live["repair.backlog"] == ({"open": 5, "overdue": 1, "unassigned": 1}, None)
    assert now_live["security.alerts"][0]["open"] == 1
    assert now_live["devices.health"][0]["online_rate"] == kpi.percent(3, 6)
    # a snapshot newer than the scope's "now" is not used for it
    before = kpi.month_scope([a.community.id, b.community.id], 3, NOW - timedelta(minutes=1))
    assert _now_figures(session, before)["repair.backlog"][1] is None
    # the next refresh takes the new state
    for estate in (a, b):
        kpi.refresh_rollups(session, estate.community.id, NOW + timedelta(minutes=15))
    fresh = _now_figures(session, kpi.month_scope([a.community.id, b.community.id], 3, NOW + timedelta(minutes=16)))
    assert fresh["repair.backlog"] == ({"open": 5, "overdue": 1, "unassigned": 1}, NOW + timedelta(minutes=15))
    # one community without a snapshot: live
    session.query(KpiRollup).filter(KpiRollup.community_id == b.community.id, KpiRollup.month == kpi.NOW_MONTH).delete()
    session.flush()
    assert _now_figures(session, kpi.month_scope([a.community.id, b.community.id], 3, NOW + timedelta(minutes=16)))[
        "repair.backlog"][1] is None
    # one community's view never reads the snapshot
    assert _now_figures(session, kpi.month_scope([a.community.id], 3, NOW + timedelta(minutes=16)))[
        "repair.backlog"][1] is None


def test_one_build_reads_the_rollups_once(session):
    """Every rolled-up tile of one build shares one read of the roll-up rows (statements counted)."""
    from sqlalchemy import event

    a, b = build_kpi_estate(session), build_kpi_estate(session)
    _fill(session, a, 1)
    _fill(session, b, 2)
    for estate in (a, b):
        kpi.refresh_rollups(session, estate.community.id, NOW)
    scope = kpi.month_scope([a.community.id, b.community.id], 3, NOW)
    seen = []

    def count(conn, cursor, statement, *args):
        if "kpi_rollup" in statement:
            seen.append(statement)

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        built = kpi.build_dashboard(session, scope)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert sum(1 for t in built if t.data.as_of == NOW) == 6
    assert len(seen) == 2  # markers and snapshots; the month rows (summed by PostgreSQL)


def test_member_hash_is_stable():
    assert kpi.member("wang|2026-10-05") == kpi.member("wang|2026-10-05") != kpi.member("wang|2026-10-06")
    assert isinstance(Decimal(kpi.member("x")), Decimal)
