"""Dashboard journeys (issue #15) in Chromium: the manager opens the dashboard on a desktop and
on a phone (390x844), sees every chart drawn by the locally served ECharts (a canvas in each,
no console errors, no sideways scroll), and follows a number to the records behind it; the
manager's home is the "today" page."""
from __future__ import annotations

import pytest
from playwright.sync_api import Page

# the charts and links do not depend on the database (the KPI services and the page's JSON are
# tested on both in tests/domains/*/test_kpis.py and tests/app/web/test_dashboard_views.py)
pytestmark = [pytest.mark.browser, pytest.mark.parametrize("demo_db_url", ["sqlite"], indirect=True)]


def _watch_errors(page: Page) -> list[str]:
    """Console errors and script errors (the browser's own favicon probe is not ours)."""
    errors: list[str] = []

    def console(message) -> None:
        if message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico"):
            errors.append(f"{message.text} {message.location}")

    page.on("console", console)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return errors


def _charts_drawn(page: Page) -> int:
    page.wait_for_selector(".ef-chart[data-rendered='1'] canvas")
    charts = page.locator(".ef-chart").count()
    assert charts >= 4
    assert page.locator(".ef-chart[data-rendered='1'] canvas").count() >= charts
    return charts


def test_manager_dashboard_desktop_follows_a_number(page: Page, live_server: str, login):
    errors = _watch_errors(page)
    login(page, live_server, "manager_yc")
    assert page.locator("#today [data-item='repair.overdue']").count() == 1
    page.click("#open-dashboard")
    page.wait_for_selector("#dashboard[data-level='company']")
    _charts_drawn(page)
    page.select_option("#dashboard-filter select[name=community_id]", index=1)
    page.click("#dashboard-filter [type=submit]")
    page.wait_for_selector("#dashboard[data-level='community']")
    _charts_drawn(page)
    with page.expect_navigation():
        page.click("#tile-repair-backlog [data-figure='open'] a")
    assert "/repairs/" in page.url and "state=open" in page.url
    page.wait_for_selector("#repair-orders")
    assert page.locator("#order-state").count() == 1
    assert not errors, errors


def test_manager_dashboard_on_a_phone(phone_page: Page, live_server: str, login):
    errors = _watch_errors(phone_page)
    login(phone_page, live_server, "manager_yc")
    assert phone_page.evaluate("document.documentElement.scrollWidth") <= 390
    phone_page.goto(f"{live_server}/dashboard/?months=12")
    _charts_drawn(phone_page)
    assert phone_page.evaluate("document.documentElement.scrollWidth") <= 390
    assert not errors, errors


def _first_community(page: Page, base: str) -> None:
    """From the fee pages to the first community's arrears list (the nav tab)."""
    page.goto(f"{base}/fees/")  # one community: straight to its billing page
    if page.locator("#nav-arrears").count() == 0:
        with page.expect_navigation():
            page.click(".list-group-item a >> nth=0")
    with page.expect_navigation():
        page.click("#nav-arrears")


def test_accountant_chases_a_household_on_a_phone(phone_page: Page, live_server: str, login, tmp_path):
    """Arrears aging on a phone: owner, tap-to-call phone, buckets and late fees per household;
    催缴 starts dunning for that household (flash, the card says so); the export opens in Chinese."""
    import openpyxl

    errors = _watch_errors(phone_page)
    login(phone_page, live_server, "accountant_yc")
    _first_community(phone_page, live_server)
    phone_page.wait_for_selector("#arrears-list [data-household]")
    assert phone_page.evaluate("document.documentElement.scrollWidth") <= 390
    card = phone_page.locator("#arrears-list [data-household]").first
    code = card.get_attribute("data-household")
    assert card.locator("a[href^='tel:']").count() == 1 or card.locator("text=未登记电话").count() == 1
    assert card.locator("[data-bucket='0-30'] dt").inner_text() == "0–30 天"
    box = card.locator(".ef-chase").bounding_box()
    assert box and box["height"] >= 44  # a thumb can hit it
    with phone_page.expect_navigation():
        card.locator(".ef-chase").click()
    assert phone_page.locator(".alert-success").count() == 1, phone_page.content()[:2000]
    again = phone_page.locator(f"#arrears-list [data-household='{code}']")
    assert "催缴中" in again.inner_text()
    with phone_page.expect_download() as download:
        phone_page.click("#arrears-xlsx")
    path = tmp_path / "arrears.xlsx"
    download.value.save_as(path)
    sheet = openpyxl.load_workbook(path).active
    assert "欠费账龄" in sheet["A1"].value and "户主" in [c.value for c in sheet[3]]
    assert sheet.cell(row=4, column=6).number_format == "¥#,##0.00"
    assert not errors, errors


def test_regulator_sees_arrears_without_the_chase_button(page: Page, live_server: str, login):
    login(page, live_server, "regulator")
    _first_community(page, live_server)
    page.wait_for_selector("#arrears-list")
    assert page.locator(".ef-chase").count() == 0


def test_audit_pack_trend_charts_drawn(page: Page, live_server: str, login):
    """The audit pack's page draws each measured outcome's monthly trend over both periods."""
    errors = _watch_errors(page)
    login(page, live_server, "manager_yc")
    page.goto(f"{live_server}/dashboard/")
    page.select_option("#dashboard-filter select[name=community_id]", index=1)
    with page.expect_navigation():
        page.click("#dashboard-filter [type=submit]")
    href = page.get_attribute("#dashboard-audit", "href")
    page.goto(f"{live_server}{href}&before_from=2025-07&before_to=2025-12&after_from=2026-07&after_to=2026-12")
    page.wait_for_selector("#audit-trends .ef-chart[data-rendered='1'] canvas")
    assert page.locator("#audit-trends [data-trend='fee_collection'] canvas").count() == 1
    assert not errors, errors
