"""An order's timeline and who hears of it: events on the order, notifications to the
resident and to staff. Shared by the order steps (``orders``) and dispatch, so neither
needs the other for it."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import clock
from app.domains.estate.models import Community, Staff
from app.domains.notifications.delivery import RESIDENT_CHANNELS, notify
from app.domains.repair import settings as cfg
from app.domains.repair.models import RepairEvent, RepairOrder


def add_event(session: Session, order: RepairOrder, kind: str, *, actor: str | None = None,
              note: str | None = None, data: dict | None = None, status: str | None = None) -> RepairEvent:
    if status is not None:
        order.status = status
    event = RepairEvent(order_id=order.id, kind=kind, status=order.status, actor=actor, note=note,
                        data=dict(data or {}), at=clock.now())
    session.add(event)
    session.flush()
    return event


def timeline(session: Session, order: RepairOrder) -> list[RepairEvent]:
    return list(session.scalars(select(RepairEvent).where(RepairEvent.order_id == order.id)
                                .order_by(RepairEvent.at, RepairEvent.id)))


def _params(session: Session, order: RepairOrder, **extra: Any) -> dict[str, Any]:
    community = session.get(Community, order.community_id)
    return {"order_number": order.number, "category": cfg.category_label(order.category, "zh"),
            "community": community.name if community else "", "technician": technician_name(session, order),
            **extra}


def technician_name(session: Session, order: RepairOrder) -> str:
    staff = session.get(Staff, order.technician_id) if order.technician_id else None
    return staff.name if staff else ""


def notify_resident(session: Session, order: RepairOrder, template: str, **extra: Any) -> None:
    if order.household_id is None:
        return
    notify(session, template=template, params=_params(session, order, **extra),
           community_id=order.community_id, household_id=order.household_id, channels=RESIDENT_CHANNELS)


def notify_users(session: Session, order: RepairOrder, template: str, user_ids: list[int], **extra: Any) -> None:
    if user_ids:
        notify(session, template=template, params=_params(session, order, **extra),
               community_id=order.community_id, user_ids=sorted(set(user_ids)))


def users_with_role(session: Session, role_name: str, community_id: int | None) -> list[int]:
    """Logins with a FAB role; limited to members of a community unless ``community_id`` is None."""
    from flask_appbuilder.security.sqla.models import Role, User, assoc_user_role

    from app.domains.estate.models import UserCommunity

    query = (select(User.id).join(assoc_user_role, assoc_user_role.c.user_id == User.id)
             .join(Role, Role.id == assoc_user_role.c.role_id).where(Role.name == role_name))
    if community_id is not None:
        query = query.join(UserCommunity, UserCommunity.user_id == User.id).where(
            UserCommunity.community_id == community_id)
    return sorted(set(session.scalars(query)))
