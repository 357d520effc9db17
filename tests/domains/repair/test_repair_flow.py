"""The repair process through the engine API, on SQLite and PostgreSQL, time moved with app.clock.

Report → dispatch (nearest skilled technician, their inbox only) → accept/decline → check in →
work record → resident confirms and rates (or reopens) → low rating follow-up → call-back sample;
and the SLA chain: remind the technician → escalate to the manager → escalate to the company.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from app import clock
from app.domains.notifications.models import Notification
from app.domains.repair import orders as repair_orders
from app.domains.repair.models import RepairEvent
from app.engine import complete_task, fire_due_timers, list_inbox
from app.engine.models import OPEN_TASK, ProcessInstance, TaskRow
from tests.support.repair_estate import PHOTO, make_estate, make_user, report  # noqa: F401

T0 = datetime(2026, 11, 25, 1, 0)  # 09:00 in Beijing




def open_tasks(session, order):
    return list(session.scalars(select(TaskRow).where(TaskRow.instance_id == order.instance_id,
                                                      TaskRow.status.in_(OPEN_TASK)).order_by(TaskRow.id)))


def task(session, order, element):
    found = [t for t in open_tasks(session, order) if t.element_id == element]
    assert found, f"no open {element}; open: {[t.element_id for t in open_tasks(session, order)]}"
    return found[0]


def do(session, order, element, data, actor):
    complete_task(session, task(session, order, element).id, data, actor)
    session.commit()
    session.refresh(order)


def kinds(session, order):
    return [e.kind for e in session.scalars(select(RepairEvent).where(RepairEvent.order_id == order.id)
                                            .order_by(RepairEvent.id))]


@pytest.fixture(autouse=True)
def frozen():
    clock.freeze(T0)
    yield
    clock.reset()


def work_data():
    return {"before_photos": [PHOTO], "after_photos": [PHOTO], "work_note": "换了阀芯", "materials": "阀芯 1个",
            "materials_cost": "35.00", "labour_cost": "20.00", "charge_household": True}


def test_full_loop_to_closed_with_rating_and_callback(session):
    estate = make_estate(session, {"revisit_sample_percent": 100})
    order = report(session, estate)
    assert order.number == "T1-R-20261125-0001"
    assert order.status == "dispatched" and order.technician_username == "tech1"
    accept = task(session, order, "accept")
    assert (accept.status, accept.assignee) == ("claimed", "tech1")
    # only tech1 sees it; tech2 (also a technician) does not
    cid = estate["community"].id
    assert [t.id for t in list_inbox(session, [cid], {"technician"}, "tech1")] == [accept.id]
    assert list_inbox(session, [cid], {"technician"}, "tech2") == []

    clock.advance(timedelta(minutes=5))
    do(session, order, "accept", {"decision": "accept"}, "tech1")
    assert order.status == "accepted" and order.accepted_at == T0 + timedelta(minutes=5)
    assert task(session, order, "check_in").assignee == "tech1"
    clock.advance(timedelta(minutes=20))
    do(session, order, "check_in", {"arrived": True}, "tech1")
    assert order.status == "on_site" and order.arrived_at is not None
    clock.advance(timedelta(minutes=40))
    do(session, order, "work", work_data(), "tech1")
    assert order.status == "completed"
    assert (order.materials_cost_cents, order.labour_cost_cents, order.charge_cents) == (3500, 2000, 0)
    assert order.quote_status == "pending"  # nothing is charged before the resident accepts the quote
    repair_orders.decide_quote(session, order, user_id=estate["resident"].id, username="res1", accept=True)
    session.commit()
    assert (order.quote_status, order.charge_cents) == ("accepted", 5500)

    row = repair_orders.open_confirm_task(session, order)
    assert row is not None and row.role == "resident"
    repair_orders.resident_respond(session, order, user_id=estate["resident"].id, username="res1",
                                   data={"decision": "confirm", "rating": "5", "comment": "很好"})
    session.commit()
    session.refresh(order)
    assert order.rating == 5 and order.status == "confirmed"
    # sampled (100%) for a call-back
    do(session, order, "callback", {"reached": True, "satisfied": True, "callback_note": "满意"}, "desk1")
    assert order.status == "closed" and order.closed_at is not None
    assert kinds(session, order) == ["reported", "dispatched", "accepted", "arrived", "completed", "quoted",
                                     "quote_accepted", "charged", "confirmed", "called_back", "closed"]
    instance = session.get(ProcessInstance, order.instance_id)
    assert instance.status == "completed"
    # the resident was told at each step
    templates = [n.template for n in session.scalars(select(Notification).where(
        Notification.household_id == estate["home"].id).order_by(Notification.id))]
    assert templates == ["repair.reported", "repair.dispatched", "repair.accepted", "repair.on_site",
                         "repair.completed", "repair.quote", "repair.closed"]


def test_decline_redispatches_to_the_next_technician(session):
    estate = make_estate(session)
    order = report(session, estate, category="electrical")
    first = order.technician_username
    do(session, order, "accept", {"decision": "decline", "decline_reason": "在别的工地"}, first)
    second = order.technician_username
    assert second and second != first
    assert task(session, order, "accept").assignee == second
    assert estate["staff"][first].id in order.declined_staff_ids
    # the second one declines too: nobody left, the manager dispatches by hand
    do(session, order, "accept", {"decision": "decline", "decline_reason": "没空"}, second)
    assert order.status == "unassigned"
    assign = task(session, order, "assign_manual")
    assert assign.role == "manager"
    do(session, order, "assign_manual", {"technician": estate["staff"]["tech1"].id, "assign_reason": "经理指定"},
       "mgr1")
    assert order.technician_username == "tech1" and task(session, order, "accept").assignee == "tech1"
    assert kinds(session, order)[-1] == "dispatched"


def test_low_rating_opens_a_follow_up_for_the_manager(session):
    estate = make_estate(session, {"revisit_sample_percent": 0})
    order = report(session, estate)
    do(session, order, "accept", {"decision": "accept"}, "tech1")
    do(session, order, "check_in", {"arrived": True}, "tech1")
    do(session, order, "work", work_data(), "tech1")
    repair_orders.resident_respond(session, order, user_id=estate["resident"].id, username="res1",
                                   data={"decision": "confirm", "rating": "2", "comment": "态度不好"})
    session.commit()
    follow = task(session, order, "follow_up")
    assert follow.role == "manager"
    do(session, order, "follow_up", {"follow_up_note": "已致歉"}, "mgr1")
    assert order.status == "closed" and not order.revisit
    assert "followed_up" in kinds(session, order)


def test_reopen_within_window_starts_a_new_round(session):
    estate = make_estate(session, {"revisit_sample_percent": 0})
    order = report(session, estate)
    do(session, order, "accept", {"decision": "accept"}, "tech1")
    do(session, order, "check_in", {"arrived": True}, "tech1")
    do(session, order, "work", work_data(), "tech1")
    clock.advance(timedelta(days=2))
    repair_orders.resident_respond(session, order, user_id=estate["resident"].id, username="res1",
                                   data={"decision": "reopen", "reopen_reason": "又漏了"})
    session.commit()
    session.refresh(order)
    assert order.reopen_count == 1 and order.status == "dispatched"
    assert task(session, order, "accept").assignee == "tech1"
    assert order.response_due_at == clock.now() + timedelta(minutes=30)


def test_no_answer_within_the_window_closes_without_rating(session):
    estate = make_estate(session, {"revisit_sample_percent": 0, "reopen_days": 3})
    order = report(session, estate)
    do(session, order, "accept", {"decision": "accept"}, "tech1")
    do(session, order, "check_in", {"arrived": True}, "tech1")
    do(session, order, "work", work_data(), "tech1")
    clock.advance(timedelta(days=3))
    fire_due_timers(session)
    session.commit()
    session.refresh(order)
    assert order.status == "closed" and order.rating is None
    assert "auto_confirmed" in kinds(session, order)
    with pytest.raises(repair_orders.RepairError):
        repair_orders.resident_respond(session, order, user_id=estate["resident"].id, username="res1",
                                       data={"decision": "reopen", "reopen_reason": "x"})


def test_sla_reminds_then_escalates_to_manager_then_company(session):
    estate = make_estate(session, {"response_minutes": 30, "remind_before_minutes": 10,
                                   "escalate_company_after_minutes": 60})
    order = report(session, estate)
    tech_user = estate["staff"]["tech1"].user_id

    def notified(template):
        return session.scalars(select(Notification.user_id).where(Notification.template == template)).all()

    clock.advance(timedelta(minutes=19))
    assert fire_due_timers(session) == 0
    clock.advance(timedelta(minutes=1))  # 20 min: remind the technician
    assert fire_due_timers(session) == 1
    session.commit()
    session.refresh(order)
    assert order.escalation_level == "reminded" and notified("repair.remind") == [tech_user]
    clock.advance(timedelta(minutes=10))  # 30 min: the limit: the manager
    assert fire_due_timers(session) == 1
    session.commit()
    session.refresh(order)
    assert order.escalation_level == "manager" and len(notified("repair.escalated_manager")) == 1
    assert repair_orders.sla_state(order)["response"] == "pending"
    clock.advance(timedelta(minutes=1))
    assert repair_orders.sla_state(order)["response"] == "overdue"
    clock.advance(timedelta(minutes=59))  # limit + 60: the company
    assert fire_due_timers(session) == 1
    session.commit()
    session.refresh(order)
    assert order.escalation_level == "company" and len(notified("repair.escalated_company")) == 1
    # the accept task is still the technician's; accepting now is late
    do(session, order, "accept", {"decision": "accept"}, "tech1")
    assert repair_orders.sla_state(order)["response"] == "breached"
    assert [k for k in kinds(session, order) if k.startswith("escalated")] == [
        "escalated_reminded", "escalated_manager", "escalated_company"]


def test_resolution_overdue_escalates_once(session):
    estate = make_estate(session, {"resolution_hours_plumbing": 2})
    order = report(session, estate)
    do(session, order, "accept", {"decision": "accept"}, "tech1")
    clock.advance(timedelta(hours=2))
    fire_due_timers(session)
    session.commit()
    assert "escalated_resolution" in kinds(session, order)
    assert task(session, order, "check_in").assignee == "tech1"  # the work goes on
