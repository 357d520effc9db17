"""Staff efficiency from the engine's task records: user tasks closed per staff-day and time on
task. A staff-day is one person on one local day on which they closed at least one task, so
the figure reads "on a day someone works in the inbox, they close N tasks". Residents' own
tasks (confirming a repair, say) are not staff work and are left out."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.engine.models import TaskRow
from app.platform.kpi import (
    Attention,
    Figure,
    Scope,
    Tile,
    TileData,
    local_day,
    local_month,
    quantile,
    rounded,
)

NOT_STAFF = ("resident",)


def staff_efficiency(session: Session, scope: Scope) -> dict:
    rows = session.execute(
        select(TaskRow.completed_by, TaskRow.completed_at, TaskRow.claimed_at, TaskRow.created_at)
        .where(TaskRow.community_id.in_(list(scope.community_ids)), TaskRow.status == "completed",
               TaskRow.completed_at >= scope.start, TaskRow.completed_at < scope.end,
               TaskRow.completed_by.is_not(None), (TaskRow.role.is_(None)) | (TaskRow.role.not_in(NOT_STAFF)))).all()
    staff_days = {(r.completed_by, local_day(r.completed_at)) for r in rows}
    on_task = [(r.completed_at - (r.claimed_at or r.created_at)).total_seconds() / 60 for r in rows]
    months: dict[str, dict] = {m: {"tasks": 0, "days": set()} for m in scope.months}
    for r in rows:
        m = months.setdefault(local_month(r.completed_at), {"tasks": 0, "days": set()})
        m["tasks"] += 1
        m["days"].add((r.completed_by, local_day(r.completed_at)))
    per_day = rounded(len(rows) / len(staff_days), 2) if staff_days else None
    return {"tasks": len(rows), "staff": len({r.completed_by for r in rows}), "staff_days": len(staff_days),
            "tasks_per_staff_day": per_day, "median_on_task_min": rounded(quantile(on_task, 0.5)),
            "months": [{"month": k, "tasks": v["tasks"], "staff_days": len(v["days"]),
                        "tasks_per_staff_day": rounded(v["tasks"] / len(v["days"]), 2) if v["days"] else None}
                       for k, v in sorted(months.items()) if k in scope.months]}


def efficiency_tile(session: Session, scope: Scope) -> TileData:
    s = staff_efficiency(session, scope)
    none = None if s["tasks"] else "no tasks closed"
    figures = [
        Figure("tasks_per_staff_day", _l("Tasks closed per staff-day"), s["tasks_per_staff_day"], unit="per_day",
               count=s["tasks"], basis="tasks", empty=none, numerator=s["tasks"], denominator=s["staff_days"],
               link=("InboxView.index", {})),
        Figure("median_on_task", _l("Median time on task (min)"), s["median_on_task_min"], unit="minutes",
               count=s["tasks"], basis="tasks", empty=none, link=("InboxView.index", {})),
    ]
    chart = {"kind": "bar", "unit": "per_day", "x": [m["month"] for m in s["months"]],
             "series": [{"name": str(_l("Tasks closed per staff-day")),
                         "data": [m["tasks_per_staff_day"] for m in s["months"]]}]}
    return TileData(figures=figures, chart=chart)


TILES = [Tile("engine.staff", _l("Staff efficiency"), efficiency_tile, module=None, order=60)]


def _today_manager_tasks(session: Session, community_id: int, now) -> Figure:
    from sqlalchemy import func

    n = session.scalar(select(func.count(TaskRow.id)).where(
        TaskRow.community_id == community_id, TaskRow.role == "manager",
        TaskRow.status.in_(("ready", "claimed")))) or 0
    return Figure("engine.manager_tasks", _l("Tasks waiting for the manager"), n, count=n, basis="tasks",
                  link=("InboxView.index", {}))


TODAY = [Attention("engine.manager_tasks", _l("Tasks waiting for the manager"), _today_manager_tasks, order=5)]
