"""Storing readings: good ones in ``energy_reading`` (billable), flagged ones apart.

A reading is judged against the meter's last good reading: below it is ``backwards``, a
negative or absurd value ``out_of_range``; with ``stuck_hours`` (the polling flow passes the
module setting) a remote meter that moved before and has shown the same value for that long
is ``stuck`` — its readings are flagged, not billed, until it moves again. The connector's own
flags (the profile's range) are kept as they came. Several readings of one meter at the same
instant keep the first.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from app.domains.energy.models import EnergyFlaggedReading, EnergyMeter, EnergyReading

#: a cumulative counter above this is not a real meter value (10^9 m3 or kWh)
MAX_VALUE = Decimal("1000000000")


@dataclass(frozen=True)
class Incoming:
    meter_id: int
    at: datetime
    value: Decimal | None
    quality: str = "good"  # the connector's verdict
    reason: str | None = None
    source: str = "iot"


def last_good(session: Session, meter_id: int, before: datetime | None = None) -> EnergyReading | None:
    q = select(EnergyReading).where(EnergyReading.meter_id == meter_id)
    if before is not None:
        q = q.where(EnergyReading.at < before)
    return session.scalars(q.order_by(EnergyReading.at.desc()).limit(1)).first()


def _last_values(session: Session, meter_ids: list[int]) -> dict[int, Decimal]:
    if not meter_ids:
        return {}
    latest = (select(EnergyReading.meter_id, func.max(EnergyReading.at).label("at"))
              .where(EnergyReading.meter_id.in_(meter_ids)).group_by(EnergyReading.meter_id).subquery())
    rows = session.execute(select(EnergyReading.meter_id, EnergyReading.value).join(
        latest, (EnergyReading.meter_id == latest.c.meter_id) & (EnergyReading.at == latest.c.at))).all()
    return {m: v for m, v in rows}


def _unchanged_since(session: Session, last: dict[int, Decimal]) -> dict[int, datetime]:
    """Per meter that moved before: when its last good value was first reached (a cumulative
    counter's equal values are the newest ones). Meters that never moved are left out."""
    if not last:
        return {}
    out: dict[int, datetime] = {}
    firsts = dict(session.execute(select(EnergyReading.meter_id, func.min(EnergyReading.at))
                                  .where(EnergyReading.meter_id.in_(list(last)))
                                  .group_by(EnergyReading.meter_id)).all())
    for meter_id, value in last.items():
        since = session.scalar(select(func.min(EnergyReading.at)).where(EnergyReading.meter_id == meter_id,
                                                                         EnergyReading.value == value))
        if since is not None and since > firsts.get(meter_id, since):
            out[meter_id] = since
    return out


def judge(value: Decimal | None, previous: Decimal | None) -> tuple[str, str | None]:
    if value is None:
        return "error", "no value"
    if value < 0 or value > MAX_VALUE:
        return "out_of_range", f"{value} is not a possible meter value"
    if previous is not None and value < previous:
        return "backwards", f"{value} is below the last good reading {previous}"
    return "good", None


def store(session: Session, incoming: Iterable[Incoming], stuck_hours: int | None = None) -> dict[str, int]:
    """Store a batch (no commit); returns counts by quality. Timeouts are not readings and
    are left to the device log. ``stuck_hours`` flags a remote meter's unchanged readings."""
    items = sorted(incoming, key=lambda r: (r.meter_id, r.at))
    previous = _last_values(session, sorted({r.meter_id for r in items}))
    since = _unchanged_since(session, previous) if stuck_hours else {}
    good: list[dict] = []
    flagged: list[dict] = []
    seen: set[tuple[int, datetime]] = set()
    counts: dict[str, int] = {}
    for r in items:
        if r.quality in ("timeout", "error") and r.value is None:
            continue
        # a confirmed meter replacement starts a new count: not 'backwards' against the old meter
        baseline = None if r.source == "replaced" else previous.get(r.meter_id)
        quality, reason = (r.quality, r.reason) if r.quality != "good" else judge(r.value, baseline)
        if stuck_hours and quality == "good" and r.source == "iot":
            if baseline is not None and r.value != baseline:
                since[r.meter_id] = r.at  # moved: a new value from now on (a first reading is no move)
            elif r.meter_id in since and r.at - since[r.meter_id] >= timedelta(hours=stuck_hours):
                quality = "stuck"
                reason = f"{r.value} unchanged since {since[r.meter_id]:%Y-%m-%d %H:%M} UTC (≥ {stuck_hours} h)"
        counts[quality] = counts.get(quality, 0) + 1
        if quality == "good":
            if (r.meter_id, r.at) in seen:
                continue
            seen.add((r.meter_id, r.at))
            good.append({"meter_id": r.meter_id, "at": r.at, "value": r.value, "quality": "good", "source": r.source})
            previous[r.meter_id] = r.value
        else:
            flagged.append({"meter_id": r.meter_id, "at": r.at, "value": r.value, "quality": quality,
                            "reason": (reason or quality)[:300], "source": r.source})
    if good:
        existing = set(session.execute(select(EnergyReading.meter_id, EnergyReading.at).where(
            EnergyReading.meter_id.in_({g["meter_id"] for g in good}),
            EnergyReading.at.in_({g["at"] for g in good}))).all())
        good = [g for g in good if (g["meter_id"], g["at"]) not in existing]
        if good:
            session.execute(insert(EnergyReading), good)
    if flagged:
        session.execute(insert(EnergyFlaggedReading), flagged)
    session.flush()
    if good:  # readings for days already derived: those meters' days and months again
        from app.domains.energy.monthly import refresh_late

        refresh_late(session, good)
    return counts


def store_polled(session: Session, community_id: int, readings: Iterable) -> dict[str, int]:
    """The meter polling flow's readings (``connectors.modbus.reader.Reading``), matched to
    this community's energy meters by device code; readings of devices that are no energy
    meter are ignored."""
    from app.domains.devices.models import Device

    from app.platform.module_settings import module_settings

    by_code = dict(session.execute(select(Device.code, EnergyMeter.id).join(
        EnergyMeter, EnergyMeter.device_id == Device.id).where(EnergyMeter.community_id == community_id)).all())
    stuck_hours = int(module_settings(session, community_id, "energy").get("stuck_hours") or 0) or None
    return store(session, [Incoming(by_code[r.device_code], r.at, r.value, r.quality, r.error)
                           for r in readings if r.device_code in by_code], stuck_hours=stuck_hours)


def series(session: Session, meter_id: int, since: datetime, until: datetime | None = None) -> list[tuple]:
    """(at, value) of a meter's good readings in a window, oldest first."""
    q = select(EnergyReading.at, EnergyReading.value).where(EnergyReading.meter_id == meter_id,
                                                            EnergyReading.at >= since)
    if until is not None:
        q = q.where(EnergyReading.at < until)
    return [tuple(r) for r in session.execute(q.order_by(EnergyReading.at)).all()]


def flagged_of(session: Session, meter_id: int, limit: int = 20) -> list[EnergyFlaggedReading]:
    return list(session.scalars(select(EnergyFlaggedReading).where(EnergyFlaggedReading.meter_id == meter_id)
                                .order_by(EnergyFlaggedReading.at.desc()).limit(limit)))
