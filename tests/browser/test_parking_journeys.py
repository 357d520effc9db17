"""Parking journeys in chromium against the simulated north gate on the real broker and the
platform's event consumer (SQLite; the event handling runs on both databases in
tests/domains/parking):

1. a temporary car leaves: the exit screen shows the fee and a QR code; the driver opens it on
   a phone, pays at the sandbox cashier, the signed notification arrives and the gate opens;
2. an exit without an entry: the guard gets the task with the snapshot, opens with a reason,
   the gate opens and the board shows it;
3. a resident buys a monthly permit on the phone (a malformed plate first: a clear message),
   pays its bill at the sandbox cashier, and the gate opens for the plate;
4. a resident invites a visitor with a car plate on the pass, and the gate opens for it;
5. a resident starts charging on the phone (``charger.start`` to the simulated charger), the
   charger meters, the resident stops it and pays the charging bill.
"""
from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import create_engine, select
from sqlalchemy.orm import sessionmaker

from app.domains.devices import bus
from app.domains.devices.event_consumer import EventConsumer
from app.domains.devices.models import Device
from app.domains.estate.models import Community
from app.domains.parking.models import ParkingTicket, PlateReview
from app.settings import get_settings
from connectors.simulators.devices import TINY_PNG, SimulatedGate

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("demo_db_url", ["sqlite"], indirect=True)]


@pytest.fixture(scope="module")
def gate(live_server, demo_db_url):
    root = f"eftest/{uuid.uuid4().hex[:10]}"
    engine = create_engine(demo_db_url)
    factory = sessionmaker(engine, expire_on_commit=False)
    consumer = EventConsumer(factory, root=root, client_id=f"t-park-{uuid.uuid4().hex[:8]}",
                             persistent=False).start()
    bus.use_connector(consumer.connector)  # the live server's gate commands go out on this root
    with factory() as s:
        yc = s.scalar(select(Community.id).where(Community.code == "YC"))
        device = s.scalars(select(Device).where(Device.community_id == yc, Device.profile == "barrier_gate")
                           .order_by(Device.code)).first()
    sim = SimulatedGate("YC", device.address, get_settings().mqtt_url, root=root).start()
    assert _wait(lambda: consumer.connector.is_online("YC", device.address))
    yield {"sim": sim, "factory": factory, "device_id": device.id, "root": root}
    sim.stop()
    bus.use_connector(None)
    consumer.stop()
    engine.dispose()


def _wait(predicate, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    return predicate()


def _read(sim, plate, direction, minutes_ago=0.0, **extra):
    at = (datetime.now(UTC) - timedelta(minutes=minutes_ago)).replace(microsecond=0).isoformat()
    sim.publish_event("plate", plate=plate, direction=direction, confidence=0.96, opened=False, at=at, **extra)


def test_driver_pays_at_the_exit_on_a_phone_and_the_gate_opens(phone_page: Page, live_server, gate):
    page, sim, factory = phone_page, gate["sim"], gate["factory"]
    _read(sim, "京K12345", "in", minutes_ago=100)
    _read(sim, "京K12345", "out")

    def due():
        with factory() as s:
            return s.scalar(select(ParkingTicket).where(ParkingTicket.plate == "京K12345",
                                                        ParkingTicket.status == "awaiting_payment"))
    ticket = _wait(due)
    assert ticket is not None and ticket.fee_cents > 0
    opened = sim.opened
    page.goto(f"{live_server}/parking/t/exit/{gate['device_id']}")
    expect(page.locator("#exit-plate")).to_have_text("京K12345")
    expect(page.locator("#exit-qr")).to_be_visible()
    with page.expect_navigation():
        page.click("#exit-link")  # what scanning the QR code opens
    expect(page.locator("#ticket-fee")).to_contain_text(f"{ticket.fee_cents // 100}.{ticket.fee_cents % 100:02d}")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # no sideways scroll
    with page.expect_navigation():
        page.click("#ticket-pay")
    assert "/sandbox-pay/" in page.url
    with page.expect_navigation():
        page.click("#sandbox-pay")
    for _ in range(30):  # the bank's notification arrives asynchronously
        if page.locator("#ticket-paid").count():
            break
        time.sleep(0.3)
        page.reload()
    expect(page.locator("#ticket-paid")).to_contain_text("已抬杆")
    assert _wait(lambda: sim.opened == opened + 1)
    assert sim.commands[-1]["params"]["plate"] == "京K12345"


def test_guard_resolves_an_orphan_exit(page: Page, live_server, login, gate):
    sim, factory = gate["sim"], gate["factory"]
    _read(sim, "京L54321", "out", snapshot=TINY_PNG)

    def review():
        with factory() as s:
            return s.scalar(select(PlateReview).where(PlateReview.plate == "京L54321",
                                                      PlateReview.instance_id.is_not(None)))
    assert _wait(review)
    opened = sim.opened
    login(page, live_server, "guard_yc")
    page.goto(f"{live_server}/inbox/")
    task = page.locator(".ef-task", has_text="京L54321")
    with page.expect_navigation():
        task.locator(".claim-btn").click()
    expect(page.locator("#task-form img.ef-thumb")).to_be_visible()  # the gate's snapshot
    expect(page.locator(".ef-context")).to_contain_text("出场无入场记录")
    page.select_option("#f-decision", "open")
    page.fill("#f-reason", "住户亲友，已电话核实")
    with page.expect_navigation():
        page.click("#task-form .ef-submit")
    assert _wait(lambda: sim.opened == opened + 1)
    page.goto(f"{live_server}/parking/")
    expect(page.locator("#reviews tr", has_text="京L54321")).to_contain_text("保安已放行")


def _outcome(factory, plate):
    from app.domains.parking.models import PlateEvent

    with factory() as s:
        return s.scalar(select(PlateEvent.outcome).where(PlateEvent.plate == plate).order_by(PlateEvent.id.desc()))


def test_resident_buys_a_monthly_permit_pays_its_bill_and_the_gate_opens(phone_page: Page, live_server, login, gate):
    from app.domains.parking.models import ParkingPermit

    page, sim, factory = phone_page, gate["sim"], gate["factory"]
    login(page, live_server, "resident_yc")
    page.goto(f"{live_server}/me/parking/")
    page.fill("#plate", "京P-6666")  # malformed: a clear message, what was typed kept
    with page.expect_navigation():
        page.click("#permit-buy")
    expect(page.locator("#parking-error")).to_contain_text("车牌号码格式不正确")
    page.fill("#plate", "京P 66666")
    page.select_option("#kind", "monthly")
    with page.expect_navigation():
        page.click("#permit-buy")
    expect(page.locator('[data-permit]', has_text="京P66666")).to_be_visible()
    with factory() as s:
        permit = s.scalar(select(ParkingPermit).where(ParkingPermit.plate == "京P66666"))
    assert permit.bill_number
    page.goto(f"{live_server}/me/bills/")
    expect(page.locator(f'[data-bill="{permit.bill_number}"]')).to_be_visible()
    with page.expect_navigation():
        page.click("#pay-button")
    with page.expect_navigation():
        page.click("#sandbox-pay")
    expect(page.locator("#paid-ok")).to_be_visible(timeout=20000)  # the result page refreshes until the bank confirms
    expect(page.locator(f'#pay-result [data-bill="{permit.bill_number}"]')).to_have_attribute("data-status", "paid")
    opened = sim.opened
    _read(sim, "京P66666", "in")  # the car arrives at the gate
    assert _wait(lambda: sim.opened == opened + 1)
    assert sim.commands[-1]["params"]["plate"] == "京P66666" and sim.commands[-1]["params"]["reason"] == "permit"
    assert _outcome(factory, "京P66666") == "permit"


def test_a_visitor_with_a_plate_on_the_pass_enters(phone_page: Page, live_server, login, gate):
    page, sim, factory = phone_page, gate["sim"], gate["factory"]
    login(page, live_server, "resident_yc")
    page.goto(f"{live_server}/me/visitors/")
    page.fill("#visitor_name", "王师傅")
    page.fill("#visitor_phone", "13912340000")
    page.fill("#plate", "京V·77777")
    with page.expect_navigation():
        page.click("#invite-btn")
    expect(page.locator("#invite-error")).to_have_count(0)
    opened = sim.opened
    _read(sim, "京V77777", "in")
    assert _wait(lambda: sim.opened == opened + 1)
    assert sim.commands[-1]["params"]["reason"].startswith("visitor pass")
    assert _outcome(factory, "京V77777") == "visitor"


def test_a_resident_charges_a_car_and_pays(phone_page: Page, live_server, login, gate):
    from app.domains.parking.models import ChargingSession
    from connectors.simulators.devices import SimulatedCharger

    page, factory = phone_page, gate["factory"]
    with factory() as s:
        yc = s.scalar(select(Community.id).where(Community.code == "YC"))
        device = s.scalars(select(Device).where(Device.community_id == yc, Device.profile == "ev_charger")
                           .order_by(Device.code)).first()
    charger = SimulatedCharger("YC", device.address, get_settings().mqtt_url, root=gate["root"]).start()
    try:
        login(page, live_server, "resident_yc")
        page.goto(f"{live_server}/me/parking/")
        page.select_option("#charger_id", str(device.id))
        page.select_option("#mode", "bill")
        page.fill("#budget", "-5")  # a negative budget: a clear message, nothing started
        with page.expect_navigation():
            page.click("#charge-start")
        expect(page.locator("#parking-error")).to_be_visible()
        assert charger.session is None
        page.fill("#budget", "")
        with page.expect_navigation():
            page.click("#charge-start")
        assert _wait(lambda: charger.session)  # charger.start carried the session id
        number = charger.session

        def metered(kwh):
            with factory() as s:
                cs = s.scalar(select(ChargingSession).where(ChargingSession.number == number))
                return cs is not None and float(cs.kwh) >= kwh
        charger.tick(0.5)
        assert _wait(lambda: metered(3.5))
        page.reload()
        expect(page.locator(f'[data-session="{number}"] .session-kwh')).to_contain_text("3.5")
        with page.expect_navigation():
            page.click("#charge-stop")
        with factory() as s:
            cs = s.scalar(select(ChargingSession).where(ChargingSession.number == number))
            assert cs.status == "finished" and cs.stop_reason == "resident" and cs.fee_cents > 0 and cs.bill_number
        page.goto(f"{live_server}/me/bills/")
        expect(page.locator(f'[data-bill="{cs.bill_number}"]')).to_be_visible()
        with page.expect_navigation():
            page.click("#pay-button")
        with page.expect_navigation():
            page.click("#sandbox-pay")
        expect(page.locator("#paid-ok")).to_be_visible(timeout=20000)
        expect(page.locator(f'#pay-result [data-bill="{cs.bill_number}"]')).to_have_attribute("data-status", "paid")
    finally:
        charger.stop()
