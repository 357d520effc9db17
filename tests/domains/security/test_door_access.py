"""Door access for arrears never re-opens the door to a household that has moved out."""
from __future__ import annotations

from sqlalchemy import func, select

from app.domains.devices.models import Device
from app.domains.estate.models import (
    Building,
    Community,
    Household,
    PropertyCompany,
    Resident,
    Unit,
)
from app.domains.security.door_access import send_door_command as send
from connectors.models import DeviceCommand


def test_payment_after_moving_out_restores_nothing(session):
    company = PropertyCompany(name="门禁物业")
    community = Community(company=company, code="DA", name="门禁小区")
    session.add_all([company, community])
    session.flush()
    building = Building(community_id=community.id, code="1", name="1号楼")
    session.add(building)
    session.flush()
    unit = Unit(community_id=community.id, building_id=building.id, number="101", floor=1, area_m2=80)
    session.add(unit)
    session.flush()
    household = Household(community_id=community.id, unit_id=unit.id, code="DA-1-101", head_name="搬走户",
                          active=False)
    session.add(household)
    session.flush()
    session.add_all([
        Resident(community_id=community.id, household_id=household.id, name="搬走户", card_number="C-GONE"),
        Device(community_id=community.id, code="DOOR-DA", name="门", profile="door_controller",
               address="door-da-never-online", building_id=building.id),
    ])
    session.commit()
    assert send(session, community.id, "door.restore", ["C-GONE"], household_id=household.id) == []
    assert session.scalar(select(func.count()).select_from(DeviceCommand)) == 0
