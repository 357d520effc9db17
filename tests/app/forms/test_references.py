"""Reference fields accept only records of the form's own community (SQLite and PostgreSQL)."""
from decimal import Decimal

import pytest
from marshmallow import ValidationError
from werkzeug.datastructures import MultiDict

from app.forms.references import reference_options
from app.forms.schema import build_schema, parse_submission
from app.domains.estate.models import (
    Building,
    Community,
    Household,
    PropertyCompany,
    Staff,
    StaffCommunity,
    Unit,
)
from app.domains.devices.models import Device


@pytest.fixture
def estate(session):
    """Two communities, each with a household, a device and a plumber; one staff in both."""
    company = PropertyCompany(name="示例物业")
    session.add(company)
    out = {}
    for code in ("A", "B"):
        community = Community(company=company, code=code, name=f"{code}小区")
        building = Building(community=community, code="1", name="1号楼")
        session.add_all([community, building])
        session.flush()
        unit = Unit(community_id=community.id, building=building, number="101", floor=1,
                    area_m2=Decimal("80.00"))
        session.add(unit)
        session.flush()
        household = Household(community_id=community.id, unit_id=unit.id,
                              code=f"{code}-1-101", head_name=f"{code}户主")
        device = Device(community_id=community.id, code=f"{code}-M1", name="水表",
                        profile="water_meter", address="1")
        plumber = Staff(name=f"{code}水工", job="technician", skills=["plumbing"])
        session.add_all([household, device, plumber])
        session.flush()
        session.add(StaffCommunity(staff_id=plumber.id, community_id=community.id))
        out[code] = {"community": community.id, "household": household.id,
                     "device": device.id, "plumber": plumber.id}
    clerk = Staff(name="前台", job="front_desk", skills=[])
    session.add(clerk)
    session.flush()
    session.add(StaffCommunity(staff_id=clerk.id, community_id=out["A"]["community"]))
    session.commit()
    out["clerk"] = clerk.id
    return out


def test_references_of_own_community_are_accepted(registry, session, estate):
    a = estate["A"]
    schema = build_schema(registry.get("demo/assign"), session=session,
                          community_id=a["community"], locale="en")
    data = schema.load({"household": str(a["household"]), "technician": str(a["plumber"]),
                        "meter": a["device"]})
    assert data == {"household": a["household"], "technician": a["plumber"], "meter": a["device"]}


def test_other_communitys_records_are_not_found(registry, session, estate):
    a, b = estate["A"], estate["B"]
    schema = build_schema(registry.get("demo/assign"), session=session,
                          community_id=a["community"], locale="en")
    with pytest.raises(ValidationError) as exc:
        schema.load({"household": str(b["household"]), "technician": str(b["plumber"]),
                     "meter": str(b["device"])})
    not_found = ["The selected record was not found."]
    assert exc.value.messages == {"household": not_found, "technician": not_found,
                                  "meter": not_found}
    # indistinguishable from an id that exists nowhere
    for bogus in ("999999", "-1", "99999999999999999999", "abc"):
        with pytest.raises(ValidationError) as exc:
            schema.load({"household": bogus})
        assert exc.value.messages == {"household": not_found}


def test_staff_without_the_skill_is_refused(registry, session, estate):
    a = estate["A"]
    form = registry.get("demo/assign")
    data, errors, raw = parse_submission(
        form, MultiDict([("household", str(a["household"])), ("technician", str(estate["clerk"]))]),
        MultiDict(), session=session, community_id=a["community"], locale="zh")
    assert data == {}
    assert errors == {"technician": ["所选人员不符合要求（技能或岗位）。"]}
    assert raw["technician"] == str(estate["clerk"])


def test_options_list_only_the_community_and_eligible_staff(registry, session, estate):
    a = estate["A"]
    options = reference_options(registry.get("demo/assign"), session=session,
                                community_id=a["community"])
    assert options == {
        "household": [(str(a["household"]), "A-1-101 A户主")],
        "technician": [(str(a["plumber"]), "A水工")],
        "meter": [(str(a["device"]), "A-M1 水表")],
    }
