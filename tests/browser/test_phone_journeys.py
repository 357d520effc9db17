"""Issue #17's last pieces on a 390×844 phone in Chromium: the staff scanner and the offline
shell, the front desk's badge for visitor requests about to expire, the elderly-friendly mode on
every resident page, and a family member's login linked from the owner's page."""
from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from app import clock
from app.domains.visitors.models import VisitorPass
from app.engine.models import TaskRow

pytestmark = pytest.mark.parametrize("demo_db_url", ["sqlite"], indirect=True)


def _fits(page: Page, what: str) -> None:
    width = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert width[0] <= width[1], f"{what} scrolls sideways: {width[0]} px on {width[1]} px"


def test_guard_scans_a_pass_code_and_the_staff_app_works_offline(phone_page: Page, live_server: str, login, db):
    page, base = phone_page, live_server
    code = db.scalar(select(VisitorPass.short_code).where(VisitorPass.visitor_name == "张阿姨（演示）"))
    login(page, base, "guard_yc")
    expect(page.locator("#staff-home")).to_be_visible()
    with page.expect_navigation():
        page.click("#home-scan")
    expect(page.locator("#scan-start")).to_be_visible()
    _fits(page, "the scanner")
    page.fill("#code", code)
    with page.expect_navigation():
        page.click("#code-go")
    expect(page.locator("#scan-result")).to_have_attribute("data-ok", "1")
    expect(page.locator("#scan-message")).to_have_text("有效，可以放行")
    expect(page.locator("#scan-result")).to_contain_text("张阿姨（演示）")
    _fits(page, "a pass check")
    page.fill("#code", "000000" if code != "000000" else "111111")
    with page.expect_navigation():
        page.click("#code-go")
    expect(page.locator("#scan-result")).to_have_attribute("data-ok", "0")

    # the staff worker (pwa.js registers it when the app runs pinned to the home screen; a
    # browser tab has none): the whole site is its scope, and a page offline is the offline page
    assert page.locator("script[src$='/static/pwa.js']").count() == 1
    assert page.evaluate("navigator.serviceWorker.getRegistrations().then(r => r.length)") == 0
    scope = page.evaluate("navigator.serviceWorker.register('/sw.js', {scope: '/'})"
                          ".then(() => navigator.serviceWorker.ready).then(r => r.scope)")
    assert scope == f"{base}/"
    page.reload()  # now controlled by the worker
    page.context.set_offline(True)
    try:
        page.goto(f"{base}/inbox/")
        expect(page.locator("#offline")).to_have_text("没有网络")
    finally:
        page.context.set_offline(False)
    page.goto(f"{base}/inbox/")
    expect(page.locator("#offline")).to_have_count(0)
    page.evaluate("navigator.serviceWorker.getRegistrations().then(rs => Promise.all(rs.map(r => r.unregister())))")


def test_front_desk_sees_visitor_requests_about_to_expire(phone_page: Page, live_server: str, login, db):
    page, base = phone_page, live_server
    login(page, base, "frontdesk_yc")
    page.goto(f"{base}/visitors/")
    page.fill("#household_code", "YC-1-101")
    page.fill("#visitor_name", "送水师傅")
    page.fill("#visitor_phone", "13912345678")
    with page.expect_navigation():
        page.click("#walk-in-btn")
    task = db.scalar(select(TaskRow).where(TaskRow.element_id == "call_host", TaskRow.status == "ready")
                     .order_by(TaskRow.id.desc()))
    task.due_at = clock.now() + timedelta(minutes=10)
    db.commit()
    page.goto(f"{base}/")
    expect(page.locator("#staff-counters [data-panel=visitors_expiring]")).to_be_visible()
    expect(page.locator("#ef-badge-visitors-expiring .badge")).to_have_attribute("data-count", "1")
    _fits(page, "the front desk home with the badge")


def test_elderly_mode_everywhere_and_a_family_login_linked_by_the_owner(phone_page: Page, live_server: str,
                                                                        login, logout, db):
    from flask_appbuilder.security.sqla.models import Role, User

    page, base = phone_page, live_server
    if db.scalar(select(User).where(User.username == "son_phone")) is None:
        db.add(User(first_name="小", last_name="明", username="son_phone", email="son_phone@example.com",
                    active=True, password=generate_password_hash("demo1234"),
                    roles=[db.scalar(select(Role).where(Role.name == "Resident"))]))
        db.commit()
    login(page, base, "resident_yc")
    with page.expect_navigation():
        page.click("#elderly-toggle")
    for path in ("/me/bills/", "/me/repairs/", "/me/visitors/", "/me/notices", "/notifications/"):
        page.goto(f"{base}{path}")
        size = page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
        assert size >= 20, f"{path}: {size}px text in the elderly-friendly mode"
        _fits(page, path)
    page.goto(f"{base}/me/visitors/")
    expect(page.locator("#entries")).to_be_hidden()  # fewer fields: the defaults do
    expect(page.locator("#visitor_name")).to_be_visible()

    page.goto(f"{base}/me/")
    with page.expect_navigation():
        page.click("#family-link-page")
    page.fill("#login", "son_phone")
    page.select_option("#relation", "child")
    with page.expect_navigation():
        page.click("#family-link-btn")
    expect(page.locator("#family-logins")).to_contain_text("子女")
    _fits(page, "the family page")
    logout(page, base)
    login(page, base, "son_phone")
    expect(page.locator("#household")).to_have_attribute("data-household", "YC-1-101")
    logout(page, base)
    login(page, base, "resident_yc")
    page.goto(f"{base}/me/family/")
    with page.expect_navigation():
        page.locator("#family-logins [data-relation=child] .ef-unlink").click()
    expect(page.locator("#family-logins [data-relation=child]")).to_have_count(0)
    page.goto(f"{base}/me/")  # back to the standard view for the other journeys
    expect(page.locator("#resident-home")).to_have_attribute("data-elderly", "on")
    with page.expect_navigation():
        page.click("#elderly-toggle")
    expect(page.locator("#resident-home")).to_have_attribute("data-elderly", "off")
