"""Parking and charging income reaches the energy module's public revenue ledger (公共收益) once
per ticket or session, only where the energy module is enabled."""
from __future__ import annotations

from sqlalchemy import select

from app.domains.energy.models import PublicRevenueEntry
from app.domains.parking.revenue import post_public_revenue

from tests.support import energy_estate


def test_income_is_posted_once_where_energy_is_enabled(session):
    estate = energy_estate.build(session)
    cid = estate.community.id
    assert post_public_revenue(session, community_id=cid, source="parking_temporary", amount_cents=800,
                               reference="T-20261120-0001")
    assert post_public_revenue(session, community_id=cid, source="parking_temporary", amount_cents=800,
                               reference="T-20261120-0001")  # a repeat: the same entry
    assert post_public_revenue(session, community_id=cid, source="charging", amount_cents=1250,
                               reference="CS-7")
    rows = session.scalars(select(PublicRevenueEntry).where(PublicRevenueEntry.community_id == cid)
                           .order_by(PublicRevenueEntry.id)).all()
    assert [(r.direction, r.category, r.amount_cents) for r in rows] == [("income", "parking", 800),
                                                                         ("income", "charger", 1250)]


def test_nothing_is_posted_where_energy_is_off(session):
    estate = energy_estate.build(session, modules=())
    assert post_public_revenue(session, community_id=estate.community.id, source="parking_temporary",
                               amount_cents=800, reference="T-1") is False
    assert session.scalars(select(PublicRevenueEntry)).all() == []
