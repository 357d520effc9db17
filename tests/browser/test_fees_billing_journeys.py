"""Billing journeys (issue #6, parts 1, 2, 7) in chromium, on SQLite and on PostgreSQL.

The accountant opens 出账 for last month, previews it (totals, per building, and the
missing-reading anomaly of the demo's faulty water meter WM-1-202), is refused until the
anomaly is accepted, issues, and sees the run's progress complete; a second tab that still
shows the issue form tries again and nothing is created twice. Then the bills list, a bill's
explained lines and the reports page with its Excel export.
"""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from app.domains.fees.models import Bill
from app.domains.fees.billing import previous_period

pytestmark = pytest.mark.browser


def _open_billing(page: Page, base: str) -> None:
    page.goto(f"{base}/fees/")
    expect(page.locator("#period-form")).to_be_visible()
    assert re.search(r"/fees/\d+/billing", page.url), page.url


def test_accountant_previews_and_issues_once(page: Page, live_server: str, login, demo_ids, db_scalar):
    base = live_server
    period = previous_period()
    bills_before = db_scalar(select(func.count(Bill.id)))
    login(page, base, "accountant_yc")
    _open_billing(page, base)
    expect(page.locator("#period")).to_have_value(period)
    expect(page.locator("#run-state [data-status]")).to_have_attribute("data-status", "none")

    with page.expect_navigation():
        page.click("#preview-btn")
    expect(page.locator("#sum-bills")).to_have_text("56")
    expect(page.locator("#per-building tbody tr")).to_have_count(4)
    anomalies = page.locator("#anomalies tbody tr")
    expect(anomalies).to_have_count(1)
    expect(anomalies.first).to_contain_text("YC-1-202")
    expect(anomalies.first).to_contain_text("缺少抄表读数")
    expect(page.locator("#per-building tr[data-building='1'] td").last).to_have_text("1")

    # a second tab showing the same form, for the double issue below
    second = page.context.new_page()
    second.goto(page.url)
    expect(second.locator("#issue-btn")).to_be_visible()

    # issuing without accepting the anomaly is refused; nothing is written
    with page.expect_navigation():
        page.click("#issue-btn")
    expect(page.locator(".alert-danger")).to_contain_text("缺少抄表读数")
    assert db_scalar(select(func.count(Bill.id))) == bills_before

    page.check("#accept-anomalies")
    with page.expect_navigation():
        page.click("#issue-btn")
    assert "/runs/" in page.url
    expect(page.locator("#run-status")).to_have_attribute("data-status", "issued")
    expect(page.locator("#progress")).to_have_text("56 / 56")
    assert db_scalar(select(func.count(Bill.id)).where(Bill.period == period)) == 56

    # the stale tab issues again: refused, nothing created twice
    second.check("#accept-anomalies")
    with second.expect_navigation():
        second.click("#issue-btn")
    expect(second.locator(".alert-danger")).to_contain_text("不会重复出账")
    assert db_scalar(select(func.count(Bill.id)).where(Bill.period == period)) == 56
    expect(second.locator("#issue-btn")).to_have_count(0)
    second.close()

    # the bills of the period, and one bill's explained lines (YC-1-202: no water line)
    page.click("#to-bills")
    expect(page.locator("#bill-count")).to_contain_text("56")
    page.fill("input[name=q]", "YC-1-202")
    with page.expect_navigation():
        page.click("#bill-filters button[type=submit]")
    rows = page.locator("#bills-table tbody tr")
    expect(rows.first).to_contain_text(period)
    with page.expect_navigation():
        rows.filter(has_text=period).first.locator("a").click()
    expect(page.locator("#bill-lines tr[data-item='property_fee'] .explanation")).to_contain_text("ROUND_HALF_UP")
    expect(page.locator("#bill-lines tr[data-item='water']")).to_have_count(0)


def test_reports_show_collection_rate_and_export(page: Page, live_server: str, login):
    base = live_server
    login(page, base, "manager_yc")
    _open_billing(page, base)
    page.click("#fees-nav a[href$='/reports']")
    rows = page.locator("#rate-by-period tbody tr[data-period]")
    expect(rows.first).to_be_visible()
    expect(rows.first.locator(".rate")).to_have_text(re.compile(r"^\d+(\.\d)?%$"))
    expect(page.locator("#aging tbody tr[data-bucket]")).to_have_count(6)
    with page.expect_download() as download:
        page.click("#export-xlsx")
    assert download.value.suggested_filename.startswith("fees-YC-")
