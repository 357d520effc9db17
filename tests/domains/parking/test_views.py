"""Parking pages on the demo estate (SQLite and PostgreSQL): the resident buys a permit (on
the bill), bad input is a clear message and writes nothing, the waiting list, the guards'
board, the reports and their Excel export, the driver's ticket page."""
from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from app.domains.fees.models import Bill
from app.domains.parking.models import ParkingPermit, ParkingSpace, ParkingWaitlist

# the pages read and write through the same services on both databases (tests/domains/parking);
# one backend is enough here
pytestmark = pytest.mark.parametrize("demo_db_url", ["sqlite"], indirect=True)


def _db(demo_app):
    return Session(create_engine(demo_app.config["SQLALCHEMY_DATABASE_URI"]))


def test_resident_buys_a_permit_and_bad_input_writes_nothing(demo_app, login):
    client = login("resident_yc")
    page = client.get("/me/parking/")
    assert page.status_code == 200 and 'id="permit-form"' in page.text
    bad = client.post("/me/parking/permit", data={"plate": "ABC", "kind": "monthly"})
    assert bad.status_code == 422 and "车牌号码格式不正确" in bad.text
    with _db(demo_app) as s:
        before = s.scalar(select(func.count(ParkingPermit.id)))
    ok = client.post("/me/parking/permit", data={"plate": "京N 88888", "kind": "monthly"})
    assert ok.status_code == 302
    with _db(demo_app) as s:
        permit = s.scalar(select(ParkingPermit).where(ParkingPermit.plate == "京N88888"))
        assert s.scalar(select(func.count(ParkingPermit.id))) == before + 1
        assert permit.price_cents == 15000 and permit.bill_number
        bill = s.scalar(select(Bill).where(Bill.number == permit.bill_number))
        assert bill.kind == "parking" and bill.amount_cents >= 15000
        # no space left: the next plate waits
        free = s.scalar(select(func.count(ParkingSpace.id))) - s.scalar(select(func.count(ParkingPermit.id)).where(
            ParkingPermit.status == "active"))
    for i in range(free):
        assert client.post("/me/parking/permit", data={"plate": f"京N7000{i}", "kind": "monthly"}).status_code == 302
    full = client.post("/me/parking/permit", data={"plate": "京N99999", "kind": "annual"}, follow_redirects=True)
    assert "排队" in full.text
    with _db(demo_app) as s:
        assert s.scalar(select(ParkingWaitlist.plate).where(ParkingWaitlist.status == "waiting")) == "京N99999"
    assert client.post("/me/parking/charge", data={"charger_id": "1", "mode": "bill", "budget": "abc"}).status_code == 422


def test_staff_board_reports_and_the_drivers_page(demo_app, login):
    guard = login("guard_yc")
    board = guard.get("/parking/")
    assert board.status_code == 200 and 'id="gates"' in board.text
    report = guard.get("/parking/reports")
    assert report.status_code == 200 and "11.00" in report.text  # yesterday's demo ticket
    xlsx = guard.get("/parking/reports.xlsx")
    assert xlsx.status_code == 200
    assert load_workbook(io.BytesIO(xlsx.data)).sheetnames == ["occupancy", "temporary", "permits", "charging"]
    assert login("resident_yc").get("/parking/").status_code in (302, 403)
    driver = demo_app.test_client()  # not logged in: the QR code is the key
    page = driver.get("/parking/t/demo-paid-ticket")
    assert page.status_code == 200 and "京C20481" in page.text and 'id="ticket-pay"' not in page.text
    assert driver.get("/parking/t/no-such-ticket").status_code == 404
    assert driver.post("/parking/t/demo-paid-ticket/pay").status_code == 302  # nothing due: back to the page
