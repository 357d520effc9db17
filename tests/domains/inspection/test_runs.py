"""Patrol runs on SQLite and PostgreSQL: the schedule starts one run process per route and
day; check-ins by code (scanned payload or typed), out of order recorded, the last point
completes the run task; bad codes, duplicates and check-ins after the close are refused with a
message and write nothing; a failed item opens a rectification that a technician does and the
manager accepts; an overdue one escalates on its timer; the run's deadline flags it late."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app import clock
from app.domains.inspection import compliance, findings, runs
from app.domains.inspection.errors import InspectionError
from app.domains.inspection.models import InspectionCheckIn, InspectionFinding, InspectionRun
from app.domains.notifications.models import Notification
from app.engine import complete_task, fire_due_timers
from app.engine.models import ProcessInstance, TaskRow

GOOD = {
    "fire_lanes": {"lane_clear": True, "exits_clear": True, "signs_present": True, "photo": [{"sha256": "a" * 64}],
                   "remark": ""},
    "fire_equipment": {"extinguishers_present": True, "extinguishers_in_date": True, "hydrant_pressure": "0.35",
                       "hose_complete": True, "photo": []},
    "electrical_room": {"door_locked": True, "no_storage": True, "temperature": "25", "photo": []},
}


def _task(session, instance_id, element=None):
    q = select(TaskRow).where(TaskRow.instance_id == instance_id, TaskRow.status.in_(("ready", "claimed")))
    if element:
        q = q.where(TaskRow.element_id == element)
    return session.scalar(q)


def _check(session, run, code, answers=None, by="guard1"):
    point = runs.point_for_checkin(session, run, code)
    return runs.check_in(session, run, point, answers or GOOD[point.checklist], by=by)


def test_schedule_starts_one_run_per_route_and_day(session, patrol):
    due = runs.start_due_runs(session, community_ids=[patrol.community.id])
    assert len(due) == 1
    run = due[0]
    assert run.point_ids == [patrol.points[c].id for c in ("FL-01", "FH-01", "ER-01")]
    task = _task(session, run.instance_id)
    assert task.role == "guard" and task.element_id == "walk_guard"
    assert runs.start_due_runs(session, community_ids=[patrol.community.id]) == []  # idempotent
    clock.freeze(clock.now() - timedelta(hours=2))  # 07:00 local: not yet due
    assert runs.due_routes(session, community_ids=[patrol.community.id]) == []


def test_walk_a_route_out_of_order_and_complete(session, patrol):
    run = runs.start_run(session, patrol.route, actor="mgr")
    code = f"EFP:{patrol.community.code}:FH-01"  # the scanned QR payload, second point first
    first = _check(session, run, code)
    assert first.in_order is False and first.items_checked == 4 and first.items_failed == 0
    _check(session, run, "FL-01")
    clock.advance(timedelta(minutes=20))
    _check(session, run, "ER-01")
    session.flush()
    assert run.status == "completed" and run.out_of_order == 1 and run.missed_point_ids == []
    assert session.get(ProcessInstance, run.instance_id).status == "completed"
    status = compliance.overview(session, [patrol.community.id], "2026-05")[0]
    assert (status.runs, status.runs_completed, status.checkins, status.items_checked) == (1, 1, 3, 10)
    assert status.zero_problem


@pytest.mark.parametrize("code,reason", [
    ("NOPE-9", "unknown_point"), ("EFP:ZZZZ:FL-01", "unknown_point"), ("", "unknown_point")])
def test_bad_codes_are_refused(session, patrol, code, reason):
    run = runs.start_run(session, patrol.route, actor="mgr")
    with pytest.raises(InspectionError) as exc:
        runs.point_for_checkin(session, run, code)
    assert exc.value.code == reason and exc.value.message("zh") and exc.value.message("en")


def test_other_community_duplicate_and_closed_run(session, patrol, build_estate):
    other = build_estate(session, modules=["inspection"])
    run = runs.start_run(session, patrol.route, actor="mgr")
    with pytest.raises(InspectionError) as exc:
        runs.point_for_checkin(session, run, f"EFP:{other.community.code}:FL-01")
    assert exc.value.code == "other_community" and other.community.name in exc.value.message("zh")
    _check(session, run, "FL-01")
    with pytest.raises(InspectionError) as exc:
        _check(session, run, "FL-01")
    assert exc.value.code == "duplicate" and "FL-01" in exc.value.message("en")
    runs.close_run(session, run, by="guard1", note="暴雨，提前结束")
    session.flush()
    assert run.status == "closed" and run.missed_point_ids == [patrol.points["FH-01"].id, patrol.points["ER-01"].id]
    with pytest.raises(InspectionError) as exc:
        _check(session, run, "FH-01")
    assert exc.value.code == "run_closed"
    assert session.scalar(select(func.count()).select_from(InspectionCheckIn)) == 1
    assert compliance.overview(session, [patrol.community.id], "2026-05")[0].points_missed == 2


def test_failed_item_rectified_and_accepted(session, patrol):
    run = runs.start_run(session, patrol.route, actor="mgr")
    blocked = {**GOOD["fire_lanes"], "lane_clear": False}
    _check(session, run, "FL-01", blocked)
    finding = session.scalar(select(InspectionFinding))
    assert finding.severity == "high" and finding.role == "guard" and "第二十八条" in finding.clause
    assert finding.before_photos == [{"sha256": "a" * 64}]
    assert finding.deadline_at == clock.now().replace(microsecond=0) + timedelta(hours=24)
    task = _task(session, finding.instance_id)
    assert task.element_id == "rectify_guard" and task.role == "guard"
    complete_task(session, task.id, {"rectify_note": "车辆已挪走", "after_photos": [{"sha256": "b" * 64}]}, actor="guard1")
    assert finding.status == "rectified" and finding.after_photos == [{"sha256": "b" * 64}]
    accept = _task(session, finding.instance_id)
    assert accept.role == "manager"
    complete_task(session, accept.id, {"decision": "reject", "accept_note": "仍有杂物"}, actor="mgr")
    assert finding.status == "open"
    again = _task(session, finding.instance_id)
    complete_task(session, again.id, {"rectify_note": "杂物清理", "after_photos": [{"sha256": "c" * 64}]}, actor="guard1")
    complete_task(session, _task(session, finding.instance_id).id, {"decision": "accept"}, actor="mgr")
    assert finding.status == "accepted" and finding.accepted_by == "mgr"
    status = compliance.overview(session, [patrol.community.id], "2026-05")[0]
    assert (status.findings, status.rectified_on_time, status.open_findings, status.items_failed) == (1, 1, 0, 1)


def test_overdue_rectification_escalates_and_late_run_is_flagged(session, patrol):
    run = runs.start_run(session, patrol.route, actor="mgr")
    _check(session, run, "FH-01", {**GOOD["fire_equipment"], "hydrant_pressure": "0.05"})
    finding = session.scalar(select(InspectionFinding))
    assert "0.05" in finding.description and finding.item == "hydrant_pressure"
    clock.advance(timedelta(hours=25))
    fire_due_timers(session)
    session.flush()
    assert run.late is True and run.status == "open"
    assert finding.escalated_at is not None and finding.status == "open"
    assert _task(session, finding.instance_id) is not None  # the rectify task stays
    sent = session.scalars(select(Notification.template).where(Notification.user_id == patrol.manager.id)).all()
    assert {"inspection.run_late", "inspection.finding_escalated"} <= set(sent)
    assert compliance.overview(session, [patrol.community.id], "2026-05")[0].overdue_open == 1


def test_spot_check_findings_go_to_the_rectification_list(session, patrol):
    spot = findings.record_spot_check(session, patrol.community.id, {
        "summary": "抽查消防通道", "problems": "消防通道停放电动车\n\n灭火器过期", "point_code": "FL-01",
        "severity": "high", "role": "technician", "photos": []}, actor="regulator")
    rows = session.scalars(select(InspectionFinding).where(InspectionFinding.spot_check_id == spot.id)).all()
    assert len(rows) == 2 and all(r.source == "spot_check" and r.point_id == patrol.points["FL-01"].id for r in rows)
    assert all(_task(session, r.instance_id).role == "technician" for r in rows)
    with pytest.raises(InspectionError):
        findings.record_spot_check(session, patrol.community.id, {"summary": "  "}, actor="regulator")


def test_monthly_report_exports(session, patrol):
    run = runs.start_run(session, patrol.route, actor="mgr")
    _check(session, run, "FL-01", {**GOOD["fire_lanes"], "exits_clear": False})
    report = compliance.monthly_report(session, patrol.community.id, "2026-05")
    assert report["by_point"][0]["不合格项数"] == 1 and report["findings"][0]["严重程度"] == "严重"
    assert compliance.report_pdf(report).startswith(b"%PDF")
    import io

    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(compliance.report_excel(report)))
    assert book.sheetnames == ["汇总", "点位", "问题整改", "自查计划"]
    assert book["汇总"]["A1"].value == "小区"
    assert compliance.overview_naive(session, [patrol.community.id], "2026-05")[0] == report["status"]
