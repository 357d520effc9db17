"""Payment pages over the demo estate: resident bills and pay, the sandbox cashier, gateway
callbacks (with CSRF on), receipts and their public check, accountants, isolation."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from app.db import db
from app.domains.estate.models import Community, Household
from app.domains.fees.gateways.sandbox import SandboxBank
from app.domains.fees.ledger import ledger_problems
from app.domains.fees.models import (
    Bill,
    GatewayNotification,
    Payment,
    PaymentOrder,
    Receipt,
)


def _resident_bill(app):
    with app.app_context():
        home = db.session.scalar(select(Household).where(Household.code == "YC-1-101"))
        bill = db.session.scalar(select(Bill).where(Bill.household_id == home.id,
                                                    Bill.status.in_(("open", "partially_paid"))))
        return home.id, bill.id, bill.number


def _notification(app, out_trade_no, txn="SBXTEST0001", tamper=False):
    with app.app_context():
        order = db.session.scalar(select(PaymentOrder).where(PaymentOrder.out_trade_no == out_trade_no))
        bank = SandboxBank()
        token = bank.cashier_url(order.out_trade_no, order.amount_cents, "x", "y").split("t=", 1)[1]
        headers, body = bank.signed_notification(bank.read_token(out_trade_no, token), txn)
    if tamper:
        body = body.replace(b'"amount_cents": ', b'"amount_cents": 1')
    return headers, body


@pytest.fixture(scope="module")
def csrf_client(demo_app, demo_db_url):
    """A second app over the same database with CSRF ON (as in production)."""
    from app.settings import Settings
    from app.web import create_app

    app = create_app({"TESTING": True}, settings=Settings(database_url=demo_db_url,
                                                          var_dir=demo_app.config["ESTATEFLOW_SETTINGS"].var_dir,
                                                          secret_key="t" * 64))
    assert app.config["WTF_CSRF_ENABLED"] is True
    yield app.test_client()
    with app.app_context():
        db.session.remove()


def test_resident_pays_through_sandbox_and_callback_is_idempotent(demo_app, login, csrf_client):
    _, bill_id, number = _resident_bill(demo_app)
    client = login("resident_yc")
    page = client.get("/me/bills/")
    assert page.status_code == 200 and number in page.get_data(as_text=True)
    detail = client.get(f"/me/bills/{bill_id}")
    assert detail.status_code == 200 and "¥" in detail.get_data(as_text=True)

    response = client.post("/me/bills/pay", data={"bill_id": str(bill_id)})
    assert response.status_code == 302 and "/sandbox-pay/" in response.location
    cashier = client.get(response.location)
    assert cashier.status_code == 200 and 'id="sandbox-pay"' in cashier.get_data(as_text=True)
    out_trade_no = re.search(r"/sandbox-pay/([A-Z0-9]+)", response.location).group(1)

    # a forged callback (amount changed after signing) is refused and logged; nothing credited
    headers, body = _notification(demo_app, out_trade_no, tamper=True)
    forged = csrf_client.post("/pay/notify/sandbox", data=body, headers=headers)
    assert forged.status_code == 401
    # the genuine one, posted twice (gateways retry), credits once — CSRF on, no token needed
    headers, body = _notification(demo_app, out_trade_no)
    first = csrf_client.post("/pay/notify/sandbox", data=body, headers=headers)
    again = csrf_client.post("/pay/notify/sandbox", data=body, headers=headers)
    assert first.status_code == 200 and again.status_code == 200
    with demo_app.app_context():
        rows = list(db.session.scalars(select(GatewayNotification).order_by(GatewayNotification.id.desc())
                                       .limit(3)))[::-1]
        assert [r.outcome for r in rows] == ["rejected", "accepted", "duplicate"]
        assert "signature" in rows[0].reason and rows[1].out_trade_no == out_trade_no
        assert db.session.scalar(select(func.count()).select_from(Payment).where(
            Payment.reference == "SBXTEST0001")) == 1
        bill = db.session.get(Bill, bill_id)
        assert bill.status == "paid"
        receipt = db.session.scalar(select(Receipt).join(Payment, Payment.id == Receipt.payment_id)
                                    .where(Payment.reference == "SBXTEST0001"))
        assert ledger_problems(db.session) == []

    result = client.get(f"/me/bills/result/{out_trade_no}")
    assert 'data-status="paid"' in result.get_data(as_text=True)
    pdf = client.get(f"/me/bills/receipt/{receipt.number}.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    anonymous = demo_app.test_client()
    ok = anonymous.get(f"/receipts/verify?code={receipt.verification_code}")
    assert 'id="verify-ok"' in ok.get_data(as_text=True) and receipt.number in ok.get_data(as_text=True)
    bad = anonymous.get("/receipts/verify?code=0000-0000-0000-0000")
    assert 'id="verify-bad"' in bad.get_data(as_text=True)


def test_resident_cannot_pay_or_see_another_households_bill(demo_app, login):
    with demo_app.app_context():
        other = db.session.scalar(select(Bill).join(Household).where(Household.code != "YC-1-101")
                                  .order_by(Bill.id))
        other_id = other.id
    client = login("resident_yc")
    assert client.get(f"/me/bills/{other_id}").status_code == 404
    response = client.post("/me/bills/pay", data={"bill_id": str(other_id)}, follow_redirects=True)
    assert "不属于" in response.get_data(as_text=True)
    with demo_app.app_context():
        assert db.session.get(Bill, other_id).paid_cents == other.paid_cents


def test_accountant_cash_overpayment_refused_then_prepaid_and_refund(demo_app, login):
    with demo_app.app_context():
        bill = db.session.scalar(select(Bill).join(Household).where(
            Household.code != "YC-1-101", Bill.status == "open", Bill.community_id == Household.community_id)
            .order_by(Bill.id.desc()))
        hid, bid, owed = bill.household_id, bill.id, bill.outstanding_cents
        payments_before = db.session.scalar(select(func.count()).select_from(Payment))
    client = login("accountant_yc")
    over = f"{(owed + 1000) // 100}.{(owed + 1000) % 100:02d}"
    page = client.post(f"/payments/household/{hid}/record", data={"bill_id": str(bid), "amount": over,
                                                                   "method": "cash"}, follow_redirects=True)
    assert "超过" in page.get_data(as_text=True)
    with demo_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Payment)) == payments_before
    page = client.post(f"/payments/household/{hid}/record", data={"bill_id": str(bid), "amount": "abc",
                                                                   "method": "cash"}, follow_redirects=True)
    assert "金额须为" in page.get_data(as_text=True)
    page = client.post(f"/payments/household/{hid}/record",
                       data={"bill_id": str(bid), "amount": over, "method": "cash", "excess_to_prepaid": "y"},
                       follow_redirects=True)
    assert page.status_code == 200 and "¥10.00" in page.get_data(as_text=True)
    with demo_app.app_context():
        payment = db.session.scalar(select(Payment).where(Payment.household_id == hid).order_by(Payment.id.desc()))
        assert db.session.get(Bill, bid).status == "paid"
        assert db.session.get(Household, hid).prepaid_balance_cents == 1000
        pid = payment.id
    page = client.post(f"/payments/payment/{pid}/refund", data={"amount": "10.00", "reason": "多缴退回"},
                       follow_redirects=True)
    assert page.status_code == 200
    with demo_app.app_context():
        assert db.session.get(Household, hid).prepaid_balance_cents == 0
        assert db.session.get(Bill, bid).status == "paid"
        assert ledger_problems(db.session) == []


def test_accountant_isolated_to_own_community(demo_app, login):
    with demo_app.app_context():
        fx = db.session.scalar(select(Community.id).where(Community.code == "FX"))
        fx_home = db.session.scalar(select(Household.id).where(Household.community_id == fx))
    client = login("accountant_yc")
    assert client.get(f"/payments/household/{fx_home}").status_code == 404
    assert client.post(f"/payments/household/{fx_home}/record", data={"amount": "1", "method": "cash",
                                                                       "excess_to_prepaid": "y"}).status_code == 404
    assert login("resident_yc").get("/payments/").status_code in (302, 403)


def test_demo_collection_rate_and_one_dunning_instance(demo_app):
    from app.engine.models import ProcessInstance

    with demo_app.app_context():
        yc = db.session.scalar(select(Community.id).where(Community.code == "YC"))
        period = db.session.scalar(select(func.min(Bill.period)).where(Bill.community_id == yc))
        total = db.session.scalar(select(func.count()).select_from(Bill).where(
            Bill.community_id == yc, Bill.period == period))
        paid = db.session.scalar(select(func.count()).select_from(Bill).where(
            Bill.community_id == yc, Bill.period == period, Bill.status == "paid"))
        assert 0.6 <= paid / total <= 0.72
        assert db.session.scalar(select(func.count()).select_from(ProcessInstance).where(
            ProcessInstance.process_id == "dunning")) >= 1
