"""What a staff inbox card shows about a repair task: due time (SLA), address, phone, first photo;
and what its task page shows: the order's photos and its timeline.

Found by name (``app/web/cards.py`` collects every domain's ``task_cards``); one query for all
the cards of a page.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domains.estate.models import Household
from app.domains.repair.models import RepairEvent, RepairOrder
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


def _photo_refs(photos) -> list[dict]:
    return [{"sha256": p["sha256"], "name": p.get("name") or ""} for p in photos or []
            if isinstance(p, dict) and p.get("sha256")]


def task_detail(session: Session, task, locale: str) -> dict[str, Any] | None:
    """The order behind a repair task: its photos (reported, before, after) and its timeline,
    oldest first, in words (the order page's event labels)."""
    if not task.business_key:
        return None
    order = session.scalar(select(RepairOrder).where(RepairOrder.number == task.business_key,
                                                     RepairOrder.community_id == task.community_id))
    if order is None:
        return None
    from app.domains.repair.views import EVENT_LABELS  # lazy: labels are lazy strings of the views

    events = session.scalars(select(RepairEvent).where(RepairEvent.order_id == order.id)
                             .order_by(RepairEvent.at, RepairEvent.id))
    timeline = []
    for e in events:
        extra = ""
        if e.kind in ("dispatched", "reassigned") and (e.data or {}).get("technician"):
            extra = str(e.data["technician"])
        elif e.kind == "charged" and (e.data or {}).get("charge_cents") is not None:
            extra = f"¥{(e.data['charge_cents'] or 0) / 100:.2f}"
        timeline.append({"at": e.at, "kind": e.kind, "label": str(EVENT_LABELS.get(e.kind, e.kind)),
                         "extra": extra, "note": e.note or ""})
    from flask import current_app
    from flask_login import current_user

    from app.domains.repair.views import _only_own_orders

    may_open = current_app.appbuilder.sm.has_access("can_show", "RepairOrderView") and not (
        _only_own_orders() and order.technician_username != current_user.username)
    return {
        "photos": _photo_refs(order.photos) + _photo_refs(order.before_photos) + _photo_refs(order.after_photos),
        "timeline": timeline,
        "summary": order.description or "",
        "address": location_text(session, order, locale),
        "href": f"/repairs/show/{order.id}" if may_open else None,
        "link_label": {"zh": "打开工单", "en": "Open the order"}[locale if locale in ("zh", "en") else "zh"],
    }
