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
from app.domains.inspection import checklists, compliance, points
from app.domains.inspection.errors import InspectionError
from app.domains.inspection.models import InspectionCheckIn, InspectionPlan, InspectionRoute, InspectionRun
from app.localtime import to_local
from app.platform.audit import record


def period_of(at: datetime) -> str:
    """The local month ``YYYY-MM`` holding the UTC time ``at``."""
    return to_local(at).strftime("%Y-%m")


def _days(period: str) -> list[date]:
    year, month = int(period[:4]), int(period[5:7])
    return [date(year, month, d) for d in range(1, calendar.monthrange(year, month)[1] + 1)]


def plan_lines(session: Session, community_id: int, period: str) -> list[dict]:
    """The plan from the community's active routes as they are now (a broken route is left out:
    its page already says why)."""
    from app.domains.inspection.runs import occurs_on

    period = compliance.month_bounds(period)[0]
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
    period = compliance.month_bounds(period or period_of(clock.now()))[0]
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

    def add(self, state: str) -> None:
        self.due += 1
        setattr(self, state, getattr(self, state) + 1)


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


def plan_status(session: Session, community_id: int, period: str | None = None,
                now: datetime | None = None) -> PlanStatus:
    """The plan of the month (issued, else a draft from the routes) with every check's state."""
    period, start, end = compliance.month_bounds(period)
    now = now or clock.now()
    issued = session.scalar(select(InspectionPlan).where(InspectionPlan.community_id == community_id,
                                                         InspectionPlan.period == period))
    lines = issued.lines if issued is not None else plan_lines(session, community_id, period)
    status = PlanStatus(period, issued, lines)
    r = InspectionRun
    runs_by_day: dict[tuple[int, str], list[tuple[int, str]]] = {}
    for run_id, route_id, planned_at, run_status in session.execute(
            select(r.id, r.route_id, r.planned_at, r.status).where(
                r.community_id == community_id, r.planned_at >= start, r.planned_at < end)):
        runs_by_day.setdefault((route_id, to_local(planned_at).date().isoformat()), []).append((run_id, run_status))
    checked = set(session.execute(select(InspectionCheckIn.run_id, InspectionCheckIn.point_id).join(
        r, r.id == InspectionCheckIn.run_id).where(
        r.community_id == community_id, r.planned_at >= start, r.planned_at < end)).all())
    today = to_local(now).date().isoformat()
    for line in lines:
        route_tally = status.by_route.setdefault(line["route_id"], Tally())
        for day in line["dates"]:
            day_runs = runs_by_day.get((line["route_id"], day), [])
            # over: no run of that day can still check it (all finished, or none and the day is past)
            over = all(s != "open" for _, s in day_runs) if day_runs else day < today
            for point in line["points"]:
                if any((run_id, point["id"]) in checked for run_id, _ in day_runs):
                    state = "done"
                else:
                    state = "missed" if over else "upcoming"
                for tally in (status.total, route_tally, status.by_checklist.setdefault(point["checklist"], Tally())):
                    tally.add(state)
    from app.platform.processes import module_enabled

    status.not_planned = [cid for cid, c in checklists.all_checklists(session).items() if cid not in status.by_checklist
                          and (c.module == "inspection" or module_enabled(session, community_id, c.module))]
    return status


def checklist_rows(session: Session, status: PlanStatus, locale: str) -> list[dict]:
    """One row per checklist of the plan: title, the clauses its items serve, the tally."""
    known = checklists.all_checklists(session)
    rows = []
    for cid, tally in status.by_checklist.items():
        found = known.get(cid)
        clauses = sorted({i.clause for i in found.items if i.clause}) if found else []
        rows.append({"checklist": cid, "title": found.label(locale) if found else cid,
                     "items": len(found.items) if found else 0, "clauses": clauses, "tally": tally})
    return rows
