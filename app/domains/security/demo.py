"""Demo: security enabled in 怡翠花园 (YC) with a registered plate, a day of hydrant readings
(the chart), a handled alert and door events."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import clock
from app.demo.modules import enable_for_demo
from app.domains.devices.models import Device
from app.domains.estate.models import Household
from app.domains.security.models import HydrantReading

ORDER = 50


def seed(session: Session) -> None:
    yc, _ = enable_for_demo(session, "security")
    if yc is None:
        return
    from app.domains.security import access_control, alerts

    household = session.scalar(select(Household).where(Household.code == "YC-1-101"))
    if household is not None:
        alerts.register_plate(session, yc.id, household.id, "京A12345")
    hydrant = session.scalar(select(Device).where(Device.community_id == yc.id,
                                                  Device.profile == "hydrant_pressure_sensor"))
    now = clock.now().replace(microsecond=0)
    if hydrant is not None and session.scalar(select(HydrantReading.id).where(
            HydrantReading.device_id == hydrant.id).limit(1)) is None:
        for i in range(48):  # every 30 minutes for a day, with a dip in the night
            at = now - timedelta(minutes=30 * (48 - i))
            mpa = Decimal("0.31") + Decimal((i * 7) % 5) / 100 - (Decimal("0.12") if 10 <= i <= 12 else 0)
            session.add(HydrantReading(community_id=yc.id, device_id=hydrant.id, mpa=mpa, battery=88, at=at))
    door = session.scalar(select(Device).where(Device.community_id == yc.id, Device.profile == "door_controller"))
    if door is not None and household is not None and household.residents:
        card = household.residents[0].card_number or "C0001"
        for i, (cred, granted) in enumerate([(card, True), ("UNKNOWN-42", False), (card, True)]):
            access_control.record_door_event(session, community_id=yc.id, device=door, device_code=door.address,
                                             event_key=f"demo-{i}", credential=cred, method="card",
                                             granted=granted, at=now - timedelta(hours=3 - i))
    session.flush()
