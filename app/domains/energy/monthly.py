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


#: the same scan grouped by meter and local day: the month's figures and each day's use at once
_DAYS_SQL = """
SELECT meter_id, {day} AS day, count(*) AS n,
       sum(CASE WHEN prev IS NOT NULL AND source <> 'replaced' AND value >= prev THEN value - prev ELSE 0 END) AS inner_use,
       max(CASE WHEN prev IS NULL THEN value END) AS first_value,
       max(CASE WHEN prev IS NULL THEN source END) AS first_source,
       max(CASE WHEN nxt IS NULL THEN value END) AS last_value,
       max(value) - min(value) AS day_use
FROM (SELECT r.meter_id, r.at, r.value, r.source,
             lag(r.value) OVER (PARTITION BY r.meter_id ORDER BY r.at) AS prev,
             lead(r.value) OVER (PARTITION BY r.meter_id ORDER BY r.at) AS nxt
      FROM energy_reading r JOIN energy_meter m ON m.id = r.meter_id
      WHERE m.community_id = :community AND r.at >= :start AND r.at < :end) d
GROUP BY meter_id, {day}
"""

_PLACES = Decimal("0.0001")


def _dec(value) -> Decimal:
    return Decimal(str(value)).quantize(_PLACES)


def _boundary(session: Session, community_id: int, start) -> dict[int, Decimal | None]:
    """Per meter: its last good reading before ``start`` (one index probe per meter)."""
    before = (select(EnergyReading.value).where(EnergyReading.meter_id == EnergyMeter.id, EnergyReading.at < start)
              .order_by(EnergyReading.at.desc()).limit(1).correlate(EnergyMeter).scalar_subquery())
    return dict(session.execute(select(EnergyMeter.id, before).where(EnergyMeter.community_id == community_id)).all())


def _month_rows(community_id: int, period: str, meters: dict, boundary: dict, rows) -> list[dict]:
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
    return out


def compute_month(session: Session, community_id: int, period: str) -> list[dict]:
    """The month's usage rows of every meter of the community, computed and not stored (reads only).

    One scan of the month's readings in the database (window functions, SQLite and
    PostgreSQL alike: on PostgreSQL only that month's partition is read) plus one index
    probe per meter for the last reading before the month."""
    start, end = bounds(period)
    meters = {m.id: m for m in session.scalars(select(EnergyMeter).where(EnergyMeter.community_id == community_id))}
    if not meters:
        return []
    boundary = _boundary(session, community_id, start)
    rows = session.execute(_MONTH_SQL, {"community": community_id, "start": start, "end": end}).all()
    return _month_rows(community_id, period, meters, boundary, rows)


def _replace(session: Session, community_id: int, period: str, out: list[dict]) -> None:
    session.execute(delete(EnergyMonthlyUsage).where(EnergyMonthlyUsage.community_id == community_id,
                                                     EnergyMonthlyUsage.period == period))
    if out:
        session.execute(insert(EnergyMonthlyUsage), out)
    session.flush()


def derive_month_and_days(session: Session, community_id: int, period: str) -> dict[int, list[float]]:
    """A backfill's step: derive and store ``period`` like :func:`derive_month` and return each
    meter's daily use (max − min per local day, the detection's history) — from ONE scan of the
    month, grouped by meter and local day, so a year's backfill reads each reading once."""
    from app.localtime import offset

    start, end = bounds(period)
    meters = {m.id: m for m in session.scalars(select(EnergyMeter).where(EnergyMeter.community_id == community_id))}
    if not meters:
        return {}
    minutes = int(offset(end).total_seconds() // 60)
    day = (f"date(at + interval '{minutes} minutes')" if session.connection().dialect.name == "postgresql"
           else f"date(at, '{minutes:+d} minutes')")
    rows = session.execute(text(_DAYS_SQL.format(day=day)),
                           {"community": community_id, "start": start, "end": end}).all()
    per_meter: dict[int, list] = {}
    daily: dict[int, list[float]] = {}
    for meter_id, _day, n, inner, first, first_source, last, day_use in rows:
        agg = per_meter.get(meter_id)
        if agg is None:
            agg = per_meter[meter_id] = [meter_id, 0, 0, None, None, None]
        agg[1] += n
        agg[2] += inner or 0
        if first is not None:
            agg[3], agg[4] = first, first_source
        if last is not None:
            agg[5] = last
        daily.setdefault(meter_id, []).append(float(day_use))
    _replace(session, community_id, period,
             _month_rows(community_id, period, meters, _boundary(session, community_id, start), per_meter.values()))
    return daily


def derive_month(session: Session, community_id: int, period: str) -> int:
    """Derive (or re-derive) ``period`` for every meter of the community and store it (replacing
    the month's rows); returns rows written."""
    out = compute_month(session, community_id, period)
    _replace(session, community_id, period, out)
    return len(out)


def _stored(session: Session, community_id: int, period: str) -> list[dict]:
    return [r._asdict() for r in session.execute(select(
        EnergyMonthlyUsage.meter_id, EnergyMonthlyUsage.unit_id, EnergyMonthlyUsage.start_value,
        EnergyMonthlyUsage.end_value, EnergyMonthlyUsage.usage, EnergyMonthlyUsage.derived_at).where(
        EnergyMonthlyUsage.community_id == community_id, EnergyMonthlyUsage.period == period)).all()]


def month_rows(session: Session, community_id: int, period: str, *, store: bool = False) -> list[dict]:
    """The month's usage rows: the stored ones when derived after the month ended (derived
    once: the nightly run does it the night after), else computed now — and stored only with
    ``store`` (a preview or a page view writes nothing)."""
    _, end = bounds(period)
    stored = _stored(session, community_id, period)
    if stored and min(r["derived_at"] for r in stored) >= end:
        return stored
    if store:
        derive_month(session, community_id, period)
        return _stored(session, community_id, period)
    return compute_month(session, community_id, period)


def month_usage(session: Session, community_id: int, period: str, *, store: bool = False) -> dict[int, Decimal]:
    """meter id → usage of the month (:func:`month_rows`)."""
    return {r["meter_id"]: r["usage"] for r in month_rows(session, community_id, period, store=store)}


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


def _kind_of_profile(session: Session, community_id: int, profile: str) -> str | None:
    """The energy kind a fee item's meter profile measures: that of the community's energy
    meters on devices of the profile, else read from the profile's name."""
    from app.domains.devices.models import Device

    kinds = set(session.scalars(select(EnergyMeter.kind).join(Device, Device.id == EnergyMeter.device_id).where(
        EnergyMeter.community_id == community_id, Device.profile == profile)))
    if len(kinds) == 1:
        return kinds.pop()
    name = (profile or "").lower()
    return "water" if "water" in name else "electricity" if ("electric" in name or "power" in name) else None


def billing_usage(session: Session, community_id: int, period: str, meter_profile: str) -> list[dict] | None:
    """What fees' tiered usage items bill (energy enabled): per unit with household meters of
    the profile's kind, the month's derived usage (``energy_monthly_usage``, see
    :func:`month_rows`: computed in memory when not yet derived after the month ended, so a
    bill or its preview writes nothing here) with its start and end values; ``usage`` None
    where a meter has no reading in the month. None when the profile is no energy kind (fees then reads its own meter readings)."""
    kind = _kind_of_profile(session, community_id, meter_profile)
    if kind is None:
        return None
    start, end = bounds(period)
    meters = {m.id: m for m in session.scalars(select(EnergyMeter).where(
        EnergyMeter.community_id == community_id, EnergyMeter.kind == kind, EnergyMeter.role == "household",
        EnergyMeter.active.is_(True), EnergyMeter.unit_id.is_not(None)))}
    if not meters:
        return None
    by_meter = {r["meter_id"]: r for r in month_rows(session, community_id, period) if r["meter_id"] in meters}
    out: dict[int, dict] = {}
    for meter_id, meter in sorted(meters.items(), key=lambda kv: kv[1].code):
        row = by_meter.get(meter_id)
        unit = out.setdefault(meter.unit_id, {"unit_id": meter.unit_id, "meters": [], "start_value": None,
                                              "end_value": None, "usage": Decimal(0), "period_start": start,
                                              "period_end": end, "kind": kind, "unit": meter.unit})
        unit["meters"].append(meter.code)
        if row is None or unit["usage"] is None:
            unit["usage"] = None
            continue
        unit["usage"] += row["usage"]
        unit["start_value"] = row["start_value"] if unit["start_value"] is None else unit["start_value"] + row["start_value"]
        unit["end_value"] = row["end_value"] if unit["end_value"] is None else unit["end_value"] + row["end_value"]
    return list(out.values())
