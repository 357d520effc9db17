"""A repair quote nobody answers: remind the resident, then pass it to the manager.

A charge is billed only after the household accepts its quote (``orders.answer_quote``); a
quote left unanswered would leave the order and the technician's work unbilled for ever. The
``repair_quote_reminders`` schedule (menus/repair.yaml, every 30 minutes) calls
:func:`remind_unanswered` for each community: ``quote_reminder_hours`` after the quote was sent
the household is reminded once, ``quote_escalation_hours`` after it the community's managers are
told to call. Each step is a timeline event after the latest ``quoted`` event, so a revised
quote starts again, and running twice sends nothing twice.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import clock
from app.domains.repair import settings as cfg
from app.domains.repair.models import RepairEvent, RepairOrder
from app.domains.repair.timeline import add_event, notify_resident, notify_users, users_with_role

REMINDED, ESCALATED = "quote_reminded", "quote_unanswered"


def _yuan(cents: int) -> str:
    return f"{cents / 100:.2f}"


def remind_unanswered(session: Session, community_id: int, now: datetime | None = None) -> dict[str, list[str]]:
    """``{"reminded": [order numbers], "escalated": [...]}`` for one community."""
    now = now or clock.now()
    settings = cfg.community_settings(session, community_id)
    remind_after = timedelta(hours=int(settings.get("quote_reminder_hours") or 24))
    escalate_after = timedelta(hours=int(settings.get("quote_escalation_hours") or 48))
    done: dict[str, list[str]] = {"reminded": [], "escalated": []}
    orders = list(session.scalars(select(RepairOrder).where(
        RepairOrder.community_id == community_id, RepairOrder.quote_status == "pending")))
    for order in orders:
        events = list(session.scalars(select(RepairEvent).where(RepairEvent.order_id == order.id)
                                      .order_by(RepairEvent.at, RepairEvent.id)))
        quoted = [e for e in events if e.kind == "quoted"]
        if not quoted:
            continue
        sent = quoted[-1]
        since = {e.kind for e in events if e.id > sent.id}
        amount = _yuan(order.materials_cost_cents + order.labour_cost_cents)
        if REMINDED not in since and now - sent.at >= remind_after:
            notify_resident(session, order, "repair.quote_reminder", amount=amount)
            add_event(session, order, REMINDED, actor="system")
            done["reminded"].append(order.number)
        if ESCALATED not in since and now - sent.at >= escalate_after:
            hours = int((now - sent.at).total_seconds() // 3600)
            notify_users(session, order, "repair.quote_unanswered",
                         users_with_role(session, "Manager", order.community_id), amount=amount, hours=hours)
            add_event(session, order, ESCALATED, actor="system")
            done["escalated"].append(order.number)
    session.flush()
    return done
