"""Repair journeys (issue #5) in Chromium, on SQLite and PostgreSQL; residents and technicians on a phone.

1. a resident reports a repair on a phone (a non-image "photo" is refused first), gets an order
   number, a timeline and a notification;
2. the order is dispatched automatically; a manager reassigns it by hand with a reason (audited);
3. the technician declines on a phone (it goes to the other technician), who accepts, checks in,
   records the work with before/after photos and costs, and completes; the resident accepts the quote and is charged;
4. the resident rates it 2 stars: the manager gets a follow-up task; another finished order is
   reopened by the resident and goes back to a technician;
5. front desk completes a call-back task and the order closes;
6. SLA: the platform clock moves past the response limit, due timers fire (app.engine in the test
   process, same database) and the order page shows the escalation to the manager, then the company.

The journeys share one demo database per backend (the live server is module-scoped).
"""
from __future__ import annotations

import re
import struct
import zlib
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from app import clock
from app.platform.models import AuditEvent
from app.domains.estate.models import Staff
from app.domains.repair.models import RepairOrder
from tests.support.browser import sign_out

pytestmark = pytest.mark.browser
NUMBER = re.compile(r"YC-R-\d{8}-\d{4}")


def _png(color: bytes) -> bytes:
    raw = b"".join(b"\x00" + color * 8 for _ in range(8))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def _photo(name: str, color: bytes = b"\x20\x90\xd0") -> dict:
    return {"name": name, "mimeType": "image/png", "buffer": _png(color)}


def resident_login(page: Page, base: str, username: str = "resident_yc") -> None:
    """Residents land on their portal (/me/), not on the staff home the shared helper waits for."""
    sign_out(page, base)
    page.goto(f"{base}/login/")
    page.fill("#username", username)
    page.fill("#password", "demo1234")
    with page.expect_navigation():
        page.click("form[name=login] [type=submit]")
    page.goto(f"{base}/me/")
    expect(page.locator("#resident-tiles")).to_be_visible()


def _report(page: Page, base: str, category: str, description: str, location: str = "unit") -> str:
    """Resident pages on a phone: home → 报事报修 → 我要报修 → submit; returns the order number."""
    page.goto(f"{base}/me/")
    with page.expect_navigation():
        page.click("#tile-repair")
    with page.expect_navigation():
        page.click("#new-repair")
    page.select_option("#f-category", category)
    page.fill("#f-description", description)
    page.set_input_files("#f-photos", files=[_photo("leak.png")])
    page.select_option("#f-location_kind", location)
    with page.expect_navigation():
        page.click("#report-repair .ef-submit")
    expect(page.locator("#order-number")).to_have_text(NUMBER)
    return page.locator("#order-number").inner_text()


def _open_task(page: Page, base: str, number: str, form: str) -> None:
    page.goto(f"{base}/inbox/")
    task = page.locator(f".ef-task[data-form='{form}']", has_text=number)
    expect(task).to_be_visible()
    claim = task.locator(".claim-btn")
    with page.expect_navigation():
        (claim if claim.count() else task.locator(".open-btn")).click()
    expect(page.locator("#task-form form")).to_be_visible()


def _submit_task(page: Page) -> None:
    with page.expect_navigation():
        page.click("#task-form .ef-submit")
    assert "/inbox/task/" not in page.url, page.locator(".ef-summary").all_inner_texts()


def _order_id(db_scalar, number: str) -> int:
    return db_scalar(select(RepairOrder.id).where(RepairOrder.number == number))


def _technician(db_scalar, number: str) -> str:
    return db_scalar(select(RepairOrder.technician_username).where(RepairOrder.number == number))


# ---------------------------------------------------------------------------
# 1. report on a phone
# ---------------------------------------------------------------------------

def test_resident_reports_a_repair_on_a_phone(phone_page: Page, live_server: str, login, db_scalar):
    page, base = phone_page, live_server
    resident_login(page, base)
    page.goto(f"{base}/me/repairs/new")
    # a text file named .png is refused beside the field; nothing is created
    page.select_option("#f-category", "plumbing")
    page.fill("#f-description", "卫生间下水道堵了")
    page.set_input_files("#f-photos", files=[{"name": "fake.png", "mimeType": "image/png",
                                              "buffer": b"not really a picture at all"}])
    with page.expect_navigation():
        page.click("#report-repair .ef-submit")
    expect(page.locator(".ef-field[data-field=photos] .ef-error")).to_contain_text("fake.png")
    expect(page.locator("#f-description")).to_have_value("卫生间下水道堵了")

    number = _report(page, base, "plumbing", "卫生间下水道堵了")
    expect(page.locator("#order-status")).to_have_text("已派单")
    expect(page.locator("#timeline .ef-event[data-kind=reported]")).to_be_visible()
    expect(page.locator("#timeline .ef-event[data-kind=dispatched]")).to_be_visible()
    expect(page.locator("#order-technician")).not_to_be_empty()
    assert db_scalar(select(RepairOrder.status).where(RepairOrder.number == number)) == "dispatched"
    # listed under my repairs, and a notification came
    page.goto(f"{base}/me/repairs/")
    expect(page.locator(f".ef-order[data-order='{number}']")).to_be_visible()
    page.goto(f"{base}/notifications/")
    expect(page.locator("#notifications")).to_contain_text(f"报修已受理：{number}")


# ---------------------------------------------------------------------------
# 2. automatic dispatch, manual reassignment with a reason
# ---------------------------------------------------------------------------

def test_manager_reassigns_an_order_with_a_reason(page: Page, phone_page: Page, live_server: str, login,
                                                  db_scalar):
    base = live_server
    resident_login(phone_page, base)
    number = _report(phone_page, base, "electrical", "客厅插座没电")
    first = _technician(db_scalar, number)
    assert first in ("tech_yc1", "tech_yc2")

    login(page, base, "manager_yc")
    page.goto(f"{base}/repairs/")
    with page.expect_navigation():
        page.locator("#repair-orders a", has_text=number).click()
    expect(page.locator("#timeline .ef-event[data-kind=dispatched]")).to_be_visible()
    target = "刘师傅" if first == "tech_yc1" else "王师傅"
    option = page.locator("#reassign-staff option", has_text=target).get_attribute("value")
    page.select_option("#reassign-staff", option)
    # without a reason: refused, nothing changes
    with page.expect_navigation():
        page.click("#reassign-submit")
    expect(page.locator(".alert")).to_contain_text("请填写改派原因")
    assert _technician(db_scalar, number) == first
    page.select_option("#reassign-staff", option)
    page.fill("#reassign-reason", "原师傅临时请假")
    with page.expect_navigation():
        page.click("#reassign-submit")
    expect(page.locator("#order-technician")).to_have_text(target)
    expect(page.locator("#timeline .ef-event[data-kind=reassigned]")).to_contain_text("原师傅临时请假")
    assert _technician(db_scalar, number) != first
    assert db_scalar(select(AuditEvent.actor).where(AuditEvent.action == "repair.reassign",
                                                    AuditEvent.target_id == number)) == "manager_yc"


# ---------------------------------------------------------------------------
# 3. technician: decline (re-dispatch), accept, check in, work record, complete
# ---------------------------------------------------------------------------

def test_technician_declines_then_the_other_one_does_the_work(browser, phone_page: Page, live_server: str,
                                                              login, logout, db_scalar):
    base = live_server
    resident_login(phone_page, base)
    number = _report(phone_page, base, "electrical", "厨房灯闪烁")
    first = _technician(db_scalar, number)

    page = phone_page
    logout(page, base)
    login(page, base, first)
    _open_task(page, base, number, "repair/accept")
    page.select_option("#f-decision", "decline")
    page.fill("#f-decline_reason", "手上有急修单")
    _submit_task(page)
    second = _technician(db_scalar, number)
    assert second and second != first
    # it left the first technician's inbox
    page.goto(f"{base}/inbox/")
    expect(page.locator(".ef-task", has_text=number)).to_have_count(0)

    logout(page, base)
    login(page, base, second)
    _open_task(page, base, number, "repair/accept")
    page.select_option("#f-decision", "accept")
    _submit_task(page)
    _open_task(page, base, number, "repair/check_in")
    page.check("input[name=arrived][value=yes]")
    _submit_task(page)
    _open_task(page, base, number, "repair/work")
    # the task page shows the order behind it: the resident's photo and the timeline so far
    expect(page.locator("#task-photos img")).to_have_count(1)
    assert page.evaluate("document.querySelector('#task-photos img').naturalWidth") > 0
    for kind in ("reported", "declined", "accepted", "arrived"):
        expect(page.locator(f"#task-timeline .ef-event[data-kind={kind}]")).to_be_visible()
    expect(page.locator("#task-timeline .ef-event[data-kind=accepted] strong")).to_have_text("已接单")
    expect(page.locator("#task-detail .ef-task-record")).to_have_attribute(
        "href", f"/repairs/show/{_order_id(db_scalar, number)}")
    page.set_input_files("#f-before_photos", files=[_photo("before.png", b"\x90\x20\x20")])
    page.set_input_files("#f-after_photos", files=[_photo("after.png", b"\x20\x90\x20")])
    page.fill("#f-work_note", "更换灯管镇流器")
    page.fill("#f-materials", "镇流器 1个")
    page.fill("#f-materials_cost", "45.50")
    page.fill("#f-labour_cost", "30")
    page.check("input[name=charge_household][value=yes]")
    _submit_task(page)
    assert db_scalar(select(RepairOrder.status).where(RepairOrder.number == number)) == "completed"
    # a quote first: nothing is charged until the resident accepts it
    assert db_scalar(select(RepairOrder.charge_cents).where(RepairOrder.number == number)) == 0

    logout(page, base)
    resident_login(page, base)
    page.goto(f"{base}/me/repairs/order/{number}")
    expect(page.locator("#order-status")).to_have_text("已完工，请确认")
    expect(page.locator("#quote-materials")).to_have_text("¥45.50")
    expect(page.locator("#quote-labour")).to_have_text("¥30.00")
    with page.expect_navigation():
        page.click("#quote-accept")
    assert db_scalar(select(RepairOrder.charge_cents).where(RepairOrder.number == number)) == 7550
    expect(page.locator("#order-charge")).to_contain_text("¥75.50")
    for kind in ("declined", "accepted", "arrived", "completed", "quoted", "quote_accepted", "charged"):
        expect(page.locator(f"#timeline .ef-event[data-kind={kind}]")).to_be_visible()


# ---------------------------------------------------------------------------
# 4. rate low → manager follow-up; reopen → back to a technician
# ---------------------------------------------------------------------------

def test_resident_rates_low_and_reopens_another(phone_page: Page, page: Page, live_server: str, login,
                                                db_scalar):
    base = live_server
    resident_orders = db_scalar(select(RepairOrder.number).where(
        RepairOrder.status == "completed", RepairOrder.reported_by == "resident_yc").order_by(RepairOrder.id))
    assert resident_orders, "the demo has a finished order waiting for resident_yc"
    resident_login(phone_page, base)

    # reopen the demo's finished order
    phone_page.goto(f"{base}/me/repairs/order/{resident_orders}")
    phone_page.select_option("#confirm-form #f-decision", "reopen")
    phone_page.fill("#confirm-form #f-reopen_reason", "灯又不亮了")
    with phone_page.expect_navigation():
        phone_page.click("#confirm-form .ef-submit")
    expect(phone_page.locator("#timeline .ef-event[data-kind=reopened]")).to_contain_text("灯又不亮了")
    expect(phone_page.locator("#order-status")).to_have_text(re.compile("已派单|等待派单"))
    assert db_scalar(select(RepairOrder.reopen_count).where(RepairOrder.number == resident_orders)) == 1

    # a finished order (from journey 3 if it ran, else a fresh one pushed through) rated 2 stars
    number = db_scalar(select(RepairOrder.number).where(
        RepairOrder.status == "completed", RepairOrder.reported_by == "resident_yc").order_by(RepairOrder.id.desc()))
    if number is None:
        pytest.skip("no finished order of resident_yc left to rate (journey 3 did not run)")
    phone_page.goto(f"{base}/me/repairs/order/{number}")
    phone_page.select_option("#confirm-form #f-decision", "confirm")
    phone_page.select_option("#confirm-form #f-rating", "2")
    phone_page.fill("#confirm-form #f-comment", "来得太晚")
    with phone_page.expect_navigation():
        phone_page.click("#confirm-form .ef-submit")
    expect(phone_page.locator("#order-rating")).to_have_text("★★")
    expect(phone_page.locator("#confirm-form")).to_have_count(0)

    login(page, base, "manager_yc")
    _open_task(page, base, number, "repair/follow_up")
    expect(page.locator("#task-form")).to_contain_text("来得太晚")
    page.fill("#f-follow_up_note", "已电话致歉，安排回访")
    _submit_task(page)
    assert db_scalar(select(RepairOrder.status).where(RepairOrder.number == number)) in ("confirmed", "closed")


# ---------------------------------------------------------------------------
# 5. revisit: front desk call-back closes the order
# ---------------------------------------------------------------------------

def test_front_desk_calls_back_and_the_order_closes(page: Page, live_server: str, login, db_scalar):
    from app.engine.models import TaskRow

    base = live_server
    number = db_scalar(select(TaskRow.business_key).where(TaskRow.element_id == "callback",
                                                          TaskRow.status == "ready"))
    assert number, "the demo has a call-back task waiting"
    login(page, base, "frontdesk_yc")
    _open_task(page, base, number, "repair/callback")
    page.check("input[name=reached][value=yes]")
    page.check("input[name=satisfied][value=yes]")
    page.fill("#f-callback_note", "住户表示满意")
    _submit_task(page)
    page.goto(f"{base}/repairs/show/{_order_id(db_scalar, number)}")
    expect(page.locator("#order-status")).to_have_text("已结单")
    expect(page.locator("#timeline .ef-event[data-kind=called_back]")).to_contain_text("住户表示满意")


# ---------------------------------------------------------------------------
# 6. SLA: remind → manager → company, with the platform clock
# ---------------------------------------------------------------------------

def test_sla_escalates_with_the_platform_clock(phone_page: Page, page: Page, live_server: str, login,
                                               demo_db_url: str, db_scalar):
    from app.engine import fire_due_timers

    base = live_server
    resident_login(phone_page, base)
    number = _report(phone_page, base, "plumbing", "水表前阀门漏水")
    order_id = _order_id(db_scalar, number)
    login(page, base, "manager_yc")
    page.goto(f"{base}/repairs/show/{order_id}")
    expect(page.locator("#sla-response")).to_have_attribute("data-state", "pending")
    expect(page.locator("#escalation")).to_have_count(0)

    engine = create_engine(demo_db_url)

    def sweep():
        with Session(engine) as session:
            fire_due_timers(session)
            session.commit()

    try:
        clock.advance(timedelta(minutes=31))  # past the 30-minute response limit
        sweep()
        page.goto(f"{base}/repairs/show/{order_id}")
        expect(page.locator("#escalation")).to_have_attribute("data-level", "manager")
        expect(page.locator("#sla-response")).to_have_attribute("data-state", "overdue")
        expect(page.locator("#timeline .ef-event[data-kind=escalated_reminded]")).to_be_visible()
        expect(page.locator("#timeline .ef-event[data-kind=escalated_manager]")).to_contain_text("项目经理")

        clock.advance(timedelta(minutes=60))  # 60 more minutes: the company
        sweep()
        page.goto(f"{base}/repairs/show/{order_id}")
        expect(page.locator("#escalation")).to_have_attribute("data-level", "company")
        expect(page.locator("#timeline .ef-event[data-kind=escalated_company]")).to_be_visible()
        page.goto(f"{base}/repairs/?status=dispatched")
        expect(page.locator(f"tr[data-order='{number}'] .label-danger")).to_be_visible()
    finally:
        clock.reset()
        engine.dispose()
    technician = db_scalar(select(Staff.name).join(RepairOrder, RepairOrder.technician_id == Staff.id)
                           .where(RepairOrder.number == number))
    assert technician
