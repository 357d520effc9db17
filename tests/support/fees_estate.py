"""A small estate for the payment and dunning tests: one community, three households with
door cards, a door controller, fees + dunning enabled, the dunning process deployed, and a
helper that writes bills straight into the shared fee models.

Loaded by file path (``load()``) because the suite runs with ``--import-mode=importlib``.
"""
from __future__ import annotations

import importlib.util
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select
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
from app.domains.fees.models import Bill, BillLine

ROOT = Path(__file__).resolve().parents[2]


def load():
    """This module, importable from any test file."""
    name = "tests_fees_estate"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def make_estate(session: Session, code: str = "PY", *, dunning: bool = True, door: bool = True,
                dunning_settings: dict | None = None) -> tuple[Community, list[Household]]:
    from app.platform.discovery import load_operations
    load_operations()  # registers every operation before validation
    from app.engine.deploy import deploy_process
    from app.forms.definitions import FormRegistry
    from app.modules.activation import enable_module
    from app.modules.catalog import load_catalog

    company = PropertyCompany(name=f"物业-{code}")
    community = Community(company=company, code=code, name=f"测试小区{code}")
    session.add_all([company, community])
    session.flush()
    building = Building(community_id=community.id, code="1", name="1号楼")
    session.add(building)
    session.flush()
    homes = []
    for i in range(3):
        unit = Unit(community_id=community.id, building_id=building.id, number=f"{101 + i}", floor=1,
                    area_m2=Decimal("80.00"))
        session.add(unit)
        session.flush()
        home = Household(community_id=community.id, unit_id=unit.id, code=f"{code}-1-{101 + i}",
                         head_name=f"户主{i}", phone=f"1380000000{i}")
        session.add(home)
        session.flush()
        session.add(Resident(community_id=community.id, household_id=home.id, name=f"住户{i}",
                             card_number=f"CARD-{code}-{i}"))
        homes.append(home)
    if door:
        session.add(Device(community_id=community.id, code="DOOR-1", name="1号楼单元门禁",
                           profile="door_controller", address=f"door-{code.lower()}-1", building_id=building.id))
    catalog = load_catalog(ROOT)
    enable_module(session, catalog=catalog, community_id=community.id, module_id="fees", actor="test")
    if dunning:
        enable_module(session, catalog=catalog, community_id=community.id, module_id="dunning",
                      settings=dunning_settings or {}, actor="test")
        forms = set(FormRegistry(ROOT / "forms").ids())
        deploy_process(session, "bpmn/dunning/dunning.bpmn", (ROOT / "bpmn/dunning/dunning.bpmn").read_bytes(),
                       "dunning", "test", forms)
    session.commit()
    return community, homes


_seq = {"n": 0}


def make_bill(session: Session, household: Household, cents: int | list[int], *, period: str = "2026-10",
              due: date = date(2026, 10, 31), kind: str = "monthly") -> Bill:
    """A bill with one line per amount in ``cents`` (property fee, water, ...)."""
    amounts = cents if isinstance(cents, list) else [cents]
    _seq["n"] += 1
    community = session.get(Community, household.community_id)
    bill = Bill(number=f"{community.code}-{period.replace('-', '')}-{_seq['n']:06d}", community_id=community.id,
                household_id=household.id, period=period, kind=kind, status="open",
                amount_cents=sum(amounts), paid_cents=0, due_date=due)
    session.add(bill)
    session.flush()
    names = ["property_fee", "water", "parking"]
    for i, amount in enumerate(amounts):
        session.add(BillLine(bill_id=bill.id, item=names[i % 3], kind="charge",
                             description=f"{names[i % 3]} 费用 {i}", quantity=Decimal("1"),
                             unit_price=Decimal(amount) / 100, amount_cents=amount,
                             explanation={"formula": "fixed", "amount_cents": amount}))
    session.flush()
    return bill


def card_of(session: Session, household: Household) -> str:
    return session.scalar(select(Resident.card_number).where(Resident.household_id == household.id))
