"""Monthly consumption per meter, derived once from the good readings and stored.

Usage of a month = the sum of the increases between consecutive good readings, counting from
the last reading before the month (so no consumption falls between two months); a reading
marked ``replaced`` (a new meter) restarts the count instead of adding a negative step.
Re-deriving a month replaces its rows (the same readings give the same figures).

Derived per local day first (``energy_daily_usage``: the same increases, each counted on the
day of its later reading), a month being the sum of its days: the nightly run derives only the
days after the last complete one (``energy_derivation``, :func:`catch_up`), a late reading re-derives its meter's days
and months (:func:`refresh_late`).
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from app import clock
from app.db import utcnow
from app.domains.energy.models import (
    EnergyDailyUsage,
    EnergyDerivation,
    EnergyMeter,
    EnergyMonthlyUsage,
    EnergyReading,
)
from app.domains.energy.periods import bounds, previous
from app.localtime import from_local, offset
from app.platform.bulk import bulk_insert_dicts


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


#: one scan of a range of local days grouped by meter and day: per day its readings, the
#: increases whose later reading falls on it, the first reading of the range (to pair with the
#: reading before), the day's last reading (the next one falls on another day) and max − min
_DAYS_SQL = """
SELECT meter_id, day, count(*) AS n,
       sum(CASE WHEN prev IS NOT NULL AND source <> 'replaced' AND value >= prev THEN value - prev ELSE 0 END) AS inner_use,
       max(CASE WHEN prev IS NULL THEN value END) AS first_value,
       max(CASE WHEN prev IS NULL THEN source END) AS first_source,
       max(CASE WHEN next_day IS NULL OR next_day <> day THEN value END) AS last_value,
       max(value) - min(value) AS day_use
FROM (SELECT r.meter_id, r.value, r.source, {day} AS day, lag(r.value) OVER w AS prev, {next_day} AS next_day
      FROM energy_reading r JOIN energy_meter m ON m.id = r.meter_id
      WHERE m.community_id = :community AND r.at >= :start AND r.at < :end{meters}
      WINDOW w AS (PARTITION BY r.meter_id ORDER BY r.at)) d
GROUP BY meter_id, day
"""

_PLACES = Decimal("0.0001")
#: where the reading before a range is looked for first (most meters are read hourly)
BOUNDARY_WINDOW = timedelta(days=2)


def _dec(value) -> Decimal:
    if type(value) is Decimal and value.as_tuple().exponent == -4:  # PostgreSQL's numeric(18, 4): as is
        return value
    return Decimal(str(value)).quantize(_PLACES)


def _probe(session: Session, community_id: int, start, meter_ids=None, since=None) -> dict[int, Decimal | None]:
    before = select(EnergyReading.value).where(EnergyReading.meter_id == EnergyMeter.id, EnergyReading.at < start)
    if since is not None:
        before = before.where(EnergyReading.at >= since)
    before = before.order_by(EnergyReading.at.desc()).limit(1).correlate(EnergyMeter).scalar_subquery()
    q = select(EnergyMeter.id, before).where(EnergyMeter.community_id == community_id)
    if meter_ids is not None:
        q = q.where(EnergyMeter.id.in_(list(meter_ids)))
    return dict(session.execute(q).all())


def _boundary(session: Session, community_id: int, start, meter_ids=None) -> dict[int, Decimal | None]:
    """Per meter: its last good reading before ``start`` — one index probe per meter into the
    last two days' partition(s) (an unbounded probe descends every monthly partition before
    ``start``: minutes for 10,000 meters), then unbounded only for meters not read in them."""
    out = _probe(session, community_id, start, meter_ids, since=start - BOUNDARY_WINDOW)
    missing = [m for m, v in out.items() if v is None]
    if missing:
        out.update(_probe(session, community_id, start, missing))
    return out


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


def _replace(session: Session, community_id: int, period: str, out: list[dict],
             meter_ids: list[int] | None = None) -> None:
    q = delete(EnergyMonthlyUsage).where(EnergyMonthlyUsage.community_id == community_id,
                                         EnergyMonthlyUsage.period == period)
    if meter_ids:
        q = q.where(EnergyMonthlyUsage.meter_id.in_(meter_ids))
    session.execute(q)
    bulk_insert_dicts(session, EnergyMonthlyUsage.__table__, out)
    session.flush()


def day_start(day: date) -> datetime:
    return from_local(datetime.combine(day, time()))


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _day_boundary(session: Session, community_id: int, first: date, meter_ids: set[int]) -> dict[int, Decimal | None]:
    """Per meter: its last good reading before local day ``first`` — the stored end of the day
    before when that day is derived complete (one indexed read of the community's day), else
    (and for meters without a reading that day) from the readings (:func:`_boundary`)."""
    out: dict[int, Decimal | None] = {}
    done = complete_through(session, community_id)
    if done is not None and _as_date(done) >= first - timedelta(days=1):
        out = dict(session.execute(select(EnergyDailyUsage.meter_id, EnergyDailyUsage.end_value).where(
            EnergyDailyUsage.community_id == community_id, EnergyDailyUsage.day == first - timedelta(days=1))).all())
    missing = [m for m in meter_ids if m not in out]
    if missing:
        out.update(_boundary(session, community_id, day_start(first), missing))
    return out


def compute_days(session: Session, community_id: int, first: date, last: date,
                 meter_ids: list[int] | None = None) -> list[dict]:
    """The daily usage rows of local days ``first`` … ``last`` (every meter of the community, or
    ``meter_ids``), computed and not stored: ONE scan of the days' readings grouped by meter and
    local day, plus one index probe per meter for the reading before ``first``."""

    start, end = day_start(first), day_start(last + timedelta(days=1))
    minutes = int(offset(end).total_seconds() // 60)
    if session.connection().dialect.name == "postgresql":
        day, next_day = (f"date({at} + interval '{minutes} minutes')" for at in ("r.at", "lead(r.at) OVER w"))
    else:
        day, next_day = (f"date({at}, '{minutes:+d} minutes')" for at in ("r.at", "lead(r.at) OVER w"))
    meters = " AND r.meter_id IN ({})".format(", ".join(str(int(i)) for i in meter_ids)) if meter_ids else ""
    rows = session.execute(text(_DAYS_SQL.format(day=day, next_day=next_day, meters=meters)),
                           {"community": community_id, "start": start, "end": end}).all()
    if not rows:
        return []
    boundary = _day_boundary(session, community_id, first, {r[0] for r in rows})
    at = utcnow()
    out: list[dict] = []
    prev: dict[int, Decimal | None] = {}
    for meter_id, d, n, inner, first_value, first_source, last_value, day_use in sorted(
            rows, key=lambda r: (r[0], str(r[1]))):
        d = _as_date(d)
        before = prev[meter_id] if meter_id in prev else boundary.get(meter_id)
        before = _dec(before) if before is not None else None
        usage = _dec(inner or 0)
        if first_value is not None:  # the range's first reading of the meter: paired with the one before
            first_value = _dec(first_value)
            if before is not None and first_source != "replaced" and first_value >= before:
                usage += first_value - before
            if before is None:
                before = first_value
        last_value = _dec(last_value)
        prev[meter_id] = last_value
        out.append({"meter_id": meter_id, "day": d, "community_id": community_id, "start_value": before,
                    "end_value": last_value, "usage": usage, "day_use": _dec(day_use), "readings": int(n),
                    "derived_at": at})
    return out


def derive_days(session: Session, community_id: int, first: date, last: date,
                meter_ids: list[int] | None = None) -> list[dict]:
    """Derive local days ``first`` … ``last`` and store them (replacing those days' rows)."""
    out = compute_days(session, community_id, first, last, meter_ids)
    q = delete(EnergyDailyUsage).where(EnergyDailyUsage.community_id == community_id,
                                       EnergyDailyUsage.day >= first, EnergyDailyUsage.day <= last)
    if meter_ids:
        q = q.where(EnergyDailyUsage.meter_id.in_(meter_ids))
    session.execute(q)
    bulk_insert_dicts(session, EnergyDailyUsage.__table__, out)  # COPY on PostgreSQL
    return out


def _month_of(community_id: int, period: str, meters: dict, days: list[dict]) -> list[dict]:
    """A month's rows from its days (sorted by meter and day): usage and readings summed, the
    start of the first day, the end of the last — the same figures as one scan of the month."""
    out: dict[int, dict] = {}
    now = utcnow()
    for d in days:
        row = out.get(d["meter_id"])
        if row is None:
            meter = meters[d["meter_id"]]
            out[d["meter_id"]] = {"community_id": community_id, "meter_id": d["meter_id"], "unit_id": meter.unit_id,
                                  "building_id": meter.building_id, "period": period,
                                  "start_value": d["start_value"], "end_value": d["end_value"], "usage": d["usage"],
                                  "readings": d["readings"], "derived_at": now}
        else:
            row["end_value"] = d["end_value"]
            row["usage"] += d["usage"]
            row["readings"] += d["readings"]
    return list(out.values())


def _days_of(period: str) -> tuple[date, date]:
    year, month = int(period[:4]), int(period[5:7])
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    return date(year, month, 1), nxt - timedelta(days=1)


def _stored_days(session: Session, community_id: int, first: date, last: date,
                 meter_ids: list[int] | None = None) -> list[dict]:
    q = select(EnergyDailyUsage.meter_id, EnergyDailyUsage.day, EnergyDailyUsage.start_value,
               EnergyDailyUsage.end_value, EnergyDailyUsage.usage, EnergyDailyUsage.readings).where(
        EnergyDailyUsage.community_id == community_id, EnergyDailyUsage.day >= first, EnergyDailyUsage.day <= last)
    if meter_ids:
        q = q.where(EnergyDailyUsage.meter_id.in_(meter_ids))
    return [r._asdict() for r in session.execute(q.order_by(EnergyDailyUsage.meter_id, EnergyDailyUsage.day))]


def _meters(session: Session, community_id: int) -> dict[int, EnergyMeter]:
    return {m.id: m for m in session.scalars(select(EnergyMeter).where(EnergyMeter.community_id == community_id))}


def compose_month(session: Session, community_id: int, period: str, meter_ids: list[int] | None = None) -> int:
    """Store ``period``'s month rows (every meter, or ``meter_ids``) as the sums of its stored days."""
    first, last = _days_of(period)
    out = _month_of(community_id, period, _meters(session, community_id),
                    _stored_days(session, community_id, first, last, meter_ids))
    _replace(session, community_id, period, out, meter_ids)
    return len(out)


def derive_month_and_days(session: Session, community_id: int, period: str) -> dict[int, list[float]]:
    """A backfill's step: derive and store ``period``'s days and the month (their sums) from ONE
    scan of the month grouped by meter and local day, and return each meter's daily use (max −
    min per local day, the detection's history) — a year's backfill reads each reading once."""
    meters = _meters(session, community_id)
    if not meters:
        return {}
    first, last = _days_of(period)
    days = derive_days(session, community_id, first, last)
    _mark(session, community_id, first, last, clock.now())
    _replace(session, community_id, period, _month_of(community_id, period, meters, days))
    daily: dict[int, list[float]] = {}
    for d in days:
        daily.setdefault(d["meter_id"], []).append(float(d["day_use"]))
    return daily


def derive_month(session: Session, community_id: int, period: str) -> int:
    """Derive (or re-derive) ``period`` for every meter of the community and store it (its days
    and the month, replacing their rows); returns month rows written."""
    meters = _meters(session, community_id)
    if not meters:
        return 0
    first, last = _days_of(period)
    out = _month_of(community_id, period, meters, derive_days(session, community_id, first, last))
    _mark(session, community_id, first, last, clock.now())
    _replace(session, community_id, period, out)
    return len(out)


def complete_through(session: Session, community_id: int) -> date | None:
    """The last local day derived after it ended (every day before it too), or None."""
    return session.scalar(select(EnergyDerivation.complete_through).where(
        EnergyDerivation.community_id == community_id))


def _mark(session: Session, community_id: int, first: date, last: date, now: datetime) -> None:
    """Days ``first`` … ``last`` were just derived at ``now``: move the community's mark to the
    last of them that had ended, when they continue the derived days (or nothing was derived)."""
    from app.localtime import to_local

    ended = last if now >= day_start(last + timedelta(days=1)) else \
        min(last, to_local(now).date() - timedelta(days=1))  # the days of a month not over yet: up to yesterday
    if ended < first:
        return
    mark = session.get(EnergyDerivation, community_id)
    if mark is None:
        session.add(EnergyDerivation(community_id=community_id, complete_through=ended, derived_at=utcnow()))
    elif _as_date(mark.complete_through) >= first - timedelta(days=1) and ended > _as_date(mark.complete_through):
        mark.complete_through, mark.derived_at = ended, utcnow()
    session.flush()


def catch_up(session: Session, community_id: int, now: datetime) -> list[str]:
    """The nightly step: derive only the local days after the last one derived complete (derived
    after it ended) up to ``now``'s day, and store the months they fall in again as sums of their
    days. Before anything was derived, it starts at the previous month. Returns the months stored."""
    from app.localtime import to_local

    today = to_local(now).date()
    done = complete_through(session, community_id)
    first = _as_date(done) + timedelta(days=1) if done is not None else _days_of(previous(f"{today:%Y-%m}"))[0]
    if first > today:
        return []
    derive_days(session, community_id, first, today)
    _mark(session, community_id, first, today, now)
    periods = sorted({f"{first + timedelta(days=i):%Y-%m}" for i in range((today - first).days + 1)})
    for period in periods:
        compose_month(session, community_id, period)
    return periods


def refresh_late(session: Session, readings: list[dict]) -> list[dict]:
    """Good readings just stored for days already derived complete (a handheld reading entered
    after the round, a gateway's buffered batch): re-derive those meters' days from the
    reading's day on and their months, so ``energy_monthly_usage`` (tiered water bills, 公摊)
    is not left stale. Returns the months whose usage changed ({meter_id, community_id,
    period, before, after}); a meter of a month already billed is told to the accountant
    (``corrections.usage_changed``), the bill itself is never changed here."""
    from app.localtime import to_local

    earliest: dict[int, datetime] = {}
    for r in readings:
        if r["meter_id"] not in earliest or r["at"] < earliest[r["meter_id"]]:
            earliest[r["meter_id"]] = r["at"]
    if not earliest:
        return []
    # a day is derived for the whole community at once (a meter without readings that day has no row)
    community_of = dict(session.execute(select(EnergyMeter.id, EnergyMeter.community_id).where(
        EnergyMeter.id.in_(list(earliest)))).all())
    done = dict(session.execute(select(EnergyDerivation.community_id, EnergyDerivation.complete_through).where(
        EnergyDerivation.community_id.in_(set(community_of.values())))).all())
    late = {m: to_local(at).date() for m, at in earliest.items()
            if community_of.get(m) in done and to_local(at).date() <= _as_date(done[community_of[m]])}
    if not late:
        return []
    changes: list[dict] = []
    for meter in session.scalars(select(EnergyMeter).where(EnergyMeter.id.in_(list(late)))):
        first = late[meter.id]
        last = max(first, _as_date(session.scalar(select(func.max(EnergyDailyUsage.day)).where(
            EnergyDailyUsage.community_id == meter.community_id)) or first))
        periods = sorted({f"{first + timedelta(days=i):%Y-%m}" for i in range((last - first).days + 1)})
        before = dict(session.execute(select(EnergyMonthlyUsage.period, EnergyMonthlyUsage.usage).where(
            EnergyMonthlyUsage.meter_id == meter.id, EnergyMonthlyUsage.period.in_(periods))).all())
        derive_days(session, meter.community_id, first, last, [meter.id])
        for period in periods:
            compose_month(session, meter.community_id, period, [meter.id])
        after = dict(session.execute(select(EnergyMonthlyUsage.period, EnergyMonthlyUsage.usage).where(
            EnergyMonthlyUsage.meter_id == meter.id, EnergyMonthlyUsage.period.in_(periods))).all())
        changes += [{"meter_id": meter.id, "community_id": meter.community_id, "period": p,
                     "before": before.get(p), "after": after.get(p)}
                    for p in periods if before.get(p) != after.get(p)]
    if changes:
        from app.domains.energy.corrections import usage_changed

        usage_changed(session, changes, earliest)
    return changes


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
