"""A handheld reading entered late for a month already derived: the meter's days and month are
derived again (the next bill reads the new figure); once the month is billed, the bill is not
changed — the accountant is told, with the bill, and an audit row keeps old and new usage
(SQLite and PostgreSQL)."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from app import clock
from app.domains.energy import handheld
from app.domains.energy.detection import analyse
from app.domains.energy.errors import EnergyError
from app.domains.energy.models import EnergyDailyUsage, EnergyMonthlyUsage
from app.domains.energy.monthly import compute_month
from app.domains.energy.readings import Incoming, store
from app.localtime import from_local
from app.platform.models import AuditEvent
from tests.support.energy_estate import build
from tests.support.repair_estate import make_user

PHOTO = [{"sha256": "b" * 64, "name": "dial.jpg", "size": 2048, "content_type": "image/jpeg"}]
NIGHT = from_local(datetime(2026, 11, 2, 1, 30))  # October derived by the nightly run of Nov 1/2


def _usage(session, meter_id, period="2026-10"):
    return session.scalar(select(EnergyMonthlyUsage.usage).where(EnergyMonthlyUsage.meter_id == meter_id,
                                                                 EnergyMonthlyUsage.period == period))


def _water_line(session, household_id):
    from app.domains.fees.models import Bill, BillLine

    return session.execute(select(Bill.number, BillLine.quantity, BillLine.amount_cents).join(
        BillLine, BillLine.bill_id == Bill.id).where(Bill.household_id == household_id, Bill.period == "2026-10",
                                                     BillLine.item == "water")).one()


def test_late_handheld_reading_rederives_the_month_and_an_issued_bill_is_corrected_visibly(session):
    from app.domains.fees import billing
    from app.domains.notifications.models import Notification

    estate = build(session, modules=("fees", "energy"))
    cid, meter, home = estate.community.id, estate.meters["w0"], estate.households[0]
    meter.handheld = True
    accountant = make_user(session, f"acc-{estate.community.code}", "Accountant", estate.community)
    store(session, [Incoming(meter.id, from_local(datetime(2026, 10, 1, 9, 0)), Decimal("1000"), source="handheld"),
                    Incoming(meter.id, from_local(datetime(2026, 10, 20, 9, 0)), Decimal("1100"), source="handheld")])
    clock.freeze(NIGHT)
    try:
        analyse(session, cid, NIGHT)  # the nightly run: October's days and month derived, final
        assert _usage(session, meter.id) == Decimal("100")

        # the paper round of Oct 30 entered on Nov 3: October is derived again for this meter
        clock.freeze(from_local(datetime(2026, 11, 3, 10, 0)))
        handheld.submit(session, meter.id, "1150", PHOTO, "tech", read_at="2026-10-30T10:00", community_id=cid)
        assert _usage(session, meter.id) == Decimal("150")
        assert {r["meter_id"]: r["usage"] for r in compute_month(session, cid, "2026-10")}[meter.id] == Decimal("150")
        assert session.scalar(select(EnergyDailyUsage.usage).where(
            EnergyDailyUsage.meter_id == meter.id, EnergyDailyUsage.day == datetime(2026, 10, 30).date())) \
            == Decimal("50")
        audit = session.scalars(select(AuditEvent).where(AuditEvent.action == "energy.usage_corrected",
                                                         AuditEvent.community_id == cid)).all()
        assert [(a.before["usage"], a.after["usage"], a.after["bills"]) for a in audit] == [("100", "150", [])]
        assert session.scalar(select(Notification.id).where(Notification.user_id == accountant.id)) is None

        # billed with the corrected figure
        billing.issue(session, cid, "2026-10", actor="accountant", accept_anomalies=True)
        number, quantity, cents = _water_line(session, home.id)
        assert Decimal(quantity) == Decimal("150")

        # another late reading of October after the bill: the bill stays, the accountant is told
        handheld.submit(session, meter.id, "1160", PHOTO, "tech", read_at="2026-10-31T18:00", community_id=cid)
        assert _usage(session, meter.id) == Decimal("160")
        assert _water_line(session, home.id) == (number, quantity, cents)
        audit = session.scalars(select(AuditEvent).where(AuditEvent.action == "energy.usage_corrected",
                                                         AuditEvent.community_id == cid)
                                .order_by(AuditEvent.id)).all()
        assert (audit[-1].before["usage"], audit[-1].after["usage"], audit[-1].after["bills"]) == \
            ("150", "160", [number])
        note = session.scalar(select(Notification).where(Notification.user_id == accountant.id))
        assert note.template == "energy.usage_corrected" and number in note.body and "150" in note.body \
            and "160" in note.body and meter.code in note.title
    finally:
        clock.reset()


def test_reading_time_must_follow_the_last_reading_and_not_be_in_the_future(session):
    estate = build(session)
    meter = estate.meters["w1"]
    meter.handheld = True
    store(session, [Incoming(meter.id, from_local(datetime(2026, 10, 20, 9, 0)), Decimal("50"), source="handheld")])
    clock.freeze(from_local(datetime(2026, 11, 3, 10, 0)))
    try:
        for when, code in (("2026-10-19T08:00", "before_last"), ("2026-11-04T08:00", "future_reading"),
                           ("30/10/2026", "bad_read_at")):
            with pytest.raises(EnergyError) as err:
                handheld.submit(session, meter.id, "60", PHOTO, "tech", read_at=when)
            assert err.value.code == code and err.value.message("zh") and err.value.message("en")
        assert session.scalar(select(EnergyMonthlyUsage.id)) is None
    finally:
        clock.reset()
