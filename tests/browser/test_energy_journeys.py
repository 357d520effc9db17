"""Energy journeys in chromium (SQLite and PostgreSQL), over the seeded demo, where the
simulated meters include a leaking one:

1. the manager opens the energy findings, sees the night leak with its repair work order,
   opens the finding with the chart of the readings, and finds the order in the repair list;
2. a resident opens the public revenue disclosure (公示) on a phone, from the portal tile;
3. the technician does the leak's repair order on a phone (accept, check in, work record), the
   leak stops, the nightly detection closes the finding: the finding page shows it closed with the
   order's state, the order's timeline says why, and a later run opens nothing again;
4. the manager apportions the month's 公摊 on the page; after the billing run the household opens
   its bill on a phone and sees its share, the basis, the total and the rule;
5. a technician enters a handheld reading with a dial photo on a 390×844 phone: a reading lower
   than the last asks "meter replaced?", confirmed it is stored as a new count.
"""
from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from app.domains.energy.models import EnergyFinding, EnergyMeter, EnergyReading
from app.domains.repair.models import RepairOrder
from tests.browser.test_repair_journeys import _open_task, _photo, _submit_task, resident_login
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


def _no_sideways_scroll(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_technician_closes_the_leak_order_and_the_finding_closes_itself(phone_page: Page, page: Page,
                                                                          live_server: str, login, db):
    from datetime import timedelta
    from decimal import Decimal

    from app.domains.energy.findings import run_detection
    from app.domains.energy.readings import Incoming, store
    from app.localtime import to_local

    base = live_server
    leak = db.scalar(select(EnergyFinding).where(EnergyFinding.kind == "leak", EnergyFinding.status == "open"))
    order = db.scalar(select(RepairOrder).where(RepairOrder.number == leak.work_order))
    assert order.technician_username, "the demo's leak order was dispatched to a technician"
    number, tech = order.number, order.technician_username

    phone = phone_page
    login(phone, base, tech)
    _open_task(phone, base, number, "repair/accept")
    phone.select_option("#f-decision", "accept")
    _submit_task(phone)
    _open_task(phone, base, number, "repair/check_in")
    phone.check("input[name=arrived][value=yes]")
    _submit_task(phone)
    _open_task(phone, base, number, "repair/work")
    phone.set_input_files("#f-before_photos", files=[_photo("before.png", b"\x90\x20\x20")])
    phone.set_input_files("#f-after_photos", files=[_photo("after.png", b"\x20\x90\x20")])
    phone.fill("#f-work_note", "更换漏水的马桶进水阀")
    _submit_task(phone)
    _no_sideways_scroll(phone)
    db.expire_all()
    assert db.scalar(select(RepairOrder.status).where(RepairOrder.number == number)) == "completed"

    # the leak stops: a day of normal night flow, then the nightly detection
    last = db.scalar(select(EnergyReading).where(EnergyReading.meter_id == leak.meter_id)
                     .order_by(EnergyReading.at.desc()).limit(1))
    value, items = Decimal(last.value), []
    for h in range(1, 26):
        at = last.at + timedelta(hours=h)
        value += Decimal("0") if to_local(at).hour in range(1, 6) else Decimal("0.02")
        items.append(Incoming(leak.meter_id, at, value))
    store(db, items)
    result = run_detection(db, leak.community_id, last.at + timedelta(hours=25, minutes=5))
    db.commit()
    assert result["closed"] >= 1

    login(page, base, "manager_yc")
    page.goto(f"{base}/energy/finding/{leak.id}")
    expect(page.locator("#closed")).to_be_visible()
    expect(page.locator("body")).to_contain_text("用量已恢复正常")
    expect(page.locator("#work-order")).to_have_text(number)
    expect(page.locator("#work-order-status")).to_have_attribute("data-status", "completed")
    page.goto(f"{base}/repairs/show/{order.id}")
    expect(page.locator("#timeline .ef-event[data-kind=completed]")).to_be_visible()
    expect(page.locator("#timeline .ef-event[data-kind=resolved_note]")).to_contain_text(leak.number)
    # it stays closed: the next run finds nothing for that meter and opens no new order
    again = run_detection(db, leak.community_id, last.at + timedelta(hours=26))
    db.commit()
    assert db.scalar(select(EnergyFinding.id).where(EnergyFinding.meter_id == leak.meter_id,
                                                    EnergyFinding.kind == "leak",
                                                    EnergyFinding.status == "open")) is None, again
    assert db.scalar(select(RepairOrder.status).where(RepairOrder.number == number)) == "completed"
    sign_out(page, base)
    sign_out(phone, base)


def test_household_sees_its_shared_energy_share_explained_on_its_bill(page: Page, phone_page: Page,
                                                                       live_server: str, login, db):
    from flask_appbuilder.security.sqla.models import User

    from app.domains.estate.residents import households_of_user
    from app.domains.fees import billing
    from app.domains.fees.models import Bill, BillLine

    base = live_server
    community_id = db.scalar(select(EnergyMeter.community_id).limit(1))
    period = db.scalar(select(func.max(EnergyReading.at)))
    from app.localtime import to_local

    period = f"{to_local(period):%Y-%m}"
    login(page, base, "manager_yc")
    page.goto(f"{base}/energy/apportion?kind=electricity&period={period}&community_id={community_id}")
    expect(page.locator("#preview")).to_be_visible()
    with page.expect_navigation():
        page.click("#issue")
    expect(page.locator(".alert-success")).to_contain_text("元")
    sign_out(page, base)
    # the month's billing run (the accountant's job) puts the shares on the bills
    if not db.scalar(select(Bill.id).where(Bill.community_id == community_id, Bill.period == period).limit(1)):
        billing.issue(db, community_id, period, actor="accountant_yc", accept_anomalies=True)
        db.commit()
    user_id = db.scalar(select(User.id).where(User.username == "resident_yc"))
    mine = [h.id for h in households_of_user(db, user_id)]
    bill_id = db.scalar(select(Bill.id).join(BillLine, BillLine.bill_id == Bill.id)
                        .where(Bill.household_id.in_(mine), Bill.period == period, BillLine.item == "shared_energy"))
    assert bill_id, "resident_yc's household has a share on this month's bill"
    phone = phone_page
    resident_login(phone, base)
    phone.goto(f"{base}/me/bills/")
    links = phone.locator("a.bill-detail, #paid-bills a")
    assert links.count() >= 1
    phone.goto(f"{base}/me/bills/{bill_id}")
    line = phone.locator("#bill-lines tr.ef-line[data-item=shared_energy]")
    expect(line).to_contain_text("公摊")
    expect(line).to_contain_text("总额")
    expect(line).to_contain_text("本户")
    expect(line).to_contain_text("按建筑面积")
    _no_sideways_scroll(phone)


def test_technician_enters_a_handheld_reading_on_a_phone(page: Page, phone_page: Page, live_server: str,
                                                         login, db):
    base = live_server
    meter = db.scalar(select(EnergyMeter).where(EnergyMeter.handheld.is_(True)).order_by(EnergyMeter.id))
    assert meter is not None, "the demo has a meter read by hand"
    last = db.scalar(select(EnergyReading).where(EnergyReading.meter_id == meter.id)
                     .order_by(EnergyReading.at.desc()).limit(1))
    previous = f"{last.value.normalize():f}"
    login(page, base, "manager_yc")
    page.goto(f"{base}/energy/trends?community_id={meter.community_id}")
    with page.expect_navigation():
        page.click("#handheld-round")
    sign_out(page, base)

    phone = phone_page
    login(phone, base, "tech_yc1")
    _open_task(phone, base, meter.name, "energy/handheld_reading")
    expect(phone.locator("#task-form")).to_contain_text(previous)  # the previous reading is shown
    _no_sideways_scroll(phone)
    # no photo: the form does not go (the dial photo is required), nothing stored
    phone.fill("#f-reading", "3")
    assert phone.evaluate("document.querySelector('#task-form form').checkValidity()") is False
    assert phone.evaluate("document.querySelector('#f-dial_photo').validity.valid") is False
    # lower than the last, with the dial photo: the form comes back asking whether the meter was replaced
    phone.fill("#f-reading", "3")
    phone.set_input_files("#f-dial_photo", files=[_photo("dial.png")])
    _submit_task(phone)
    db.expire_all()
    assert db.scalar(select(func.max(EnergyReading.at)).where(EnergyReading.meter_id == meter.id)) == last.at
    _open_task(phone, base, meter.name, "energy/handheld_reading")
    expect(phone.locator("#task-form")).to_contain_text("是否换表")
    _no_sideways_scroll(phone)
    phone.fill("#f-reading", "3")
    phone.set_input_files("#f-dial_photo", files=[_photo("dial.png")])
    phone.check("input[name=confirmed][value=yes]")
    _submit_task(phone)
    db.expire_all()
    stored = db.scalar(select(EnergyReading).where(EnergyReading.meter_id == meter.id)
                       .order_by(EnergyReading.at.desc()).limit(1))
    assert (stored.value, stored.source) == (3, "replaced")
    phone.goto(f"{base}/inbox/")
    expect(phone.locator(".ef-task[data-form='energy/handheld_reading']", has_text=meter.name)).to_have_count(0)
