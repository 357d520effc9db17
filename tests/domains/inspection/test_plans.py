"""The monthly self-inspection plan (issue #16), on SQLite and PostgreSQL, against hand-counted
figures: issued once from the routes' schedules (a daily route of three points, a weekly one of
one point on Mondays), kept as issued when a route changes, and read against the runs: each
(day, point) check done, missed or upcoming, per checklist and per route; in the monthly report
(Excel sheet 自查计划, PDF)."""
from __future__ import annotations

import io
from datetime import datetime

from sqlalchemy import func, select

from app.domains.inspection import compliance, plans, runs
from app.domains.inspection.models import InspectionPlan, InspectionRoute

from tests.domains.inspection.test_runs import _check


def _month(session, patrol):
    """4 May 2026 (a Monday), 09:00 local. 1 May: a run checks FL-01 and FH-01, then closes
    (ER-01 missed); 2 and 3 May: no run; today: the run has checked FL-01 and is still open."""
    weekly = InspectionRoute(community_id=patrol.community.id, name="周检消火栓", point_codes="FH-01",
                             frequency="weekly", weekday=1, start_time="14:00", role="technician")
    session.add(weekly)
    session.flush()
    plan = plans.ensure_plan(session, patrol.community.id, actor="schedule")
    may1 = runs.start_run(session, patrol.route, actor="mgr", planned_at=datetime(2026, 5, 1, 1, 0))
    _check(session, may1, "FL-01")
    _check(session, may1, "FH-01")
    runs.close_run(session, may1, by="guard1", note="交接班")
    today = runs.start_run(session, patrol.route, actor="mgr")
    _check(session, today, "FL-01")
    return plan, weekly


def test_the_plan_is_issued_once_from_the_schedules(session, patrol):
    plan, weekly = _month(session, patrol)
    assert plan.period == "2026-05" and plan.generated_by == "schedule"
    lines = {x["route"]: x for x in plan.lines}
    assert len(lines["日间消防巡查"]["dates"]) == 31
    assert lines["周检消火栓"]["dates"] == ["2026-05-04", "2026-05-11", "2026-05-18", "2026-05-25"]
    assert [p["checklist"] for p in lines["日间消防巡查"]["points"]] == ["fire_lanes", "fire_equipment", "electrical_room"]
    assert plans.ensure_plan(session, patrol.community.id).id == plan.id
    assert session.scalar(select(func.count()).select_from(InspectionPlan)) == 1


def test_done_missed_and_upcoming_per_checklist_and_route(session, patrol):
    plan, weekly = _month(session, patrol)
    status = plans.plan_status(session, patrol.community.id, "2026-05")
    t = status.total
    # due 31×3 + 4 = 97; done: 2 on 1 May + 1 today; missed: ER-01 on 1 May + 3 points × 2 days
    assert (t.due, t.done, t.missed, t.upcoming) == (97, 3, 7, 87)
    by = {k: (v.due, v.done, v.missed, v.upcoming) for k, v in status.by_checklist.items()}
    assert by == {"fire_lanes": (31, 2, 2, 27), "fire_equipment": (35, 1, 2, 32), "electrical_room": (31, 0, 3, 28)}
    w = status.by_route[weekly.id]
    assert (w.due, w.done, w.missed, w.upcoming) == (4, 0, 0, 4)  # today's 14:00 check is still to come
    assert status.not_planned == ["lift", "shared_facilities"]
    # tomorrow, with today's run still open, today's unchecked points can still be checked
    later = plans.plan_status(session, patrol.community.id, "2026-05", now=datetime(2026, 5, 5, 1, 0))
    assert (later.total.done, later.total.missed) == (3, 7 + 1)  # only the weekly FH-01 of 4 May is lost
    # the plan stays as issued when a route is switched off mid-month; a month not issued is a draft
    weekly.active = False
    session.flush()
    assert plans.plan_status(session, patrol.community.id, "2026-05").total.due == 97
    june = plans.plan_status(session, patrol.community.id, "2026-06")
    assert june.issued is None and june.total.due == 30 * 3


def test_the_plan_is_in_the_monthly_report(session, patrol):
    import pandas as pd

    _month(session, patrol)
    report = compliance.monthly_report(session, patrol.community.id, "2026-05")
    sheet = pd.read_excel(io.BytesIO(compliance.report_excel(report)), sheet_name="自查计划")
    rows = {r["检查表"]: r for r in sheet.to_dict("records")}
    assert (rows["消防设施器材完好有效"]["计划检查次数"], rows["消防设施器材完好有效"]["已完成"], rows["消防设施器材完好有效"]["漏检"]) == (35, 1, 2)
    assert "《消防法》" in rows["消防通道畅通"]["依据条款"]
    assert compliance.report_pdf(report).startswith(b"%PDF")
