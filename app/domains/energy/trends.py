"""Trends: monthly consumption per building and role (public vs household), and a meter's
daily use over the last days, from the derived monthly table and the readings."""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.domains.energy.models import EnergyMeter, EnergyMonthlyUsage, EnergyReading
from app.domains.estate.models import Building


def monthly_by_building(session: Session, community_id: int, kind: str, months: int = 12) -> list[dict]:
    """[{period, building, role, usage}] newest last; public = public + lighting meters."""
    rows = session.execute(
        select(EnergyMonthlyUsage.period, Building.name, EnergyMeter.role, func.sum(EnergyMonthlyUsage.usage))
        .join(EnergyMeter, EnergyMeter.id == EnergyMonthlyUsage.meter_id)
        .outerjoin(Building, Building.id == EnergyMeter.building_id)
        .where(EnergyMonthlyUsage.community_id == community_id, EnergyMeter.kind == kind)
        .group_by(EnergyMonthlyUsage.period, Building.name, EnergyMeter.role)
        .order_by(EnergyMonthlyUsage.period, Building.name)).all()
    periods = sorted({r[0] for r in rows})[-months:]
    out: dict[tuple, Decimal] = {}
    for period, building, role, usage in rows:
        if period in periods:
            key = (period, building or "—", "public" if role in ("public", "lighting") else role)
            out[key] = out.get(key, Decimal(0)) + Decimal(usage)
    return [{"period": p, "building": b, "role": r, "usage": u} for (p, b, r), u in sorted(out.items())]


def daily_use(session: Session, meter_id: int, until: datetime, days: int = 30) -> list[tuple[str, float]]:
    from app.domains.energy.days import local_day

    day = local_day(session)
    rows = session.execute(select(day, func.max(EnergyReading.value) - func.min(EnergyReading.value))
                           .where(EnergyReading.meter_id == meter_id, EnergyReading.at >= until - timedelta(days=days),
                                  EnergyReading.at < until)
                           .group_by(day).order_by(day)).all()
    return [(str(d), float(u)) for d, u in rows]
