"""Demo: fees in 怡翠花园 (YC) with one month issued.

* the fees module is enabled for YC with its default settings;
* the demo water meters ``WM-<building>-<unit>`` are linked to their units and have monthly
  readings; ``WM-1-202`` (the faulty one) stopped reporting, so last month's billing
  preview shows a missing-reading anomaly;
* a parking permit (YC-2-101) and a one-off repair charge (YC-3-102);
* the month two months back is issued on its billing day (the 1st of the next month, due 15
  days later), so by now it is overdue. The payments demo (``demo_payments.py``) then pays
  about 65% of it; last month is left for the accountant to preview and issue.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import clock
from app.domains.devices.models import Device
from app.domains.estate.models import Building, Community, Household, Unit
from app.domains.fees import billing
from app.domains.fees.models import Bill, FeeCharge, FeePermit
from app.modules.activation import enable_module
from app.modules.catalog import load_catalog
from app.modules.models import ModuleActivation
from app.settings import get_settings
from connectors.models import MeterReading

ORDER = 30
FAULTY_METER = "WM-1-202"


def _month_start(year: int, month: int) -> datetime:
    while month <= 0:
        year, month = year - 1, month + 12
    return datetime(year, month, 1)


def _period(start: datetime) -> str:
    return f"{start.year:04d}-{start.month:02d}"


def seed(session: Session) -> None:
    """Bills first, then the payments that bring last-but-one month to about 65%."""
    from app.domains.fees import demo_payments

    _seed_billing(session)
    session.flush()
    demo_payments.seed(session)


def _seed_billing(session: Session) -> None:
    catalog = load_catalog(get_settings().assets_dir)
    yc = session.scalar(select(Community).where(Community.code == "YC"))
    if yc is None or "fees" not in catalog.modules:
        return
    active = session.scalar(select(ModuleActivation).where(ModuleActivation.community_id == yc.id,
                                                           ModuleActivation.module_id == "fees"))
    if active is None:
        enable_module(session, catalog=catalog, community_id=yc.id, module_id="fees", actor="demo")
    elif not active.enabled:
        return  # someone switched fees off on purpose
    if session.scalar(select(func.count(Bill.id)).where(Bill.community_id == yc.id)):
        return  # already seeded
    today = clock.now()
    this_month = _month_start(today.year, today.month)
    months = [_month_start(today.year, today.month - k) for k in (3, 2, 1)]  # starts of P-3, P-2, P-1
    demo_period = _period(months[1])
    _link_meters(session, yc.id)
    _readings(session, yc.id, [*months, this_month])
    homes = dict(session.execute(select(Household.code, Household.id).where(Household.community_id == yc.id)).all())
    if "YC-2-101" in homes:
        session.add(FeePermit(community_id=yc.id, household_id=homes["YC-2-101"], item="parking",
                              reference="车位 B-08", quantity=1, start_period=_period(months[0])))
    if "YC-3-102" in homes:
        session.add(FeeCharge(community_id=yc.id, household_id=homes["YC-3-102"], item="one_off",
                              description="更换厨房水龙头（维修工单）", quantity=Decimal("1"),
                              unit_price=Decimal("45.00"), period=demo_period, created_by="demo"))
    session.flush()
    billing.issue(session, yc.id, demo_period, actor="accountant_yc", accept_anomalies=True,
                  issued_at=months[2].replace(hour=2))


def _link_meters(session: Session, community_id: int) -> None:
    """``WM-1-101`` → unit 101 of building 1 (the demo devices name their unit in the code)."""
    units = {(b, n): uid for b, n, uid in session.execute(
        select(Building.code, Unit.number, Unit.id).join(Unit, Unit.building_id == Building.id)
        .where(Building.community_id == community_id)).all()}
    for device in session.scalars(select(Device).where(Device.community_id == community_id,
                                                       Device.profile == "water_meter_dn20",
                                                       Device.unit_id.is_(None))):
        parts = device.code.split("-")
        if len(parts) == 3 and (parts[1], parts[2]) in units:
            device.unit_id = units[(parts[1], parts[2])]
    session.flush()


def _readings(session: Session, community_id: int, month_starts: list[datetime]) -> None:
    """A good reading an hour before each month start; the faulty meter stops two months back."""
    meters = session.scalars(select(Device).where(Device.community_id == community_id,
                                                  Device.profile == "water_meter_dn20",
                                                  Device.unit_id.is_not(None)).order_by(Device.code)).all()
    for n, meter in enumerate(meters):
        value = Decimal(120 + 37 * n)
        for k, start in enumerate(month_starts):
            if meter.code == FAULTY_METER and k >= 3:
                break
            value += Decimal(8 + (n * 3 + k * 5) % 9) + Decimal("0.25")
            session.add(MeterReading(device_id=meter.id, register="total", value=value, unit="m3",
                                     quality="good", at=start - timedelta(hours=1)))
    session.flush()
