"""Repair KPIs from order rows: medians and p90, first-time fix, reopen rate, satisfaction, groups, Excel."""
from __future__ import annotations

import io
from datetime import datetime, timedelta

import openpyxl
import pytest

from app.domains.estate.models import Community, PropertyCompany, Staff
from app.domains.repair import kpis as kpi_repair
from app.domains.repair.models import RepairOrder

T0 = datetime(2026, 10, 1, 1, 0)


def _orders(session):
    company = PropertyCompany(name="co-K")
    yc = Community(company=company, code="K1", name="甲小区")
    fx = Community(company=company, code="K2", name="乙小区")
    session.add_all([company, yc, fx])
    session.flush()
    wang = Staff(name="王师傅", job="technician", skills=["plumbing"])
    liu = Staff(name="刘师傅", job="technician", skills=["lift"])
    session.add_all([wang, liu])
    session.flush()
    # (community, category, tech, response min, resolution h, reopened, rating, month offset days)
    rows = [
        (yc, "plumbing", wang, 10, 2, 0, 5, 0),
        (yc, "plumbing", wang, 20, 4, 1, 3, 0),
        (yc, "electrical", liu, 30, 6, 0, 4, 0),
        (yc, "electrical", liu, 40, 8, 0, 2, 35),
        (fx, "lift", liu, 100, None, 0, None, 35),  # accepted, not completed
        (fx, "lift", None, None, None, 0, None, 35),  # not even accepted
    ]
    for i, (community, category, tech, resp, resol, reopened, rating, days) in enumerate(rows):
        reported = T0 + timedelta(days=days)
        session.add(RepairOrder(
            number=f"K-{i}", community_id=community.id, category=category, description="x", photos=[],
            location_kind="unit", status="closed" if resol else "accepted",
            technician_id=tech.id if tech else None, reported_at=reported,
            accepted_at=reported + timedelta(minutes=resp) if resp is not None else None,
            completed_at=reported + timedelta(hours=resol) if resol is not None else None,
            reopen_count=reopened, rating=rating, declined_staff_ids=[]))
    session.flush()
    return [yc.id, fx.id]


def test_overall_kpis(session):
    ids = _orders(session)
    frame = kpi_repair.order_frame(session, ids)
    overall = kpi_repair.kpis(frame).iloc[0]
    assert overall["orders"] == 6 and overall["completed"] == 4
    assert overall["median_response_min"] == pytest.approx(30.0)  # of 10, 20, 30, 40, 100
    assert overall["p90_response_min"] == pytest.approx(76.0)  # linear interpolation
    assert overall["median_resolution_h"] == pytest.approx(5.0)
    assert overall["first_time_fix_rate"] == pytest.approx(0.75)
    assert overall["reopen_rate"] == pytest.approx(0.25)
    assert overall["satisfaction"] == pytest.approx(3.5)
    assert overall["satisfied_share"] == pytest.approx(0.5)
    assert overall["rated"] == 4


def test_groups_and_the_window(session):
    ids = _orders(session)
    frame = kpi_repair.order_frame(session, ids)
    by_community = kpi_repair.kpis(frame, "community").set_index("group")
    assert by_community.loc["甲小区", "orders"] == 4 and by_community.loc["乙小区", "completed"] == 0
    assert by_community.loc["乙小区", "first_time_fix_rate"] is None or \
        by_community.loc["乙小区", "first_time_fix_rate"] != by_community.loc["乙小区", "first_time_fix_rate"]
    by_tech = kpi_repair.kpis(frame, "technician").set_index("group")
    assert set(by_tech.index) == {"王师傅", "刘师傅", "—"}
    assert by_tech.loc["王师傅", "median_response_min"] == pytest.approx(15.0)
    by_month = kpi_repair.kpis(frame, "month").set_index("group")
    assert list(by_month.index) == ["2026-10", "2026-11"] and by_month.loc["2026-10", "orders"] == 3
    by_category = kpi_repair.kpis(frame, "category").set_index("group")
    assert by_category.loc["plumbing", "reopen_rate"] == pytest.approx(0.5)
    recent = kpi_repair.order_frame(session, ids, start=T0 + timedelta(days=30))
    assert len(recent) == 3
    assert len(kpi_repair.order_frame(session, [ids[1]])) == 2  # one community only
    with pytest.raises(ValueError):
        kpi_repair.kpis(frame, "colour")


def test_empty_and_excel(session):
    empty = kpi_repair.report(session, [])
    assert empty["all"].iloc[0]["orders"] == 0 and empty["all"].iloc[0]["median_response_min"] is None
    ids = _orders(session)
    data = kpi_repair.to_excel(kpi_repair.report(session, ids), "zh", {"plumbing": "水管", "electrical": "电路",
                                                                      "lift": "电梯"}.get)
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["总体", "按小区", "按类别", "按维修工", "按月份"]
    sheet = book["按类别"]
    assert sheet["A1"].value == "报修指标" and sheet.freeze_panes == "A3"
    header = [c.value for c in sheet[2]]
    assert header[:3] == ["分组", "工单数", "已完成"]
    assert {row[0] for row in sheet.iter_rows(min_row=3, values_only=True)} == {"水管", "电路", "电梯"}
    rate = sheet.cell(row=3, column=header.index("一次修复率") + 1)
    assert rate.number_format == "0.0%" and 0 <= rate.value <= 1
    lift = next(r for r in sheet.iter_rows(min_row=3, values_only=True) if r[0] == "电梯")
    assert lift[header.index("一次修复率")] is None  # empty, never NaN


# --------------------------------------------------------------------------- dashboard figures

def _scope(ids, months=("2026-09", "2026-10", "2026-11")):
    from app.platform.kpi import Scope, from_local

    start = from_local(datetime(int(months[0][:4]), int(months[0][5:]), 1))
    end = from_local(datetime(2026, 12, 1))
    return Scope(tuple(ids), start, end, tuple(months), now=datetime(2026, 11, 20))


def test_timeliness_by_hand(session):
    ids = _orders(session)
    t = kpi_repair.timeliness(session, _scope(ids))
    assert (t["orders"], t["accepted"], t["completed"]) == (6, 5, 4)
    assert t["median_response_min"] == 30.0 and t["p90_response_min"] == 76.0  # 10, 20, 30, 40, 100
    assert t["median_resolution_h"] == 5.0 and t["p90_resolution_h"] == 7.4  # 2, 4, 6, 8
    assert t["within_target"] == 4  # 100 min is over the hour
    assert [m["median_response_min"] for m in t["months"]] == [None, 20.0, 70.0]
    figures = {f.key: f for f in kpi_repair.timeliness_tile(session, _scope(ids)).figures}
    assert figures["median_response"].count == 5 and figures["median_response"].target == 60
    assert figures["median_response"].link == ("RepairOrderView.index", {"reported_from": "2026-09-01",
                                                                         "reported_to": "2026-12-01"})


def test_an_empty_period_says_why(session):
    ids = _orders(session)
    scope = _scope(ids, months=("2026-08",))
    scope = type(scope)(scope.community_ids, datetime(2026, 7, 31, 16), datetime(2026, 8, 31, 16), scope.months)
    figures = {f.key: f for f in kpi_repair.timeliness_tile(session, scope).figures}
    assert figures["median_response"].value is None and figures["median_response"].empty == "no accepted orders"
    assert figures["p90_resolution"].empty == "no completed orders"
    # the KPI page's rows: a missing figure is None (the page prints the reason), never NaN
    rows = kpi_repair.records(kpi_repair.kpis(kpi_repair.order_frame(session, ids), "community"))
    fx = next(r for r in rows if r["group"] == "乙小区")
    assert fx["first_time_fix_rate"] is None and fx["satisfaction"] is None
    assert kpi_repair.EMPTY_REASONS["satisfaction"] == "no rated orders"


def test_backlog_and_density(session):
    from app.domains.estate.models import Building

    ids = _orders(session)
    now = datetime(2026, 11, 20)
    building = Building(community_id=ids[0], code="9", name="9号楼", latitude=39.9, longitude=116.3)
    session.add_all([building, Building(community_id=ids[0], code="8", name="8号楼")])
    session.flush()
    session.add(RepairOrder(number="K-late", community_id=ids[0], building_id=building.id, category="plumbing",
                            description="x", photos=[], location_kind="unit", status="unassigned",
                            reported_at=datetime(2026, 11, 19), response_due_at=datetime(2026, 11, 19, 1),
                            declined_staff_ids=[]))
    session.flush()
    assert kpi_repair.backlog(session, ids, now) == {"open": 3, "unassigned": 1, "overdue": 1}
    assert kpi_repair.backlog(session, ids, now, building.id) == {"open": 1, "unassigned": 1, "overdue": 1}
    points = kpi_repair.density_by_building(session, _scope([ids[0]]))
    assert [(p["name"], p["orders"]) for p in points] == [("9号楼", 1)]  # 8号楼 has no coordinates
