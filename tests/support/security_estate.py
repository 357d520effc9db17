"""Builds the estate described by fixtures/security_estate.yaml (shared by the security and
visitors tests; loaded by path because tests run with --import-mode=importlib)."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import yaml
from sqlalchemy.orm import Session

from app.domains.devices.models import Device
from app.domains.estate.models import (
    Building,
    Community,
    Household,
    PropertyCompany,
    Resident,
    Unit,
)

FIXTURE = Path(__file__).resolve().parent / "security_estate.yaml"


@dataclass
class Estate:
    community: Community
    households: list[Household]
    residents: list[Resident]
    devices: dict[str, Device] = field(default_factory=dict)


def build_estate(session: Session, code: str | None = None, modules: list[str] | None = None,
                 settings: dict | None = None) -> Estate:
    from app.domains.devices.registry import register_device
    from app.domains.security.alerts import register_plate
    from app.modules.activation import enable_module
    from app.modules.catalog import load_catalog
    from app.platform.processes import install_hooks
    from app.settings import get_settings

    spec = yaml.safe_load(FIXTURE.read_text(encoding="utf-8"))
    code = code or f"T{uuid.uuid4().hex[:8].upper()}"
    company = PropertyCompany(name=f"测试物业{code}")
    community = Community(company=company, code=code, name=spec["community"]["name"])
    session.add_all([company, community])
    session.flush()
    building = Building(community_id=community.id, code=spec["building"]["code"], name=spec["building"]["name"])
    session.add(building)
    session.flush()
    households, residents = [], []
    for h in spec["households"]:
        unit = Unit(community_id=community.id, building_id=building.id, number=h["unit"], floor=1,
                    area_m2=Decimal("60.00"))
        session.add(unit)
        session.flush()
        hh = Household(community_id=community.id, unit_id=unit.id, code=f"{code}-{h['code_suffix']}",
                       head_name=h["head"], phone=h["phone"], active=True)
        session.add(hh)
        session.flush()
        r = Resident(community_id=community.id, household_id=hh.id, name=h["head"], phone=h["phone"],
                     card_number=f"{h['card']}-{code}", face_ref=h.get("face"))
        session.add(r)
        households.append(hh)
        residents.append(r)
        if h.get("plate"):
            register_plate(session, community.id, hh.id, h["plate"])
    estate = Estate(community, households, residents)
    for d in spec["devices"]:
        estate.devices[d["code"]] = register_device(session, community.id, d["code"], d["name"], d["profile"],
                                                    d["address"], location=d["location"])
    install_hooks()
    catalog = load_catalog(get_settings().assets_dir)
    for module_id in (spec["modules"] if modules is None else modules):
        enable_module(session, catalog=catalog, community_id=community.id, module_id=module_id,
                      settings=(settings or {}).get(module_id), actor="test")
    session.flush()
    return estate


def load():
    return build_estate
