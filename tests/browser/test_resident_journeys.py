"""The resident's phone (390×844) as the demo resident: the first
screen with its badges, a bill explained in words, a receipt page with 大写金额, a visitor pass
with its 6-digit code; every page fits the screen (no sideways scrolling) in zh, and in en.
Screenshots go to /tmp/estateflow-shots/ (not committed) for a person to look at."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from app.domains.estate.models import Household
from app.domains.fees.models import Bill
from app.domains.fees.payments import record_offline_payment
from app.domains.repair.models import RepairOrder
from tests.browser.conftest import SHOTS_DIR

# Pages over the demo: the database does not change what they show, so SQLite only (the
# services behind them run on both databases in tests/domains/).
pytestmark = pytest.mark.parametrize("demo_db_url", ["sqlite"], indirect=True)


def _fits(page: Page, what: str) -> None:
    width = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert width[0] <= width[1], f"{what} scrolls sideways on a phone: {width[0]} px on a {width[1]} px screen"


def _shot(page: Page, name: str, request) -> None:
    SHOTS_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS_DIR / f"resident-{name}-{request.node.callspec.id}.png"), full_page=True)


def test_resident_phone_home_bill_receipt_and_visitor_pass(phone_page: Page, live_server: str, login, db, request):
    page, base = phone_page, live_server
    home = db.scalar(select(Household).where(Household.code == "YC-1-101"))
    bill = db.scalar(select(Bill).where(Bill.household_id == home.id, Bill.kind == "monthly").order_by(Bill.id))
    login(page, base, "resident_yc")
    for tile in ("fees", "repair", "visitors", "notice", "messages"):
        expect(page.locator(f"#tile-{tile}")).to_be_visible()
    expect(page.locator("#badge-fees")).to_have_text(re.compile(r"^¥[\d,]+\.\d\d$"))
    expect(page.locator("#badge-repair")).to_have_text(re.compile(r"^\d+$"))
    expect(page.locator("#home-notices")).to_contain_text("停水通知")
    _fits(page, "the resident home")
    _shot(page, "home", request)

    with page.expect_navigation():
        page.click("#tile-fees")
    _fits(page, "my bills")
    # the accountant takes cash for the bill: its receipt waits on the resident's bills page
    record_offline_payment(db, household_id=home.id, bill_ids=[bill.id], amount_cents=bill.outstanding_cents,
                           method="cash", actor="accountant_yc")
    db.commit()
    page.goto(f"{base}/me/bills/{bill.id}")
    expect(page.locator("#bill-lines .ef-why").first).to_have_text(
        re.compile(r"^建筑面积 [\d.]+ ㎡ × [\d.]+ 元/㎡/月 = [\d.]+ 元$"))
    expect(page.locator("#bill-lines")).not_to_contain_text("formula")
    _fits(page, "a bill")
    _shot(page, "bill", request)

    page.goto(f"{base}/me/bills/")
    with page.expect_navigation():
        page.locator("#receipts a.receipt-link").first.click()
    expect(page.locator("#receipt-capitals")).to_have_text(re.compile(r"^人民币[零壹贰叁肆伍陆柒捌玖拾佰仟万元角分整]+$"))
    expect(page.locator("#receipt-payee")).to_contain_text("宜居物业服务有限公司")
    expect(page.locator("#receipt-pdf")).to_be_visible()
    _fits(page, "a receipt")
    _shot(page, "receipt", request)

    page.goto(f"{base}/me/visitors/")
    page.fill("#visitor_name", "刘阿姨")
    page.fill("#visitor_phone", "12345")
    with page.expect_navigation():
        page.click("#invite-btn")
    expect(page.locator("#invite-error")).to_contain_text("11 位手机号码")
    expect(page.locator("#visitor_phone")).to_have_value("12345")
    page.fill("#visitor_phone", "13912345678")
    with page.expect_navigation():
        page.click("#invite-btn")
    expect(page.locator("#pass-code")).to_have_text(re.compile(r"^\d{6}$"))
    expect(page.locator("#pass-share")).to_be_visible()
    _fits(page, "a visitor pass")
    _shot(page, "pass", request)
    share = page.locator("#pass-share").get_attribute("data-url")
    code = page.locator("#pass-code").inner_text()

    # the other resident pages fit the phone too
    quoted = db.scalar(select(RepairOrder.number).where(RepairOrder.reported_by == "resident_yc",
                                                        RepairOrder.quote_status == "pending"))
    for path in ("/me/repairs/", f"/me/repairs/order/{quoted}", "/me/repairs/new", "/me/visitors/",
                 "/me/notices", "/notifications/"):
        page.goto(f"{base}{path}")
        _fits(page, path)
    expect(page.locator("#notifications")).to_be_visible()

    # the same pages in English
    page.goto(f"{base}/me/")
    with page.expect_navigation():  # the navbar's language form (collapsed on a phone)
        page.evaluate("document.querySelector(\".navbar form[action$='/lang/en']\").submit()")
    page.goto(f"{base}/me/")
    expect(page.locator("#tile-fees")).to_contain_text("Pay bills")
    _fits(page, "the resident home (en)")
    page.goto(f"{base}/me/bills/{bill.id}")
    expect(page.locator("#bill-lines .ef-why").first).to_have_text(
        re.compile(r"^Floor area [\d.]+ m² × [\d.]+ yuan/m²/month = [\d.]+ yuan$"))
    _fits(page, "a bill (en)")

    # the visitor opens the shared link on their own phone, without a login
    visitor = page.context.browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844}).new_page()
    visitor.goto(share.replace(share.split("/v/")[0], base))
    expect(visitor.locator("#pass-code")).to_have_text(code)
    _fits(visitor, "the shared pass")
    visitor.context.close()
