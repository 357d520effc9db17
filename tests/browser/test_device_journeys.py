"""Device journeys through a real browser (CSRF on), on SQLite and on PostgreSQL.

A manager opens the device list, clicks a device code to its live page and presses the
capability test buttons:

* a Modbus water meter (a simulated gateway started by the test): the reading shows in a
  flash and as the last value, the device is online;
* an MQTT barrier gate (a simulated gate on the local Mosquitto): the gate answers ok and
  opened exactly once;
* a silent meter: the read is flagged (timeout) and listed under recent errors;
* the other community's manager gets 404 for the device page.

Each journey registers its own device (unique code) straight in the live server's
database, as an installer would through the admin screens.
"""
from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

pytestmark = pytest.mark.browser

LIST_TABLE = "table.table:not(.filters)"  # FAB's list table (the filter form is a table too)


def _code(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6].upper()}"


@pytest.fixture
def add_device(demo_db_url: str, live_server: str, demo_ids) -> Iterator:
    """``add_device(code, name, profile, address, community="YC")`` → the new device's id."""
    from app.domains.devices.models import Device

    engine = create_engine(demo_db_url)

    def _add(code: str, name: str, profile: str, address: str, community: str = "YC") -> int:
        with Session(engine) as session:
            device = Device(community_id=demo_ids[community], code=code, name=name, profile=profile,
                            address=address, location="测试机房", status="unknown")
            session.add(device)
            session.commit()
            return device.id

    yield _add
    engine.dispose()


@pytest.fixture
def meter_server():
    """A simulated Modbus gateway: unit 5 answers like a household meter, unit 6 is silent."""
    from connectors.simulators.meters import SimMeter, start_meter_server

    handle = start_meter_server([SimMeter(unit_id=5), SimMeter(unit_id=6, pattern="silent")])
    try:
        yield handle
    finally:
        handle.stop()


def _open_from_device_list(page: Page, base: str, code: str, device_id: int) -> None:
    """Device list (searched by code) → click the code → the device's live page."""
    page.goto(f"{base}/devices/list/?_flt_0_code={code}")
    link = page.locator(f"{LIST_TABLE} a.device-panel-link", has_text=code)
    expect(link).to_have_count(1)
    with page.expect_navigation():
        link.click()
    assert page.url.endswith(f"/device/{device_id}"), page.url
    expect(page.locator("h2 small")).to_have_text(code)
    expect(page.locator("#device-status")).to_be_visible()


def _press_test(page: Page, capability: str) -> None:
    with page.expect_navigation():
        page.click(f".test-btn[data-capability='{capability}']")


# ---------------------------------------------------------------------------
# Modbus meter: a good reading
# ---------------------------------------------------------------------------

def test_meter_read_from_the_device_page(page: Page, live_server: str, login, add_device, meter_server):
    base = live_server
    code = _code("T-WM")
    device_id = add_device(code, "测试水表 5", "water_meter_dn20", meter_server.address(5))

    login(page, base, "manager_yc")
    _open_from_device_list(page, base, code, device_id)
    expect(page.locator("#device-status")).not_to_have_attribute("data-status", "online")
    expect(page.locator("#last-value")).to_have_text("—")

    _press_test(page, "meter.read")
    assert page.url.endswith(f"/device/{device_id}"), page.url
    flash = page.locator(".alert-success", has_text=re.compile(r"Reading|读数"))
    expect(flash).to_be_visible()
    match = re.search(r"(\d+\.\d+)\s*m3", flash.inner_text())
    assert match, flash.inner_text()
    value = match.group(1)
    assert float(value) >= 100, value  # the simulated meter starts at 100 m³
    expect(page.locator("#last-value")).to_contain_text(value)
    expect(page.locator("#last-value")).to_have_attribute("data-quality", "good")
    expect(page.locator("#device-status")).to_have_attribute("data-status", "online")
    expect(page.locator("#last-seen")).not_to_have_text("—")
    assert meter_server.context.reads >= 1


# ---------------------------------------------------------------------------
# MQTT gate: the command reaches the gate and is acknowledged
# ---------------------------------------------------------------------------

def test_gate_opens_from_the_device_page(page: Page, live_server: str, login, add_device):
    from connectors.simulators.devices import SimulatedGate

    base = live_server
    address = f"gate-{uuid.uuid4().hex[:10]}"
    code = _code("T-GATE")
    gate = SimulatedGate("YC", address).start()
    try:
        device_id = add_device(code, "测试道闸", "barrier_gate", address)
        login(page, base, "manager_yc")
        _open_from_device_list(page, base, code, device_id)
        assert gate.opened == 0

        _press_test(page, "gate.open")
        assert page.url.endswith(f"/device/{device_id}"), page.url
        flash = page.locator(".alert", has_text=re.compile(r"Device answered|设备"))
        expect(flash).to_be_visible()
        expect(flash).to_contain_text(re.compile(r"\bok\b"))
        expect(flash).to_have_class(re.compile(r"\balert-success\b"))
        assert gate.opened == 1, gate.commands
        assert [c["command"] for c in gate.commands] == ["open"], gate.commands
    finally:
        gate.stop()


# ---------------------------------------------------------------------------
# Modbus meter that never answers
# ---------------------------------------------------------------------------

def test_silent_meter_is_flagged_and_logged(page: Page, live_server: str, login, add_device, meter_server):
    base = live_server
    code = _code("T-WM")
    device_id = add_device(code, "测试水表 6（无响应）", "water_meter_dn20", meter_server.address(6))

    login(page, base, "manager_yc")
    _open_from_device_list(page, base, code, device_id)
    errors = page.locator("#device-errors")
    expect(errors.locator("tr")).to_have_count(2)  # header + the "—" row
    expect(errors).not_to_contain_text("timeout")

    _press_test(page, "meter.read")
    flash = page.locator(".alert-warning")
    expect(flash).to_be_visible()
    expect(flash).to_contain_text(re.compile(r"flagged|异常"))
    expect(flash).to_contain_text("timeout")
    expect(page.locator(".alert-success")).to_have_count(0)
    expect(errors.locator("tr[data-kind=timeout]")).to_have_count(1)
    expect(page.locator("#device-status")).to_have_attribute("data-status", "offline")
    expect(page.locator("#last-value")).to_have_text("—")


# ---------------------------------------------------------------------------
# Community isolation
# ---------------------------------------------------------------------------

def test_other_community_cannot_open_the_device_page(page: Page, live_server: str, login, logout,
                                                     add_device, demo_ids):
    base = live_server
    code = _code("T-WM")
    device_id = add_device(code, "测试水表（隔离）", "water_meter_dn20", "127.0.0.1:1502/7")

    login(page, base, "manager_fx")
    response = page.goto(f"{base}/device/{device_id}")
    assert response.status == 404, response.status
    body = page.locator("body")
    expect(body).not_to_contain_text(code)
    expect(page.locator(".test-btn")).to_have_count(0)
    # the test action is refused as well (a crafted POST, with a valid CSRF token of this session)
    token = page.evaluate("() => (document.querySelector('input[name=csrf_token]') || {}).value || null")
    if token is None:
        page.goto(f"{base}/devices/list/")
        token = page.evaluate("() => (document.querySelector('input[name=csrf_token]') || {}).value || null")
    if token is not None:
        posted = page.request.post(f"{base}/device/{device_id}/test",
                                   form={"csrf_token": token, "capability": "meter.read"}, max_redirects=0)
        assert posted.status == 404, posted.status
    # and the device list does not show it
    page.goto(f"{base}/devices/list/?_flt_0_code={code}")
    expect(page.locator("a.device-panel-link", has_text=code)).to_have_count(0)
    logout(page, base)

    # the owner's manager does get the page
    login(page, base, "manager_yc")
    response = page.goto(f"{base}/device/{device_id}")
    assert response.status == 200, response.status
    expect(page.locator("h2 small")).to_have_text(code)
