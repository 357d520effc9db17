"""Messages that reach people (issue #18, parts 4 and 6), in Chromium on a phone, on SQLite and
PostgreSQL, through local fakes of Tencent Cloud SMS (which checks the TC3 signature) and of the
WeChat API (login codes, access tokens, subscription messages):

1. a resident opens 消息设置 with the mini-program's login code, binds WeChat, agrees to SMS and
   WeChat messages; a repair they report is dispatched, and the update reaches the fake SMS
   server (their number, the configured template) and the fake WeChat message API (their
   openid) — the page says 已发送 for both and never shows the openid;
2. the SMS provider goes down: the next repair update shows on the notifications page as
   "发送失败，正在重试", then, after its last attempt, as failed with the reason in words.

The worker's delivery sweep is run by the test (``deliver_due`` on the journey's database, what
``estateflow worker`` does every tick), with the platform clock moved past the retry wait.
"""
from __future__ import annotations

import io
import json
import os
import re
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from app import clock
from app.domains.notifications import channels
from app.domains.notifications.delivery import deliver_due
from app.domains.notifications.fake_sms import FakeTencentSms
from app.domains.notifications.models import Notification
from app.domains.notifications.settings import get_message_settings
from app.security.fake_wechat_api import FakeWechatApi
from app.security.wechat_identity import get_wechat_settings
from tests.support.browser import sign_out

pytestmark = pytest.mark.browser
NUMBER = re.compile(r"YC-R-\d{8}-\d{4}")
OPENID = "oJOURNEY_OPENID_never_shown"
REPAIR_TEMPLATES = ("repair.reported", "repair.dispatched")


@pytest.fixture(scope="module")
def providers(live_server):
    """Both fakes, and the live app configured to use them (environment, caches cleared)."""
    with FakeTencentSms(secret_id="AKIDjourney", secret_key="j" * 32, sdk_app_id="1400777777",
                        templates={"700001", "700002"}) as sms, \
            FakeWechatApi(appid="wx_journey", secret="wxj", templates={"TMPL_REPAIR"}) as wx:
        env = {
            "ESTATEFLOW_MSG_SMS_PROVIDER": "tencent", "ESTATEFLOW_MSG_SMS_SECRET_ID": sms.secret_id,
            "ESTATEFLOW_MSG_SMS_SECRET_KEY": sms.secret_key, "ESTATEFLOW_MSG_SMS_SDK_APP_ID": sms.sdk_app_id,
            "ESTATEFLOW_MSG_SMS_SIGN_NAME": "怡翠物业", "ESTATEFLOW_MSG_SMS_ENDPOINT": sms.url,
            "ESTATEFLOW_MSG_SMS_TEMPLATES": json.dumps({
                "repair.reported": {"id": "700001", "params": ["order_number"]},
                "repair.dispatched": {"id": "700002", "params": ["order_number", "technician"]}}),
            "ESTATEFLOW_MSG_WECHAT_TEMPLATES": json.dumps({
                name: {"id": "TMPL_REPAIR", "page": "pages/repair/detail",
                       "data": {"character_string1": "order_number", "thing2": "title"}}
                for name in REPAIR_TEMPLATES}),
            "ESTATEFLOW_MSG_RETRY_BASE_SECONDS": "60", "ESTATEFLOW_MSG_DELIVERY_ATTEMPTS": "2",
            "ESTATEFLOW_WECHAT_APPID": wx.appid, "ESTATEFLOW_WECHAT_SECRET": wx.secret,
            "ESTATEFLOW_WECHAT_API_BASE": wx.url}
        saved = {key: os.environ.get(key) for key in env}
        os.environ.update(env)
        get_message_settings.cache_clear()
        get_wechat_settings.cache_clear()
        channels.forget_tokens()
        yield sms, wx
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        get_message_settings.cache_clear()
        get_wechat_settings.cache_clear()
        channels.forget_tokens()


@pytest.fixture
def worker_tick(demo_db_url):
    """One delivery sweep of the worker on the journey's database."""
    engine = create_engine(demo_db_url)

    def _tick() -> int:
        with Session(engine, expire_on_commit=False) as session:
            return deliver_due(session)

    yield _tick
    engine.dispose()


def _png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (40, 120, 200)).save(buffer, "PNG")
    return buffer.getvalue()


def _resident(page: Page, base: str) -> None:
    sign_out(page, base)
    page.goto(f"{base}/login/")
    page.fill("#username", "resident_yc")
    page.fill("#password", "demo1234")
    with page.expect_navigation():
        page.click("form[name=login] [type=submit]")


def _report(page: Page, base: str, description: str) -> str:
    page.goto(f"{base}/me/repairs/new")
    page.select_option("#f-category", "plumbing")
    page.fill("#f-description", description)
    page.set_input_files("#f-photos", files=[{"name": "leak.png", "mimeType": "image/png", "buffer": _png()}])
    with page.expect_navigation():
        page.click("#report-repair .ef-submit")
    expect(page.locator("#order-number")).to_have_text(NUMBER)
    return page.locator("#order-number").inner_text()


def _fits_a_phone(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "sideways scroll on a phone"


def _rows(db, number: str, channel: str) -> list[Notification]:
    db.expire_all()
    return [n for n in db.scalars(select(Notification).where(Notification.channel == channel)
                                  .order_by(Notification.id))
            if (n.params or {}).get("order_number") == number]


def test_a_resident_binds_wechat_agrees_to_sms_and_a_repair_update_reaches_both(
        phone_page: Page, live_server: str, providers, worker_tick, db):
    page, base = phone_page, live_server
    sms, wx = providers
    _resident(page, base)
    # the mini-program opens the settings page in its web-view with a fresh wx.login() code
    page.goto(f"{base}/notifications/")
    expect(page.locator("#message-settings-link")).to_be_visible()
    page.goto(f"{base}/notifications/settings/?code={wx.login_code(OPENID)}")
    _fits_a_phone(page)
    with page.expect_navigation():
        page.click("#wechat-bind")
    expect(page.locator("#wechat-bound")).to_contain_text("已绑定微信")
    page.check("#consent-sms")
    page.check("#consent-wechat")
    with page.expect_navigation():
        page.click("#channels-save")
    expect(page.locator("body")).to_contain_text("消息设置已保存")
    expect(page.locator("#message-settings")).to_contain_text("已于")
    _fits_a_phone(page)
    assert OPENID not in page.content()

    number = _report(page, base, "厨房水管漏水")
    assert worker_tick() >= 4  # reported + dispatched, by SMS and by WeChat
    texts = [m for m in sms.sent if m["params"] and m["params"][0] == number]
    assert [m["template"] for m in texts] == ["700001", "700002"]
    assert all(m["phone"].startswith("+86138") and m["sign"] == "怡翠物业" for m in texts)
    assert all(not r["refused"] for r in sms.requests)  # every request carried a valid TC3 signature
    messages = [m for m in wx.sent if m["data"]["character_string1"]["value"] == number]
    assert len(messages) == 2 and {m["touser"] for m in messages} == {OPENID}
    assert [r.status for r in _rows(db, number, "sms")] == ["sent", "sent"]

    page.goto(f"{base}/notifications/")
    deliveries = page.locator("#deliveries")
    expect(deliveries.locator("li[data-channel=sms][data-status=sent]", has_text=number)).to_have_count(2)
    expect(deliveries.locator("li[data-channel=wechat][data-status=sent]", has_text=number)).to_have_count(2)
    expect(deliveries).to_contain_text("短信")
    expect(deliveries).to_contain_text("已发送")
    _fits_a_phone(page)
    assert OPENID not in page.content()


def test_a_failing_sms_shows_as_retrying_then_failed_on_the_notifications_page(
        phone_page: Page, live_server: str, providers, worker_tick, db):
    page, base = phone_page, live_server
    sms, wx = providers
    _resident(page, base)
    sms.http_status = 502  # the provider is down
    try:
        number = _report(page, base, "卫生间灯不亮")
        worker_tick()
        assert {r.status for r in _rows(db, number, "sms")} == {"retrying"}
        assert {r.status for r in _rows(db, number, "wechat")} == {"sent"}  # the other channel is unaffected
        page.goto(f"{base}/notifications/")
        retrying = page.locator("#deliveries li[data-channel=sms][data-status=retrying]", has_text=number)
        expect(retrying).to_have_count(2)
        expect(retrying.first).to_contain_text("发送失败，正在重试")
        expect(retrying.first).to_contain_text("已试 1 次")
        expect(retrying.first).to_contain_text("暂时连不上服务商")
        _fits_a_phone(page)

        clock.advance(timedelta(seconds=61))  # past the retry wait: the last attempt fails too
        assert worker_tick() == 2
        assert {(r.status, r.attempts, r.reason) for r in _rows(db, number, "sms")} == {("failed", 2, "unavailable")}
        page.reload()
        failed = page.locator("#deliveries li[data-channel=sms][data-status=failed]", has_text=number)
        expect(failed).to_have_count(2)
        expect(failed.first).to_contain_text("未送达")
        expect(failed.first).to_contain_text("暂时连不上服务商")
        expect(page.locator("#deliveries")).not_to_contain_text("unavailable")
        expect(page.locator("#deliveries")).not_to_contain_text("502")
        _fits_a_phone(page)
    finally:
        sms.http_status = None
        clock.reset()
