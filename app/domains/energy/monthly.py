"""Monthly consumption per meter, derived once from the good readings and stored.

Usage of a month = the sum of the increases between consecutive good readings, counting from
the last reading before the month (so no consumption falls between two months); a reading
marked ``replaced`` (a new meter) restarts the count instead of adding a negative step.
Re-deriving a month replaces its rows (the same readings give the same figures).
"""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from app.domains.energy.models import EnergyMeter, EnergyMonthlyUsage, EnergyReading
from app.domains.energy.periods import bounds


def derive_month(session: Session, community_id: int, period: str) -> int:
    """Derive (or re-derive) ``period`` for every meter of the community; returns rows written."""
    start, end = bounds(period)
    meters = {m.id: m for m in session.scalars(select(EnergyMeter).where(EnergyMeter.community_id == community_id))}
    if not meters:
        return 0
    ids = list(meters)
    before = (select(EnergyReading.value).where(EnergyReading.meter_id == EnergyMeter.id, EnergyReading.at < start)
              .order_by(EnergyReading.at.desc()).limit(1).correlate(EnergyMeter).scalar_subquery())
    boundary = dict(session.execute(select(EnergyMeter.id, before).where(EnergyMeter.id.in_(ids))).all())
    rows = session.execute(select(EnergyReading.meter_id, EnergyReading.value, EnergyReading.source)
                           .where(EnergyReading.meter_id.in_(ids), EnergyReading.at >= start,
                                  EnergyReading.at < end)
                           .order_by(EnergyReading.meter_id, EnergyReading.at)).all()
    acc: dict[int, list] = {}
    for meter_id, value, source in rows:
        a = acc.get(meter_id)
        if a is None:
            prev = boundary.get(meter_id)
            a = acc[meter_id] = [prev if prev is not None else value, prev if prev is not None else value,
                                 Decimal(0), 0]
        if source != "replaced" and value >= a[1]:
            a[2] += value - a[1]
        a[1] = value
        a[3] += 1
    session.execute(delete(EnergyMonthlyUsage).where(EnergyMonthlyUsage.community_id == community_id,
                                                     EnergyMonthlyUsage.period == period))
    out = [{"community_id": community_id, "meter_id": m, "unit_id": meters[m].unit_id,
            "building_id": meters[m].building_id, "period": period, "start_value": a[0], "end_value": a[1],
            "usage": a[2], "readings": a[3]} for m, a in acc.items()]
    if out:
        session.execute(insert(EnergyMonthlyUsage), out)
    session.flush()
    return len(out)


def usage_of(session: Session, community_id: int, period: str) -> dict[int, Decimal]:
    """meter id → usage of the month (derived rows only)."""
    return dict(session.execute(select(EnergyMonthlyUsage.meter_id, EnergyMonthlyUsage.usage).where(
        EnergyMonthlyUsage.community_id == community_id, EnergyMonthlyUsage.period == period)).all())


def monthly_usage(session: Session, community_id: int, period: str, kind: str = "water") -> dict[int, Decimal]:
    """Unit id → the month's consumption of its household meters of ``kind`` (e.g. for tiered
    water). Derived on demand when the month has no rows yet."""
    q = (select(EnergyMonthlyUsage.unit_id, EnergyMonthlyUsage.usage)
         .join(EnergyMeter, EnergyMeter.id == EnergyMonthlyUsage.meter_id)
         .where(EnergyMonthlyUsage.community_id == community_id, EnergyMonthlyUsage.period == period,
                EnergyMeter.kind == kind, EnergyMeter.role == "household", EnergyMonthlyUsage.unit_id.is_not(None)))
    rows = session.execute(q).all()
    if not rows and derive_month(session, community_id, period):
        rows = session.execute(q).all()
    out: dict[int, Decimal] = {}
    for unit_id, usage in rows:
        out[unit_id] = out.get(unit_id, Decimal(0)) + usage
    return out
