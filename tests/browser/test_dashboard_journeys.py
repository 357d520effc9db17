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
