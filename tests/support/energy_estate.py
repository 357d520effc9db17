"""A small estate for the energy tests: one community, building A (3 households of 50, 70 and
80 m²) with a master water meter over the household meters, a public stairwell electricity
meter and a lighting meter; and helpers that write hourly readings from a rate function."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from app.domains.energy.meters import register_meter
from app.domains.energy.models import EnergyMeter
from app.domains.energy.readings import Incoming, store
from app.domains.estate.models import Building, Community, Household, PropertyCompany, Unit


@dataclass
class EnergyEstate:
    community: Community
    building: Building
    households: list[Household]
    meters: dict[str, EnergyMeter] = field(default_factory=dict)


def build(session: Session, modules=("energy",), settings: dict | None = None,
          areas=("50.00", "70.00", "80.00")) -> EnergyEstate:
    from app.modules.activation import enable_module
    from app.modules.catalog import load_catalog
    from app.platform.processes import install_hooks
    from app.settings import get_settings

    code = f"E{uuid.uuid4().hex[:6].upper()}"
    company = PropertyCompany(name=f"能耗物业{code}")
    community = Community(company=company, code=code, name="能耗测试小区")
    session.add_all([company, community])
    session.flush()
    building = Building(community_id=community.id, code="A", name="A栋")
    session.add(building)
    session.flush()
    households = []
    for i, area in enumerate(areas):
        unit = Unit(community_id=community.id, building_id=building.id, number=f"10{i + 1}", floor=1,
                    area_m2=Decimal(area))
        session.add(unit)
        session.flush()
        hh = Household(community_id=community.id, unit_id=unit.id, code=f"{code}-A-10{i + 1}", head_name=f"户{i}",
                       active=True)
        session.add(hh)
        households.append(hh)
    session.flush()
    estate = EnergyEstate(community, building, households)
    cid = community.id
    master = register_meter(session, cid, "WM-A-MASTER", name="A栋总水表", kind="water", role="master",
                            building_id=building.id)
    estate.meters["master"] = master
    for i, hh in enumerate(households):
        estate.meters[f"w{i}"] = register_meter(session, cid, f"WM-A-10{i + 1}", name=f"A栋10{i + 1}水表", kind="water",
                                                role="household", unit_id=hh.unit_id, building_id=building.id,
                                                master_id=master.id)
        estate.meters[f"e{i}"] = register_meter(session, cid, f"EM-A-10{i + 1}", name=f"A栋10{i + 1}电表",
                                                kind="electricity", role="household", unit_id=hh.unit_id,
                                                building_id=building.id)
    estate.meters["stair"] = register_meter(session, cid, "EM-A-PUB", name="A栋楼道电表", kind="electricity",
                                            role="public", building_id=building.id)
    estate.meters["light"] = register_meter(session, cid, "EM-LIGHT", name="路灯", kind="electricity",
                                            role="lighting", building_id=building.id)
    install_hooks()
    catalog = load_catalog(get_settings().assets_dir)
    for module_id in modules:
        enable_module(session, catalog=catalog, community_id=cid, module_id=module_id,
                      settings=(settings or {}).get(module_id), actor="test")
    session.flush()
    return estate


def write_series(session: Session, meter: EnergyMeter, start: datetime, hours: int, rate, start_value="100") -> Decimal:
    """Hourly readings from ``start``: ``rate(t)`` per hour between t-1h and t. Returns the last value."""
    value = Decimal(start_value)
    items = [Incoming(meter.id, start, value)]
    for h in range(1, hours + 1):
        t = start + timedelta(hours=h)
        value += Decimal(str(rate(t))).quantize(Decimal("0.0001"))
        items.append(Incoming(meter.id, t, value))
    store(session, items)
    return value
