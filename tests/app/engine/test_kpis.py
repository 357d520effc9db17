"""Staff efficiency from the engine's task records: tasks closed per staff-day, time on task,
residents' own tasks left out, and the manager's waiting tasks for the "today" page."""
from __future__ import annotations

from datetime import datetime, timedelta

from app.engine import kpis
from app.engine.models import ProcessInstance, ProcessVersion, TaskRow
from tests.support.kpi_estate import NOW, build_kpi_estate


def test_tasks_per_staff_day(session):
    estate = build_kpi_estate(session)
    cid = estate.community.id
    version = ProcessVersion(process_id="p", version=1, filename="p.bpmn", content_hash="h", bpmn="<x/>")
    session.add(version)
    session.flush()
    instance = ProcessInstance(version_id=version.id, process_id="p", spec_hash="h", community_id=cid)
    session.add(instance)
    session.flush()
    day1, day2 = datetime(2026, 10, 5, 2), datetime(2026, 11, 6, 2)  # 10:00 Beijing
    done = [("wang", day1, 10, "technician"), ("wang", day1, 20, "technician"), ("wang", day2, 30, "technician"),
            ("li", day1, 40, "manager"), ("resident_a", day1, 5, "resident")]
    for i, (who, at, minutes, role) in enumerate(done):
        session.add(TaskRow(instance_id=instance.id, spiff_task_id=f"t{i}", element_id="e", community_id=cid,
                            role=role, status="completed", created_at=at - timedelta(hours=1),
                            claimed_at=at - timedelta(minutes=minutes), completed_at=at, completed_by=who))
    session.add(TaskRow(instance_id=instance.id, spiff_task_id="open", element_id="e", community_id=cid,
                        role="manager", status="ready"))
    session.flush()
    s = kpis.staff_efficiency(session, estate.scope())
    # 4 staff tasks on 3 staff-days (wang day1, wang day2, li day1); the resident's is not staff work
    assert (s["tasks"], s["staff"], s["staff_days"], s["tasks_per_staff_day"]) == (4, 2, 3, 1.33)
    assert s["median_on_task_min"] == 25.0  # 10, 20, 30, 40
    assert [m["tasks_per_staff_day"] for m in s["months"]] == [None, 1.5, 1.0]
    assert kpis._today_manager_tasks(session, cid, NOW).value == 1
    empty = {f.key: f for f in kpis.efficiency_tile(session, estate.scope(until="2026-08")).figures}
    assert empty["tasks_per_staff_day"].value is None and empty["tasks_per_staff_day"].empty == "no tasks closed"
    # the records behind it, per person (the company level's link goes to this list)
    rows = kpis.staff_by_person(session, estate.scope())
    assert [(r["who"], r["tasks"], r["staff_days"], r["tasks_per_staff_day"], r["median_on_task_min"])
            for r in rows] == [("wang", 3, 2, 1.5, 20.0), ("li", 1, 1, 1.0, 40.0)]
    other = build_kpi_estate(session)
    company = kpis.efficiency_tile(session, kpi_scope([cid, other.community.id]))
    assert company.figures[0].link == ("DashboardView.staff", {"since": "2026-09-01", "until": "2026-12-01"})
    assert kpis.efficiency_tile(session, estate.scope()).figures[0].link == ("InstanceView.index", {"community_id": cid})


def kpi_scope(ids):
    from app.platform.kpi import month_scope

    return month_scope(ids, 3, NOW)
