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
    Rolled,
    Rollup,
    Scope,
    Tile,
    TileData,
    local_days,
    local_sql,
    member,
    memo,
    minutes_sql,
    month_sql,
    percentile_sql,
    deciseconds,
    quantile,
    read_rollups,
    rollup_wanted,
    rounded,
    sql_statistics,
)

NOT_STAFF = ("resident",)


def _done(scope: Scope) -> tuple:
    return (TaskRow.community_id.in_(list(scope.community_ids)), TaskRow.status == "completed",
            TaskRow.completed_at >= scope.start, TaskRow.completed_at < scope.end, TaskRow.completed_by.is_not(None),
            (TaskRow.role.is_(None)) | (TaskRow.role.not_in(NOT_STAFF)))


def _result(tasks: int, staff: int, staff_days: int, on_task_median, months: dict[str, tuple[int, int]],
            scope: Scope) -> dict:
    return {"tasks": tasks, "staff": staff, "staff_days": staff_days,
            "tasks_per_staff_day": rounded(tasks / staff_days, 2) if staff_days else None,
            "median_on_task_min": rounded(on_task_median),
            "months": [{"month": m, "tasks": months.get(m, (0, 0))[0], "staff_days": months.get(m, (0, 0))[1],
                        "tasks_per_staff_day": rounded(months[m][0] / months[m][1], 2) if months.get(m, (0, 0))[1]
                        else None} for m in scope.months]}


def staff_efficiency(session: Session, scope: Scope) -> dict:
    """Tasks closed by staff in the window, the staff-days they were closed on, per local month."""
    if rollup_wanted(scope):
        found = read_rollups(session, scope, ("engine.staff", "engine.staff_people"))
        if found is not None:
            rolled, people = found["engine.staff"], found["engine.staff_people"]
            out = _result(rolled.total.n, len(people.total.members), len(rolled.total.members),
                          rolled.total.quantile(0.5, 60),
                          {m: (r.n, len(r.members)) for m, r in rolled.months.items()}, scope)
            return {**out, "as_of": min(rolled.as_of, people.as_of)}
    if sql_statistics(session):
        return _staff_efficiency_sql(session, scope)
    rows = session.execute(select(TaskRow.completed_by, TaskRow.completed_at, TaskRow.claimed_at,
                                  TaskRow.created_at).where(*_done(scope))).all()
    days = local_days([r.completed_at for r in rows])
    on_task = [(r.completed_at - (r.claimed_at or r.created_at)).total_seconds() / 60 for r in rows]
    months: dict[str, list] = {}
    for r, d in zip(rows, days):
        entry = months.setdefault(scope.month_of(r.completed_at), [0, set()])
        entry[0] += 1
        entry[1].add((r.completed_by, d))
    staff_days = {(r.completed_by, d) for r, d in zip(rows, days)}
    return _result(len(rows), len({r.completed_by for r in rows}), len(staff_days), quantile(on_task, 0.5),
                   {m: (n, len(seen)) for m, (n, seen) in months.items()}, scope)


def _staff_rollups(session: Session, scope: Scope) -> tuple[dict[str, Rolled], dict[str, Rolled]]:
    """One community per local month: tasks closed by staff (n), their staff-days (members:
    hashes of ``who|date``) and time on task (samples, deciseconds); and the people (members:
    hashes of who) — distinct counts that stay exact when communities are merged."""
    rows = session.execute(select(TaskRow.completed_by, TaskRow.completed_at, TaskRow.claimed_at,
                                  TaskRow.created_at).where(*_done(scope))).all()
    tasks: dict[str, Rolled] = {}
    people: dict[str, Rolled] = {}
    for r, day in zip(rows, local_days([r.completed_at for r in rows])):
        month = scope.month_of(r.completed_at)
        entry = tasks.setdefault(month, Rolled())
        entry.n += 1
        entry.members.add(member(f"{r.completed_by}|{day.isoformat()}"))
        entry.samples.append(deciseconds(r.claimed_at or r.created_at, r.completed_at))
        people.setdefault(month, Rolled()).members.add(member(r.completed_by))
    return tasks, people


def _staff_efficiency_sql(session: Session, scope: Scope) -> dict:
    """:func:`staff_efficiency` computed by PostgreSQL, the same figures."""
    from sqlalchemy import Date, cast, func

    staff_day = func.concat(TaskRow.completed_by, "|", cast(local_sql(TaskRow.completed_at), Date))
    on_task = minutes_sql(func.coalesce(TaskRow.claimed_at, TaskRow.created_at), TaskRow.completed_at)
    tasks, staff, days, median = session.execute(select(
        func.count(TaskRow.id), func.count(func.distinct(TaskRow.completed_by)), func.count(func.distinct(staff_day)),
        percentile_sql(0.5, on_task)).where(*_done(scope))).one()
    month = month_sql(scope, TaskRow.completed_at)
    months = {m: (int(n), int(d)) for m, n, d in session.execute(
        select(month, func.count(TaskRow.id), func.count(func.distinct(staff_day))).where(*_done(scope))
        .group_by(month))}
    return _result(int(tasks), int(staff), int(days), median, months, scope)


def _instances_link(scope: Scope):
    """The records behind the figure: for one community its processes (each task and who closed
    it); for several, the dashboard's staff page (per community and person, each linking to that
    community's processes)."""
    if scope.single_community is None:
        since, until = scope.local_dates()
        return "DashboardView.staff", {"since": since, "until": until}
    return "InstanceView.index", {"community_id": scope.single_community}


def staff_by_person(session: Session, scope: Scope) -> list[dict]:
    """Per community and person: tasks closed in the window, the staff-days they were closed on,
    tasks per staff-day and the median time on task — the records behind the staff tile."""
    rows = session.execute(select(TaskRow.community_id, TaskRow.completed_by, TaskRow.completed_at,
                                  TaskRow.claimed_at, TaskRow.created_at).where(*_done(scope))).all()
    groups: dict[tuple[int, str], dict] = {}
    for r, day in zip(rows, local_days([r.completed_at for r in rows])):
        g = groups.setdefault((r.community_id, r.completed_by), {"tasks": 0, "days": set(), "on_task": []})
        g["tasks"] += 1
        g["days"].add(day)
        g["on_task"].append((r.completed_at - (r.claimed_at or r.created_at)).total_seconds() / 60)
    out = [{"community_id": cid, "who": who, "tasks": g["tasks"], "staff_days": len(g["days"]),
            "tasks_per_staff_day": rounded(g["tasks"] / len(g["days"]), 2),
            "median_on_task_min": rounded(quantile(g["on_task"], 0.5))} for (cid, who), g in groups.items()]
    return sorted(out, key=lambda r: (r["community_id"], -r["tasks"], r["who"]))


def efficiency_tile(session: Session, scope: Scope) -> TileData:
    s = staff_efficiency(session, scope)
    none = None if s["tasks"] else "no tasks closed"
    figures = [
        Figure("tasks_per_staff_day", _l("Tasks closed per staff-day"), s["tasks_per_staff_day"], unit="per_day",
               count=s["tasks"], basis="tasks", empty=none, numerator=s["tasks"], denominator=s["staff_days"],
               link=_instances_link(scope), outcome="staff_efficiency"),
        Figure("median_on_task", _l("Median time on task (min)"), s["median_on_task_min"], unit="minutes",
               count=s["tasks"], basis="tasks", empty=none, link=_instances_link(scope)),
    ]
    chart = {"kind": "bar", "unit": "per_day", "x": [m["month"] for m in s["months"]],
             "series": [{"name": str(_l("Tasks closed per staff-day")),
                         "data": [m["tasks_per_staff_day"] for m in s["months"]]}]}
    return TileData(figures=figures, chart=chart, as_of=s.get("as_of"))


def _staff_pass(session: Session, scope: Scope):
    """Both staff roll-ups from one pass over the tasks (once per refresh: ``memo``)."""
    return memo(("engine.staff_rollups", scope), lambda: _staff_rollups(session, scope))


ROLLUPS = [Rollup("engine.staff", lambda session, scope: _staff_pass(session, scope)[0]),
           Rollup("engine.staff_people", lambda session, scope: _staff_pass(session, scope)[1])]
TILES = [Tile("engine.staff", _l("Staff efficiency"), efficiency_tile, module=None, order=60)]


def _today_manager_tasks(session: Session, community_id: int, now) -> Figure:
    from sqlalchemy import func

    n = session.scalar(select(func.count(TaskRow.id)).where(
        TaskRow.community_id == community_id, TaskRow.role == "manager",
        TaskRow.status.in_(("ready", "claimed")))) or 0
    return Figure("engine.manager_tasks", _l("Tasks waiting for the manager"), n, count=n, basis="tasks",
                  link=("InboxView.index", {}))


TODAY = [Attention("engine.manager_tasks", _l("Tasks waiting for the manager"), _today_manager_tasks, order=5)]
