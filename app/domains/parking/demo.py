"""Demo: parking enabled in 怡翠花园 (YC): twelve spaces (two fixed with the north gate's
charger), a monthly permit for 京A12345 (household YC-1-101, paid at the counter; the
simulated gate knows the plate), a visitor pass with a car, and yesterday's paid temporary ticket for the reports."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import clock
from app.demo.modules import enable_for_demo
from app.domains.devices.models import Device
from app.domains.estate.models import Household
from app.domains.parking.models import ParkingPermit, ParkingSpace, ParkingTicket
from app.localtime import local_today

ORDER = 70  # after fees (permits go on bills) and visitors


def seed(session: Session) -> None:
    yc, enabled = enable_for_demo(session, "parking")
    if yc is None or not enabled:
        return
    from app.domains.parking import permits

    charger = session.scalar(select(Device).where(Device.community_id == yc.id, Device.profile == "ev_charger"))
    for i in range(1, 13):
        fixed = i <= 2
        session.add(ParkingSpace(community_id=yc.id, code=f"P-{i:02d}", kind="fixed" if fixed else "shared",
                                 has_charger=fixed, charger_device_id=charger.id if fixed and charger else None))
    session.flush()
    household = session.scalar(select(Household).where(Household.code == "YC-1-101"))
    now = clock.now().replace(microsecond=0)
    if household is not None:
        # bought earlier and paid at the counter: the demo's bills (fees, dunning) stay as they are
        start = local_today().replace(day=1)
        session.add(ParkingPermit(number="PP-DEMO-0001", community_id=yc.id, household_id=household.id,
                                  plate="京A12345", space_id=None, kind="monthly", starts_on=start,
                                  ends_on=permits.period_end(start, "monthly"), price_cents=15000, status="active",
                                  created_by="demo", created_at=now))
    gate = session.scalar(select(Device).where(Device.community_id == yc.id, Device.profile == "barrier_gate"))
    session.add(ParkingTicket(number="PT-DEMO-0001", community_id=yc.id, plate="京C20481", status="paid",
                              kind="temporary", entry_device_id=gate.id if gate else None,
                              exit_device_id=gate.id if gate else None, entry_at=now - timedelta(days=1, hours=3),
                              exit_at=now - timedelta(days=1), fee_cents=1100, pay_token="demo-paid-ticket",
                              paid_at=now - timedelta(days=1), gate_status="ok", created_at=now - timedelta(days=1)))
