"""A very small estate for the KPI tests: one company, one community, two buildings (the first
with map coordinates), three households; and the month window the tests read."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from app.domains.estate.models import (
    Building,
    Community,
    Household,
    PropertyCompany,
    Unit,
)
from app.platform.kpi import Scope, month_scope

#: 2026-11-20 12:00 Beijing time; the window "last 3 months" is 2026-09 .. 2026-11
NOW = datetime(2026, 11, 20, 4, 0)


@dataclass
class KpiEstate:
    community: Community
    buildings: list[Building]
    households: list[Household]

    def scope(self, months: int = 3, building: int | None = None, until: str | None = None) -> Scope:
        return month_scope([self.community.id], months, NOW, until=until,
                           building_id=self.buildings[building].id if building is not None else None)


def build_kpi_estate(session: Session) -> KpiEstate:
    code = f"K{uuid.uuid4().hex[:6].upper()}"
    company = PropertyCompany(name=f"KPI物业{code}")
    community = Community(company=company, code=code, name="指标小区")
    session.add_all([company, community])
    session.flush()
    b1 = Building(community_id=community.id, code="1", name="1号楼", latitude=Decimal("39.9"),
                  longitude=Decimal("116.3"))
    b2 = Building(community_id=community.id, code="2", name="2号楼")
    session.add_all([b1, b2])
    session.flush()
    households = []
    for i, building in enumerate([b1, b1, b2]):
        unit = Unit(community_id=community.id, building_id=building.id, number=f"10{i}", floor=1,
                    area_m2=Decimal("60.00"))
        session.add(unit)
        session.flush()
        household = Household(community_id=community.id, unit_id=unit.id, code=f"{code}-{i}", head_name=f"户{i}")
        session.add(household)
        households.append(household)
    session.flush()
    return KpiEstate(community, [b1, b2], households)
