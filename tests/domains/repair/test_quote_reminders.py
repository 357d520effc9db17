"""An unanswered repair quote: the household is reminded after ``quote_reminder_hours``, the
managers are told after ``quote_escalation_hours``; each once per quote; a revised quote starts
again. Through the scheduled flow's function, on SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from app import clock
from app.db import db
from app.domains.notifications.models import Notification
from app.domains.repair.models import RepairEvent, RepairOrder
from workflows.repair_quote_reminders import remind


def _pending(app) -> tuple[int, int, str]:
    with app.app_context():
        order = db.session.scalar(select(RepairOrder).where(RepairOrder.quote_status == "pending")
                                  .order_by(RepairOrder.id))
        quoted = db.session.scalar(select(RepairEvent).where(RepairEvent.order_id == order.id,
                                                             RepairEvent.kind == "quoted")
                                   .order_by(RepairEvent.id.desc()))
        return order.id, quoted.id, order.number


def _age_quote(app, event_id: int, hours: float) -> None:
    with app.app_context():
        db.session.get(RepairEvent, event_id).at = clock.now() - timedelta(hours=hours)
        db.session.commit()


def _count(app, template: str) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Notification).where(
            Notification.template == template)) or 0


def _all(result: dict, key: str) -> list[str]:
    return [n for per in result.values() for n in per[key]]


def test_an_unanswered_quote_is_reminded_then_passed_to_the_manager(demo_app):
    url = demo_app.config["SQLALCHEMY_DATABASE_URI"]
    order_id, quoted_id, number = _pending(demo_app)
    _age_quote(demo_app, quoted_id, 2)
    assert number not in _all(remind(url), "reminded")  # 24 h by default: too early

    _age_quote(demo_app, quoted_id, 25)
    first = remind(url)
    assert number in _all(first, "reminded") and number not in _all(first, "escalated")
    assert _count(demo_app, "repair.quote_reminder") >= 1
    again = remind(url)
    assert number not in _all(again, "reminded")  # once per quote

    _age_quote(demo_app, quoted_id, 49)
    later = remind(url)
    assert number in _all(later, "escalated") and number not in _all(later, "reminded")
    assert _count(demo_app, "repair.quote_unanswered") >= 1
    assert number not in _all(remind(url), "escalated")
    with demo_app.app_context():
        kinds = list(db.session.scalars(select(RepairEvent.kind).where(RepairEvent.order_id == order_id)
                                        .order_by(RepairEvent.id)))
    assert kinds[-2:] == ["quote_reminded", "quote_unanswered"]


def test_an_answered_quote_is_left_alone(demo_app):
    url = demo_app.config["SQLALCHEMY_DATABASE_URI"]
    order_id, quoted_id, number = _pending(demo_app)
    with demo_app.app_context():
        db.session.get(RepairOrder, order_id).quote_status = "accepted"
        db.session.commit()
    try:
        _age_quote(demo_app, quoted_id, 100)
        result = remind(url)
        assert number not in _all(result, "reminded") + _all(result, "escalated")
    finally:
        with demo_app.app_context():
            db.session.get(RepairOrder, order_id).quote_status = "pending"
            db.session.commit()
