"""The monthly self-inspection plan (自查计划) of a community and how it stands.

Issued once per community and month (the ``inspection_runs`` flow does it on its first pass of
the month; ``ensure_plan`` is idempotent): for every active route, the local days its schedule
falls on (daily; weekly on its weekday; monthly on its day) and its points with the checklist
each one is checked by. Read against the month's runs and check-ins, every (day, point) check
of the plan is *done* (checked in a run of that route that day), *missed* (that day's runs are all
finished without it, or the day passed with no run) or *upcoming*. The status is given per checklist
(the compliance templates: fire lanes, fire equipment, lifts…, with the clauses they serve) and
per route; a checklist no route uses is listed as not planned. A month with no issued plan
(before the module ran, or a month not reached yet) is shown as a draft from today's routes.
"""
from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import clock
from app.domains.inspection import checklists, points
from app.domains.inspection.errors import InspectionError
from app.domains.inspection.models import InspectionCheckIn, InspectionPlan, InspectionRoute, InspectionRun
from app.domains.inspection.periods import month_bounds, period_of
from app.localtime import to_local
from app.platform.audit import record


def _days(period: str) -> list[date]:
    year, month = int(period[:4]), int(period[5:7])
    return [date(year, month, d) for d in range(1, calendar.monthrange(year, month)[1] + 1)]


def plan_lines(session: Session, community_id: int, period: str) -> list[dict]:
    """The plan from the community's active routes as they are now (a broken route is left out:
    its page already says why)."""
    from app.domains.inspection.runs import occurs_on

    period = month_bounds(period)[0]
    lines = []
    for route in session.scalars(select(InspectionRoute).where(
            InspectionRoute.community_id == community_id, InspectionRoute.active.is_(True)).order_by(InspectionRoute.id)):
        try:
            pts = points.route_points(session, route)
        except InspectionError:
            continue
        lines.append({"route_id": route.id, "route": route.name, "frequency": route.frequency, "shift": route.shift,
                      "start_time": route.start_time, "role": route.role,
                      "dates": [d.isoformat() for d in _days(period) if occurs_on(route, d)],
                      "points": [{"id": p.id, "code": p.code, "name": p.name, "checklist": p.checklist} for p in pts]})
    return lines


def ensure_plan(session: Session, community_id: int, period: str | None = None,
                actor: str = "schedule") -> InspectionPlan:
    """The month's issued plan, issuing it now if there is none (idempotent)."""
    period = month_bounds(period or period_of(clock.now()))[0]
    plan = session.scalar(select(InspectionPlan).where(InspectionPlan.community_id == community_id,
                                                       InspectionPlan.period == period))
    if plan is not None:
        return plan
    plan = InspectionPlan(community_id=community_id, period=period, generated_at=clock.now().replace(microsecond=0),
                          generated_by=actor, lines=plan_lines(session, community_id, period))
    session.add(plan)
    session.flush()
    record(session, actor=actor, action="inspection.plan_issued", target_type="inspection_plan",
           target_id=f"{community_id}:{period}", community_id=community_id,
           after={"routes": len(plan.lines), "checks": sum(len(x["dates"]) * len(x["points"]) for x in plan.lines)})
    return plan


@dataclass
class Tally:
    due: int = 0
    done: int = 0
    missed: int = 0
    upcoming: int = 0

    def add(self, state: str, n: int = 1) -> None:
        self.due += n
        setattr(self, state, getattr(self, state) + n)


@dataclass
class PlanStatus:
    period: str
    issued: InspectionPlan | None
    lines: list[dict]
    total: Tally = field(default_factory=Tally)
    #: checklist id → tally, in the order of ``checklists``
    by_checklist: dict[str, Tally] = field(default_factory=dict)
    #: route id → tally
    by_route: dict[int, Tally] = field(default_factory=dict)
    #: checklists no route of the plan uses
    not_planned: list[str] = field(default_factory=list)
    #: every checklist this community may use (id → checklist), read once
    known: dict = field(default_factory=dict)


def plan_status(session: Session, community_id: int, period: str | None = None,
                now: datetime | None = None) -> PlanStatus:
    """The plan of the month (issued, else a draft from the routes) with every check's state."""
    period, start, end = month_bounds(period)
    now = now or clock.now()
    issued = session.scalar(select(InspectionPlan).where(InspectionPlan.community_id == community_id,
                                                         InspectionPlan.period == period))
    lines = issued.lines if issued is not None else plan_lines(session, community_id, period)
    status = PlanStatus(period, issued, lines)
    r = InspectionRun
    conn = session.connection()  # plain rows: no ORM loading for a thousand pairs
    runs_by_day: dict[tuple[int, str], list[tuple[int, str]]] = {}
    for run_id, route_id, planned_at, run_status in conn.execute(
            select(r.id, r.route_id, r.planned_at, r.status).where(
                r.community_id == community_id, r.planned_at >= start, r.planned_at < end)):
        runs_by_day.setdefault((route_id, to_local(planned_at).date().isoformat()), []).append((run_id, run_status))
    # by the (run_id, point_id) index: the month's runs are a few dozen, their check-ins ~1,000
    run_ids = [run_id for day_runs in runs_by_day.values() for run_id, _ in day_runs]
    checked: dict[int, set[int]] = {}
    if run_ids:
        for run_id, point_id in conn.execute(select(InspectionCheckIn.run_id, InspectionCheckIn.point_id).where(
                InspectionCheckIn.run_id.in_(run_ids))):
            checked.setdefault(run_id, set()).add(point_id)
    today = to_local(now).date().isoformat()
    counts: dict[tuple[int, str, str], int] = {}  # (route, checklist, state) → checks
    for line in lines:
        pts = [(p["id"], p["checklist"]) for p in line["points"]]
        for day in line["dates"]:
            day_runs = runs_by_day.get((line["route_id"], day), [])
            done = set().union(*(checked.get(run_id, set()) for run_id, _ in day_runs))
            # over: no run of that day can still check it (all finished, or none and the day is past)
            over = all(s != "open" for _, s in day_runs) if day_runs else day < today
            other = "missed" if over else "upcoming"
            for point_id, checklist_id in pts:
                key = (line["route_id"], checklist_id, "done" if point_id in done else other)
                counts[key] = counts.get(key, 0) + 1
        status.by_route.setdefault(line["route_id"], Tally())
    for (route_id, checklist_id, state), n in counts.items():
        for tally in (status.total, status.by_route[route_id], status.by_checklist.setdefault(checklist_id, Tally())):
            tally.add(state, n)
    from app.platform.processes import module_enabled

    status.known = checklists.all_checklists(session)
    status.not_planned = [cid for cid, c in status.known.items() if cid not in status.by_checklist
                          and (c.module == "inspection" or module_enabled(session, community_id, c.module))]
    return status


def checklist_rows(status: PlanStatus, locale: str) -> list[dict]:
    """One row per checklist of the plan: title, the clauses its items serve, the tally."""
    known = status.known
    rows = []
    for cid, tally in status.by_checklist.items():
        found = known.get(cid)
        clauses = sorted({i.clause for i in found.items if i.clause}) if found else []
        rows.append({"checklist": cid, "title": found.label(locale) if found else cid,
                     "items": len(found.items) if found else 0, "clauses": clauses, "tally": tally})
    return rows
