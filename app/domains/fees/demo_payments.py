"""Demo: 怡翠花园 collects about 65% of a past month's bills (online through the sandbox
gateway and in cash at the counter); the first open bill is left for the dunning demo, and
the resident ``resident_yc`` still owes, so the demo can pay it.

Uses the bills the billing demo issued when there are any; otherwise it issues one simple
month itself (floor area × the fees module's rate), so this file works on its own.
"""
from __future__ import annotations

import calendar
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import clock
from app.domains.estate.models import Community, Household, Resident, Unit
from app.domains.fees.models import Bill, BillLine, Payment
from app.modules.activation import enable_module
from app.modules.catalog import load_catalog
from app.modules.models import ModuleActivation
from app.settings import get_settings

TARGET_RATE = Decimal("0.65")


def _enabled(session: Session, community_id: int, module_id: str) -> bool:
    return bool(session.scalar(select(ModuleActivation.enabled).where(
        ModuleActivation.community_id == community_id, ModuleActivation.module_id == module_id)))


def _month_back(today: date, months: int) -> tuple[int, int]:
    y, m = today.year, today.month - months
    while m <= 0:
        y, m = y - 1, m + 12
    return y, m


def _issue_fallback_month(session: Session, yc: Community) -> None:
    """One month of property-fee bills, two months back, due 15 days after month end."""
    from app.modules.settings_schema import settings_from_json

    catalog = load_catalog(get_settings().assets_dir)
    row = session.scalar(select(ModuleActivation).where(ModuleActivation.community_id == yc.id,
                                                        ModuleActivation.module_id == "fees"))
    rate = Decimal(str(settings_from_json(catalog.modules["fees"], row.settings)["fee_rate_per_m2"]))
    y, m = _month_back(clock.now().date(), 2)
    period = f"{y}-{m:02d}"
    due = date(y, m, calendar.monthrange(y, m)[1]) + timedelta(days=15)
    homes = session.execute(select(Household, Unit.area_m2).join(Unit, Unit.id == Household.unit_id)
                            .where(Household.community_id == yc.id).order_by(Household.id)).all()
    for n, (home, area) in enumerate(homes, start=1):
        cents = int((Decimal(area) * rate * 100).quantize(Decimal("1"), rounding=ROUND_HALF_UP))
        bill = Bill(number=f"YC-{period.replace('-', '')}-{n:06d}", community_id=yc.id, household_id=home.id,
                    period=period, kind="monthly", status="open", amount_cents=cents, paid_cents=0, due_date=due)
        session.add(bill)
        session.flush()
        session.add(BillLine(bill_id=bill.id, item="property_fee", kind="charge",
                             description=f"物业费 {area}㎡ × {rate} 元/㎡/月", quantity=Decimal(area),
                             unit_price=rate, amount_cents=cents,
                             explanation={"formula": "area_m2 × rate", "area_m2": str(area), "rate": str(rate),
                                          "rounding": "to the fen, half up"}))
    session.flush()


def _pay_sandbox(session: Session, bill: Bill) -> None:
    """The real sandbox cycle minus the browser: order → signed notification → credited."""
    from app.domains.fees.gateways.sandbox import SandboxBank
    from app.domains.fees.payments import create_order, handle_notification

    order = create_order(session, household_id=bill.household_id, bill_ids=[bill.id], gateway="sandbox",
                         actor="demo")
    bank = SandboxBank()
    url = bank.cashier_url(order.out_trade_no, order.amount_cents, "demo://notify", "demo://return")
    token = url.split("t=", 1)[1]
    headers, body = bank.signed_notification(bank.read_token(order.out_trade_no, token),
                                             f"SBXDEMO{order.id:08d}")
    handle_notification(session, "sandbox", headers, body, remote_addr="demo")


def seed(session: Session) -> None:
    from app.domains.fees.payments import record_offline_payment

    catalog = load_catalog(get_settings().assets_dir)
    yc = session.scalar(select(Community).where(Community.code == "YC"))
    if yc is None or "fees" not in catalog.modules:
        return
    if not _enabled(session, yc.id, "fees"):
        enable_module(session, catalog=catalog, community_id=yc.id, module_id="fees", actor="demo")
    if session.scalar(select(func.count()).select_from(Payment).where(Payment.community_id == yc.id)):
        return  # already seeded
    if not session.scalar(select(func.count()).select_from(Bill).where(Bill.community_id == yc.id)):
        _issue_fallback_month(session, yc)
    period = session.scalar(select(func.min(Bill.period)).where(Bill.community_id == yc.id,
                                                                Bill.status.in_(("open", "partially_paid"))))
    if period is None:
        return
    bills = list(session.scalars(select(Bill).where(Bill.community_id == yc.id, Bill.period == period)
                                 .order_by(Bill.household_id, Bill.id)))
    resident_home = session.scalar(select(Resident.household_id).join(Household).where(
        Household.code == "YC-1-101"))
    keep_open = [b for b in bills if b.household_id == resident_home]
    candidates = [b for b in bills if b not in keep_open and b.status == "open"]
    if candidates:
        candidates.pop(0)  # stays unpaid: the dunning demo takes it (first open bill, not the resident's)
    target = int((TARGET_RATE * len(bills)).to_integral_value())
    already = sum(1 for b in bills if b.status == "paid")
    want = max(target - already, 0)
    ratio = Decimal(want) / Decimal(len(candidates)) if candidates else Decimal(0)
    # spread the paid ones evenly over the buildings (every building has some arrears)
    chosen = [b for i, b in enumerate(candidates)
              if int((i + 1) * ratio) > int(i * ratio)][:want]
    for n, bill in enumerate(chosen):
        if n % 2 == 0:
            _pay_sandbox(session, bill)
        else:
            record_offline_payment(session, household_id=bill.household_id, bill_ids=[bill.id],
                                   amount_cents=bill.outstanding_cents, method="cash", actor="accountant_yc")
    session.flush()
