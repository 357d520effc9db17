"""Allocation, partial payments, the overpayment rule, the prepaid balance, refunds,
gateway notifications (duplicate, forged, wrong amount, paid twice) — and after every
scenario the books balance."""
from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import func, select

from app.domains.dunning import ladder as dunning
from app.domains.fees import payments as pay
from app.domains.fees.gateways.sandbox import SandboxBank
from app.domains.fees.ledger import account_balance, ledger_problems
from app.domains.fees.models import GatewayNotification, Payment, Receipt
from app.engine.models import ProcessInstance
from app.platform.models import AuditEvent

from tests.support import fees_estate as fe


@pytest.fixture
def estate(session):
    return fe.make_estate(session, dunning=False)


def books(session):
    assert ledger_problems(session) == []


def test_partial_then_rest_oldest_first(session, estate):
    community, (home, *_) = estate
    old = fe.make_bill(session, home, 5000, period="2026-09", due=date(2026, 9, 30))
    new = fe.make_bill(session, home, 3000, period="2026-10")
    pay.record_offline_payment(session, household_id=home.id, bill_ids=[new.id, old.id], amount_cents=6000,
                               method="cash", actor="acc")
    assert (old.status, old.paid_cents, new.status, new.paid_cents) == ("paid", 5000, "partially_paid", 1000)
    books(session)
    pay.record_offline_payment(session, household_id=home.id, bill_ids=[new.id], amount_cents=2000,
                               method="bank_transfer", reference="BK001", actor="acc")
    assert new.status == "paid" and new.paid_at is not None
    assert account_balance(session, "cash") == 6000 and account_balance(session, "bank") == 2000
    assert session.scalar(select(func.count()).select_from(Receipt)) == 2
    books(session)


def test_overpayment_refused_unless_prepaid_chosen(session, estate):
    community, (home, *_) = estate
    bill = fe.make_bill(session, home, 5000)
    with pytest.raises(pay.PaymentError) as err:
        pay.record_offline_payment(session, household_id=home.id, bill_ids=[bill.id], amount_cents=5001,
                                   method="cash", actor="acc")
    assert err.value.code == "overpayment" and "50.00" in err.value.message("en")
    assert session.scalar(select(func.count()).select_from(Payment)) == 0 and bill.paid_cents == 0
    pay.record_offline_payment(session, household_id=home.id, bill_ids=[bill.id], amount_cents=8000,
                               method="cash", actor="acc", excess_to_prepaid=True)
    assert bill.status == "paid" and home.prepaid_balance_cents == 3000
    books(session)


@pytest.mark.parametrize("amount", [0, -5, 12.5, True])
def test_bad_amounts_refused(session, estate, amount):
    community, (home, *_) = estate
    bill = fe.make_bill(session, home, 5000)
    with pytest.raises(pay.PaymentError):
        pay.record_offline_payment(session, household_id=home.id, bill_ids=[bill.id], amount_cents=amount,
                                   method="cash", actor="acc")
    assert bill.paid_cents == 0
    books(session)


def test_other_households_bill_and_bank_without_reference_refused(session, estate):
    community, (home, other, _) = estate
    bill = fe.make_bill(session, other, 5000)
    with pytest.raises(pay.PaymentError) as err:
        pay.record_offline_payment(session, household_id=home.id, bill_ids=[bill.id], amount_cents=5000,
                                   method="cash", actor="acc")
    assert err.value.code == "wrong_household"
    with pytest.raises(pay.PaymentError) as err:
        pay.record_offline_payment(session, household_id=other.id, bill_ids=[bill.id], amount_cents=5000,
                                   method="bank_transfer", actor="acc")
    assert err.value.code == "reference_required"
    books(session)


def test_prepaid_balance_pays_new_bills_automatically(session, estate):
    community, (home, other, _) = estate
    pay.record_offline_payment(session, household_id=home.id, bill_ids=[], amount_cents=10000, method="cash",
                               actor="acc", excess_to_prepaid=True)
    assert home.prepaid_balance_cents == 10000
    b1 = fe.make_bill(session, home, 6000, period="2026-11", due=date(2026, 11, 30))
    b2 = fe.make_bill(session, home, 6000, period="2026-12", due=date(2026, 12, 31))
    b3 = fe.make_bill(session, other, 6000, period="2026-11", due=date(2026, 11, 30))
    applied = pay.apply_prepaid(session, [b1.id, b2.id, b3.id])
    assert [p.amount_cents for p in applied] == [10000]
    assert (b1.status, b2.status, b2.paid_cents, b3.status) == ("paid", "partially_paid", 4000, "open")
    assert home.prepaid_balance_cents == 0
    assert pay.apply_prepaid(session, [b1.id, b2.id, b3.id]) == []  # safe to call again
    assert session.scalar(select(func.count()).select_from(Receipt)) == 1  # no receipt for a prepaid application
    books(session)


def test_refund_from_prepaid_then_reopens_bill(session, estate):
    community, (home, *_) = estate
    bill = fe.make_bill(session, home, 5000)
    payment = pay.record_offline_payment(session, household_id=home.id, bill_ids=[bill.id], amount_cents=7000,
                                         method="cash", actor="acc", excess_to_prepaid=True)
    with pytest.raises(pay.PaymentError) as err:
        pay.refund(session, payment_id=payment.id, amount_cents=7001, reason="x", actor="acc")
    assert err.value.code == "refund_too_large"
    with pytest.raises(pay.PaymentError):
        pay.refund(session, payment_id=payment.id, amount_cents=100, reason="  ", actor="acc")
    pay.refund(session, payment_id=payment.id, amount_cents=2500, reason="多缴退回", actor="acc")
    assert home.prepaid_balance_cents == 0 and bill.status == "partially_paid" and bill.paid_cents == 4500
    assert account_balance(session, "cash") == 4500
    books(session)


def _order_and_notice(session, home, bills, txn="SBX1", amount=None):
    order = pay.create_order(session, household_id=home.id, bill_ids=[b.id for b in bills], gateway="sandbox",
                             actor="resident")
    bank = SandboxBank()
    token = bank.cashier_url(order.out_trade_no, order.amount_cents, "n", "r").split("t=", 1)[1]
    data = bank.read_token(order.out_trade_no, token)
    if amount is not None:
        data = {**data, "a": amount}
    headers, body = bank.signed_notification(data, txn)
    return order, headers, body


def test_callback_idempotent_forged_refused_wrong_amount_refused(session, estate):
    community, (home, *_) = estate
    bill = fe.make_bill(session, home, 5000)
    order, headers, body = _order_and_notice(session, home, [bill])
    forged = body.replace(b"SUCCESS", b"SUCCESS ")
    out = pay.handle_notification(session, "sandbox", headers, forged)
    assert (out.outcome, bill.paid_cents) == ("rejected", 0)
    bad_sig = {**headers, "X-Sandbox-Signature": "0" * 64}
    assert pay.handle_notification(session, "sandbox", bad_sig, body).outcome == "rejected"
    assert pay.handle_notification(session, "sandbox", headers, body).outcome == "accepted"
    assert pay.handle_notification(session, "sandbox", headers, body).outcome == "duplicate"
    assert bill.status == "paid" and order.status == "paid"
    assert session.scalar(select(func.count()).select_from(Payment)) == 1
    assert session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "payment.callback_rejected")) == 2
    _, headers2, body2 = _order_and_notice(session, home, [fe.make_bill(session, home, 100, period="2026-11")],
                                           txn="SBX2", amount=1)
    out = pay.handle_notification(session, "sandbox", headers2, body2)
    assert out.outcome == "rejected" and "amount" in out.reason
    assert [r.outcome for r in session.scalars(select(GatewayNotification).order_by(GatewayNotification.id))] == [
        "rejected", "rejected", "accepted", "duplicate", "rejected"]
    books(session)


def test_order_paid_at_counter_meanwhile_goes_to_prepaid(session, estate):
    community, (home, *_) = estate
    bill = fe.make_bill(session, home, 5000)
    order, headers, body = _order_and_notice(session, home, [bill])
    pay.record_offline_payment(session, household_id=home.id, bill_ids=[bill.id], amount_cents=5000,
                               method="cash", actor="acc")
    assert pay.handle_notification(session, "sandbox", headers, body).outcome == "accepted"
    assert home.prepaid_balance_cents == 5000 and bill.paid_cents == 5000  # never lost, never double-applied
    books(session)


def test_paid_bill_sends_payment_received_to_its_dunning_instance(session):
    community, (home, *_) = fe.make_estate(session)
    bill = fe.make_bill(session, home, 5000, due=date(2020, 1, 31))
    session.commit()
    [instance] = dunning.start_overdue(session, community_id=community.id)
    pay.record_offline_payment(session, household_id=home.id, bill_ids=[bill.id], amount_cents=2000,
                               method="cash", actor="acc")
    session.refresh(instance)
    assert instance.status != "completed"  # partly paid: dunning goes on
    pay.record_offline_payment(session, household_id=home.id, bill_ids=[bill.id], amount_cents=3000,
                               method="cash", actor="acc")
    session.commit()
    assert session.get(ProcessInstance, instance.id).status == "completed"
    books(session)


def test_notification_body_is_json_with_integer_cents(session, estate):
    community, (home, *_) = estate
    bill = fe.make_bill(session, home, 5000)
    _, headers, body = _order_and_notice(session, home, [bill])
    assert json.loads(body)["amount_cents"] == 5000
