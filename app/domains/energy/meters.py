"""Energy meters: register a metering point with its role and check what its role needs."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domains.energy.errors import EnergyError
from app.domains.energy.models import KINDS, ROLES, EnergyMeter

UNITS = {"water": "m3", "electricity": "kWh"}


def register_meter(session: Session, community_id: int, code: str, *, name: str, kind: str, role: str,
                   device_id: int | None = None, building_id: int | None = None, unit_id: int | None = None,
                   master_id: int | None = None, handheld: bool = False) -> EnergyMeter:
    """Add a meter (or update the one with this code). A household meter needs its unit."""
    if kind not in KINDS or role not in ROLES:
        raise ValueError(f"kind must be one of {KINDS}, role one of {ROLES}")
    if role == "household" and unit_id is None:
        raise EnergyError("no_unit", meter=code)
    meter = session.scalar(select(EnergyMeter).where(EnergyMeter.community_id == community_id,
                                                     EnergyMeter.code == code))
    if meter is None:
        meter = EnergyMeter(community_id=community_id, code=code)
        session.add(meter)
    meter.name, meter.kind, meter.role, meter.unit = name, kind, role, UNITS[kind]
    meter.device_id, meter.building_id, meter.unit_id = device_id, building_id, unit_id
    meter.master_id, meter.handheld = master_id, handheld
    session.flush()
    return meter


def community_meters(session: Session, community_id: int) -> list[EnergyMeter]:
    return list(session.scalars(select(EnergyMeter).where(EnergyMeter.community_id == community_id,
                                                          EnergyMeter.active.is_(True))
                                .order_by(EnergyMeter.code)))
