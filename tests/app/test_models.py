"""The domain schema stores an estate and keeps money-like areas exact on both databases."""
from decimal import Decimal

from sqlalchemy import select

from app.domains.estate.models import Building, Community, Household, PropertyCompany, Unit


def test_estate_round_trip_keeps_area_exact(session):
    company = PropertyCompany(name="示例物业")
    community = Community(company=company, code="YC", name="怡翠花园")
    building = Building(community=community, code="1", name="1号楼", floors=6)
    session.add_all([company, community, building])
    session.flush()
    unit = Unit(community_id=community.id, building=building, number="101", floor=1,
                area_m2=Decimal("89.37"))
    session.add(unit)
    session.flush()
    session.add(Household(community_id=community.id, unit_id=unit.id, code="YC-1-101",
                          head_name="王建国"))
    session.commit()
    session.expunge_all()
    stored = session.scalars(select(Unit)).one()
    assert stored.area_m2 == Decimal("89.37")
    assert session.scalars(select(Household)).one().unit.building.community.name == "怡翠花园"
