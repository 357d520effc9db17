"""Device list import: every bad cell named by row and column; nothing half-written."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.domains.devices.device_import import apply_devices, preview_devices
from app.domains.devices.models import Device
from app.domains.estate.models import Building, Community, PropertyCompany

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def community(session):
    company = PropertyCompany(name="设备物业")
    community = Community(company=company, code="DV", name="设备小区")
    session.add_all([company, community])
    session.flush()
    session.add(Building(community_id=community.id, code="9", name="9号楼"))
    session.commit()
    return community


def test_good_list_registers_every_device_on_its_building(session, community):
    preview = preview_devices(session, community.id, (FIXTURES / "devices_good.csv").read_bytes(), "d.csv", "en")
    assert preview.errors == []
    assert apply_devices(session, community.id, preview, "tester") == 2
    session.commit()
    door = session.scalar(select(Device).where(Device.code == "DOOR-9"))
    assert door.profile == "door_controller" and door.building_id is not None


def test_bad_list_names_each_problem_and_writes_nothing(session, community):
    preview = preview_devices(session, community.id, (FIXTURES / "devices_bad.csv").read_bytes(), "d.csv", "en")
    found = {(e.row, e.column) for e in preview.errors}
    assert {(2, "address"), (3, "code"), (4, "profile"), (5, "address"), (5, "building_code")} <= found
    with pytest.raises(ValueError):
        apply_devices(session, community.id, preview, "tester")
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Device)) == 0
