"""Handheld reading (手持抄表) of meters without remote reading: one process per meter and
round (``bpmn/energy/handheld_reading.bpmn``); the technician's phone form shows the previous
reading and needs a photo of the dial.

The technician may give the time the dial was read (a paper round entered later; now by
default): it must lie after the meter's last reading and not in the future. A reading for a
day already derived re-derives the meter's days and months (``monthly.refresh_late``); a month
already billed is not changed on the bill, the accountants are told (``corrections``).

A reading lower than the last asks whether the meter was replaced; a reading far off the
meter's own history (more than ``FAR_FACTOR`` × its median daily use over the days since the
last reading) asks the technician to check the dial. Either way nothing is stored until the
technician confirms; a confirmed lower reading starts a new count (``source='replaced'``).
"""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from statistics import median

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import clock
from app.domains.energy.errors import EnergyError
from app.domains.energy.models import EnergyMeter, EnergyMonthlyUsage
from app.domains.energy.readings import Incoming, last_good, store
from app.localtime import from_local, local_format
from app.platform.audit import record

PROCESS_ID = "energy_handheld_reading"
FAR_FACTOR = 5
MIN_DAYS = Decimal("0.5")


def process_data(session: Session, meter: EnergyMeter) -> dict:
    prev = last_good(session, meter.id)
    return {"meter_id": meter.id, "meter_code": meter.code, "meter_name": meter.name, "meter_unit": meter.unit,
            "previous_value": f"{prev.value.normalize():f}" if prev else "—",
            "previous_at": local_format(prev.at) if prev else "—", "handheld_message": ""}


def start_round(session: Session, community_id: int, actor: str) -> int:
    """One reading task per handheld meter of the community that has none open."""
    from app.engine.models import ProcessInstance
    from app.platform.processes import start_process

    meters = session.scalars(select(EnergyMeter).where(EnergyMeter.community_id == community_id,
                                                       EnergyMeter.handheld.is_(True), EnergyMeter.active.is_(True))
                             .order_by(EnergyMeter.code)).all()
    started = 0
    for meter in meters:
        running = session.scalar(select(ProcessInstance.id).where(
            ProcessInstance.community_id == community_id, ProcessInstance.business_key == meter.code,
            ProcessInstance.process_id == PROCESS_ID,
            ProcessInstance.status.in_(("running", "waiting", "incident"))).limit(1))
        if running is None:
            start_process(session, community_id=community_id, process_id=PROCESS_ID, actor=actor,
                          business_key=meter.code, data=process_data(session, meter))
            started += 1
    return started


def _median_daily(session: Session, meter_id: int) -> Decimal | None:
    """The meter's median daily use over its derived months (usage / days with readings)."""
    rows = session.execute(select(EnergyMonthlyUsage.usage).where(EnergyMonthlyUsage.meter_id == meter_id)
                           .order_by(EnergyMonthlyUsage.period.desc()).limit(12)).scalars().all()
    daily = [Decimal(u) / 30 for u in rows if u is not None and u > 0]
    return Decimal(median(daily)) if daily else None


def _read_at(value, now: datetime) -> datetime | None:
    """The form's local reading time (ISO text or datetime) as stored UTC; None when not given."""
    if value in (None, ""):
        return None
    if not isinstance(value, datetime):
        try:
            value = datetime.fromisoformat(str(value).strip())
        except ValueError:
            raise EnergyError("bad_read_at") from None
    at = from_local(value.replace(tzinfo=None, second=0, microsecond=0))
    if at > now + timedelta(minutes=5):
        raise EnergyError("future_reading", at=local_format(at))
    return at


def submit(session: Session, meter_id: int, value, photos, actor: str, *, confirmed: bool = False,
           community_id: int | None = None, read_at=None) -> dict:
    """Check and store a handheld reading (no commit). Raises ``EnergyError`` (nothing
    written) with ``backwards`` / ``far_off`` when it needs the technician's confirmation.
    ``read_at``: the local time the dial was read when entered later (now by default)."""
    meter = session.get(EnergyMeter, meter_id)
    if meter is None or (community_id is not None and meter.community_id != community_id):
        raise EnergyError("no_meter")
    if not photos or not isinstance(photos, list) or not all(isinstance(p, dict) and p.get("sha256") for p in photos):
        raise EnergyError("photo_required")
    try:
        reading = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise EnergyError("bad_value") from None
    if not reading.is_finite() or reading < 0:
        raise EnergyError("bad_value")
    now = clock.now()
    given = _read_at(read_at, now)
    prev = last_good(session, meter.id)
    if given is not None:
        if prev is not None and given <= prev.at:
            raise EnergyError("before_last", at=local_format(given), previous_at=local_format(prev.at))
        now = given
    source = "handheld"
    if prev is not None and reading < prev.value:
        if not confirmed:
            raise EnergyError("backwards", value=f"{reading.normalize():f}", previous=f"{prev.value.normalize():f}",
                              at=local_format(prev.at))
        source = "replaced"
    elif prev is not None and not confirmed:
        days = max(Decimal((now - prev.at).total_seconds()) / 86400, MIN_DAYS)
        usual = _median_daily(session, meter.id)
        use = reading - prev.value
        if usual and use > usual * days * FAR_FACTOR:
            raise EnergyError("far_off", value=f"{reading.normalize():f}", days=f"{days:.1f}",
                              usage=f"{use.normalize():f} {meter.unit}", median=f"{usual:.3f} {meter.unit}")
    if prev is not None and prev.at >= now:
        now = prev.at + timedelta(seconds=1)
    store(session, [Incoming(meter.id, now, reading, source=source)])
    record(session, actor=actor, action="energy.handheld_reading", target_type="energy_meter", target_id=meter.code,
           community_id=meter.community_id,
           after={"value": str(reading), "source": source, "confirmed": confirmed,
                  "photos": [p["sha256"] for p in photos], "read_at": local_format(now)})
    return {"value": str(reading), "source": source}
