"""Security and visitor journeys (issue #7) in chromium, against simulated devices on the real
broker and the platform's event consumer, on SQLite and on PostgreSQL.

1. camera alert → the guard sees it first in the inbox, with the snapshot → acknowledges →
   records the outcome with a photo → the incident is closed;
2. hydrant low pressure for longer than the setting → a maintenance work order; recovery closes;
3. a resident invites a visitor on the phone → QR pass → the simulated door validates it with
   the platform and opens → the resident is notified → the pass is used up;
4. a forged pass is refused and the refusal is visible to the front desk with its reason.

Each module run uses its own MQTT topic root so it never sees other tests' traffic.
"""
from __future__ import annotations

import base64
import time
import uuid
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import create_engine, select
from sqlalchemy.orm import sessionmaker

from app import clock
from app.engine.models import TaskRow
from app.domains.estate.models import Community
from app.domains.devices.models import Device
from app.domains.security.models import DoorEvent, HydrantAlarm, SecurityIncident
from app.domains.devices.event_consumer import EventConsumer
from tests.support.browser import sign_out
from app.domains.visitors.passes import device_key
from app.settings import get_settings
from connectors.simulators.devices import SimulatedCamera, SimulatedHydrant
from connectors.simulators.qr_door import QrDoor

pytestmark = pytest.mark.browser

DEMO_LOGIN_OF_ROLE = {"manager": "manager_yc", "technician": "tech_yc1", "front_desk": "frontdesk_yc",
                      "guard": "guard_yc"}
SECRET = "b" * 64  # the live server's secret key (tests/browser/conftest.py)
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAcCBlCwAAAABJRU5ErkJggg==")


@pytest.fixture(scope="module")
def devices(live_server, demo_db_url):
    """The platform's event consumer and simulated YC devices on a topic root of this module."""
    root = f"eftest/{uuid.uuid4().hex[:10]}"
    url = get_settings().mqtt_url
    engine = create_engine(demo_db_url)
    factory = sessionmaker(engine, expire_on_commit=False)
    consumer = EventConsumer(factory, root=root, client_id=f"t-journey-{uuid.uuid4().hex[:8]}",
                             persistent=False).start()
    with factory() as s:  # the demo's YC devices (demo.yaml): first camera, hydrant sensor, door
        yc = s.scalar(select(Community.id).where(Community.code == "YC"))
        first = {p: s.scalars(select(Device).where(Device.community_id == yc, Device.profile == p)
                              .order_by(Device.code)).first()
                 for p in ("ai_camera", "hydrant_pressure_sensor", "door_controller")}
    cam, hyd, dr = first["ai_camera"], first["hydrant_pressure_sensor"], first["door_controller"]
    camera = SimulatedCamera("YC", cam.address, url, root=root).start()
    hydrant = SimulatedHydrant("YC", hyd.address, url, root=root).start()
    door = QrDoor("YC", dr.address, url, root=root, platform_url=live_server,
                  device_key=device_key(SECRET, "YC", dr.address)).start()
    yield {"factory": factory, "camera": camera, "hydrant": hydrant, "door": door, "consumer": consumer,
           "camera_location": cam.location, "hydrant_code": hyd.code}
    for sim in (camera, hydrant, door):
        sim.stop()
    consumer.stop()
    engine.dispose()
    clock.reset()


def _wait(predicate, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    return predicate()


def _claim_and_open(page: Page, task) -> None:
    with page.expect_navigation():
        task.locator(".claim-btn, .open-btn").first.click()  # a follow-up may come already assigned
    expect(page.locator("#task-form form")).to_be_visible()


def test_camera_alert_is_handled_by_the_guard(page: Page, live_server: str, login, devices, tmp_path):
    factory = devices["factory"]
    devices["camera"].alert("thrown_object", 0.93)

    def incident():
        with factory() as s:
            return s.scalars(select(SecurityIncident).where(SecurityIncident.kind == "thrown_object",
                                                            SecurityIncident.status == "open",
                                                            SecurityIncident.instance_id.is_not(None))
                             .order_by(SecurityIncident.id.desc())).first()

    row = _wait(incident)
    assert row is not None, devices["consumer"].stats
    login(page, live_server, "guard_yc")
    page.goto(f"{live_server}/inbox/")
    first = page.locator(".ef-task").first
    expect(first).to_contain_text(row.number)
    expect(first).to_contain_text(devices["camera_location"])
    _claim_and_open(page, first)
    expect(page.locator("#task-form img.ef-thumb")).to_be_visible()  # the camera's snapshot
    expect(page.locator(".ef-context")).to_contain_text("高空抛物")
    page.fill("#f-ack_note", "马上到")
    with page.expect_navigation():
        page.click("#task-form .ef-submit")
    handle = page.locator(".ef-task", has_text=row.number)
    expect(handle).to_contain_text("处置告警")
    _claim_and_open(page, handle)
    page.select_option("#f-outcome", "handled")
    page.fill("#f-outcome_note", "楼上住户晾衣架掉落，已提醒")
    photo = tmp_path / "site.png"
    photo.write_bytes(PNG)
    page.set_input_files("#f-photos", str(photo))
    with page.expect_navigation():
        page.click("#task-form .ef-submit")
    page.goto(f"{live_server}/security/incident/{row.id}")
    expect(page.locator("#incident")).to_have_attribute("data-status", "closed")
    expect(page.locator("#incident-outcome")).to_contain_text("handled")
    expect(page.locator("#snapshot")).to_be_visible()


def test_hydrant_low_pressure_opens_a_work_order(page: Page, live_server: str, login, devices):
    factory, hydrant = devices["factory"], devices["hydrant"]
    hydrant.drop(0.05)

    def watching():
        with factory() as s:
            return s.scalar(select(HydrantAlarm.id).where(HydrantAlarm.status == "watching"))

    assert _wait(watching), devices["consumer"].stats  # the platform saw the low reading
    clock.advance(timedelta(minutes=11))  # the platform's clock: low for longer than the setting (10 min)
    try:
        hydrant.drop(0.04)

        def open_alarm():
            with factory() as s:
                return s.scalars(select(HydrantAlarm).where(HydrantAlarm.status == "open",
                                                            HydrantAlarm.kind == "low_pressure")).first()

        alarm = _wait(open_alarm)
        assert alarm is not None and alarm.work_order, devices["consumer"].stats
        login(page, live_server, "manager_yc")
        page.goto(f"{live_server}/security/hydrants/")
        row = page.locator(f"#hydrants tr[data-device='{devices['hydrant_code']}']")
        expect(row).to_have_attribute("data-state", "low")
        expect(row.locator(".work-order")).to_have_text(alarm.work_order)
        with page.expect_navigation():
            row.locator("a").click()
        expect(page.locator("#pressure-chart polyline")).to_have_count(1)
        # the work order's first task (ours: technician; the repair module's: its own first step)
        # is in the inbox of the demo login of that role
        with factory() as s:
            task = s.scalars(select(TaskRow).where(TaskRow.business_key == alarm.work_order,
                                                   TaskRow.status.in_(("ready", "claimed")))).first()
            assert task is not None, f"no open task for work order {alarm.work_order}"
        sign_out(page, live_server)
        login(page, live_server, task.assignee if task.status == "claimed" else DEMO_LOGIN_OF_ROLE[task.role])
        page.goto(f"{live_server}/inbox/")
        expect(page.locator(".ef-task", has_text=alarm.work_order)).to_be_visible()
        # pressure recovers: the alarm closes
        hydrant.report(0.32)
        assert _wait(lambda: _status(factory, alarm.id) == "closed")
    finally:
        clock.reset()


def _status(factory, alarm_id):
    with factory() as s:
        return s.get(HydrantAlarm, alarm_id).status


def test_visitor_invite_qr_door_opens_and_resident_is_notified(phone_page: Page, live_server: str, login, devices):
    page, door, factory = phone_page, devices["door"], devices["factory"]
    _resident_login(page, live_server, "resident_yc")
    page.goto(f"{live_server}/me/")
    with page.expect_navigation():
        page.locator("#resident-tiles a", has_text="访客").click()
    page.fill("#visitor_name", "刘阿姨")
    page.fill("#visitor_phone", "13912345678")
    page.fill("#hours", "3")
    page.fill("#entries", "1")
    with page.expect_navigation():
        page.click("#invite-btn")
    expect(page.locator("#pass-qr")).to_be_visible()
    expect(page.locator("#pass")).to_have_attribute("data-status", "active")
    number = page.locator("#pass").get_attribute("data-pass")
    share_url = page.locator("#pass-share").get_attribute("data-url")  # what the host sends the visitor
    token = share_url.rsplit("/v/", 1)[1]
    # the visitor shows the code at the door: the door asks the platform and opens
    assert door.present_qr(token) is True, door.last_answer
    assert _wait(lambda: _door_event(factory, f"pass:{number}")), devices["consumer"].stats
    page.goto(f"{live_server}/notifications/")
    expect(page.locator("#notifications")).to_contain_text("访客已到达：刘阿姨")
    # one entry only: the second time the door stays shut
    assert door.present_qr(token) is False and door.last_answer["reason"] == "used_up"
    page.goto(f"{live_server}/me/visitors/")
    expect(page.locator(f".ef-pass[data-pass='{number}']")).to_have_attribute("data-status", "used_up")


def _resident_login(page: Page, base: str, username: str) -> None:
    """Residents land on their own home page, not the staff one the shared helper waits for."""
    page.goto(f"{base}/login/")
    page.fill("#username", username)
    page.fill("#password", "demo1234")
    with page.expect_navigation():
        page.click("form[name=login] [type=submit]")
    assert "/login" not in page.url


def _door_event(factory, credential):
    with factory() as s:
        return s.scalar(select(DoorEvent.id).where(DoorEvent.credential == credential, DoorEvent.granted.is_(True)))


def test_forged_pass_is_refused_and_the_front_desk_sees_why(page: Page, live_server: str, login, devices):
    door, factory = devices["door"], devices["factory"]
    body = base64.urlsafe_b64encode(b'{"v":1,"p":1,"t":"x","c":"YC","f":0,"u":9999999999}').rstrip(b"=").decode()
    forged = f"{body}.{base64.urlsafe_b64encode(b'0' * 32).rstrip(b'=').decode()}"
    assert door.present_qr(forged) is False
    assert door.last_answer == {"ok": False, "reason": "bad_signature"}
    assert _wait(lambda: _door_event_refused(factory))
    login(page, live_server, "frontdesk_yc")
    page.goto(f"{live_server}/visitors/")
    expect(page.locator("#checks tr[data-reason='bad_signature']").first).to_be_visible()
    sign_out(page, live_server)
    login(page, live_server, "guard_yc")
    page.goto(f"{live_server}/security/doors/?granted=no")
    expect(page.locator("#door-events")).to_contain_text("qr-refused:bad_signature")


def _door_event_refused(factory):
    with factory() as s:
        return s.scalar(select(DoorEvent.id).where(DoorEvent.credential == "qr-refused:bad_signature"))
