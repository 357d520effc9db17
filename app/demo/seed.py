"""Seeds the demo estate from demo.yaml. Idempotent: a second run adds nothing."""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.assets.yaml_lines import load_yaml_file
from app.domains.devices.models import Device
from app.domains.estate.models import (
    Building,
    Community,
    Household,
    PropertyCompany,
    Resident,
    Staff,
    Unit,
    UserCommunity,
)

DEMO_FILE = Path(__file__).with_name("demo.yaml")
_AREAS = [Decimal("52.30"), Decimal("63.80"), Decimal("71.45"), Decimal("89.20"), Decimal("96.75")]


@dataclass
class DemoLogin:
    username: str
    password: str
    role: str
    community: str


def seed_demo(session: Session, security_manager, path: Path = DEMO_FILE) -> list[DemoLogin]:
    """Create the demo company, communities, estate, people, devices and logins."""
    spec = load_yaml_file(path)
    logins: list[DemoLogin] = []
    company = session.scalar(select(PropertyCompany).where(PropertyCompany.name == spec["company"]["name"]))
    if company is None:
        company = PropertyCompany(name=spec["company"]["name"], name_en=spec["company"]["name_en"])
        session.add(company)
        session.flush()
    admin = spec["admin"]
    _ensure_user(security_manager, admin["username"], admin["name"], "Admin", admin["password"])
    logins.append(DemoLogin(admin["username"], admin["password"], "Admin", "*"))
    names = itertools.cycle(
        s + g for g in spec["given_names"] for s in spec["surnames"]
    )
    by_code: dict[str, Community] = {}
    for cspec in spec["communities"]:
        community = _ensure_community(session, company, cspec)
        by_code[community.code] = community
        _ensure_estate(session, community, cspec, names)
        for staff_spec in cspec.get("staff", []):
            user = _ensure_user(security_manager, staff_spec["username"], staff_spec["name"],
                                staff_spec["role"], spec["password"])
            _ensure_membership(session, user.id, community.id)
            _ensure_staff(session, user.id, community, staff_spec)
            logins.append(DemoLogin(staff_spec["username"], spec["password"], staff_spec["role"], community.name))
        rl = cspec.get("resident_login")
        if rl:
            user = _ensure_user(security_manager, rl["username"], "住户", "Resident", spec["password"])
            _ensure_membership(session, user.id, community.id)
            _link_resident(session, community, rl, user.id)
            logins.append(DemoLogin(rl["username"], spec["password"], "Resident", community.name))
        for dspec in cspec.get("devices", []):
            _ensure_device(session, community, dspec)
    for lspec in spec.get("company_logins", []):
        user = _ensure_user(security_manager, lspec["username"], lspec["name"], lspec["role"], spec["password"])
        for code in lspec.get("communities", []):
            _ensure_membership(session, user.id, by_code[code].id)
        logins.append(DemoLogin(lspec["username"], spec["password"], lspec["role"],
                                ",".join(by_code[c].name for c in lspec.get("communities", [])) or "-"))
    session.flush()
    return logins


def _ensure_user(sm, username: str, name: str, role_name: str, password: str):
    user = sm.find_user(username=username)
    if user is not None:
        return user
    role = sm.find_role(role_name) or sm.add_role(role_name)
    user = sm.add_user(username, name, "", f"{username}@demo.estateflow.local", role, password)
    if not user:
        raise RuntimeError(f"could not create demo user {username}")
    return user


def _ensure_membership(session: Session, user_id: int, community_id: int) -> None:
    if session.get(UserCommunity, (user_id, community_id)) is None:
        session.add(UserCommunity(user_id=user_id, community_id=community_id))


def _ensure_community(session: Session, company: PropertyCompany, cspec) -> Community:
    community = session.scalar(select(Community).where(Community.code == cspec["code"]))
    if community is None:
        community = Community(
            company_id=company.id, code=cspec["code"], name=cspec["name"], name_en=cspec["name_en"],
            address=cspec["address"], latitude=Decimal(str(cspec["latitude"])),
            longitude=Decimal(str(cspec["longitude"])),
        )
        session.add(community)
        session.flush()
    return community


def _ensure_estate(session: Session, community: Community, cspec, names) -> None:
    for bspec in cspec["buildings"]:
        code = str(bspec["code"])
        building = session.scalar(
            select(Building).where(Building.community_id == community.id, Building.code == code)
        )
        if building is not None:
            continue
        building = Building(
            community_id=community.id, code=code, name=f"{code}号楼", floors=bspec["floors"],
            latitude=Decimal(str(bspec["latitude"])), longitude=Decimal(str(bspec["longitude"])),
        )
        session.add(building)
        session.flush()
        for floor in range(1, bspec["floors"] + 1):
            for position in range(1, bspec["units_per_floor"] + 1):
                number = f"{floor}{position:02d}"
                unit = Unit(community_id=community.id, building_id=building.id, number=number, floor=floor,
                            area_m2=_AREAS[(floor + position) % len(_AREAS)])
                session.add(unit)
                session.flush()
                head = next(names)
                household = Household(
                    community_id=community.id, unit_id=unit.id,
                    code=f"{community.code}-{code}-{number}", head_name=head,
                    phone=f"138{community.id:02d}{building.id:02d}{unit.id:04d}"[:11],
                    elderly_alone=(floor >= 5 and position == 1),
                )
                session.add(household)
                session.flush()
                session.add(Resident(community_id=community.id, household_id=household.id, name=head,
                                     phone=household.phone, relation="owner",
                                     card_number=f"C{community.id:02d}{unit.id:06d}"))


def _ensure_staff(session: Session, user_id: int, community: Community, sspec) -> None:
    staff = session.scalar(select(Staff).where(Staff.user_id == user_id))
    if staff is None:
        staff = Staff(
            user_id=user_id, name=sspec["name"], job=sspec["job"], skills=list(sspec.get("skills", [])),
            on_duty=bool(sspec.get("on_duty", False)),
            latitude=Decimal(str(sspec["latitude"])) if "latitude" in sspec else None,
            longitude=Decimal(str(sspec["longitude"])) if "longitude" in sspec else None,
        )
        session.add(staff)
        session.flush()
    if community not in staff.communities:
        staff.communities.append(community)


def _link_resident(session: Session, community: Community, rl, user_id: int) -> None:
    household = session.scalar(
        select(Household).where(Household.code == f"{community.code}-{rl['building']}-{rl['unit']}")
    )
    if household is None:
        return
    resident = session.scalar(select(Resident).where(Resident.household_id == household.id))
    if resident is not None and resident.user_id is None:
        resident.user_id = user_id


def _ensure_device(session: Session, community: Community, dspec) -> None:
    exists = session.scalar(
        select(Device).where(Device.community_id == community.id, Device.code == dspec["code"])
    )
    if exists is not None:
        return
    building_id = None
    if "building" in dspec:
        building_id = session.scalar(
            select(Building.id).where(Building.community_id == community.id, Building.code == str(dspec["building"]))
        )
    session.add(Device(
        community_id=community.id, code=dspec["code"], name=dspec["name"], profile=dspec["profile"],
        address=dspec["address"], location=dspec.get("location"), building_id=building_id,
    ))
