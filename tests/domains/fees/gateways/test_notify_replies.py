"""Every callback fault over HTTP gets the reply its gateway expects and moves no money.

WeChat Pay: 204 (no body) when taken, JSON ``{"code": "FAIL"}`` otherwise — 401 for a signature,
serial or timestamp fault, 400 for an amount fault. Alipay: always HTTP 200 with the plain text
``success`` (taken) or ``fail`` (it will send again). Refund results alike. The ledger balances
after every one."""
from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select

from app import clock
from app.db import db
from app.domains.estate.models import Household
from app.domains.fees import payments as pay
from app.domains.fees.ledger import ledger_problems
from app.domains.fees.models import Bill, Payment

from tests.domains.fees.gateway_fixtures import fake_alipay, fake_wechatpay


@pytest.fixture
def client(demo_app):
    clock.reset()
    return demo_app.test_client()


def _order(app, gateway):
    with app.app_context():
        home = db.session.scalar(select(Household).where(Household.code == "YC-1-102"))
        from app.domains.fees.charges import charge_household

        import uuid

        bill = charge_household(db.session, community_id=home.community_id, household_id=home.id,
                                kind=f"n{uuid.uuid4().hex[:6]}", number=f"N-{uuid.uuid4().hex[:10]}",
                                item="property_fee", description="物业费", amount_cents=5000)
        order = pay.create_order(db.session, household_id=home.id, bill_ids=[bill.id], gateway=gateway.name,
                                 actor="t")
        db.session.commit()
        return order.out_trade_no, order.amount_cents, bill.id


def _money(app):
    with app.app_context():
        db.session.expire_all()
        return (db.session.scalar(select(func.count(Payment.id))), ledger_problems(db.session))


def test_wechatpay_callback_faults_get_wechat_replies(demo_app, client):
    with fake_wechatpay() as (fake, gateway):
        number, cents, bill_id = _order(demo_app, gateway)
        gateway.native(type("O", (), {"out_trade_no": number, "amount_cents": cents})(), notify_url="http://x/n")
        headers, body = fake.pay(number, deliver=0)
        before = _money(demo_app)

        def post(h, b):
            return client.post("/pay/notify/wechatpay", data=b, headers=h, content_type="application/json")

        faults = {
            "tampered": (headers, body.replace(b'"ciphertext": "', b'"ciphertext": "B')),
            "wrong serial": ({**headers, "Wechatpay-Serial": "PUB_KEY_ID_99"}, body),
            "no signature": ({k: v for k, v in headers.items() if k != "Wechatpay-Signature"}, body),
            "bad timestamp": ({**headers, "Wechatpay-Timestamp": "x"}, body),
        }
        for name, (h, b) in faults.items():
            reply = post(h, b)
            assert reply.status_code == 401, name
            assert json.loads(reply.data)["code"] == "FAIL", name
            assert _money(demo_app) == before, name
        clock.freeze(clock.now() + __import__("datetime").timedelta(minutes=10))
        try:
            reply = post(headers, body)  # 10 minutes old: a replay
            assert reply.status_code == 401 and _money(demo_app) == before
        finally:
            clock.reset()
        wrong = fake.transaction(fake.orders[number])
        wrong["amount"]["total"] = cents - 1
        h2, b2 = fake.callback("TRANSACTION.SUCCESS", "transaction", wrong)  # signed, wrong amount
        reply = post(h2, b2)
        assert reply.status_code == 400 and json.loads(reply.data)["code"] == "FAIL"
        assert _money(demo_app) == before

        reply = post(headers, body)
        assert (reply.status_code, reply.data) == (204, b"")
        assert post(headers, body).status_code == 204  # the retry: taken, credited once
        count, problems = _money(demo_app)
        assert count == before[0] + 1 and problems == []
        with demo_app.app_context():
            assert db.session.get(Bill, bill_id).status == "paid"


def test_alipay_notification_faults_get_success_or_fail_text(demo_app, client):
    with fake_alipay() as (fake, gateway):
        number, cents, bill_id = _order(demo_app, gateway)
        gateway.precreate(type("O", (), {"out_trade_no": number, "amount_cents": cents, "subject": "x"})(),
                          notify_url="http://x/n")
        form = fake.pay(number, deliver=0)
        before = _money(demo_app)

        def post(f):
            return client.post("/pay/notify/alipay", data=urlencode(f),
                               content_type="application/x-www-form-urlencoded")

        signed_wrong_amount = fake.notification(fake.trades[number], amount="49.99")
        faults = {
            "amount changed after signing": {**form, "total_amount": "0.01"},
            "no sign": {k: v for k, v in form.items() if k != "sign"},
            "forged sign": {**form, "sign": form["sign"][:-8] + "AAAAAAA="},
            "RSA1": {**form, "sign_type": "RSA"},
            "other app": {**form, "app_id": "2021999"},
            "bad notify_time": {**form, "notify_time": "yesterday"},
            "signed, wrong amount": signed_wrong_amount,
        }
        for name, f in faults.items():
            reply = post(f)
            assert (reply.status_code, reply.data, reply.mimetype) == (200, b"fail", "text/plain"), name
            assert _money(demo_app) == before, name
        assert post(form).data == b"success"
        assert post(form).data == b"success"  # Alipay's repeat: credited once
        count, problems = _money(demo_app)
        assert count == before[0] + 1 and problems == []
