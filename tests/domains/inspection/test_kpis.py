"""Missed points and late runs on the dashboard (issue #16), on SQLite and PostgreSQL, against
hand-computed figures: the tile (per local month of the window) and the manager home's "today"
counts, found by the platform's discovery, and the run list their links open."""
from __future__ import annotations

from datetime import datetime, timedelta

from app import clock
from app.domains.inspection import runs
from app.domains.inspection.kpis import TILES, TODAY, patrol_tile
from app.domains.inspection.models import InspectionFinding, InspectionRun
from app.platform import kpi

from tests.domains.inspection.test_runs import _check, GOOD


def _day(session, patrol):
    """April: one completed run, flagged late; a rectification opened in April, never done.
    Today (4 May): run A checks one point of three and is closed early (2 missed); run B,
    planned 10:00 (due 11:30), is still open at 11:31: late, though its timer has not flagged it."""
    cid = patrol.community.id
    ids = [patrol.points[c].id for c in ("FL-01", "FH-01", "ER-01")]
    april = datetime(2026, 4, 10, 1, 0)
    session.add(InspectionRun(number="PR-T-APR", community_id=cid, route_id=patrol.route.id, point_ids=ids,
                              planned_at=april, due_at=april + timedelta(minutes=90), status="completed",
                              started_by="schedule", late=True, finished_at=april + timedelta(minutes=100)))
    session.add(InspectionFinding(number="ZG-T-APR", community_id=cid, source="patrol", item="lane_clear",
                                  description="消防车通道被占用", severity="high", role="guard", status="open",
                                  opened_at=april, deadline_at=april + timedelta(hours=24)))
    a = runs.start_run(session, patrol.route, actor="mgr")
    _check(session, a, "FL-01", GOOD["fire_lanes"])
    runs.close_run(session, a, by="guard1", note="下雨，提前结束")
    b = runs.start_run(session, patrol.route, actor="mgr", planned_at=clock.now() + timedelta(hours=1))
    clock.freeze(clock.now() + timedelta(hours=2, minutes=31))  # 11:31 local
    session.flush()
    return a, b


def test_tile_counts_late_runs_and_missed_points_per_month(session, patrol):
    a, b = _day(session, patrol)
    assert a.status == "closed" and len(a.missed_point_ids) == 2 and b.status == "open"
    scope = kpi.month_scope([patrol.community.id], 2, clock.now())
    data = patrol_tile(session, scope)
    fig = {f.key: f for f in data.figures}
    assert scope.months == ("2026-04", "2026-05")
    assert fig["inspection.runs"].value == 3
    assert str(fig["inspection.completed"].value) == "33.3"  # 1 of 3 runs had every point checked
    assert fig["inspection.late_runs"].value == 1  # April's; B is not flagged yet
    assert fig["inspection.missed_points"].value == 2
    assert fig["inspection.overdue_findings"].value == 1
    assert fig["inspection.late_runs"].link == ("InspectionView.index", {"flag": "late"})
    assert data.chart["x"] == ["2026-04", "2026-05"]
    assert [s["data"] for s in data.chart["series"]] == [[1, 0], [0, 2]]
    runs.mark_late(session, b.id)  # the run's timer fires
    fig = {f.key: f for f in patrol_tile(session, scope).figures}
    assert fig["inspection.late_runs"].value == 2


def test_today_counts_and_the_lists_they_link(session, patrol):
    a, b = _day(session, patrol)
    cid = patrol.community.id
    today = {f.key: f.value for f in kpi.today(session, cid, clock.now())}
    assert today["inspection.late_today"] == 1  # B, open past its deadline
    assert today["inspection.missed_today"] == 2
    assert today["inspection.overdue"] == 1
    assert [r.id for r in runs.runs_of(session, [cid], flag="late")] == [b.id, *[
        r.id for r in runs.runs_of(session, [cid]) if r.number == "PR-T-APR"]]
    assert [r.id for r in runs.runs_of(session, [cid], flag="missed")] == [a.id]
    # tomorrow nothing of today's is "today" any more; the overdue rectification still is
    tomorrow = {f.key: f.value for f in kpi.today(session, cid, clock.now() + timedelta(days=1))}
    assert tomorrow == {**tomorrow, "inspection.late_today": 0, "inspection.missed_today": 0, "inspection.overdue": 1}


def test_discovery_finds_the_tile_and_today_items():
    assert "inspection.patrols" in {t.id for t in kpi.tiles()} and TILES[0].module == "inspection"
    assert {a.id for a in TODAY} <= {a.id for a in kpi.attention_items()}
