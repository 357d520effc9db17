"""Saving measures: the before/after saving of a measure on a meter, measured.

Comparison: **the same number of days on either side** of the day the measure was done
(``days``, default 30; the day itself is left out, as work on it disturbs the readings).
Use per day = (the last good reading at the end of the window − the last good reading before
its start) / days; the saving in percent = (before − after) / before. Both sides must be
fully covered by readings (else the saving is ``None``, with the reason). The page shows the
readings behind each side, so anyone can redo the sum.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import clock
from app.domains.energy.models import EnergyMeasure, EnergyMeter
from app.domains.energy.readings import last_good
from app.localtime import from_local
from app.platform.audit import record


@dataclass
class Side:
    start: datetime
    end: datetime
    start_value: Decimal | None
    end_value: Decimal | None

    @property
    def use(self) -> Decimal | None:
        if self.start_value is None or self.end_value is None:
            return None
        return self.end_value - self.start_value


@dataclass
class Saving:
    before: Side
    after: Side
    days: int
    percent: Decimal | None
    reason: str | None = None


def add_measure(session: Session, community_id: int, meter_id: int, name: str, done_on: datetime, actor: str,
                days: int = 30) -> EnergyMeasure:
    from app.domains.energy.errors import EnergyError

    meter = session.get(EnergyMeter, meter_id)
    if meter is None or meter.community_id != community_id:
        raise EnergyError("no_meter")
    if not (name or "").strip():
        raise EnergyError("empty_description")
    row = EnergyMeasure(community_id=community_id, meter_id=meter_id, name=name.strip()[:200],
                        done_on=from_local(datetime(done_on.year, done_on.month, done_on.day)),
                        days=max(1, min(int(days), 366)), created_by=actor, created_at=clock.now())
    session.add(row)
    session.flush()
    record(session, actor=actor, action="energy.measure_added", target_type="energy_measure", target_id=row.id,
           community_id=community_id, after={"meter": meter.code, "name": row.name, "days": row.days})
    return row


def _value_at(session: Session, meter_id: int, at: datetime) -> Decimal | None:
    row = last_good(session, meter_id, before=at + timedelta(seconds=1))  # at or before the bound
    # the reading must be close to the bound (within a day), or the side is not covered
    return row.value if row is not None and at - row.at <= timedelta(days=1) else None


def saving(session: Session, measure: EnergyMeasure, now: datetime | None = None) -> Saving:
    now = now or clock.now()
    day = timedelta(days=1)
    d = timedelta(days=measure.days)
    before = Side(measure.done_on - d, measure.done_on, None, None)
    after = Side(measure.done_on + day, measure.done_on + day + d, None, None)
    for side in (before, after):
        if side.end <= now + timedelta(hours=1):
            side.start_value = _value_at(session, measure.meter_id, side.start)
            side.end_value = _value_at(session, measure.meter_id, side.end)
    if after.end > now + timedelta(hours=1):
        return Saving(before, after, measure.days, None, "after_running")
    if before.use is None or after.use is None:
        return Saving(before, after, measure.days, None, "not_covered")
    if before.use <= 0:
        return Saving(before, after, measure.days, None, "no_use_before")
    pct = ((before.use - after.use) / before.use * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return Saving(before, after, measure.days, pct)


def measures_of(session: Session, community_id: int) -> list[EnergyMeasure]:
    return list(session.scalars(select(EnergyMeasure).where(EnergyMeasure.community_id == community_id)
                                .order_by(EnergyMeasure.done_on.desc())))
