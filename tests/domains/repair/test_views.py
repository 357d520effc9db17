"""Repair pages through the web app over the demo (orders in every state), on SQLite and PostgreSQL."""
from __future__ import annotations

import io
import re
import struct
import zlib

import openpyxl
from sqlalchemy import func, select

from app.db import db
from app.domains.estate.models import Household, Staff
from app.domains.repair.models import RepairOrder
from app.engine.models import TaskRow
from app.platform.models import AuditEvent


def _png(color: bytes = b"\x10\x80\x10") -> bytes:
    raw = b"".join(b"\x00" + color * 4 for _ in range(4))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def _scalar(app, stmt):
    with app.app_context():
        return db.session.scalar(stmt)


def _report(client, token, photos, **fields):
    data = {"category": "plumbing", "description": "阳台水管漏水", "location_kind": "unit",
            "preferred_time": "anytime", **fields}
    data["photos"] = [(io.BytesIO(content), name) for name, content in photos]
    return client.post(f"/me/repairs/new?t={token}", data=data, content_type="multipart/form-data")


def test_demo_has_orders_in_every_state(demo_app):
    with demo_app.app_context():
        statuses = set(db.session.scalars(select(RepairOrder.status)))
        open_elements = set(db.session.scalars(select(TaskRow.element_id).join(
            RepairOrder, RepairOrder.instance_id == TaskRow.instance_id).where(TaskRow.status.in_(["ready", "claimed"]))))
    assert {"unassigned", "dispatched", "accepted", "on_site", "completed", "confirmed", "closed"} <= statuses
    assert {"accept", "assign_manual", "check_in", "work", "confirm", "follow_up", "callback"} <= open_elements
    assert _scalar(demo_app, select(func.count()).select_from(RepairOrder).where(
        RepairOrder.escalation_level == "manager")) >= 1


def test_resident_reports_and_sees_the_timeline(demo_app, login):
    client = login("resident_yc")
    assert 'id="tile-repair"' in client.get("/me/").text
    assert client.get("/me/repairs/new").status_code == 200
    response = _report(client, "tok-view-1", [("a.png", _png())])
    assert response.status_code == 302, response.text[:500]
    number = response.headers["Location"].rsplit("/", 1)[1]
    assert re.fullmatch(r"YC-R-\d{8}-\d{4}", number)
    page = client.get(f"/me/repairs/order/{number}").text
    assert "已派单" in page and 'data-kind="dispatched"' in page
    assert number in client.get("/me/repairs/").text
    # the same form sent again: refused, nothing added
    again = _report(client, "tok-view-1", [("a.png", _png())])
    assert again.status_code == 302 and again.headers["Location"].endswith(number)
    assert _scalar(demo_app, select(func.count()).select_from(RepairOrder).where(
        RepairOrder.submission_token == "tok-view-1")) == 1


def test_bad_reports_are_refused_and_nothing_is_written(demo_app, login):
    client = login("resident_yc")
    before = _scalar(demo_app, select(func.count()).select_from(RepairOrder))
    # no photo
    r = _report(client, "tok-bad-1", [])
    assert r.status_code == 422
    # not an image
    r = _report(client, "tok-bad-2", [("a.png", b"hello, I am text pretending to be a photo")])
    assert r.status_code == 422 and "a.png" in r.text
    # seven photos
    r = _report(client, "tok-bad-3", [(f"p{i}.png", _png(bytes([i, 2, 3]))) for i in range(7)])
    assert r.status_code == 422
    # empty description
    r = _report(client, "tok-bad-4", [("a.png", _png())], description="   ")
    assert r.status_code == 422
    # oversized photo (over 5 MB)
    big = _png() + b"\x00" * (5 * 1024 * 1024 + 10)
    r = _report(client, "tok-bad-5", [("big.png", big)])
    assert r.status_code == 422
    # someone else's household
    with demo_app.app_context():
        other = db.session.scalar(select(Household.id).where(Household.code == "YC-2-201"))
    r = client.post(f"/me/repairs/new?t=tok-bad-6&household={other}",
                    data={"category": "plumbing", "description": "x漏水", "location_kind": "unit",
                          "photos": [(io.BytesIO(_png()), "a.png")]}, content_type="multipart/form-data")
    assert r.status_code == 422 and "只能为自己家的房屋报修" in r.text
    assert _scalar(demo_app, select(func.count()).select_from(RepairOrder)) == before


def test_resident_cannot_see_another_households_order(demo_app, login):
    with demo_app.app_context():
        home = db.session.scalar(select(Household.id).where(Household.code == "YC-1-101"))
        other = db.session.scalar(select(RepairOrder.number).where(RepairOrder.household_id != home))
    assert login("resident_yc").get(f"/me/repairs/order/{other}").status_code == 404


def test_staff_list_detail_and_isolation(demo_app, login):
    manager = login("manager_yc")
    page = manager.get("/repairs/").text
    assert 'id="repair-orders"' in page
    with demo_app.app_context():
        order = db.session.scalar(select(RepairOrder).where(RepairOrder.status == "completed"))
        order_id = order.id
    detail = manager.get(f"/repairs/show/{order_id}").text
    assert 'id="timeline"' in detail and 'id="sla-response"' in detail
    assert login("manager_fx").get(f"/repairs/show/{order_id}").status_code == 404
    # technicians see their own orders only
    tech = login("tech_yc2")
    numbers = set(re.findall(r'data-order="(YC-R-[\d-]+)"', tech.get("/repairs/").text))
    with demo_app.app_context():
        own = set(db.session.scalars(select(RepairOrder.number).where(RepairOrder.technician_username == "tech_yc2")))
    assert numbers == own
    # the regulator reads, but may not reassign
    regulator = login("regulator")
    assert regulator.get("/repairs/").status_code == 200
    assert regulator.post(f"/repairs/show/{order_id}/reassign", data={"staff_id": 1, "reason": "x"}).status_code in (302, 403)
    assert _scalar(demo_app, select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "repair.reassign", AuditEvent.actor == "regulator")) == 0


def test_manager_reassigns_with_a_reason_audited(demo_app, login):
    manager = login("manager_yc")
    with demo_app.app_context():
        order = db.session.scalar(select(RepairOrder).where(RepairOrder.status == "accepted"))
        order_id, old = order.id, order.technician_id
        other = db.session.scalar(select(Staff.id).where(Staff.job == "technician", Staff.id != old,
                                                         Staff.name == "刘师傅"))
        if other is None:
            other = db.session.scalar(select(Staff.id).where(Staff.job == "technician", Staff.id != old,
                                                             Staff.name == "王师傅"))
    # no reason: refused
    r = manager.post(f"/repairs/show/{order_id}/reassign", data={"staff_id": other, "reason": " "})
    assert r.status_code == 302 and _scalar(demo_app, select(RepairOrder.technician_id).where(
        RepairOrder.id == order_id)) == old
    r = manager.post(f"/repairs/show/{order_id}/reassign", data={"staff_id": other, "reason": "原师傅请假"})
    assert r.status_code == 302
    with demo_app.app_context():
        order = db.session.get(RepairOrder, order_id)
        assert order.technician_id == other
        task = db.session.scalar(select(TaskRow).where(TaskRow.instance_id == order.instance_id,
                                                       TaskRow.status.in_(["ready", "claimed"])))
        assert task.assignee == order.technician_username
        audit = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "repair.reassign",
                                                           AuditEvent.target_id == order.number))
        assert audit.actor == "manager_yc" and audit.after["reason"] == "原师傅请假"


def test_technician_cannot_complete_an_order_that_is_not_theirs(demo_app, login):
    with demo_app.app_context():
        row = db.session.scalar(select(TaskRow).where(TaskRow.element_id == "check_in",
                                                      TaskRow.status == "claimed"))
        owner = row.assignee
    other = "tech_yc2" if owner == "tech_yc1" else "tech_yc1"
    client = login(other)
    assert f'data-task="{row.id}"' not in client.get("/inbox/").text
    client.post(f"/inbox/task/{row.id}/claim")
    client.post(f"/inbox/task/{row.id}", data={"arrived": "yes"})
    with demo_app.app_context():
        row = db.session.get(TaskRow, row.id)
        assert (row.status, row.assignee) == ("claimed", owner)


def test_kpi_page_and_excel_export(demo_app, login):
    client = login("manager_yc")
    page = client.get("/repairs/kpi/?by=category").text
    assert 'id="kpi-table"' in page and "水管水龙头" in page
    response = client.get("/repairs/kpi/export")
    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    assert ["总体", "按小区", "按类别", "按维修工", "按月份"] == book.sheetnames
    header = [c.value for c in book["总体"][2]]
    assert "响应时间中位数（分钟）" in header and book["总体"].max_row == 3
    assert not re.search(r"\bnan\b", page, re.IGNORECASE)
    assert login("tech_yc1").get("/repairs/kpi/").status_code in (302, 403)
