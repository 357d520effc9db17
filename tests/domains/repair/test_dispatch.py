"""Dispatch: nearest on-duty technician with the skill, load, fair ties, declines; manual reassignment."""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from flask_appbuilder.security.sqla.models import Role, User
from sqlalchemy import select

from app import clock
from app.domains.estate.models import (
    Building,
    Community,
    PropertyCompany,
    Staff,
    StaffCommunity,
)
from app.domains.repair import dispatch
from app.domains.repair.dispatch import DispatchError
from app.domains.repair.models import RepairDispatch, RepairOrder
from app.platform.models import AuditEvent

T0 = datetime(2026, 11, 25, 2, 0)
# ~0.0009 degrees of latitude is ~100 m
SITE = (Decimal("39.912500"), Decimal("116.365000"))


@pytest.fixture(autouse=True)
def frozen():
    clock.freeze(T0)
    yield
    clock.reset()


def _community(session, code="D1"):
    company = PropertyCompany(name=f"co-{code}")
    community = Community(company=company, code=code, name=code, latitude=SITE[0], longitude=SITE[1])
    session.add_all([company, community])
    session.flush()
    building = Building(community_id=community.id, code="1", name="1号楼", latitude=SITE[0], longitude=SITE[1])
    session.add(building)
    session.flush()
    return community, building


def _tech(session, community, username, skills, metres_north, on_duty=True):
    role = session.scalar(select(Role).where(Role.name == "Technician")) or Role(name="Technician")
    user = User(first_name=username, last_name="-", username=username, email=f"{username}@t", active=True)
    user.roles.append(role)
    session.add(user)
    session.flush()
    staff = Staff(user_id=user.id, name=username, job="technician", skills=skills, on_duty=on_duty,
                  latitude=SITE[0] + Decimal(metres_north) / Decimal(111_195), longitude=SITE[1])
    session.add(staff)
    session.flush()
    session.add(StaffCommunity(staff_id=staff.id, community_id=community.id))
    session.flush()
    return staff


def _order(session, community, building, category="plumbing", number="D1-R-1", status="reported", **kw):
    order = RepairOrder(number=number, community_id=community.id, building_id=building.id, category=category,
                        description="漏水", photos=[], location_kind="building_common", status=status,
                        declined_staff_ids=[], reported_at=T0, **kw)
    session.add(order)
    session.flush()
    return order


def test_haversine_is_about_111_km_per_degree_of_latitude():
    assert dispatch.haversine_m(39, 116, 40, 116) == pytest.approx(111_195, rel=1e-3)
    assert dispatch.haversine_m(39.9125, 116.365, 39.9125, 116.365) == 0


def test_nearest_with_the_skill_and_on_duty_wins(session):
    community, building = _community(session)
    _tech(session, community, "near_no_skill", ["electrical"], 10)
    _tech(session, community, "near_off_duty", ["plumbing"], 20, on_duty=False)
    _tech(session, community, "far", ["plumbing"], 900)
    best = _tech(session, community, "mid", ["plumbing"], 400)
    order = _order(session, community, building)
    ranked = dispatch.candidates(session, order)
    assert [c.username for c in ranked] == ["mid", "far"]
    assert ranked[0].distance_m == pytest.approx(400, abs=2)
    chosen = dispatch.dispatch(session, order)
    assert chosen.staff_id == best.id and order.technician_username == "mid" and order.status == "dispatched"
    offer = session.scalar(select(RepairDispatch).where(RepairDispatch.order_id == order.id))
    assert (offer.mode, offer.outcome, offer.staff_id) == ("auto", "offered", best.id)


def test_category_without_a_skill_goes_to_anyone(session):
    community, building = _community(session)
    _tech(session, community, "a", ["lift"], 100)
    order = _order(session, community, building, category="public_area")
    assert [c.username for c in dispatch.candidates(session, order)] == ["a"]


def test_open_load_counts_as_distance(session):
    community, building = _community(session)
    busy = _tech(session, community, "busy", ["plumbing"], 10)
    _tech(session, community, "free", ["plumbing"], 200)
    for i in range(2):
        _order(session, community, building, number=f"D1-R-busy{i}", status="accepted", technician_id=busy.id)
    order = _order(session, community, building)
    # default 300 m per open order: 0 + 600 > 200
    assert [c.username for c in dispatch.candidates(session, order)] == ["free", "busy"]
    # without a load weight the nearest wins again
    assert [c.username for c in dispatch.candidates(session, order, {"dispatch_load_penalty_meters": 0})] == [
        "busy", "free"]


def test_ties_go_to_whoever_was_offered_work_least_recently(session):
    community, building = _community(session)
    a = _tech(session, community, "a", ["plumbing"], 100)
    b = _tech(session, community, "b", ["plumbing"], 110)  # same 50 m step as a
    old = _order(session, community, building, number="D1-R-old", status="closed")
    session.add(RepairDispatch(order_id=old.id, staff_id=a.id, mode="auto", outcome="accepted",
                               at=T0 - timedelta(hours=1)))
    session.add(RepairDispatch(order_id=old.id, staff_id=b.id, mode="auto", outcome="accepted",
                               at=T0 - timedelta(hours=5)))
    session.flush()
    order = _order(session, community, building)
    assert dispatch.dispatch(session, order).username == "b"


def test_decliners_are_not_offered_again_and_nobody_left_means_unassigned(session):
    community, building = _community(session)
    a = _tech(session, community, "a", ["plumbing"], 100)
    b = _tech(session, community, "b", ["plumbing"], 300)
    order = _order(session, community, building)
    assert dispatch.dispatch(session, order).staff_id == a.id
    dispatch.record_decline(session, order, "忙", "a")
    assert order.declined_staff_ids == [a.id] and order.technician_id is None
    assert dispatch.dispatch(session, order).staff_id == b.id
    dispatch.record_decline(session, order, "也忙", "b")
    assert dispatch.dispatch(session, order) is None
    assert order.status == "unassigned" and order.dispatch_attempts == 3
    outcomes = session.scalars(select(RepairDispatch.outcome).where(RepairDispatch.order_id == order.id)
                               .order_by(RepairDispatch.id)).all()
    assert outcomes == ["declined", "declined"]


def test_reassign_needs_a_reason_a_technician_of_the_community_and_is_audited(session):
    community, building = _community(session)
    a = _tech(session, community, "a", ["plumbing"], 100)
    b = _tech(session, community, "b", ["electrical"], 300)
    other_community, _ = _community(session, "D2")
    stranger = _tech(session, other_community, "stranger", ["plumbing"], 0)
    order = _order(session, community, building)
    dispatch.dispatch(session, order)
    with pytest.raises(DispatchError) as err:
        dispatch.reassign(session, order, b.id, "  ", "mgr")
    assert err.value.code == "no_reason" and "原因" in err.value.message("zh")
    with pytest.raises(DispatchError) as err:
        dispatch.reassign(session, order, stranger.id, "就近", "mgr")
    assert err.value.code == "not_technician"
    with pytest.raises(DispatchError):
        dispatch.reassign(session, order, a.id, "同一人", "mgr")
    dispatch.reassign(session, order, b.id, "原师傅请假", "mgr")
    assert order.technician_username == "b"
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "repair.reassign"))
    assert event.actor == "mgr" and event.before["technician"] == "a" and event.after["reason"] == "原师傅请假"
    assert session.scalars(select(RepairDispatch.outcome).where(RepairDispatch.order_id == order.id)
                           .order_by(RepairDispatch.id)).all() == ["reassigned", "offered"]
    order.status = "closed"
    with pytest.raises(DispatchError) as err:
        dispatch.reassign(session, order, a.id, "x", "mgr")
    assert err.value.code == "not_reassignable"
