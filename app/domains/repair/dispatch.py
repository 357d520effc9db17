"""Dispatching repair orders: the nearest available technician with the right skill.

Ranking, for technicians of the order's community who are on duty, have a login, have the
category's skill and have not declined this order:

1. score = distance to the building (haversine, in 50 m steps so a few metres never decide)
   + open orders they hold x ``dispatch_load_penalty_meters`` (a module setting);
2. ties go to whoever was offered an order least recently (never offered first);
3. then the lower staff id (stable).

A technician without a position ranks after everyone with one. Manual (re)assignment needs a
reason and is audited. The technician's tasks of the order's process (accept, check in, work
record) are put in that technician's inbox only (see :func:`_assign_new_task_row`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import event, func, select, update
from sqlalchemy.orm import Session

from app import clock
from app.domains.estate.models import Building, Community, Staff, StaffCommunity
from app.domains.repair import settings as cfg
from app.domains.repair.models import OPEN_STATUSES, RepairDispatch, RepairOrder
from app.engine.models import CLAIMED, OPEN_TASK, READY, TaskRow
from app.platform.audit import record as audit

EARTH_RADIUS_M = 6_371_000
DISTANCE_STEP_M = 50
FAR_AWAY_M = 10_000_000  # no position known

_MESSAGES = {
    "no_reason": {"zh": "请填写改派原因。", "en": "Give a reason for the reassignment."},
    "not_technician": {"zh": "请选择本小区的技工。", "en": "Choose a technician of this community."},
    "same_technician": {"zh": "该工单已经派给这位技工。", "en": "The order is already with this technician."},
    "not_reassignable": {"zh": "工单当前状态（{status}）不能改派。",
                         "en": "The order cannot be reassigned in its current state ({status})."},
}


class DispatchError(Exception):
    def __init__(self, code: str, **params):
        self.code, self.params = code, params
        super().__init__(self.message("en"))

    def message(self, locale: str = "zh") -> str:
        texts = _MESSAGES[self.code]
        return (texts.get(locale[:2]) or texts["en"]).format(**self.params)


def haversine_m(lat1, lon1, lat2, lon2) -> float:
    """Great-circle distance in metres between two (lat, lon) points in degrees."""
    p1, p2 = math.radians(float(lat1)), math.radians(float(lat2))
    dp, dl = p2 - p1, math.radians(float(lon2) - float(lon1))
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


def target_position(session: Session, order: RepairOrder) -> tuple[Decimal, Decimal] | None:
    """The building's coordinates, else the community's."""
    for model, key in ((Building, order.building_id), (Community, order.community_id)):
        row = session.get(model, key) if key else None
        if row is not None and row.latitude is not None and row.longitude is not None:
            return row.latitude, row.longitude
    return None


@dataclass(frozen=True)
class Candidate:
    staff_id: int
    name: str
    username: str
    user_id: int
    distance_m: int | None
    open_load: int
    last_offered_at: datetime | None
    score: int


def _usernames(session: Session, user_ids: list[int]) -> dict[int, str]:
    from flask_appbuilder.security.sqla.models import User

    if not user_ids:
        return {}
    return dict(session.execute(select(User.id, User.username).where(User.id.in_(user_ids))).all())


def candidates(session: Session, order: RepairOrder, settings: dict | None = None) -> list[Candidate]:
    """Eligible technicians, best first (see the module docstring for the rules)."""
    settings = settings if settings is not None else cfg.community_settings(session, order.community_id)
    skill = cfg.required_skill(settings, order.category)
    penalty = int(settings.get("dispatch_load_penalty_meters") or 0)
    declined = set(order.declined_staff_ids or [])
    staff = [s for s in session.scalars(
        select(Staff).join(StaffCommunity, StaffCommunity.staff_id == Staff.id)
        .where(StaffCommunity.community_id == order.community_id, Staff.job == "technician",
               Staff.on_duty.is_(True), Staff.user_id.is_not(None)))
        if s.id not in declined and (skill is None or skill in (s.skills or []))]
    if not staff:
        return []
    ids = [s.id for s in staff]
    loads = dict(session.execute(
        select(RepairOrder.technician_id, func.count()).where(
            RepairOrder.technician_id.in_(ids), RepairOrder.status.in_(OPEN_STATUSES),
            RepairOrder.id != order.id).group_by(RepairOrder.technician_id)).all())
    last = dict(session.execute(
        select(RepairDispatch.staff_id, func.max(RepairDispatch.at)).where(RepairDispatch.staff_id.in_(ids))
        .group_by(RepairDispatch.staff_id)).all())
    names = _usernames(session, [s.user_id for s in staff])
    target = target_position(session, order)
    ranked = []
    for s in staff:
        if s.user_id not in names:
            continue
        distance = None
        if target is not None and s.latitude is not None and s.longitude is not None:
            distance = round(haversine_m(s.latitude, s.longitude, *target))
        stepped = FAR_AWAY_M if distance is None else (distance // DISTANCE_STEP_M) * DISTANCE_STEP_M
        load = int(loads.get(s.id, 0))
        ranked.append(Candidate(s.id, s.name, names[s.user_id], s.user_id, distance, load, last.get(s.id),
                                stepped + load * penalty))
    ranked.sort(key=lambda c: (c.score, c.last_offered_at or datetime.min, c.staff_id))
    return ranked


def dispatch(session: Session, order: RepairOrder, actor: str = "engine") -> Candidate | None:
    """Offer the order to the best candidate; None (order 'unassigned') when nobody fits."""
    from app.domains.repair.timeline import add_event, notify_users, users_with_role

    order.dispatch_attempts = (order.dispatch_attempts or 0) + 1
    ranked = candidates(session, order)
    if not ranked:
        order.technician_id, order.technician_username = None, None
        add_event(session, order, "unassigned", actor=actor, status="unassigned",
                  data={"declined": list(order.declined_staff_ids or [])})
        notify_users(session, order, "repair.unassigned", users_with_role(session, "Manager", order.community_id))
        return None
    best = ranked[0]
    _assign(session, order, best.staff_id, best.username, best.user_id, mode="auto", actor=actor,
            distance=best.distance_m, load=best.open_load)
    return best


def _assign(session: Session, order: RepairOrder, staff_id: int, username: str, user_id: int, *, mode: str,
            actor: str, distance: int | None = None, load: int | None = None, reason: str | None = None,
            kind: str = "dispatched") -> None:
    from app.domains.repair.timeline import add_event, notify_resident, notify_users

    now = clock.now()
    order.technician_id, order.technician_username = staff_id, username
    order.dispatched_at = order.dispatched_at or now
    session.add(RepairDispatch(order_id=order.id, staff_id=staff_id, mode=mode, outcome="offered",
                               distance_m=distance, open_load=load, reason=reason, actor=actor, at=now))
    staff = session.get(Staff, staff_id)
    status = order.status if order.status in ("accepted", "on_site") else "dispatched"
    add_event(session, order, kind, actor=actor, status=status, note=reason,
              data={"technician": staff.name, "distance_m": distance, "open_load": load, "mode": mode})
    move_tasks(session, order, username)
    notify_users(session, order, "repair.assigned", [user_id])
    notify_resident(session, order, "repair.dispatched")
    session.flush()


def move_tasks(session: Session, order: RepairOrder, username: str) -> int:
    """Put the order's open technician tasks in ``username``'s inbox (claimed for them)."""
    if order.instance_id is None:
        return 0
    result = session.execute(
        update(TaskRow).where(TaskRow.instance_id == order.instance_id, TaskRow.role == "technician",
                              TaskRow.status.in_(OPEN_TASK))
        .values(assignee=username, status=CLAIMED, claimed_at=clock.now()))
    return result.rowcount or 0


def close_offer(session: Session, order: RepairOrder, outcome: str) -> None:
    offer = session.scalar(select(RepairDispatch).where(
        RepairDispatch.order_id == order.id, RepairDispatch.staff_id == order.technician_id,
        RepairDispatch.outcome == "offered").order_by(RepairDispatch.id.desc()).limit(1))
    if offer is not None:
        offer.outcome = outcome


def record_decline(session: Session, order: RepairOrder, reason: str, actor: str | None) -> None:
    """The technician declined: remember it (they are not offered this order again)."""
    from app.domains.repair.timeline import add_event

    close_offer(session, order, "declined")
    if order.technician_id is not None:
        order.declined_staff_ids = [*(order.declined_staff_ids or []), order.technician_id]
    add_event(session, order, "declined", actor=actor, status="reported", note=reason or None)
    order.technician_id, order.technician_username = None, None
    session.flush()


def _eligible_technician(session: Session, order: RepairOrder, staff_id: int):
    staff = session.execute(
        select(Staff).join(StaffCommunity, StaffCommunity.staff_id == Staff.id)
        .where(Staff.id == staff_id, StaffCommunity.community_id == order.community_id,
               Staff.job == "technician")).scalar_one_or_none()
    if staff is None or staff.user_id is None:
        raise DispatchError("not_technician")
    username = _usernames(session, [staff.user_id]).get(staff.user_id)
    if username is None:
        raise DispatchError("not_technician")
    return staff, username


def assign_by_hand(session: Session, order: RepairOrder, staff_id: int, reason: str, actor: str) -> None:
    """A manager picked the technician when dispatch found nobody (process task 'assign')."""
    staff, username = _eligible_technician(session, order, staff_id)
    _assign(session, order, staff.id, username, staff.user_id, mode="manual", actor=actor, reason=reason)
    audit(session, actor=actor, action="repair.assign", target_type="repair_order", target_id=order.number,
          community_id=order.community_id, after={"technician_id": staff.id, "reason": reason})


def reassign(session: Session, order: RepairOrder, staff_id: int, reason: str, actor: str) -> None:
    """A manager moves an order to another technician, with a reason; audited."""
    reason = (reason or "").strip()
    if not reason:
        raise DispatchError("no_reason")
    if order.status not in OPEN_STATUSES:
        raise DispatchError("not_reassignable", status=order.status)
    staff, username = _eligible_technician(session, order, staff_id)
    if staff.id == order.technician_id:
        raise DispatchError("same_technician")
    before = {"technician_id": order.technician_id, "technician": order.technician_username}
    close_offer(session, order, "reassigned")
    _assign(session, order, staff.id, username, staff.user_id, mode="manual", actor=actor, reason=reason,
            kind="reassigned")
    audit(session, actor=actor, action="repair.reassign", target_type="repair_order", target_id=order.number,
          community_id=order.community_id, before=before,
          after={"technician_id": staff.id, "technician": username, "reason": reason})


def mark_for_assignment(session: Session, instance_id: int | None) -> None:
    """Remember that this instance may get new technician tasks in this transaction."""
    if instance_id is not None:
        session.info.setdefault(_PENDING, set()).add(instance_id)


def assign_pending_tasks(session: Session) -> int:
    """Claim the new technician tasks of marked repair instances for the order's technician.

    The engine has no ``camunda:assignee``: it projects a user task for a role, in the same
    step as the operation that dispatched the order. So the repair operations mark their
    instance, and before the transaction commits the ready technician tasks of those
    instances are put in the dispatched technician's inbox (claimed for them) — other
    technicians never see them. Runs from a ``before_commit`` hook; callable directly.
    """
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return 0
    rows = session.execute(
        select(TaskRow.id, RepairOrder.technician_username)
        .join(RepairOrder, RepairOrder.instance_id == TaskRow.instance_id)
        .where(TaskRow.instance_id.in_(sorted(pending)), TaskRow.role == "technician",
               TaskRow.status == READY, RepairOrder.technician_username.is_not(None))).all()
    now = clock.now()
    for task_id, username in rows:
        session.execute(update(TaskRow).where(TaskRow.id == task_id, TaskRow.status == READY)
                        .values(assignee=username, status=CLAIMED, claimed_at=now))
    return len(rows)


_PENDING = "repair_task_instances"


@event.listens_for(Session, "before_commit")
def _assign_before_commit(session: Session) -> None:
    # also fired when a savepoint is released (each operation runs in one): wait for the real commit
    if session.info.get(_PENDING) and not session.in_nested_transaction():
        assign_pending_tasks(session)
