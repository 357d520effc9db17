"""What a staff inbox card shows about a repair task: due time (SLA), address, phone, first photo.

Found by name (``app/web/cards.py`` collects every domain's ``task_cards``); one query for all
the cards of a page.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domains.estate.models import Household
from app.domains.repair.models import RepairOrder
from app.domains.repair.orders import location_text

_WAITING_FOR_RESPONSE = ("reported", "unassigned", "dispatched")


def task_cards(session: Session, tasks: list, locale: str) -> dict[int, dict[str, Any]]:
    """``{task id: {due_at, address, phone, photo, href}}`` for the tasks of repair orders."""
    keys = {t.business_key for t in tasks if t.business_key}
    if not keys:
        return {}
    orders = {o.number: o for o in session.scalars(select(RepairOrder).where(RepairOrder.number.in_(keys)))}
    phones = dict(session.execute(select(Household.id, Household.phone).where(
        Household.id.in_({o.household_id for o in orders.values() if o.household_id})
    )).all()) if orders else {}
    cards: dict[int, dict[str, Any]] = {}
    for task in tasks:
        order = orders.get(task.business_key)
        if order is None or order.community_id != task.community_id:
            continue
        due = order.response_due_at if order.status in _WAITING_FOR_RESPONSE else order.resolution_due_at
        photo = (order.photos or [None])[0]
        cards[task.id] = {
            "due_at": due if order.status not in ("completed", "confirmed", "closed", "cancelled") else None,
            "address": location_text(session, order, locale),
            "phone": phones.get(order.household_id) or "",
            "photo": photo.get("sha256") if isinstance(photo, dict) else None,
            "summary": (order.description or "")[:80],
        }
    return cards
