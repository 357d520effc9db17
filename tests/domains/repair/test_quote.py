"""A repair charge is a quote first: nothing is billed until a resident of the household accepts
it; a decline (with a reason) tells the technician and the managers, who revise or waive it.
SQLite and PostgreSQL (the ``session`` fixture)."""
from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import func, select

from app import clock
from app.domains.fees.models import Bill, BillLine
from app.domains.notifications.models import Notification
from app.domains.repair import orders as repair_orders
from app.domains.repair.orders import RepairError
from app.modules.activation import enable_module
from app.modules.catalog import load_catalog
from app.settings import get_settings
from tests.support.repair_estate import PHOTO, make_estate, make_user

T0 = datetime(2026, 11, 25, 3, 0)


@pytest.fixture(autouse=True)
def frozen():
    clock.freeze(T0)
    yield
    clock.reset()


def _quoted(session, materials="25.50", labour="40.00"):
    estate = make_estate(session)
    enable_module(session, catalog=load_catalog(get_settings().assets_dir), community_id=estate["community"].id,
                  module_id="fees", actor="test")
    order = repair_orders.create_order(
        session, community_id=estate["community"].id, actor="res1", user_id=estate["resident"].id,
        data={"category": "plumbing", "description": "水管漏水", "photos": [PHOTO], "location_kind": "unit",
              "preferred_time": "anytime"})
    order.technician_id = estate["staff"]["tech1"].id
    repair_orders.record(session, order, "completed", {
        "before_photos": [PHOTO], "after_photos": [PHOTO], "work_note": "换管", "materials": "PPR 管 2 米",
        "materials_cost": materials, "labour_cost": labour, "charge_household": True})
    session.commit()
    return estate, order


def _bills(session):
    return session.scalar(select(func.count()).select_from(Bill))


def test_completion_quotes_and_bills_only_after_the_resident_accepts(session):
    estate, order = _quoted(session)
    assert (order.quote_status, order.charge_cents, order.bill_id) == ("pending", 0, None)
    assert _bills(session) == 0
    quote_note = session.scalar(select(Notification).where(Notification.template == "repair.quote"))
    assert "25.50" in quote_note.body and "40.00" in quote_note.body and "65.50" in quote_note.body

    charged = repair_orders.decide_quote(session, order, user_id=estate["resident"].id, username="res1",
                                         accept=True)
    session.commit()
    assert charged == 6550 and order.quote_status == "accepted" and order.quote_decided_at == T0
    line = session.scalar(select(BillLine).join(Bill).where(Bill.id == order.bill_id))
    assert line.amount_cents == 6550
    assert (line.explanation["materials_cost_cents"], line.explanation["labour_cost_cents"]) == (2550, 4000)
    # answered once: a second answer is refused, nothing billed twice
    with pytest.raises(RepairError) as err:
        repair_orders.decide_quote(session, order, user_id=estate["resident"].id, username="res1", accept=True)
    assert err.value.code == "no_quote"
    assert session.scalar(select(func.sum(Bill.amount_cents))) == 6550


def test_decline_needs_a_reason_tells_staff_and_a_revised_quote_goes_back(session):
    estate, order = _quoted(session)
    uid = estate["resident"].id
    with pytest.raises(RepairError) as err:
        repair_orders.decide_quote(session, order, user_id=uid, username="res1", accept=False, reason="  ")
    assert err.value.code == "decline_reason" and "原因" in err.value.message("zh")
    repair_orders.decide_quote(session, order, user_id=uid, username="res1", accept=False, reason="人工费太贵")
    session.commit()
    assert (order.quote_status, order.quote_note, _bills(session)) == ("declined", "人工费太贵", 0)
    told = session.scalars(select(Notification.user_id).where(Notification.template == "repair.quote_declined"))
    assert set(told) == {estate["staff"]["tech1"].user_id,
                         *repair_orders.users_with_role(session, "Manager", estate["community"].id)}

    with pytest.raises(RepairError) as err:
        repair_orders.revise_quote(session, order, materials_cost="abc", labour_cost="1", actor="mgr1")
    assert err.value.code == "bad_quote"
    assert repair_orders.revise_quote(session, order, materials_cost="25.50", labour_cost="20",
                                      actor="mgr1") == 4550
    assert order.quote_status == "pending"
    repair_orders.decide_quote(session, order, user_id=uid, username="res1", accept=True)
    session.commit()
    assert session.scalar(select(Bill.amount_cents).where(Bill.id == order.bill_id)) == 4550


def test_another_login_cannot_answer_and_a_waived_quote_bills_nothing(session):
    estate, order = _quoted(session)
    stranger = make_user(session, "res2", "Resident", estate["community"])
    with pytest.raises(RepairError) as err:
        repair_orders.decide_quote(session, order, user_id=stranger.id, username="res2", accept=True)
    assert err.value.code == "not_found"
    repair_orders.revise_quote(session, order, materials_cost=None, labour_cost=None, actor="mgr1", waive=True)
    session.commit()
    assert (order.quote_status, order.charge_cents, _bills(session)) == ("waived", 0, 0)
    with pytest.raises(RepairError):
        repair_orders.decide_quote(session, order, user_id=estate["resident"].id, username="res1", accept=True)
