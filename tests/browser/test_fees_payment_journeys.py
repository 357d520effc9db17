"""Fee collection journeys in Chromium over the live demo (CSRF on, real HTTP callbacks).

1. A resident on a phone sees an overdue bill, pays through the sandbox gateway (cashier page,
   then the bank's signed notification over HTTP to our notify URL) → the bill shows paid, the
   receipt opens as a page (大写金额, payee), its PDF downloads and verifies on the public page → the bill's dunning instance ends.
2. Another household stays overdue → reminders fire on the controllable clock → front desk
   calls, the manager turns door suspension on, proposes and approves it → on the announced
   date the simulated door (real broker, own topic root) refuses the card → the accountant
   records the payment in cash → the door takes the card again at once.
"""
from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import clock
from app.engine import fire_due_timers
from app.engine.models import ProcessInstance
from app.domains.estate.models import Community, Household
from app.domains.dunning.models import DoorSuspension
from app.domains.fees.models import Bill
from app.domains.notifications.models import Notification
from app.domains.estate.models import Resident
from app.domains.security import door_access
from app.domains.dunning import ladder as dunning
from app.domains.fees.ledger import ledger_problems
from app.platform.processes import start_process


@pytest.fixture(autouse=True)
def _real_clock():
    clock.reset()
    yield
    clock.reset()


def resident_login(page: Page, base: str, username: str) -> None:
    """Residents land on their portal (/me/), not on the staff home the shared helper waits for."""
    page.goto(f"{base}/login/")
    page.fill("#username", username)
    page.fill("#password", "demo1234")
    with page.expect_navigation():
        page.click("form[name=login] [type=submit]")
    page.goto(f"{base}/me/")
    expect(page.locator("#resident-tiles")).to_be_visible()


def start_dunning(db: Session, bill: Bill) -> ProcessInstance:
    existing = dunning.instance_for(db, bill.number)
    if existing is not None:
        return existing
    instance = start_process(db, community_id=bill.community_id, process_id=dunning.PROCESS_ID, actor="test",
                             business_key=bill.number,
                             data=dunning.start_data(bill, db.get(Household, bill.household_id),
                                                     dunning.dunning_settings(db, bill.community_id)))
    db.commit()
    return instance


def sweep(db: Session) -> int:
    total = 0
    while True:
        db.expire_all()  # the live server changed instances since we last looked
        fired = fire_due_timers(db)
        db.commit()
        if not fired:
            return total
        total += fired


def test_resident_pays_on_phone_receipt_verifies_dunning_ends(phone_page: Page, live_server, login, db, browser):
    page, base = phone_page, live_server
    home = db.scalar(select(Household).where(Household.code == "YC-1-101"))
    bill = db.scalar(select(Bill).where(Bill.household_id == home.id, Bill.status.in_(("open", "partially_paid")))
                     .order_by(Bill.due_date))
    assert bill is not None and bill.due_date < dunning.local_today(), "the demo leaves resident_yc overdue"
    instance = start_dunning(db, bill)

    resident_login(page, base, "resident_yc")
    with page.expect_navigation():
        page.click("#tile-fees")
    card = page.locator(f".ef-bill[data-bill='{bill.number}']")
    expect(card).to_have_attribute("data-status", "open")
    with page.expect_navigation():
        card.locator("a.bill-detail").click()
    expect(page.locator("#bill-lines")).to_contain_text("物业费")
    page.go_back()
    with page.expect_navigation():
        page.click("#pay-button")
    assert "/sandbox-pay/" in page.url
    expect(page.locator("#cashier-amount")).to_contain_text(f"{bill.outstanding_cents // 100}.")
    with page.expect_navigation():
        page.click("#sandbox-pay")
    # back on our result page; the bank's signed notification arrives asynchronously
    expect(page.locator("#pay-result")).to_have_attribute("data-status", "paid", timeout=20_000)
    code = page.locator("#receipt-code").inner_text().strip()
    with page.expect_navigation():  # the receipt is a page (WeChat blocks downloads), the PDF a link on it
        page.click("#receipt-open")
    expect(page.locator("#receipt-capitals")).to_contain_text("人民币")
    expect(page.locator("#receipt-payee")).to_contain_text("宜居物业服务有限公司")
    with page.expect_download() as info:
        page.click("#receipt-pdf")
    pdf = info.value.path().read_bytes()
    assert pdf.startswith(b"%PDF") and len(pdf) > 1000
    with page.expect_navigation():
        page.click("#back-to-bills")
    expect(page.locator(f".ef-bill[data-bill='{bill.number}']")).to_have_attribute("data-status", "paid")

    anonymous = browser.new_context(locale="zh-CN").new_page()
    anonymous.goto(f"{base}/receipts/verify?code={code}")
    expect(anonymous.locator("#verify-ok")).to_contain_text("¥")
    anonymous.goto(f"{base}/receipts/verify?code={code[:-1]}{'0' if code[-1] != '0' else '1'}")
    expect(anonymous.locator("#verify-bad")).to_be_visible()
    anonymous.context.close()

    db.expire_all()
    assert db.get(ProcessInstance, instance.id).status == "completed"
    assert ledger_problems(db) == []


@pytest.fixture
def doors(db):
    """Every YC door controller simulated on the real broker under a unique topic root."""
    from connectors.mqtt.client import MqttConnector
    from connectors.simulators.devices import SimulatedDoor

    yc = db.scalar(select(Community.id).where(Community.code == "YC"))
    root = f"efjourney{uuid.uuid4().hex[:8]}"
    sims = {d.address: SimulatedDoor("YC", d.address, root=root).start()
            for d in door_access.suspension_doors(db, yc)}
    connector = MqttConnector("mqtt://127.0.0.1:1883", client_id=f"j-{root}", root=root, persistent=False).start()
    door_access.use_connector(connector)
    try:
        yield sims, connector
    finally:
        door_access.use_connector(None)
        connector.stop()
        for sim in sims.values():
            sim.stop()


def _do_task(page: Page, base: str, business_key: str, element_title: str, fill) -> None:
    page.goto(f"{base}/inbox/")
    task = page.locator(".ef-task", has=page.locator(".label-info", has_text=business_key)).filter(
        has_text=re.compile(element_title))
    expect(task).to_have_count(1)
    with page.expect_navigation():
        task.locator(".claim-btn").click()
    fill(page)
    with page.expect_navigation():
        page.click("button.ef-submit")
    expect(page.locator(".alert-success").first).to_be_visible()


def test_overdue_reminders_suspension_approved_door_refuses_payment_restores(page: Page, live_server, login,
                                                                              logout, db, doors):
    sims, connector = doors
    base = live_server
    yc = db.scalar(select(Community).where(Community.code == "YC"))
    dunned = {i.business_key for i in db.scalars(select(ProcessInstance).where(ProcessInstance.process_id == "dunning"))}
    bill = next(b for b in db.scalars(select(Bill).join(Household).where(
        Bill.community_id == yc.id, Bill.status == "open", Household.code != "YC-1-101",
        Household.elderly_alone.is_(False), Household.medical_exemption.is_(False),
        Household.disability_exemption.is_(False)).order_by(Bill.id))
        if b.number not in dunned and door_access.suspension_doors(db, yc.id, b.household_id))
    card = db.scalar(select(Resident.card_number).where(Resident.household_id == bill.household_id,
                                                        Resident.card_number.is_not(None)))
    own = door_access.suspension_doors(db, yc.id, bill.household_id)
    assert own, "the demo has a door controller at this household's building"
    for door in own:
        assert connector.send_command("YC", door.address, "grant", {"credential": card, "kind": "card"}).ok
    sim = sims[own[0].address]
    instance = start_dunning(db, bill)

    # reminders fire on the controllable clock (no sleeping)
    clock.freeze(dunning.at_local(bill.due_date + timedelta(days=31)))
    sweep(db)
    templates = set(db.scalars(select(Notification.template).where(Notification.household_id == bill.household_id)))
    assert {"dunning.reminder.first", "dunning.reminder.second", "dunning.reminder.final"} <= templates

    login(page, base, "frontdesk_yc")
    _do_task(page, base, bill.number, "电话催缴|Call household",
             lambda p: p.select_option("#f-call_outcome", "refused"))
    logout(page, base)

    login(page, base, "manager_yc")
    page.goto(f"{base}/modules/{yc.id}/dunning/settings")
    page.check("#setting-door_suspension_enabled")
    with page.expect_navigation():
        page.click("#save-settings")
    _do_task(page, base, bill.number, "欠费复核|Review arrears",
             lambda p: p.select_option("#f-decision", "propose_suspension"))
    suspend_on = dunning.local_today() + timedelta(days=7)

    def approve(p: Page) -> None:
        p.check("input[name=approve][value=yes]")
        p.fill("#f-suspend_on", suspend_on.isoformat())
        p.fill("#f-approval_note", "长期欠费，多次催缴无果")

    _do_task(page, base, bill.number, "审批暂停门禁|Approve door suspension", approve)
    logout(page, base)

    row = db.scalar(select(DoorSuspension).where(DoorSuspension.bill_number == bill.number))
    assert row is not None and row.status == "scheduled" and row.approved_by == "manager_yc"
    assert sim.present(card) is True  # announced, not yet in force
    clock.freeze(row.suspend_at + timedelta(minutes=1))
    sweep(db)
    db.expire_all()
    assert db.get(DoorSuspension, row.id).status == "active", db.get(ProcessInstance, instance.id).error
    assert sim.present(card) is False  # the door refuses the card

    login(page, base, "accountant_yc")
    page.goto(f"{base}/payments/household/{bill.household_id}")
    owed = db.get(Bill, bill.id).outstanding_cents
    page.locator(f".ef-bill[data-bill='{bill.number}'] input[name=bill_id]").check()
    page.fill("#amount", f"{owed // 100}.{owed % 100:02d}")
    with page.expect_navigation():
        page.click("#record-button")
    expect(page.locator(f".ef-bill[data-bill='{bill.number}']")).to_have_attribute("data-status", "paid")

    assert sim.present(card) is True  # restored at once
    db.expire_all()
    assert db.get(DoorSuspension, row.id).status == "restored"
    assert db.get(ProcessInstance, instance.id).status == "completed"
    assert ledger_problems(db) == []


# --- real gateways: WeChat Pay (JSAPI, Native) and Alipay (QR, wap) through local fakes --------------
APIV3 = b"0123456789abcdef0123456789abcdef"


def _rsa():
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def use_gateway(monkeypatch):
    """``use_gateway(gateway)``: the live server's residents pay through ``gateway`` (restored after)."""
    from app.domains.fees.gateways import _GATEWAYS, register_gateway
    from app.domains.fees.gateways.settings import get_payment_settings

    saved = dict(_GATEWAYS)

    def use(gateway):
        register_gateway(gateway)
        monkeypatch.setattr(get_payment_settings(), "gateway", gateway.name)
        return gateway

    yield use
    _GATEWAYS.clear()
    _GATEWAYS.update(saved)


@pytest.fixture
def wechat(use_gateway):
    from app.domains.fees.gateways.fake_wechatpay import FakeWechatPay
    from app.domains.fees.gateways.wechatpay_v3 import HttpxTransport, WechatPayV3Gateway

    platform, merchant = _rsa(), _rsa()
    with FakeWechatPay(mchid="1900000001", appid="wxd930ea5d5a258f4f", apiv3_key=APIV3, platform_key=platform,
                       platform_serial="PUB_KEY_ID_0114232134912410000000000000",
                       merchant_public_key=merchant.public_key()) as fake:
        use_gateway(WechatPayV3Gateway(
            mchid="1900000001", appid="wxd930ea5d5a258f4f", apiv3_key=APIV3,
            platform_keys={fake.platform_serial: platform.public_key()}, merchant_key=merchant,
            merchant_serial="MERCHANT01", transport=HttpxTransport(timeout=5), api_base=fake.url))
        fake.merchant = merchant
        yield fake


@pytest.fixture
def alipay(use_gateway):
    from app.domains.fees.gateways.alipay import AlipayGateway, HttpxFormTransport
    from app.domains.fees.gateways.fake_alipay import FakeAlipay

    app_key, alipay_key = _rsa(), _rsa()
    with FakeAlipay(app_id="2021000000000001", alipay_key=alipay_key, app_public_key=app_key.public_key()) as fake:
        fake.gateway = use_gateway(AlipayGateway(
            app_id="2021000000000001", private_key=app_key, alipay_keys={"": alipay_key.public_key()},
            transport=HttpxFormTransport(timeout=5), gateway_url=fake.url))
        yield fake


def _fresh_bill(db: Session, code: str = "YC-1-101", cents: int = 12_345) -> Bill:
    from app.domains.fees.charges import charge_household

    home = db.scalar(select(Household).where(Household.code == code))
    bill = charge_household(db, community_id=home.community_id, household_id=home.id, kind=f"t{uuid.uuid4().hex[:6]}",
                            number=f"T-{uuid.uuid4().hex[:10].upper()}", item="property_fee",
                            description="物业费 测试", amount_cents=cents)
    db.commit()
    return bill


def _checkout(page: Page, base: str, bill: Bill) -> str:
    """From my bills, pay only ``bill``; the checkout page's order number."""
    page.goto(f"{base}/me/bills/")
    for box in page.locator("#pay-form input[name=bill_id]").all():
        box.set_checked(box.get_attribute("value") == str(bill.id))
    with page.expect_navigation():
        page.click("#pay-button")
    expect(page.locator("#checkout-amount")).to_contain_text(f"{bill.amount_cents // 100}.")
    return page.locator("#checkout").get_attribute("data-out-trade-no")


def _receipt_after(page: Page, bill: Bill) -> str:
    """The page follows the order to the result once the callback has arrived; the receipt code."""
    expect(page.locator("#pay-result")).to_have_attribute("data-status", "paid", timeout=20_000)
    expect(page.locator(f".ef-bill[data-bill='{bill.number}']")).to_have_attribute("data-status", "paid")
    return page.locator("#receipt-code").inner_text().strip()


def test_resident_pays_through_fake_wechatpay_jsapi_then_native(phone_page: Page, live_server, db, wechat):
    import base64
    import json

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    from app.domains.fees.models import GatewayNotification, Receipt

    page, base = phone_page, live_server
    resident_login(page, base, "resident_yc")

    # a bound WeChat identity (the mini-program login, app/security/wechat_identity.py): JSAPI,
    # the signed wx.requestPayment parameters on the page
    from flask_appbuilder.security.sqla.models import User

    from app.security.wechat_identity import bind, unbind

    user_id = db.scalar(select(User.id).where(User.username == "resident_yc"))
    bind(db, user_id, appid="wxd930ea5d5a258f4f", openid="oUpF8uMuAJO_M2pxb1Q9zNjWeS6o")
    db.commit()
    bill = _fresh_bill(db)
    number = _checkout(page, base, bill)
    box = page.locator("#checkout")
    expect(box).to_have_attribute("data-kind", "jsapi")
    params = json.loads(box.get_attribute("data-jsapi"))
    assert params["appId"] == "wxd930ea5d5a258f4f" and params["package"].startswith("prepay_id=wx")
    message = f"{params['appId']}\n{params['timeStamp']}\n{params['nonceStr']}\n{params['package']}\n".encode()
    wechat.merchant.public_key().verify(base64.b64decode(params["paySign"]), message, padding.PKCS1v15(),
                                        hashes.SHA256())  # raises if the page's parameters are not ours
    assert wechat.orders[number].kind == "jsapi" and wechat.orders[number].amount_cents == bill.amount_cents
    wechat.pay(number)  # the payer confirms in WeChat; the fake sends the signed, encrypted callback
    code = _receipt_after(page, bill)
    db.expire_all()
    assert db.scalar(select(Receipt.amount_cents).where(Receipt.verification_code == code)) == bill.amount_cents

    assert "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o" not in page.content()  # the openid is never shown

    # unbound: a Native QR code to scan
    unbind(db, user_id, appid="wxd930ea5d5a258f4f")
    db.commit()
    bill = _fresh_bill(db, cents=6_600)
    number = _checkout(page, base, bill)
    expect(page.locator("#checkout")).to_have_attribute("data-kind", "qr")
    assert page.locator("#pay-qr").get_attribute("src").startswith("data:image/png;base64,")
    expect(page.locator("#qr-hint")).to_contain_text("微信")
    assert wechat.orders[number].kind == "native"
    wechat.pay(number, deliver=2)  # delivered twice: credited once
    _receipt_after(page, bill)
    db.expire_all()
    outcomes = sorted(db.scalars(select(GatewayNotification.outcome).where(GatewayNotification.out_trade_no == number)))
    assert outcomes == ["accepted", "duplicate"]
    assert ledger_problems(db) == []


def test_resident_pays_through_fake_alipay_qr_and_wap(phone_page: Page, live_server, db, alipay, monkeypatch,
                                                      browser):
    from app.domains.fees.models import GatewayNotification

    page, base = phone_page, live_server
    resident_login(page, base, "resident_yc")
    bill = _fresh_bill(db, cents=8_800)
    number = _checkout(page, base, bill)
    expect(page.locator("#checkout")).to_have_attribute("data-kind", "qr")
    expect(page.locator("#qr-hint")).to_contain_text("支付宝")
    assert alipay.trades[number].amount == "88.00"
    alipay.pay(number)  # scanned and paid; Alipay's signed form notification arrives
    _receipt_after(page, bill)

    monkeypatch.setattr(alipay.gateway, "wap", True)  # Alipay's phone cashier instead of a code
    bill = _fresh_bill(db, cents=4_321)
    # our CSP lets forms lead to https only (real Alipay); the fake cashier is plain http on 127.0.0.1
    context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844}, is_mobile=True,
                                  has_touch=True, bypass_csp=True)
    page = context.new_page()
    resident_login(page, base, "resident_yc")
    page.goto(f"{base}/me/bills/")
    for box in page.locator("#pay-form input[name=bill_id]").all():
        box.set_checked(box.get_attribute("value") == str(bill.id))
    with page.expect_navigation():
        page.click("#pay-button")
    expect(page.locator("#alipay-amount")).to_contain_text("43.21")
    with page.expect_navigation():
        page.click("#alipay-confirm")
    _receipt_after(page, bill)
    context.close()
    db.expire_all()
    assert ledger_problems(db) == []
    rows = db.scalars(select(GatewayNotification).where(GatewayNotification.gateway == "alipay")).all()
    assert {r.outcome for r in rows} == {"accepted"}


def test_lost_callback_settled_refund_completes_on_notification_statement_mismatch_shown(
        phone_page: Page, page: Page, live_server, login, db, demo_db_url, wechat):
    """A resident pays by Native QR but WeChat's callback never comes: the reconciliation run
    settles it and the resident's page shows the receipt. The accountant refunds part of it online:
    pending until WeChat's refund notification reaches us, then booked. The day's trade bill has
    one deliberate mismatch: the accountant sees it on the statements page, in Chinese."""
    from app.domains.fees.models import Payment, PaymentOrder, Refund
    from app.domains.fees.reconciliation import reconcile_pending_orders
    from app.localtime import local_today
    from workflows.payment_statement import statement

    resident, base = phone_page, live_server
    resident_login(resident, base, "resident_yc")
    bill = _fresh_bill(db, cents=9_900)
    number = _checkout(resident, base, bill)
    wechat.pay(number, deliver=0)  # paid in WeChat; the callback is lost
    expect(resident.locator("#pay-waiting")).to_be_visible()
    db.expire_all()
    report = reconcile_pending_orders(db, after_minutes=0)  # what the 5-minute flow does
    db.commit()
    assert report.settled == [number]
    _receipt_after(resident, bill)

    order = db.scalar(select(PaymentOrder).where(PaymentOrder.out_trade_no == number))
    payment = db.get(Payment, order.payment_id)
    login(page, base, "accountant_yc")
    page.goto(f"{base}/payments/household/{payment.household_id}")
    row = page.locator(f"tr[data-payment='{payment.id}']")
    row.locator("input[name=amount]").fill("10.00")
    row.locator("input[name=reason]").fill("多收 10 元")
    with page.expect_navigation():
        row.locator("button[type=submit]").click()
    expect(page.locator(".alert-info")).to_contain_text("渠道确认后入账")
    db.expire_all()
    refund = db.scalar(select(Refund).where(Refund.payment_id == payment.id))
    assert refund.status == "pending" and db.get(Payment, payment.id).refunded_cents == 0
    expect(page.locator(f"li[data-refund='{refund.id}']")).to_have_attribute("data-status", "pending")
    wechat.confirm_refund(refund.out_refund_no)  # WeChat's signed refund notification to our notify URL
    page.reload()
    expect(page.locator(f"li[data-refund='{refund.id}']")).to_have_attribute("data-status", "done")
    expect(page.locator(f"li[data-refund='{refund.id}'] .refund-status")).not_to_contain_text("done")
    db.expire_all()
    assert db.get(Payment, payment.id).refunded_cents == 1000 and ledger_problems(db) == []

    wechat.bill_amounts[number] = 9_800  # the trade bill says 98 yuan: the one deliberate mismatch
    outcome = statement(demo_db_url, local_today(), gateways=["wechatpay"])
    assert outcome["gateways"]["wechatpay"]["differences"] >= 1
    with page.expect_navigation():
        page.goto(f"{base}/payments/")
        page.click("#statements-link")
    difference = page.locator(f".statement-difference[data-order='{number}']")
    expect(difference).to_have_attribute("data-kind", "amount_mismatch")
    expect(difference).to_contain_text("金额不一致")
    expect(difference).to_contain_text("¥98.00")
    expect(difference).to_contain_text("¥99.00")
    assert "amount_mismatch" not in page.locator("#statements-link, .statement-run").first.inner_text()
    assert ledger_problems(db) == []
