"""Patrol figures for the dashboard (issue #16): late runs and missed points, found by
``app/platform/kpi.py`` discovery (``TILES`` and the manager home's ``TODAY``).

The tile reads the same grouped monthly status as the compliance page (``compliance.overview``,
one call per month of the window), so the dashboard and the regulator's page never disagree.
"Today" counts the local day's runs: those late (flagged by the run's timer, or still open past
their deadline) and the points the day's finished runs missed; and the rectifications overdue now.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from app import clock
from app.domains.inspection import compliance
from app.domains.inspection.models import InspectionFinding, InspectionRun
from app.localtime import from_local, to_local
from app.platform.kpi import Attention, Figure, Scope, Tile, TileData, percent

_RUNS = "InspectionView.index"


def patrol_months(session: Session, scope: Scope) -> list[dict]:
    """Per local month of the scope: runs, completed, late, points missed (summed over the
    scope's communities)."""
    now = scope.now or clock.now()
    out = []
    for month in scope.months:
        rows = compliance.overview(session, list(scope.community_ids), month, now=now)
        out.append({"month": month, "runs": sum(r.runs for r in rows),
                    "completed": sum(r.runs_completed for r in rows),
                    "late": sum(r.runs_late for r in rows), "missed": sum(r.points_missed for r in rows)})
    return out


def overdue_findings(session: Session, community_ids: list[int], now: datetime) -> int:
    """Rectifications not done whose deadline has passed (now, whatever month they opened)."""
    f = InspectionFinding
    return session.scalar(select(func.count(f.id)).where(
        f.community_id.in_(community_ids), f.rectified_at.is_(None), f.status != "accepted",
        f.deadline_at < now)) or 0


def patrol_tile(session: Session, scope: Scope) -> TileData:
    months = patrol_months(session, scope)
    runs = sum(m["runs"] for m in months)
    completed = sum(m["completed"] for m in months)
    late = sum(m["late"] for m in months)
    missed = sum(m["missed"] for m in months)
    overdue = overdue_findings(session, list(scope.community_ids), scope.now or clock.now())
    none = None if runs else _l("no patrol runs in this period")
    figures = [
        Figure("inspection.runs", _l("Patrol runs in the period"), runs, count=runs, basis=_l("patrol runs"), link=(_RUNS, {})),
        Figure("inspection.completed", _l("Runs completed (every point checked)"), percent(completed, runs),
               unit="percent", count=runs, basis=_l("patrol runs"), numerator=completed, denominator=runs, empty=none,
               link=(_RUNS, {})),
        Figure("inspection.late_runs", _l("Late patrol runs"), late, count=runs, basis=_l("patrol runs"),
               link=(_RUNS, {"flag": "late"})),
        Figure("inspection.missed_points", _l("Points missed"), missed, count=runs, basis=_l("patrol runs"),
               link=(_RUNS, {"flag": "missed"})),
        Figure("inspection.overdue_findings", _l("Rectifications overdue now"), overdue, count=overdue,
               basis=_l("rectifications"), link=("InspectionView.findings", {"status": "open"})),
    ]
    chart = {"kind": "bar", "unit": "count", "x": [m["month"] for m in months],
             "series": [{"name": str(_l("Late patrol runs")), "data": [m["late"] for m in months]},
                        {"name": str(_l("Points missed")), "data": [m["missed"] for m in months]}]}
    return TileData(figures=figures, chart=chart)


TILES = [Tile("inspection.patrols", _l("Patrol inspection"), patrol_tile, module="inspection", order=45)]


def _today(now: datetime) -> tuple[datetime, datetime]:
    """The local day holding ``now`` as naive UTC bounds."""
    local = to_local(now)
    start = from_local(datetime(local.year, local.month, local.day))
    return start, from_local(datetime(local.year, local.month, local.day) + timedelta(days=1))


def late_today(session: Session, community_id: int, now: datetime) -> Figure:
    start, end = _today(now)
    r = InspectionRun
    n = session.scalar(select(func.count(r.id)).where(
        r.community_id == community_id, r.planned_at >= start, r.planned_at < end,
        or_(r.late.is_(True), and_(r.status == "open", r.due_at < now)))) or 0
    return Figure("inspection.late_today", _l("Patrol runs late today"), n, count=n, basis=_l("patrol runs"),
                  link=(_RUNS, {"flag": "late"}))


def missed_today(session: Session, community_id: int, now: datetime) -> Figure:
    start, end = _today(now)
    r = InspectionRun
    lists = session.scalars(select(r.missed_point_ids).where(
        r.community_id == community_id, r.planned_at >= start, r.planned_at < end, r.status == "closed"))
    n = sum(len(x or []) for x in lists)
    return Figure("inspection.missed_today", _l("Points missed today"), n, count=n, basis=_l("route points"),
                  link=(_RUNS, {"flag": "missed"}))


def overdue_now(session: Session, community_id: int, now: datetime) -> Figure:
    n = overdue_findings(session, [community_id], now)
    return Figure("inspection.overdue", _l("Rectifications overdue"), n, count=n, basis=_l("rectifications"),
                  link=("InspectionView.findings", {"status": "open"}))


TODAY = [
    Attention("inspection.late_today", _l("Patrol runs late today"), late_today, module="inspection", order=45),
    Attention("inspection.missed_today", _l("Points missed today"), missed_today, module="inspection", order=46),
    Attention("inspection.overdue", _l("Rectifications overdue"), overdue_now, module="inspection", order=47),
]
