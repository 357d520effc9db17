"""Spaces, monthly and annual permits, the waiting list.

A permit is for one household and one plate, from a start date for a month or a year
(``ends_on`` inclusive, local dates); its price comes from the module's settings and goes on
the household's ``parking`` bill through ``fees.charge_household``. A fixed space belongs to
one permit at a time; shared spaces are counted (active permits without a fixed space may
not outnumber them). When no space is left the household joins the waiting list (first come,
first served); a cancelled permit gives its space to the first in line.
"""
from __future__ import annotations

import calendar
import logging
import secrets
from datetime import date, timedelta
from decimal import Decimal
from typing import ClassVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import clock
from app.domains.estate.models import Household
from app.domains.parking.errors import ParkingError
from app.domains.parking.models import ParkingPermit, ParkingSpace, ParkingWaitlist
from app.domains.parking.plates import normalise_plate
from app.localtime import local_today
from app.platform.audit import record
from app.platform.module_settings import module_settings

log = logging.getLogger("estateflow.parking.permits")

KINDS = ("monthly", "annual")


class PermitError(ParkingError):
    MESSAGES: ClassVar[dict[str, tuple[str, str]]] = {
        "bad_plate": ("车牌号码格式不正确（例如：京A12345）。", "That is not a valid plate number (e.g. 京A12345)."),
        "bad_kind": ("请选择月租或年租。", "Choose monthly or annual."),
        "duplicate": ("该车牌已有有效的停车许可。", "This plate already has a valid permit."),
        "bill_closed": ("本月停车账单已结清，无法再添加费用；请下月再办理或联系物业。",
                        "This month's parking bill is already settled; buy the permit next month or ask the office."),
        "waiting": ("车位已满，已为您排队（第 {position} 位）。", "No space is free; you are number {position} on the waiting list."),
        "already_waiting": ("该车牌已在排队中。", "This plate is already on the waiting list."),
        "not_active": ("该停车许可已取消。", "This permit is cancelled."),
        "not_waiting": ("该排队记录已处理。", "This waiting-list entry was already dealt with."),
        "no_space": ("仍无空余车位。", "No space is free yet."),
        "space_taken": ("该车位已分配给其他许可。", "That space is already given to another permit."),
        "space_unknown": ("请选择本小区启用中的固定车位。", "Choose an active fixed space of this community."),
    }


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def period_end(start: date, kind: str) -> date:
    """Last valid day: a month (or a year) from ``start``, the day before the same date."""
    return _add_months(start, 1 if kind == "monthly" else 12) - timedelta(days=1)


def permit_for_plate(session: Session, community_id: int, plate: str, on: date | None = None) -> ParkingPermit | None:
    """The active permit of this plate valid on ``on`` (today, local), else None."""
    on = on or local_today()
    return session.scalars(select(ParkingPermit).where(
        ParkingPermit.community_id == community_id, ParkingPermit.plate == plate,
        ParkingPermit.status == "active", ParkingPermit.starts_on <= on, ParkingPermit.ends_on >= on)
        .limit(1)).first()


def free_space(session: Session, community_id: int, on: date) -> tuple[bool, ParkingSpace | None]:
    """(a space is free, the fixed space to take or None for a shared one)."""
    taken = set(session.scalars(select(ParkingPermit.space_id).where(
        ParkingPermit.community_id == community_id, ParkingPermit.status == "active",
        ParkingPermit.ends_on >= on, ParkingPermit.space_id.is_not(None))))
    fixed = session.scalars(select(ParkingSpace).where(
        ParkingSpace.community_id == community_id, ParkingSpace.active.is_(True), ParkingSpace.kind == "fixed")
        .order_by(ParkingSpace.code)).all()
    for space in fixed:
        if space.id not in taken:
            return True, space
    shared = session.scalar(select(func.count(ParkingSpace.id)).where(
        ParkingSpace.community_id == community_id, ParkingSpace.active.is_(True), ParkingSpace.kind == "shared"))
    using_shared = session.scalar(select(func.count(ParkingPermit.id)).where(
        ParkingPermit.community_id == community_id, ParkingPermit.status == "active",
        ParkingPermit.ends_on >= on, ParkingPermit.space_id.is_(None)))
    return (using_shared < shared), None


def _price_cents(settings: dict, kind: str) -> int:
    price = settings["monthly_permit_fee" if kind == "monthly" else "annual_permit_fee"]
    return int((Decimal(str(price)) * 100).to_integral_value())


def buy_permit(session: Session, *, household: Household, plate: str, kind: str, actor: str,
               start: date | None = None) -> ParkingPermit:
    """A permit from ``start`` (today), billed now; ``PermitError('waiting')`` puts the
    household on the waiting list when no space is free (that row is written)."""
    from app.domains import fees

    normal = normalise_plate(plate)
    if normal is None:
        raise PermitError("bad_plate")
    if kind not in KINDS:
        raise PermitError("bad_kind")
    start = start or local_today()
    community_id = household.community_id
    if permit_for_plate(session, community_id, normal, start) is not None:
        raise PermitError("duplicate")
    ok, space = free_space(session, community_id, start)
    if not ok:
        if session.scalar(select(ParkingWaitlist.id).where(
                ParkingWaitlist.community_id == community_id, ParkingWaitlist.plate == normal,
                ParkingWaitlist.status == "waiting")) is not None:
            raise PermitError("already_waiting")
        session.add(ParkingWaitlist(community_id=community_id, household_id=household.id, plate=normal, kind=kind,
                                    status="waiting", created_at=clock.now()))
        session.flush()
        position = session.scalar(select(func.count(ParkingWaitlist.id)).where(
            ParkingWaitlist.community_id == community_id, ParkingWaitlist.status == "waiting"))
        record(session, actor=actor, action="parking.waitlisted", target_type="household", target_id=household.code,
               community_id=community_id, after={"plate": normal, "kind": kind, "position": position})
        raise PermitError("waiting", position=position)
    settings = module_settings(session, community_id, "parking")
    price = _price_cents(settings, kind)
    number = f"PP{clock.now():%Y%m%d}{secrets.token_hex(3).upper()}"
    permit = ParkingPermit(number=number, community_id=community_id, household_id=household.id, plate=normal,
                           space_id=space.id if space else None, kind=kind, starts_on=start,
                           ends_on=period_end(start, kind), price_cents=price, status="active",
                           created_by=actor, created_at=clock.now())
    session.add(permit)
    session.flush()
    for waiting in session.scalars(select(ParkingWaitlist).where(
            ParkingWaitlist.community_id == community_id, ParkingWaitlist.plate == normal,
            ParkingWaitlist.status == "waiting")):
        waiting.status, waiting.permit_id = "granted", permit.id
    if price > 0:
        label = "月租车位" if kind == "monthly" else "年租车位"
        bill = fees.charge_household(
            session, community_id=community_id, household_id=household.id, kind="parking",
            number=f"{number}-B", item="parking_permit",
            description=f"{label} {normal} {permit.starts_on:%Y-%m-%d}–{permit.ends_on:%Y-%m-%d}",
            amount_cents=price, explanation={"permit": number, "plate": normal, "kind": kind})
        if bill is None:
            raise PermitError("bill_closed")
        permit.bill_number = bill.number
    record(session, actor=actor, action="parking.permit_bought", target_type="parking_permit", target_id=number,
           community_id=community_id,
           after={"plate": normal, "kind": kind, "price_cents": price, "space": space.code if space else None,
                  "ends_on": permit.ends_on.isoformat(), "bill": permit.bill_number})
    return permit


def cancel_permit(session: Session, permit: ParkingPermit, actor: str) -> ParkingPermit | None:
    """Cancel; the first household waiting gets a permit of its kind (returned) if a space is free."""
    if permit.status != "active":
        raise PermitError("not_active")
    permit.status = "cancelled"
    record(session, actor=actor, action="parking.permit_cancelled", target_type="parking_permit",
           target_id=permit.number, community_id=permit.community_id)
    session.flush()
    first = session.scalars(select(ParkingWaitlist).where(
        ParkingWaitlist.community_id == permit.community_id, ParkingWaitlist.status == "waiting")
        .order_by(ParkingWaitlist.id).limit(1)).first()
    if first is None:
        return None
    try:
        return serve_waiting(session, first, actor)
    except PermitError as exc:
        log.info("waiting list %s not served: %s", first.id, exc)
        return None


def serve_waiting(session: Session, entry: ParkingWaitlist, actor: str) -> ParkingPermit:
    """Give the household waiting in ``entry`` its permit now (``PermitError('no_space')`` when
    none is free: the entry keeps its place)."""
    if entry.status != "waiting":
        raise PermitError("not_waiting")
    if not free_space(session, entry.community_id, local_today())[0]:
        raise PermitError("no_space")
    household = session.get(Household, entry.household_id)
    granted = buy_permit(session, household=household, plate=entry.plate, kind=entry.kind, actor=actor)
    entry.status, entry.permit_id = "granted", granted.id
    return granted


def cancel_waiting(session: Session, entry: ParkingWaitlist, actor: str) -> None:
    if entry.status != "waiting":
        raise PermitError("not_waiting")
    entry.status = "cancelled"
    record(session, actor=actor, action="parking.waitlist_cancelled", target_type="household",
           target_id=str(entry.household_id), community_id=entry.community_id, after={"plate": entry.plate})


def renew_permit(session: Session, permit: ParkingPermit, actor: str) -> ParkingPermit:
    """The next period of ``permit`` (same household, plate, kind and fixed space), from the day
    after it ends (or today, if it has ended), billed like a new one."""
    if permit.status != "active":
        raise PermitError("not_active")
    household = session.get(Household, permit.household_id)
    start = max(permit.ends_on + timedelta(days=1), local_today())
    renewed = buy_permit(session, household=household, plate=permit.plate, kind=permit.kind, actor=actor,
                         start=start)
    if permit.space_id and renewed.space_id != permit.space_id and _space_free(session, permit.space_id, start,
                                                                               renewed.id):
        renewed.space_id = permit.space_id
    return renewed


def _space_free(session: Session, space_id: int, on: date, except_permit: int | None = None) -> bool:
    return session.scalar(select(ParkingPermit.id).where(
        ParkingPermit.space_id == space_id, ParkingPermit.status == "active", ParkingPermit.ends_on >= on,
        ParkingPermit.id != (except_permit or 0)).limit(1)) is None


def assign_space(session: Session, permit: ParkingPermit, space_id: int | None, actor: str) -> ParkingPermit:
    """Give ``permit`` a fixed space of its community (None: back to the shared spaces)."""
    if permit.status != "active":
        raise PermitError("not_active")
    space = session.get(ParkingSpace, space_id) if space_id else None
    if space_id and (space is None or space.community_id != permit.community_id or not space.active
                     or space.kind != "fixed"):
        raise PermitError("space_unknown")
    if space is not None and not _space_free(session, space.id, max(permit.starts_on, local_today()), permit.id):
        raise PermitError("space_taken")
    before = permit.space_id
    permit.space_id = space.id if space else None
    record(session, actor=actor, action="parking.space_assigned", target_type="parking_permit",
           target_id=permit.number, community_id=permit.community_id,
           before={"space_id": before}, after={"space": space.code if space else None})
    return permit
