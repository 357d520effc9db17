"""Fees pages over the demo: billing run preview → issue → progress, bills, reports, access."""
from __future__ import annotations

import io

import openpyxl
import pytest
from sqlalchemy import func, select

from app.domains.estate.models import Community
from app.domains.fees.billing import previous_period
from app.domains.fees.models import Bill, BillingRun


@pytest.fixture(scope="module")
def ids(demo_app):
    from app.db import db

    with demo_app.app_context():
        return {c.code: c.id for c in db.session.scalars(select(Community))}


def _count(demo_app, stmt):
    from app.db import db

    with demo_app.app_context():
        value = db.session.scalar(stmt)
        db.session.remove()
        return value


def test_accountant_previews_and_issues_last_month(demo_app, login, ids):
    yc = ids["YC"]
    period = previous_period()
    client = login("accountant_yc")
    page = client.get(f"/fees/{yc}/billing?period={period}")
    assert page.status_code == 200 and 'data-status="none"' in page.text
    preview = client.post(f"/fees/{yc}/billing/preview", data={"period": period}, follow_redirects=True)
    assert preview.status_code == 200
    assert 'id="anomalies"' in preview.text and "YC-1-202" in preview.text and "WM-1-202" in preview.text
    assert 'data-building="4"' in preview.text and 'id="issue-btn"' in preview.text
    before = _count(demo_app, select(func.count(Bill.id)))
    refused = client.post(f"/fees/{yc}/billing/issue", data={"period": period}, follow_redirects=True)
    assert "抄表读数" in refused.text and _count(demo_app, select(func.count(Bill.id))) == before
    issued = client.post(f"/fees/{yc}/billing/issue", data={"period": period, "accept_anomalies": "1"})
    assert issued.status_code == 302 and "/runs/" in issued.location
    run_page = client.get(issued.location)
    assert 'data-status="issued"' in run_page.text and "56 / 56" in run_page.text
    assert _count(demo_app, select(func.count(Bill.id)).where(Bill.period == period)) == 56
    again = client.post(f"/fees/{yc}/billing/issue", data={"period": period, "accept_anomalies": "1"},
                        follow_redirects=True)
    assert "不会重复出账" in again.text
    assert _count(demo_app, select(func.count(Bill.id)).where(Bill.period == period)) == 56
    bad = client.post(f"/fees/{yc}/billing/preview", data={"period": "2026-13"}, follow_redirects=True)
    assert "YYYY-MM" in bad.text


def test_bills_list_filters_and_explained_lines(demo_app, login, ids):
    yc = ids["YC"]
    client = login("accountant_yc")
    listing = client.get(f"/fees/{yc}/bills?building=1&status=paid")
    assert listing.status_code == 200 and 'id="bills-table"' in listing.text
    assert 'data-status="open"' not in listing.text
    bill_id = _count(demo_app, select(Bill.id).where(Bill.community_id == yc).order_by(Bill.id).limit(1))
    detail = client.get(f"/fees/{yc}/bills/{bill_id}")
    assert detail.status_code == 200 and "area_m2 * rate" in detail.text and "ROUND_HALF_UP" in detail.text
    water = client.get(f"/fees/{yc}/bills?q=YC-1-101")
    assert "YC-1-101" in water.text
    fx_bill = client.get(f"/fees/{ids['FX']}/bills")
    assert fx_bill.status_code == 404


def test_reports_and_excel_export(demo_app, login, ids):
    yc = ids["YC"]
    client = login("manager_yc")
    page = client.get(f"/fees/{yc}/reports")
    assert page.status_code == 200
    assert 'id="rate-by-period"' in page.text and 'id="aging"' in page.text and 'id="journal"' in page.text
    export = client.get(f"/fees/{yc}/reports.xlsx")
    assert export.status_code == 200 and export.mimetype.endswith("spreadsheetml.sheet")
    book = openpyxl.load_workbook(io.BytesIO(export.data))
    assert "collection_by_period" not in book.sheetnames and book.sheetnames[0] == "收缴率（按账期）"


def test_report_opens_on_the_latest_issued_period_and_exports_readably(demo_app, login, ids):
    from app.domains.fees.models import BillingRun

    yc = ids["YC"]
    latest = _count(demo_app, select(func.max(BillingRun.period)).where(
        BillingRun.community_id == yc, BillingRun.status == "issued"))
    client = login("accountant_yc")
    page = client.get(f"/fees/{yc}/reports")
    assert f'name="period" value="{latest}"' in page.text
    book = openpyxl.load_workbook(io.BytesIO(client.get(f"/fees/{yc}/reports.xlsx").data))
    sheet = book["按楼栋"]
    assert latest in sheet["A1"].value and sheet.freeze_panes == "A4"
    assert [c.value for c in sheet[3]] == ["楼栋", "账单数", "应收（元）", "实收（元）", "收缴率"]
    assert sheet["E4"].number_format == "0.0%" and sheet["C4"].number_format == "¥#,##0.00"
    assert 0 <= sheet["E4"].value <= 1  # a fraction shown as percent, not 0-100


def test_regulator_reads_but_cannot_issue_and_others_are_kept_out(demo_app, login, ids):
    yc = ids["YC"]
    regulator = login("regulator")
    assert regulator.get(f"/fees/{yc}/reports").status_code == 200
    runs = _count(demo_app, select(func.count(BillingRun.id)))
    denied = regulator.post(f"/fees/{yc}/billing/preview", data={"period": "2026-01"})
    assert denied.status_code in (302, 403) and "/fees/" not in (denied.location or "")
    assert _count(demo_app, select(func.count(BillingRun.id))) == runs
    assert login("manager_fx").get(f"/fees/{yc}/billing").status_code == 404
    resident = login("resident_yc").get(f"/fees/{yc}/billing")
    assert resident.status_code in (302, 403)
