"""Monthly consumption per meter, derived once from the good readings and stored.

Usage of a month = the sum of the increases between consecutive good readings, counting from
the last reading before the month (so no consumption falls between two months); a reading
marked ``replaced`` (a new meter) restarts the count instead of adding a negative step.
Re-deriving a month replaces its rows (the same readings give the same figures).
"""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import delete, insert, select, text
from sqlalchemy.orm import Session

from app.db import utcnow
from app.domains.energy.models import EnergyMeter, EnergyMonthlyUsage, EnergyReading
from app.domains.energy.periods import bounds


_MONTH_SQL = text("""
SELECT meter_id, count(*) AS n,
       sum(CASE WHEN prev IS NOT NULL AND source <> 'replaced' AND value >= prev THEN value - prev ELSE 0 END) AS inner_use,
       max(CASE WHEN prev IS NULL THEN value END) AS first_value,
       max(CASE WHEN prev IS NULL THEN source END) AS first_source,
       max(CASE WHEN nxt IS NULL THEN value END) AS last_value
FROM (SELECT r.meter_id, r.value, r.source,
             lag(r.value) OVER (PARTITION BY r.meter_id ORDER BY r.at) AS prev,
             lead(r.value) OVER (PARTITION BY r.meter_id ORDER BY r.at) AS nxt
      FROM energy_reading r JOIN energy_meter m ON m.id = r.meter_id
      WHERE m.community_id = :community AND r.at >= :start AND r.at < :end) d
GROUP BY meter_id
""")


_PLACES = Decimal("0.0001")


def _dec(value) -> Decimal:
    return Decimal(str(value)).quantize(_PLACES)


def derive_month(session: Session, community_id: int, period: str) -> int:
    """Derive (or re-derive) ``period`` for every meter of the community; returns rows written.

    One scan of the month's readings in the database (window functions, SQLite and
    PostgreSQL alike: on PostgreSQL only that month's partition is read) plus one index
    probe per meter for the last reading before the month."""
    start, end = bounds(period)
    meters = {m.id: m for m in session.scalars(select(EnergyMeter).where(EnergyMeter.community_id == community_id))}
    if not meters:
        return 0
    before = (select(EnergyReading.value).where(EnergyReading.meter_id == EnergyMeter.id, EnergyReading.at < start)
              .order_by(EnergyReading.at.desc()).limit(1).correlate(EnergyMeter).scalar_subquery())
    boundary = dict(session.execute(select(EnergyMeter.id, before)
                                    .where(EnergyMeter.community_id == community_id)).all())
    rows = session.execute(_MONTH_SQL, {"community": community_id, "start": start, "end": end}).all()
    session.execute(delete(EnergyMonthlyUsage).where(EnergyMonthlyUsage.community_id == community_id,
                                                     EnergyMonthlyUsage.period == period))
    out = []
    for meter_id, n, inner, first, first_source, last in rows:
        # SQLite computes in floating point: back to the column's 4 decimals
        first, last, inner = _dec(first), _dec(last), _dec(inner or 0)
        prev = boundary.get(meter_id)
        prev = _dec(prev) if prev is not None else None
        usage = inner
        if prev is not None and first_source != "replaced" and first >= prev:
            usage += first - prev
        out.append({"community_id": community_id, "meter_id": meter_id, "unit_id": meters[meter_id].unit_id,
                    "building_id": meters[meter_id].building_id, "period": period,
                    "start_value": prev if prev is not None else first, "end_value": last, "usage": usage,
                    "readings": int(n), "derived_at": utcnow()})
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
