"""Occupancy by hour counts cars on tickets and permit cars (from their gate reads, a repeated
read counted once), on SQLite and PostgreSQL; the workbook carries both."""
from __future__ import annotations

import io
from datetime import date, datetime, timedelta
from decimal import Decimal

from openpyxl import load_workbook

from app.domains.parking import reports
from app.domains.parking.models import ParkingTicket, PlateEvent
from app.localtime import from_local

DAY = date(2026, 11, 20)


def _at(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    return from_local(datetime.combine(day, datetime.min.time()) + timedelta(hours=hour, minutes=minute))


def _read(session, cid, plate, direction, at, outcome="permit"):
    session.add(PlateEvent(community_id=cid, plate=plate, direction=direction, confidence=Decimal("0.97"), at=at,
                           received_at=at, outcome=outcome))


def test_occupancy_counts_permit_cars_in_and_out(session, build_estate):
    cid = build_estate(session, modules=["fees", "parking"]).community.id
    _read(session, cid, "京A00001", "in", _at(20, day=DAY - timedelta(days=1)))  # inside since last night
    _read(session, cid, "京A00001", "out", _at(8, 10))
    _read(session, cid, "京A00001", "in", _at(18, 30))  # back in the evening, still inside
    _read(session, cid, "京A00002", "in", _at(9))
    _read(session, cid, "京A00002", "in", _at(9, 0), outcome="duplicate")  # the camera read it again
    _read(session, cid, "京A00002", "out", _at(11, 5))
    _read(session, cid, "京A00003", "out", _at(7, 30))  # left; its entry read is older than the reads kept
    _read(session, cid, "京A00004", "in", _at(9, day=DAY - timedelta(days=3)))  # left days ago
    _read(session, cid, "京A00004", "out", _at(10, day=DAY - timedelta(days=2)))
    session.add(ParkingTicket(number="PT-R1", community_id=cid, plate="京T00001", status="exited", kind="temporary",
                              entry_at=_at(10), exit_at=_at(12, 30), pay_token="tok-r1", created_at=_at(10)))
    session.flush()
    rows = {r["hour"]: r for r in reports.occupancy_by_hour(session, cid, DAY)}
    assert [rows[h]["permit_cars"] for h in (0, 7, 8, 9, 11, 12, 18, 23)] == [2, 2, 1, 1, 1, 0, 1, 1]
    assert [rows[h]["temporary_cars"] for h in (9, 10, 12, 13)] == [0, 1, 1, 0]
    assert rows[11]["cars"] == 2 and rows[12]["cars"] == 1
    book = load_workbook(io.BytesIO(reports.export_excel(session, cid, DAY)))
    header = [c.value for c in book["occupancy"][1]]
    assert header == ["hour", "temporary_cars", "permit_cars", "cars"]
    assert [c.value for c in book["occupancy"][13]] == [11, 1, 1, 2]
