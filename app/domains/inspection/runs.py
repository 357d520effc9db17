"""Patrol runs: planning a run of a route (one ``inspection_run`` process), checking in at its
points, and finishing it (every point checked, or closed early: the rest are *missed*).

The run's user task ("walk the route") is in the guard's or technician's inbox; it completes by
itself when the last point is checked. A check-in keeps the phone's time of the check-in (not
the upload's), whether it was in route order, and the checklist's answers; every failed item
opens a finding (``findings.open_from_checkin``). Runs past their deadline are flagged late by
the process's timer (``mark_late``).
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from app import clock
from app.domains.estate.models import Community
from app.domains.inspection import checklists, findings, points
from app.domains.inspection.errors import InspectionError
from app.domains.inspection.models import InspectionCheckIn, InspectionPoint, InspectionRoute, InspectionRun
from app.localtime import from_local, local_format, to_local
from app.platform.audit import record
from app.platform.module_settings import module_settings

PROCESS_ID = "inspection_run"
OPEN = "open"
STATUS_LABELS = {"open": {"zh": "进行中", "en": "In progress"}, "completed": {"zh": "已完成", "en": "Completed"},
                 "closed": {"zh": "提前结束", "en": "Closed early"}}


def status_label(status: str, locale: str) -> str:
    return STATUS_LABELS.get(status, {}).get(locale[:2]) or STATUS_LABELS.get(status, {}).get("zh", status)


def _iso(at: datetime) -> str:
    return at.replace(tzinfo=timezone.utc).isoformat()


def start_run(session: Session, route: InspectionRoute, actor: str, planned_at: datetime | None = None) -> InspectionRun:
    """Start a run of ``route`` planned at ``planned_at`` (naive UTC; default now). Idempotent per
    (route, planned time): the schedule may ask twice."""
    from app.platform.processes import ProcessNotAllowed, module_enabled, start_process

    if not module_enabled(session, route.community_id, "inspection"):
        raise InspectionError("module_off")
    planned_at = (planned_at or clock.now()).replace(microsecond=0)
    existing = session.scalar(select(InspectionRun).where(InspectionRun.route_id == route.id,
                                                         InspectionRun.planned_at == planned_at))
    if existing is not None:
        return existing
    route_pts = points.route_points(session, route)
    settings = module_settings(session, route.community_id, "inspection")
    due_at = planned_at + timedelta(minutes=int(settings["round_deadline_minutes"]))
    community = session.get(Community, route.community_id)
    run = InspectionRun(number="", community_id=route.community_id, route_id=route.id,
                        point_ids=[p.id for p in route_pts], planned_at=planned_at, due_at=due_at,
                        status=OPEN, started_by=actor)
    session.add(run)
    session.flush()
    run.number = f"PR-{community.code}-{run.id:06d}"
    try:
        instance = start_process(session, community_id=route.community_id, process_id=PROCESS_ID, actor=actor,
                                 business_key=run.number, data={
                                     "run_id": run.id, "run_number": run.number, "route_name": route.name,
                                     "planned_label": local_format(planned_at), "points_total": len(route_pts),
                                     "role": route.role, "assignee": route.assignee or None, "due_at": _iso(due_at)})
    except ProcessNotAllowed as exc:
        raise InspectionError("module_off") from exc
    run.instance_id = instance.id
    record(session, actor=actor, action="inspection.run_started", target_type="inspection_run",
           target_id=run.number, community_id=run.community_id, after={"route": route.name, "points": len(route_pts)})
    return run


def occurs_on(route: InspectionRoute, day) -> bool:
    """Whether the route's schedule has a run on the local ``day``."""
    if route.frequency == "weekly":
        return day.isoweekday() == (route.weekday or 1)
    if route.frequency == "monthly":
        return day.day == (route.month_day or 1)
    return True


def due_routes(session: Session, now: datetime | None = None,
               community_ids: list[int] | None = None) -> list[tuple[InspectionRoute, datetime]]:
    """(route, planned time) of today's runs whose start time has come and that have no run yet."""
    from app.modules.models import ModuleActivation

    now = now or clock.now()
    today = to_local(now).date()
    q = (select(InspectionRoute).join(ModuleActivation, (ModuleActivation.community_id == InspectionRoute.community_id)
                                      & (ModuleActivation.module_id == "inspection"))
         .where(ModuleActivation.enabled.is_(True), InspectionRoute.active.is_(True)))
    if community_ids is not None:
        q = q.where(InspectionRoute.community_id.in_(community_ids))
    due = []
    for route in session.scalars(q.order_by(InspectionRoute.id)):
        if not occurs_on(route, today):
            continue
        try:
            hh, mm = (int(x) for x in (route.start_time or "09:00").split(":"))
        except ValueError:
            continue
        planned = from_local(datetime(today.year, today.month, today.day, hh, mm))
        if planned > now:
            continue
        if session.scalar(select(InspectionRun.id).where(InspectionRun.route_id == route.id,
                                                         InspectionRun.planned_at == planned)) is None:
            due.append((route, planned))
    return due


def start_due_runs(session: Session, now: datetime | None = None, community_ids: list[int] | None = None,
                   actor: str = "schedule") -> list[InspectionRun]:
    """What the schedule flow calls: start every run that is due (a broken route is skipped)."""
    started = []
    for route, planned in due_routes(session, now, community_ids):
        try:
            with session.begin_nested():
                started.append(start_run(session, route, actor, planned))
        except InspectionError:
            continue
    return started


def checkins_of(session: Session, run: InspectionRun) -> list[InspectionCheckIn]:
    return list(session.scalars(select(InspectionCheckIn).where(InspectionCheckIn.run_id == run.id)
                                .order_by(InspectionCheckIn.sequence)))


def point_for_checkin(session: Session, run: InspectionRun, code: str) -> InspectionPoint:
    """The point a scanned or typed code names, if it may be checked now in this run."""
    if run.status != OPEN:
        raise InspectionError("run_closed", status_zh=status_label(run.status, "zh"),
                             status_en=status_label(run.status, "en"))
    point = points.find_point(session, run.community_id, code)
    if point.id not in run.point_ids:
        raise InspectionError("not_on_route", code=point.code)
    done = session.scalar(select(InspectionCheckIn).where(InspectionCheckIn.run_id == run.id,
                                                          InspectionCheckIn.point_id == point.id))
    if done is not None:
        raise InspectionError("duplicate", code=point.code, at=local_format(done.at))
    return point


def check_in(session: Session, run: InspectionRun, point: InspectionPoint, answers: dict, by: str,
             at: datetime | None = None) -> InspectionCheckIn:
    """Record the checklist ``answers`` (parsed by the checklist's form) for ``point``.

    ``at``: the phone's time of the check-in (an offline phone sends it later); default now.
    Failed items open findings; the last point completes the run."""
    now = clock.now()
    run = session.scalar(select(InspectionRun).where(InspectionRun.id == run.id).with_for_update()) or run
    point = point_for_checkin(session, run, point.code)
    at = (at or now).replace(microsecond=0)
    if at > now + timedelta(minutes=5):
        raise InspectionError("future_time")
    if at < run.planned_at - timedelta(minutes=5):
        raise InspectionError("before_run", planned=local_format(run.planned_at))
    try:
        checklist = checklists.get_checklist(point.checklist, session)
    except KeyError:
        raise InspectionError("no_checklist", code=point.code, checklist=point.checklist) from None
    done = checkins_of(session, run)
    done_ids = {c.point_id for c in done}
    expected = next((pid for pid in run.point_ids if pid not in done_ids), None)
    failed = [item for item in checklist.items if item.fails(answers.get(item.name))]
    checkin = InspectionCheckIn(
        community_id=run.community_id, run_id=run.id, point_id=point.id, at=at, received_at=now, by=by,
        sequence=len(done) + 1, in_order=point.id == expected, answers=answers,
        items_checked=sum(1 for item in checklist.items if item.counts), items_failed=len(failed))
    session.add(checkin)
    if not checkin.in_order:
        run.out_of_order = (run.out_of_order or 0) + 1
    session.flush()
    photos = [ref for item in checklist.items if item.type == "photo" for ref in (answers.get(item.name) or [])]
    for item in failed:
        findings.open_from_checkin(session, checkin, point, item, answers.get(item.name), photos, actor=by)
    record(session, actor=by, action="inspection.checked_in", target_type="inspection_run", target_id=run.number,
           community_id=run.community_id,
           after={"point": point.code, "failed": [i.name for i in failed], "in_order": checkin.in_order})
    if len(done_ids) + 1 == len(run.point_ids):
        _complete_run_task(session, run, by)
    return checkin


def _open_task(session: Session, run: InspectionRun):
    from app.engine.models import TaskRow

    if run.instance_id is None:
        return None
    return session.scalar(select(TaskRow).where(TaskRow.instance_id == run.instance_id,
                                                TaskRow.status.in_(("ready", "claimed")),
                                                TaskRow.element_id.in_(("walk_guard", "walk_technician"))))


def _complete_run_task(session: Session, run: InspectionRun, by: str, note: str = "") -> None:
    from app.engine import complete_task

    task = _open_task(session, run)
    if task is None:  # no process (a seeded run): finish directly
        finish(session, run.id, actor=by, note=note)
        return
    actor = task.assignee if task.status == "claimed" and task.assignee else by
    complete_task(session, task.id, {"close_note": note}, actor=actor)


def close_run(session: Session, run: InspectionRun, by: str, note: str) -> InspectionRun:
    """End a run early (the unchecked points are missed)."""
    if run.status != OPEN:
        raise InspectionError("run_closed", status_zh=status_label(run.status, "zh"),
                             status_en=status_label(run.status, "en"))
    _complete_run_task(session, run, by, note=(note or "").strip()[:500])
    return run


def finish(session: Session, run_id: int, actor: str = "process", note: str = "",
           community_id: int | None = None) -> InspectionRun:
    """The run task is done: completed if every point was checked, else closed with the rest missed."""
    run = session.get(InspectionRun, run_id)
    if run is None or (community_id is not None and run.community_id != community_id):
        raise LookupError(f"no inspection run {run_id}")
    if run.status != OPEN:
        return run
    times = dict(session.execute(select(InspectionCheckIn.point_id, InspectionCheckIn.at)
                                 .where(InspectionCheckIn.run_id == run.id)).all())
    missed = [pid for pid in run.point_ids if pid not in times]
    now = clock.now()
    run.status = "closed" if missed else "completed"
    run.missed_point_ids = missed
    # a completed run ends with its last check-in (the phone's time); a closed one now
    run.finished_at = max(times.values()) if not missed else now
    run.closed_by = actor
    if run.finished_at > run.due_at:
        run.late = True
    record(session, actor=actor, action="inspection.run_finished", target_type="inspection_run",
           target_id=run.number, community_id=run.community_id,
           after={"status": run.status, "missed": len(missed), "note": note or None})
    return run


def mark_late(session: Session, run_id: int, community_id: int | None = None) -> InspectionRun:
    """The run's deadline passed while it was open: flag it and tell the managers."""
    from app.domains.notifications.delivery import notify
    from app.platform.module_settings import role_user_ids

    run = session.get(InspectionRun, run_id)
    if run is None or (community_id is not None and run.community_id != community_id):
        raise LookupError(f"no inspection run {run_id}")
    if run.status != OPEN or run.late:
        return run
    run.late = True
    left = len(run.point_ids) - (session.scalar(select(func.count()).select_from(InspectionCheckIn)
                                                .where(InspectionCheckIn.run_id == run.id)) or 0)
    route = session.get(InspectionRoute, run.route_id)
    notify(session, template="inspection.run_late", community_id=run.community_id,
           user_ids=role_user_ids(session, run.community_id, "manager"),
           params={"route": route.name, "number": run.number, "planned": local_format(run.planned_at), "left": left})
    record(session, actor="process", action="inspection.run_late", target_type="inspection_run",
           target_id=run.number, community_id=run.community_id, after={"left": left})
    return run


def runs_of(session: Session, community_ids: list[int], limit: int = 100, flag: str | None = None,
            now: datetime | None = None) -> list[InspectionRun]:
    """The latest runs; ``flag``: only the late ones (flagged, or open past their deadline) or
    those that missed points (the dashboard's figures link here)."""
    q = select(InspectionRun).where(InspectionRun.community_id.in_(community_ids))
    if flag == "late":
        q = q.where(or_(InspectionRun.late.is_(True),
                        and_(InspectionRun.status == OPEN, InspectionRun.due_at < (now or clock.now()))))
    elif flag == "missed":
        q = q.where(InspectionRun.status == "closed")
    return list(session.scalars(q.order_by(InspectionRun.planned_at.desc(), InspectionRun.id.desc()).limit(limit)))
