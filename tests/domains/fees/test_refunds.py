"""Online refunds move the books only when the gateway confirms; a second payment for an
already-paid order is refunded automatically (or kept as prepaid, by setting); refund results
with a bad signature, amount or number move nothing. Ledger balanced in every test."""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from app import clock
from app.domains.fees import payments as pay
from app.domains.fees.gateways.settings import get_payment_settings
from app.domains.fees.ledger import ledger_problems
from app.domains.fees.models import GatewayNotification, Payment, Refund

from tests.domains.fees.gateway_fixtures import fake_alipay, fake_wechatpay
from tests.support import fees_estate as fe

T0 = datetime(2026, 11, 20, 9, 0)


@pytest.fixture
def wechat():
    clock.freeze(T0)
    try:
        with fake_wechatpay() as pair:
            yield pair
    finally:
        clock.reset()


@pytest.fixture
def alipay():
    clock.freeze(T0)
    try:
        with fake_alipay() as pair:
            yield pair
    finally:
        clock.reset()


def _paid(session, fake, gateway, cents=8500, code="RF"):
    community, (home, *_) = fe.make_estate(session, code, dunning=False)
    bill = fe.make_bill(session, home, cents)
    order = pay.create_order(session, household_id=home.id, bill_ids=[bill.id], gateway=gateway.name, actor="r")
    session.commit()
    if gateway.name == "wechatpay":
        gateway.native(order, notify_url="http://127.0.0.1:9/n")
        headers, body = fake.pay(order.out_trade_no, deliver=0)
    else:
        gateway.precreate(order, notify_url="http://127.0.0.1:9/n")
        headers, body = {}, urlencode(fake.pay(order.out_trade_no, deliver=0)).encode()
    assert pay.handle_notification(session, gateway.name, headers, body).outcome == "accepted"
    session.commit()
    return home, bill, order, session.get(Payment, order.payment_id)


def _refund_notice(fake, number, **kw):
    return fake.confirm_refund(number, deliver=0, **kw)


def test_wechat_refund_waits_for_the_refund_notification(session, wechat):
    fake, gateway = wechat
    home, bill, order, payment = _paid(session, fake, gateway)
    row = pay.request_refund(session, payment_id=payment.id, amount_cents=3000, reason="多收", actor="acc")
    session.commit()
    assert row.status == "pending" and bill.status == "paid" and payment.refunded_cents == 0
    assert fake.orders[order.out_trade_no].refunds[0]["amount"]["refund"] == 3000
    with pytest.raises(pay.PaymentError):  # the pending 30 yuan is spoken for
        pay.request_refund(session, payment_id=payment.id, amount_cents=6000, reason="再退", actor="acc")
    session.rollback()
    assert ledger_problems(session) == []

    headers, body = _refund_notice(fake, row.out_refund_no, refund_cents=2999)  # amount not what we asked
    assert pay.handle_notification(session, "wechatpay", headers, body).outcome == "rejected"
    headers, body = _refund_notice(fake, row.out_refund_no)
    tampered = body.replace(b'"ciphertext": "', b'"ciphertext": "A')
    assert pay.handle_notification(session, "wechatpay", headers, tampered).outcome == "rejected"
    session.commit()
    assert row.status == "pending" and payment.refunded_cents == 0

    assert pay.handle_notification(session, "wechatpay", headers, body).outcome == "accepted"
    session.commit()
    assert (row.status, payment.refunded_cents, bill.status) == ("done", 3000, "partially_paid")
    assert pay.handle_notification(session, "wechatpay", headers, body).outcome == "duplicate"  # WeChat's retry
    session.commit()
    assert payment.refunded_cents == 3000 and ledger_problems(session) == []
    reply = gateway.reply(True)
    assert (reply.status, reply.body) == (204, "")


def test_lost_refund_notification_is_asked_for_and_a_closed_refund_moves_nothing(session, wechat):
    fake, gateway = wechat
    home, bill, order, payment = _paid(session, fake, gateway)
    done = pay.request_refund(session, payment_id=payment.id, amount_cents=1000, reason="a", actor="acc")
    closed = pay.request_refund(session, payment_id=payment.id, amount_cents=500, reason="b", actor="acc")
    session.commit()
    _refund_notice(fake, done.out_refund_no)  # lost on the way
    fake.confirm_refund(closed.out_refund_no, deliver=0, status="CLOSED")
    clock.advance(timedelta(minutes=2))
    assert pay.chase_pending_refunds(session)["completed"] == []  # too young
    clock.advance(timedelta(minutes=10))
    chased = pay.chase_pending_refunds(session)
    session.commit()
    assert chased["completed"] == [done.out_refund_no] and chased["failed"] == [closed.out_refund_no]
    assert (done.status, closed.status, payment.refunded_cents) == ("done", "failed", 1000)
    assert ledger_problems(session) == []


def test_alipay_refund_is_booked_on_its_confirming_answer(session, alipay):
    fake, gateway = alipay
    home, bill, order, payment = _paid(session, fake, gateway, cents=5000, code="RA")
    row = pay.request_refund(session, payment_id=payment.id, amount_cents=5000, reason="退房", actor="acc")
    session.commit()
    assert (row.status, payment.refunded_cents, bill.status) == ("done", 5000, "open")
    assert fake.trades[order.out_trade_no].refunds == {row.out_refund_no: "50.00"}
    assert ledger_problems(session) == []


def test_refused_refund_is_failed_and_moves_nothing(session, alipay):
    fake, gateway = alipay
    home, bill, order, payment = _paid(session, fake, gateway, cents=5000, code="RR")
    fake.trades[order.out_trade_no].status = "TRADE_CLOSED"  # Alipay will refuse
    row = pay.request_refund(session, payment_id=payment.id, amount_cents=100, reason="x", actor="acc")
    session.commit()
    assert row.status == "failed" and payment.refunded_cents == 0 and bill.status == "paid"
    assert ledger_problems(session) == []


def _second_order_paid(session, fake, gateway, code):
    home, bill, first, payment = _paid(session, fake, gateway, cents=7000, code=code)
    # a second order was opened for the same bill before the first was paid, and is paid too
    from app.domains.fees.models import PaymentOrder

    second = PaymentOrder(community_id=first.community_id, household_id=home.id, gateway=gateway.name,
                          out_trade_no=pay.new_out_trade_no(), amount_cents=7000, status="created",
                          bill_ids=[bill.id], created_by="r", created_at=clock.now())
    session.add(second)
    session.commit()
    gateway.native(second, notify_url="http://127.0.0.1:9/n")
    headers, body = fake.pay(second.out_trade_no, deliver=0)
    assert pay.handle_notification(session, "wechatpay", headers, body).outcome == "accepted"
    session.commit()
    return home, bill, second, session.get(Payment, second.payment_id)


def test_second_payment_of_a_paid_bill_is_refunded_automatically(session, wechat):
    fake, gateway = wechat
    home, bill, second, payment = _second_order_paid(session, fake, gateway, "DP")
    assert payment.to_prepaid_cents == 7000  # the money arrived: recorded
    row = session.scalar(select(Refund).where(Refund.payment_id == payment.id))
    assert row.status == "pending" and fake.orders[second.out_trade_no].refunds
    assert home.prepaid_balance_cents == 7000
    assert pay.apply_prepaid(session, [fe.make_bill(session, home, 100, period="2026-11").id]) == []  # spoken for
    headers, body = _refund_notice(fake, row.out_refund_no)
    assert pay.handle_notification(session, "wechatpay", headers, body).outcome == "accepted"
    session.commit()
    assert (row.status, home.prepaid_balance_cents, payment.refunded_cents) == ("done", 0, 7000)
    assert bill.status == "paid" and ledger_problems(session) == []


def test_second_payment_kept_as_prepaid_by_setting(session, wechat, monkeypatch):
    monkeypatch.setattr(get_payment_settings(), "duplicate_payment", "prepaid")
    fake, gateway = wechat
    home, bill, second, payment = _second_order_paid(session, fake, gateway, "DK")
    assert session.scalar(select(Refund).where(Refund.payment_id == payment.id)) is None
    assert home.prepaid_balance_cents == 7000 and not fake.orders[second.out_trade_no].refunds
    assert ledger_problems(session) == []


def test_refund_notice_for_an_unknown_refund_is_refused(session, wechat):
    fake, gateway = wechat
    home, bill, order, payment = _paid(session, fake, gateway, code="RU")
    resource = {"mchid": "1900000001", "out_trade_no": order.out_trade_no, "out_refund_no": "RF-NOT-OURS",
                "refund_id": "50x", "refund_status": "SUCCESS", "amount": {"total": 8500, "refund": 8500}}
    headers, body = fake.callback("REFUND.SUCCESS", "refund", resource)
    outcome = pay.handle_notification(session, "wechatpay", headers, body)
    session.commit()
    assert outcome.outcome == "rejected" and "unknown refund" in outcome.reason
    assert payment.refunded_cents == 0 and ledger_problems(session) == []
    logged = session.scalars(select(GatewayNotification.outcome).where(
        GatewayNotification.reason.like("unknown refund%"))).all()
    assert logged == ["rejected"]
    assert json.loads(gateway.reply(False, outcome.reason).body)["code"] == "FAIL"
