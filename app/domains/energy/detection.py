"""Finding what is wrong in the readings: per-meter measures computed in the database (one
window-function query for the last day; SQL chosen over pandas by measurement, see
``bench/energy.py`` ``night_min_pandas_vs_sql``), then the robust comparisons in Python.

Measures, each against a module setting:

- **leak**: the smallest flow between 2 and 5 a.m. (local) stays above the night threshold;
- **spike**: the last day's use above the meter's own median + k·MAD over the whole local days
  of the 28 before (stored daily figures; robust: one odd day does not move the median, unlike
  mean and standard deviation);
- **silent**: a remote meter with no reading for ``silent_hours``;
- **stuck**: a meter that normally moves shows one value for ``stuck_hours`` (in its good
  readings, or its newest readings were flagged ``stuck`` when stored);
- **loss**: a building's master meter above the sum of its sub-meters by more than the
  loss limit this month (and **sub_above_master** when the sub-meters exceed it);
- **lighting**: a public lighting meter drawing power between 10 a.m. and 3 p.m.

``analyse`` first derives the days since the last derived one (``monthly.catch_up``: the
nightly work grows with the new readings, not with the month), then only reads;
``findings.apply`` turns its result into findings and orders.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from statistics import median

import pandas as pd
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from app.domains.energy.models import EnergyFlaggedReading, EnergyMeter, EnergyReading
from app.localtime import offset, to_local

HISTORY_DAYS = 28
MAD_SCALE = 1.4826  # MAD → standard deviation of a normal distribution


@dataclass
class Detected:
    kind: str
    key: str
    meter_id: int | None
    building_id: int | None
    detail: dict = field(default_factory=dict)


def _settings(session: Session, community_id: int) -> dict:
    from app.platform.module_settings import module_settings

    return module_settings(session, community_id, "energy")


def _window(session: Session, ids: list[int], since: datetime, until: datetime) -> pd.DataFrame:
    rows = session.execute(select(EnergyReading.meter_id, EnergyReading.at, EnergyReading.value)
                           .where(EnergyReading.meter_id.in_(ids), EnergyReading.at >= since,
                                  EnergyReading.at < until)
                           .order_by(EnergyReading.meter_id, EnergyReading.at)).all()
    frame = pd.DataFrame(rows, columns=["meter_id", "at", "value"])
    if frame.empty:
        return frame.assign(rate=[], hours=[], local_hour=[], start_hour=[])
    frame["value"] = frame["value"].astype(float)
    frame["at"] = pd.to_datetime(frame["at"])
    grouped = frame.groupby("meter_id", sort=False)
    frame["delta"] = grouped["value"].diff()
    frame["hours"] = grouped["at"].diff().dt.total_seconds() / 3600
    frame["rate"] = frame["delta"] / frame["hours"]
    shift = pd.Timedelta(offset(until))
    local = frame["at"] + shift
    frame["local_hour"] = local.dt.hour + local.dt.minute / 60
    frame["start_hour"] = frame["local_hour"] - frame["hours"]
    return frame


_MEASURES_SQL = """
SELECT meter_id,
       min(CASE WHEN at >= :day_start AND rate IS NOT NULL AND start_hour >= 2 - 1e-6 AND local_hour <= 5 + 1e-6
                THEN rate END) AS night_min,
       avg(CASE WHEN at >= :day_start AND rate IS NOT NULL AND start_hour >= 10 - 1e-6 AND local_hour <= 15 + 1e-6
                THEN rate END) AS daylight_mean,
       max(CASE WHEN at >= :day_start THEN value END) - min(CASE WHEN at >= :day_start THEN value END) AS day_use,
       count(CASE WHEN at >= :stuck_start THEN 1 END) AS recent_n,
       max(CASE WHEN at >= :stuck_start THEN value END) AS recent_max,
       min(CASE WHEN at >= :stuck_start THEN value END) AS recent_min
FROM (SELECT meter_id, at, value, (value - prev) / hours AS rate, local_hour, local_hour - hours AS start_hour
      FROM (SELECT r.meter_id, r.at, r.value, lag(r.value) OVER w AS prev, {hours} AS hours, {local_hour} AS local_hour
            FROM energy_reading r JOIN energy_meter m ON m.id = r.meter_id
            WHERE m.community_id = :community AND m.active AND r.at >= :since AND r.at < :until
            WINDOW w AS (PARTITION BY r.meter_id ORDER BY r.at)) a) d
GROUP BY meter_id
"""
_DIALECT = {
    "postgresql": {"hours": "extract(epoch FROM r.at - lag(r.at) OVER w) / 3600",
                   "local_hour": "extract(epoch FROM (r.at + interval '{m} minutes')::time) / 3600"},
    # whole seconds (julianday's floating point puts 05:00 at 5.0000000037)
    "sqlite": {"hours": "(CAST(strftime('%s', r.at) AS INTEGER) - CAST(strftime('%s', lag(r.at) OVER w) AS INTEGER))"
                        " / 3600.0",
               "local_hour": "((CAST(strftime('%s', r.at) AS INTEGER) + {s}) % 86400) / 3600.0"},
}


def _window_measures(session: Session, community_id: int, now: datetime, stuck_h: int) -> dict[int, dict]:
    """Per meter, in ONE query computed by the database (chosen by measurement: 5–11× faster than
    reading the rows into pandas, see bench/RESULTS.md): the last day's night minimum flow and
    daylight mean rate, its use (max − min), and the readings of the last ``stuck_h`` hours."""
    minutes = int(offset(now).total_seconds() // 60)
    sql = _DIALECT["postgresql" if session.connection().dialect.name == "postgresql" else "sqlite"]
    query = text(_MEASURES_SQL.format(hours=sql["hours"], local_hour=sql["local_hour"].format(m=minutes, s=minutes * 60)))
    since = now - timedelta(hours=max(24, stuck_h))
    rows = session.execute(query, {"community": community_id, "since": since, "until": now,
                                   "day_start": now - timedelta(hours=24),
                                   "stuck_start": now - timedelta(hours=stuck_h)}).all()
    as_float = lambda v: None if v is None else float(v)  # noqa: E731
    return {r.meter_id: {"night_min": as_float(r.night_min), "daylight_mean": as_float(r.daylight_mean),
                         "day_use": as_float(r.day_use), "recent_n": int(r.recent_n or 0),
                         "recent_max": as_float(r.recent_max), "recent_min": as_float(r.recent_min)} for r in rows}


def _history(session: Session, community_id: int, now: datetime) -> dict[int, list[float]]:
    """Per meter, the stored daily use (max − min of the day's readings) of each whole local day
    between ``HISTORY_DAYS + 1`` days and 24 hours before ``now`` — read from
    ``energy_daily_usage`` (the nightly run derives each day once), not from the readings."""
    from app.domains.energy.models import EnergyDailyUsage
    from app.domains.energy.monthly import day_start

    since = now - timedelta(days=HISTORY_DAYS + 1)
    first = to_local(since).date()
    if day_start(first) < since:
        first += timedelta(days=1)
    last = to_local(now - timedelta(hours=24)).date() - timedelta(days=1)
    out: dict[int, list[float]] = {}
    for meter_id, use in session.execute(select(EnergyDailyUsage.meter_id, EnergyDailyUsage.day_use).where(
            EnergyDailyUsage.community_id == community_id, EnergyDailyUsage.day >= first,
            EnergyDailyUsage.day <= last)):
        out.setdefault(meter_id, []).append(float(use))
    return out


def analyse(session: Session, community_id: int, now: datetime, settings: dict | None = None) -> list[Detected]:
    settings = settings or _settings(session, community_id)
    meters = {m.id: m for m in session.scalars(select(EnergyMeter).where(
        EnergyMeter.community_id == community_id, EnergyMeter.active.is_(True)))}
    if not meters:
        return []
    from app.domains.energy.monthly import catch_up

    catch_up(session, community_id, now)  # the days since the last derived one, and their months
    found: list[Detected] = []
    stuck_h = int(settings["stuck_hours"])
    per_meter = _window_measures(session, community_id, now, stuck_h)

    # leak: night minimum flow (intervals lying inside 2–5 a.m. local)
    leak_limit = float(settings["leak_night_flow_m3_per_hour"])
    light_limit = float(settings["lighting_day_kwh_per_hour"])
    for meter_id, row in per_meter.items():
        m = meters.get(meter_id)
        low = row["night_min"]
        if m is not None and low is not None and m.kind == "water" and m.role in ("household", "public") \
                and low > leak_limit:
            found.append(Detected("leak", f"leak:{meter_id}", meter_id, m.building_id,
                                  {"min_night_flow": round(low, 4), "threshold": leak_limit, "unit": "m3/h"}))
    # lighting on in daylight (10:00–15:00 local)
    for meter_id, row in per_meter.items():
        m = meters.get(meter_id)
        mean = row["daylight_mean"]
        if m is not None and mean is not None and m.role == "lighting" and mean > light_limit:
            found.append(Detected("lighting", f"lighting:{meter_id}", meter_id, m.building_id,
                                  {"daylight_kwh_per_hour": round(mean, 3), "threshold": light_limit, "unit": "kWh/h"}))

    # spike and stuck need the meter's own history
    history = _history(session, community_id, now)
    k = float(settings["spike_mad_factor"])
    for meter_id, row in per_meter.items():
        today = row["day_use"]
        past = history.get(meter_id, [])
        if meter_id not in meters or today is None or len(past) < 7:
            continue
        med = median(past)
        mad = median([abs(x - med) for x in past])
        floor = max(mad * MAD_SCALE, 0.05 * med, 1e-6)
        limit = med + k * floor
        if today > limit and today > 1.5 * med:
            m = meters[meter_id]
            found.append(Detected("spike", f"spike:{meter_id}", meter_id, m.building_id,
                                  {"day_use": round(today, 3), "median": round(med, 3), "mad": round(mad, 3),
                                   "limit": round(limit, 3), "unit": m.unit}))
    for meter_id, row in per_meter.items():
        past = history.get(meter_id, [])
        if meter_id in meters and row["recent_n"] >= 3 and row["recent_max"] == row["recent_min"] \
                and past and median(past) > 0:
            m = meters[meter_id]
            found.append(Detected("stuck", f"stuck:{meter_id}", meter_id, m.building_id,
                                  {"value": row["recent_min"], "hours": stuck_h,
                                   "usual_day_use": round(median(past), 3), "unit": m.unit}))

    found.extend(_flagged_stuck(session, meters, now, {d.meter_id for d in found if d.kind == "stuck"}, stuck_h))

    # silent: remote meters without any reading for silent_hours (only those ever read)
    silent_h = int(settings["silent_hours"])
    remote = [i for i, m in meters.items() if m.device_id is not None and not m.handheld]
    if remote:
        last = dict(session.execute(select(EnergyReading.meter_id, func.max(EnergyReading.at))
                                    .where(EnergyReading.meter_id.in_(remote)).group_by(EnergyReading.meter_id)).all())
        for meter_id, at in session.execute(select(EnergyFlaggedReading.meter_id, func.max(EnergyFlaggedReading.at))
                                            .where(EnergyFlaggedReading.meter_id.in_(remote))
                                            .group_by(EnergyFlaggedReading.meter_id)).all():
            last[meter_id] = max(at, last.get(meter_id, at))
        for meter_id, at in last.items():
            if at < now - timedelta(hours=silent_h):
                m = meters[meter_id]
                found.append(Detected("silent", f"silent:{meter_id}", meter_id, m.building_id,
                                      {"last_reading": to_local(at).strftime("%Y-%m-%d %H:%M"), "hours": silent_h}))

    found.extend(losses(session, community_id, f"{to_local(now):%Y-%m}", meters, settings))
    return found


def _flagged_stuck(session: Session, meters: dict[int, EnergyMeter], now: datetime, known: set[int],
                   stuck_h: int) -> list[Detected]:
    """Meters whose newest reading of the last day was flagged ``stuck`` (none good since)."""
    flags = session.execute(select(EnergyFlaggedReading.meter_id, func.max(EnergyFlaggedReading.at),
                                   func.max(EnergyFlaggedReading.value))
                            .where(EnergyFlaggedReading.meter_id.in_(list(meters)),
                                   EnergyFlaggedReading.quality == "stuck",
                                   EnergyFlaggedReading.at >= now - timedelta(hours=24), EnergyFlaggedReading.at < now)
                            .group_by(EnergyFlaggedReading.meter_id)).all()
    flags = [f for f in flags if f[0] not in known]
    if not flags:
        return []
    good = dict(session.execute(select(EnergyReading.meter_id, func.max(EnergyReading.at))
                                .where(EnergyReading.meter_id.in_([f[0] for f in flags]), EnergyReading.at < now)
                                .group_by(EnergyReading.meter_id)).all())
    out = []
    for meter_id, at, value in flags:
        if good.get(meter_id) is None or good[meter_id] < at:
            m = meters[meter_id]
            out.append(Detected("stuck", f"stuck:{meter_id}", meter_id, m.building_id,
                                {"value": float(value), "hours": stuck_h, "flagged": True, "unit": m.unit}))
    return out


def losses(session: Session, community_id: int, period: str, meters: dict[int, EnergyMeter],
           settings: dict) -> list[Detected]:
    """Master meter vs the sum of its sub-meters for the month so far: the stored month, the sum
    of its stored days (``analyse`` has derived the days up to now first)."""
    from app.domains.energy.monthly import usage_of

    masters = [m for m in meters.values() if m.role == "master"]
    if not masters:
        return []
    usage = usage_of(session, community_id, period)
    limit = Decimal(str(settings["loss_rate_max_percent"]))
    out = []
    for master in masters:
        subs = [m for m in meters.values() if m.master_id == master.id]
        total = usage.get(master.id)
        if not subs or not total:
            continue
        sub_sum = sum((usage.get(s.id, Decimal(0)) for s in subs), Decimal(0))
        rate = ((total - sub_sum) / total * 100).quantize(Decimal("0.1"))
        detail = {"period": period, "master": str(total), "sub_meters": str(sub_sum), "loss_percent": str(rate),
                  "limit_percent": str(limit), "unit": master.unit, "count": len(subs)}
        if sub_sum > total:
            out.append(Detected("sub_above_master", f"sub_above_master:{master.id}:{period}", master.id,
                                master.building_id, detail))
        elif rate > limit:
            out.append(Detected("loss", f"loss:{master.id}:{period}", master.id, master.building_id, detail))
    return out
