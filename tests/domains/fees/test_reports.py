"""Fee reports: collection rate by period/building/item, arrears aging, cash journal, Excel."""
from __future__ import annotations

import io
from datetime import date, datetime
from decimal import Decimal

import openpyxl
import pytest
from sqlalchemy import select

from app import clock
from app.domains.estate.models import (
    Building,
    Community,
    Household,
    PropertyCompany,
    Unit,
)
from app.domains.fees import billing
from app.domains.fees import reports as fee_reports
from app.domains.fees.models import Bill
from app.domains.fees.payments import record_offline_payment
from app.modules.models import ModuleActivation


@pytest.fixture(autouse=True)
def frozen_clock():
    clock.freeze(datetime(2026, 11, 2, 9, 0))
    yield
    clock.reset()


def estate(session):
    """Two buildings × two households of 100 m² (85.00 property + 3.00 waste = 88.00 a month)."""
    company = PropertyCompany(name="co-R")
    community = Community(company=company, code="R1", name="报表小区")
    session.add_all([company, community])
    session.flush()
    for b in ("1", "2"):
        building = Building(community_id=community.id, code=b, name=f"{b}号楼")
        session.add(building)
        session.flush()
        for n in ("101", "102"):
            unit = Unit(community_id=community.id, building_id=building.id, number=n, floor=1, area_m2=Decimal("100"))
            session.add(unit)
            session.flush()
            session.add(Household(community_id=community.id, unit_id=unit.id, code=f"R1-{b}-{n}", head_name="户主"))
    session.add(ModuleActivation(community_id=community.id, module_id="fees", version="1.0.0", enabled=True,
                                 settings={}))
    session.flush()
    billing.issue(session, community.id, "2026-09", actor="acc")
    billing.issue(session, community.id, "2026-10", actor="acc")
    return community


def bill_of(session, code, period):
    return session.scalar(select(Bill).join(Household).where(Household.code == code, Bill.period == period))


def pay(session, code, period, cents, method="cash"):
    bill = bill_of(session, code, period)
    return record_offline_payment(session, household_id=bill.household_id, bill_ids=[bill.id], amount_cents=cents,
                                  method=method, actor="acc", reference="BANK-1" if method == "bank_transfer" else None)


def test_collection_rate_by_period_building_and_item(session):
    community = estate(session)
    pay(session, "R1-1-101", "2026-10", 8800)
    pay(session, "R1-1-102", "2026-10", 8800, method="bank_transfer")
    pay(session, "R1-2-101", "2026-10", 4400)  # half
    pay(session, "R1-1-101", "2026-09", 8800)
    by_period = fee_reports.collection_by_period(session, community.id)
    assert by_period.to_dict("records") == [
        {"period": "2026-09", "bills": 4, "billed_cents": 35200, "collected_cents": 8800, "paid_bills": 1,
         "rate": Decimal("25.0")},
        {"period": "2026-10", "bills": 4, "billed_cents": 35200, "collected_cents": 22000, "paid_bills": 2,
         "rate": Decimal("62.5")}]
    by_building = fee_reports.collection_by_building(session, community.id, "2026-10")
    assert by_building[["building", "billed_cents", "collected_cents", "rate"]].values.tolist() == [
        ["1", 17600, 17600, Decimal("100.0")], ["2", 17600, 4400, Decimal("25.0")]]
    by_item = fee_reports.collection_by_item(session, community.id, "2026-10")
    # 22000 collected split in proportion 85:3 → 21250 and 750
    assert by_item[["item", "billed_cents", "collected_cents"]].values.tolist() == [
        ["property_fee", 34000, 21250], ["waste_fee", 1200, 750]]
    assert int(by_item["collected_cents"].sum()) == 22000


def test_arrears_aging_buckets(session):
    community = estate(session)  # both months due 2026-11-17 (issued 11-02 + 15 days)
    pay(session, "R1-1-101", "2026-10", 8800)
    aging = fee_reports.arrears_aging(session, community.id, date(2027, 1, 1)).set_index("bucket")
    assert aging.loc["31-90"].tolist() == [7, 4, 7 * 8800]
    assert aging.loc["not_due"].tolist() == [0, 0, 0]
    aging = fee_reports.arrears_aging(session, community.id, date(2026, 11, 10)).set_index("bucket")
    assert aging.loc["not_due", "outstanding_cents"] == 7 * 8800


def test_cash_journal_and_excel_export(session):
    community = estate(session)
    pay(session, "R1-1-101", "2026-10", 8800)
    pay(session, "R1-2-102", "2026-10", 1000, method="bank_transfer")
    journal, available = fee_reports.cash_journal(session, community.id, date(2026, 11, 2))
    assert available
    assert journal[["household", "method", "amount_cents"]].values.tolist() == [
        ["R1-1-101", "cash", 8800], ["R1-2-102", "bank_transfer", 1000]]
    assert fee_reports.journal_totals(journal) == {"bank_transfer": 1000, "cash": 8800}
    assert fee_reports.cash_journal(session, community.id, date(2026, 11, 3))[0].empty
    data = fee_reports.export_excel(session, community.id, "2026-10", date(2026, 11, 2))
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["收缴率（按账期）", "按楼栋", "按收费项目", "欠费账龄", "收款日记账"]
    sheet = book["收缴率（按账期）"]
    assert sheet["A1"].value.endswith("物业费报表 · 账期 2026-10") and sheet.freeze_panes == "A4"
    header = [c.value for c in sheet[3]]
    assert header == ["账期", "账单数", "已结清账单", "应收（元）", "实收（元）", "收缴率"]
    row = dict(zip(header, sheet[5]))  # 2026-09, then 2026-10
    assert row["账期"].value == "2026-10" and row["应收（元）"].value == 352 and row["实收（元）"].value == 98
    assert row["应收（元）"].number_format == "¥#,##0.00" and row["收缴率"].number_format == "0.0%"
    assert row["收缴率"].value == pytest.approx(98 / 352, abs=0.0005)
    journal = book["收款日记账"]
    assert [c.value for c in journal[4]][2:4] == ["收款", "现金"]  # no raw codes (payment, cash)
    aging = [c.value for c in book["欠费账龄"]["A"]][3:]
    assert aging[:2] == ["未到期", "逾期 1–30 天"] and aging[-1] == "逾期 365 天以上"
    english = openpyxl.load_workbook(io.BytesIO(fee_reports.export_excel(
        session, community.id, "2026-10", date(2026, 11, 2), locale="en")))
    assert english.sheetnames[0] == "Collection by period"
    assert [c.value for c in english["Cash journal"][4]][2:4] == ["Payment", "Cash"]


def test_rate_is_none_when_nothing_billed():
    assert fee_reports.rate_percent(0, 0) is None
    assert fee_reports.rate_percent(2, 3) == Decimal("66.7")
