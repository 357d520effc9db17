"""EV charging through the real broker and a simulated charger (SQLite and PostgreSQL): start
with a session id, energy metered from the reports (a lower report is ignored), stop by the
resident → the bill; a prepaid budget → the charger stops at it, paid from the prepaid
balance; a fault or a silent session → a repair work order. Permit holders and visitors with
a plate on their pass go through the gate."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from app import clock
from app.domains.estate.models import Household
from app.domains.fees.models import Bill
from app.domains.fees.payments import record_offline_payment
from app.domains.parking import charging, permits
from app.domains.parking.models import ChargingSession, PlateEvent
from app.domains.repair.models import RepairOrder
from app.domains.visitors import passes
from connectors.simulators.devices import SimulatedCharger, SimulatedGate

from .conftest import wait_for


def _session(factory, number):
    with factory() as s:
        return s.scalar(select(ChargingSession).where(ChargingSession.number == number))


def _start(factory, household_id, charger_id, mode="bill", budget=None):
    with factory() as s:
        cs = charging.start_session(s, household=s.get(Household, household_id), device_id=charger_id, mode=mode,
                                    budget_cents=budget, actor="resident_t")
        s.commit()
        return cs.number


def test_charge_stop_bill_budget_fault_and_silence(lot):
    factory, ids = lot["factory"], lot["ids"]
    home = ids["households"][0]
    charger = lot["sim"](SimulatedCharger, "chg-1")
    number = _start(factory, home, ids["charger"])
    assert charger.session == number  # charger.start carried the session id
    assert wait_for(lambda: _session(factory, number).status == "charging")
    charger.tick(0.5)
    charger.tick(0.5)
    assert wait_for(lambda: _session(factory, number).kwh == Decimal("7.000"))
    charger.publish_event("session", session_id=number, status="charging", kwh=2.0)  # a meter running backwards
    charger.publish_event("session", session_id="NOT-OURS", status="charging", kwh=1.0)
    with factory() as s:
        assert wait_for(lambda: lot["consumer"].inbox.stats["handled"] >= 5)
        cs = s.scalar(select(ChargingSession).where(ChargingSession.number == number))
        assert cs.kwh == Decimal("7.000")
        charging.stop_session(s, cs, reason="resident", actor="resident_t")
        s.commit()
        assert (cs.status, cs.stop_reason, cs.fee_cents) == ("finished", "resident", 840)  # 7 kWh x 1.20
        bill = s.scalar(select(Bill).where(Bill.number == cs.bill_number))
        assert (bill.kind, bill.amount_cents, bill.status) == ("charging", 840, "open")
        # a prepaid budget: 6.00 yuan = 5 kWh, the charger stops itself there
        record_offline_payment(s, household_id=home, bill_ids=[], amount_cents=1000, method="cash", actor="acc",
                               excess_to_prepaid=True)
        s.commit()
        try:
            charging.start_session(s, household=s.get(Household, home), device_id=ids["charger"], mode="prepaid",
                                   budget_cents=5000, actor="resident_t")
        except charging.ChargingError as exc:
            assert exc.code == "balance"
        s.rollback()
    prepaid = _start(factory, home, ids["charger"], mode="prepaid", budget=600)
    charger.tick(1.0)
    assert wait_for(lambda: _session(factory, prepaid).status == "finished")
    with factory() as s:
        cs = s.scalar(select(ChargingSession).where(ChargingSession.number == prepaid))
        assert (cs.stop_reason, cs.kwh, cs.fee_cents) == ("budget", Decimal("5.000"), 600)
        assert s.scalar(select(Bill.status).where(Bill.number == cs.bill_number)) in ("paid", "partially_paid")
        assert s.get(Household, home).prepaid_balance_cents < 1000
    # a fault: the session ends with what was metered and a repair order is opened
    broken = _start(factory, home, ids["charger"])
    charger.tick(0.1)
    charger.fault()
    assert wait_for(lambda: _session(factory, broken).status == "fault")
    assert _session(factory, broken).repair_order
    # silence: nothing reported for longer than the setting
    silent = _start(factory, home, ids["charger"])
    with factory() as s:
        cs = s.scalar(select(ChargingSession).where(ChargingSession.number == silent))
        cs.started_at = cs.last_report_at = clock.now() - timedelta(minutes=20)
        s.commit()
        assert charging.sweep_silent(s) == 1
        s.commit()
        assert (cs.status, cs.stop_reason) == ("silent", "silent") and cs.repair_order
        assert s.scalar(select(RepairOrder.category).where(RepairOrder.number == cs.repair_order)) == "electrical"


def test_permit_holders_and_visitors_with_a_plate_pass_the_gate(lot):
    factory, ids = lot["factory"], lot["ids"]
    with factory() as s:
        households = [s.get(Household, h) for h in ids["households"]]
        with pytest.raises(permits.PermitError) as waiting:  # the test estate has no spaces yet
            permits.buy_permit(s, household=households[0], plate="京G10001", kind="monthly", actor="resident_t")
        assert waiting.value.code == "waiting"
        s.commit()
    with factory() as s:
        from app.domains.parking.models import ParkingSpace

        s.add(ParkingSpace(community_id=ids["community"], code="P-1", kind="shared"))
        s.commit()
        permits.buy_permit(s, household=households[0], plate="京G10001", kind="monthly", actor="resident_t")
        passes.invite(s, household=households[1], visitor_name="访客", plate="京H 20002", hours=4,
                      actor="resident_t")
        s.commit()
    gate = lot["sim"](SimulatedGate, "gate-1")
    for plate, direction in (("京G10001", "in"), ("京H20002", "in"), ("京H20002", "out"), ("京G10001", "out")):
        gate.publish_event("plate", plate=plate, direction=direction, confidence=0.95, opened=False)

    def outcomes():
        with factory() as s:
            rows = [e.outcome for e in s.scalars(select(PlateEvent).order_by(PlateEvent.id))]
            return rows if len(rows) == 4 else None
    assert wait_for(outcomes) == ["permit", "visitor", "exit_free", "permit"]
    assert wait_for(lambda: gate.opened == 4)
