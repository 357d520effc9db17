"""Energy journeys in chromium (SQLite and PostgreSQL), over the seeded demo, where the
simulated meters include a leaking one:

1. the manager opens the energy findings, sees the night leak with its repair work order,
   opens the finding with the chart of the readings, and finds the order in the repair list;
2. a resident opens the public revenue disclosure (公示) on a phone, from the portal tile.
"""
from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from app.domains.energy.models import EnergyFinding
from tests.support.browser import sign_out

pytestmark = pytest.mark.browser


def test_manager_sees_a_leak_finding_become_a_work_order(page: Page, live_server: str, login, db_scalar):
    base = live_server
    number = db_scalar(select(EnergyFinding.work_order).where(EnergyFinding.kind == "leak"))
    assert number
    login(page, base, "manager_yc")
    page.goto(f"{base}/energy/")
    row = page.locator("#findings tr[data-kind=leak]")
    expect(row).to_contain_text("夜间持续流量")
    expect(row.locator(".work-order")).to_have_text(number)
    with page.expect_navigation():
        row.locator("a").first.click()
    expect(page.locator("#work-order")).to_have_text(number)
    expect(page.locator("#readings-chart polyline")).to_have_count(1)
    page.goto(f"{base}/repairs/")
    expect(page.locator("body")).to_contain_text(number)
    sign_out(page, base)


def test_resident_opens_the_public_revenue_disclosure_on_a_phone(phone_page: Page, live_server: str):
    page, base = phone_page, live_server
    sign_out(page, base)
    page.goto(f"{base}/login/")
    page.fill("#username", "resident_yc")
    page.fill("#password", "demo1234")
    with page.expect_navigation():
        page.click("form[name=login] [type=submit]")
    page.goto(f"{base}/me/")
    with page.expect_navigation():
        page.get_by_text("公共收益公示").click()
    with page.expect_navigation():
        page.locator("#disclosures a").first.click()
    expect(page.locator("#owners-share")).not_to_be_empty()
    expect(page.locator("#disclosure-entries")).to_contain_text("停车收入")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
