"""A WeChat Pay callback that never arrives: reconciliation asks the (fake, over HTTP) gateway,
credits the order once, closes the stale unpaid one — and the books balance throughout."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import func, select

from app import clock
from app.domains.fees import payments as pay
from app.domains.fees.gateways import _GATEWAYS, register_gateway
from app.domains.fees.gateways.fake_wechatpay import FakeWechatPay
from app.domains.fees.gateways.wechatpay_v3 import HttpxTransport, WechatPayV3Gateway
from app.domains.fees.ledger import ledger_problems
from app.domains.fees.models import Payment
from app.domains.fees.reconciliation import reconcile_pending_orders

from tests.support import fees_estate as fe

APIV3 = b"0123456789abcdef0123456789abcdef"
T0 = datetime(2026, 11, 20, 9, 0)


@pytest.fixture
def wechat():
    platform, merchant = (rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(2))
    with FakeWechatPay(mchid="1900000001", appid="wx1", apiv3_key=APIV3, platform_key=platform,
                       platform_serial="PUB_KEY_ID_01", merchant_public_key=merchant.public_key()) as fake:
        gateway = WechatPayV3Gateway(mchid="1900000001", appid="wx1", apiv3_key=APIV3,
                                     platform_keys={"PUB_KEY_ID_01": platform.public_key()}, merchant_key=merchant,
                                     merchant_serial="M1", transport=HttpxTransport(timeout=5), api_base=fake.url)
        saved = _GATEWAYS.get("wechatpay")
        register_gateway(gateway)
        yield fake, gateway
        if saved is not None:
            register_gateway(saved)
        else:
            _GATEWAYS.pop("wechatpay", None)


def test_lost_callback_settled_once_and_stale_order_closed(session, wechat):
    fake, gateway = wechat
    clock.freeze(T0)
    try:
        community, (home, other, _) = fe.make_estate(session, dunning=False)
        bill = fe.make_bill(session, home, 8500)
        unpaid_bill = fe.make_bill(session, other, 4000)
        paid_order = pay.create_order(session, household_id=home.id, bill_ids=[bill.id], gateway="wechatpay", actor="r")
        stale = pay.create_order(session, household_id=other.id, bill_ids=[unpaid_bill.id], gateway="wechatpay",
                                 actor="r")
        session.commit()
        for order in (paid_order, stale):
            gateway.native(order, notify_url="http://127.0.0.1:9/pay/notify/wechatpay")
        headers, body = fake.pay(paid_order.out_trade_no, deliver=0)  # paid; the callback is lost

        clock.advance(timedelta(minutes=2))
        early = reconcile_pending_orders(session)
        assert early.settled == [] and early.still_open == []  # too young to be chased

        clock.advance(timedelta(minutes=10))
        report = reconcile_pending_orders(session)
        session.commit()
        assert report.settled == [paid_order.out_trade_no] and report.still_open == [stale.out_trade_no]
        assert (bill.status, paid_order.status) == ("paid", "paid")
        assert ledger_problems(session) == []

        replayed = pay.handle_notification(session, "wechatpay", headers, body)  # 12 minutes old
        assert replayed.outcome == "rejected" and "replay" in replayed.reason
        headers, body = fake.callback("TRANSACTION.SUCCESS", "transaction",
                                      fake.transaction(fake.orders[paid_order.out_trade_no]))
        late = pay.handle_notification(session, "wechatpay", headers, body)  # WeChat's retry turns up after all
        session.commit()
        assert late.outcome == "duplicate"
        assert session.scalar(select(func.count()).select_from(Payment)) == 1

        clock.advance(timedelta(hours=3))
        closed = reconcile_pending_orders(session)
        session.commit()
        assert closed.closed == [stale.out_trade_no] and stale.status == "cancelled"
        assert fake.orders[stale.out_trade_no].state == "CLOSED" and unpaid_bill.status == "open"
        assert reconcile_pending_orders(session).settled == []  # nothing left to do
        assert ledger_problems(session) == []
    finally:
        clock.reset()


def test_the_flow_reconciles_only_the_communities_it_is_given(session, wechat, db_engine):
    """The fees module's schedule runs the flow per community: an order of another community is
    left for that community's run."""
    from workflows.payment_reconciliation import reconcile

    fake, gateway = wechat
    clock.freeze(T0)
    try:
        community, (home, *_) = fe.make_estate(session, "RA", dunning=False)
        other_community, (away, *_) = fe.make_estate(session, "RB", dunning=False, door=False)
        orders = []
        for household in (home, away):
            bill = fe.make_bill(session, household, 1200)
            orders.append(pay.create_order(session, household_id=household.id, bill_ids=[bill.id],
                                           gateway="wechatpay", actor="r"))
        session.commit()
        for order in orders:
            gateway.native(order, notify_url="http://127.0.0.1:9/n")
            fake.pay(order.out_trade_no, deliver=0)
        clock.advance(timedelta(minutes=10))
        outcome = reconcile(db_engine.url.render_as_string(hide_password=False), communities=["RA"])
        assert outcome["settled"] == [orders[0].out_trade_no]
        session.expire_all()
        assert [o.status for o in orders] == ["paid", "created"]
    finally:
        clock.reset()


def test_alipay_lost_notification_settled_and_unscanned_code_closed(session):
    """The same for Alipay: a paid trade whose notification is lost is credited once from the
    (signed) query answer; a QR code nobody scanned is no trade at Alipay, and is cancelled here."""
    from urllib.parse import urlencode

    from tests.domains.fees.gateway_fixtures import fake_alipay

    clock.freeze(T0)
    try:
        with fake_alipay() as (fake, gateway):
            community, (home, other, _) = fe.make_estate(session, "AR", dunning=False)
            bill, unscanned_bill = fe.make_bill(session, home, 8500), fe.make_bill(session, other, 4000)
            paid = pay.create_order(session, household_id=home.id, bill_ids=[bill.id], gateway="alipay", actor="r")
            never = pay.create_order(session, household_id=other.id, bill_ids=[unscanned_bill.id], gateway="alipay",
                                     actor="r")
            session.commit()
            for order in (paid, never):
                gateway.precreate(order, notify_url="http://127.0.0.1:9/pay/notify/alipay")
            fake.trades[never.out_trade_no].scanned = False
            form = fake.pay(paid.out_trade_no, deliver=0)
            clock.advance(timedelta(minutes=10))
            report = reconcile_pending_orders(session)
            session.commit()
            assert report.settled == [paid.out_trade_no] and report.still_open == [never.out_trade_no]
            assert report.failed == {}
            late = pay.handle_notification(session, "alipay", {}, urlencode(form).encode())
            assert late.outcome == "duplicate"
            clock.advance(timedelta(hours=3))
            closed = reconcile_pending_orders(session)
            session.commit()
            assert closed.closed == [never.out_trade_no] and never.status == "cancelled"
            assert (bill.status, unscanned_bill.status) == ("paid", "open")
            assert session.scalar(select(func.count()).select_from(Payment)) == 1
            assert ledger_problems(session) == []
    finally:
        clock.reset()
