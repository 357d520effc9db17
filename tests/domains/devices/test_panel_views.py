"""The device page's test buttons talk to real devices: a pymodbus meter and an MQTT gate."""
from __future__ import annotations

import uuid

from sqlalchemy import select

from app.db import db
from app.domains.devices.models import Device
from app.domains.estate.models import Community
from connectors.simulators.devices import SimulatedGate
from connectors.simulators.meters import SimMeter, start_meter_server


def _add_device(app, **fields) -> int:
    with app.app_context():
        yc = db.session.scalar(select(Community.id).where(Community.code == "YC"))
        device = Device(community_id=yc, **fields)
        db.session.add(device)
        db.session.commit()
        return device.id


def test_read_meter_now_stores_and_shows_the_reading(demo_app, login):
    server = start_meter_server([SimMeter(unit_id=5, start="123.456")])
    try:
        device_id = _add_device(demo_app, code=f"WM-T-{uuid.uuid4().hex[:6]}", name="test meter",
                                profile="water_meter_dn20", address=server.address(5))
        client = login("manager_yc")
        page = client.post(f"/device/{device_id}/test", data={"capability": "meter.read"}, follow_redirects=True)
        assert page.status_code == 200
        with demo_app.app_context():
            device = db.session.get(Device, device_id)
            assert device.status == "online" and device.last_value["quality"] == "good"
            value = device.last_value["value"]
        assert float(value) >= 123.456  # a cumulative counter started at 123.456
        assert value in page.text
    finally:
        server.stop()


def test_open_gate_goes_through_the_broker_and_is_acknowledged(demo_app, login):
    gate_id = f"gate-{uuid.uuid4().hex[:8]}"
    gate = SimulatedGate("YC", gate_id).start()
    try:
        device_id = _add_device(demo_app, code=gate_id.upper(), name="test gate", profile="barrier_gate",
                                address=gate_id)
        page = login("manager_yc").post(f"/device/{device_id}/test", data={"capability": "gate.open"},
                                        follow_redirects=True)
        assert gate.opened == 1
        assert "ok" in page.text
    finally:
        gate.stop()


def test_devices_of_another_community_are_not_reachable(demo_app, login):
    with demo_app.app_context():
        fx_device = db.session.scalar(select(Device.id).join(Community).where(Community.code == "FX"))
    client = login("manager_yc")
    assert client.get(f"/device/{fx_device}").status_code == 404
    assert client.post(f"/device/{fx_device}/test", data={"capability": "door.grant"}).status_code == 404


def test_refusals_and_dead_letters_show_on_the_device_page_and_the_rejected_list(demo_app, login):
    from app import clock
    from app.domains.devices.models import DeviceDeadLetter, DeviceRejected

    tag = uuid.uuid4().hex[:8]
    with demo_app.app_context():
        yc = db.session.scalar(select(Community).where(Community.code == "YC"))
        fx = db.session.scalar(select(Community).where(Community.code == "FX"))
        device = db.session.scalars(select(Device).where(Device.community_id == yc.id,
                                                         Device.profile == "ai_camera")).first()
        db.session.add_all([
            DeviceRejected(community="YC", device=device.address, community_id=yc.id, device_id=device.id,
                           topic=f"estateflow/YC/{device.address}/event", reason=f"at: 'yesterday' {tag}",
                           excerpt='{"type": "alert"', size=17, at=clock.now()),
            DeviceRejected(community="YC", device="ghost", community_id=yc.id, topic="estateflow/YC/ghost/event",
                           reason=f"unknown device ghost-{tag}", excerpt="{}", size=2, at=clock.now()),
            DeviceRejected(community="FX", device="x", community_id=fx.id, topic="estateflow/FX/x/event",
                           reason=f"fx-only-{tag}", excerpt="{}", size=2, at=clock.now()),
            DeviceRejected(community="NOPE", device="x", topic="estateflow/NOPE/x/event",
                           reason=f"no-community-{tag}", excerpt="{}", size=2, at=clock.now()),
            DeviceDeadLetter(event_key="k" * 64, community="YC", device=device.address, device_id=device.id,
                             topic="t", type="alert", payload={"kind": "loitering"},
                             error=f"ValueError: poison-{tag}", attempts=3, at=clock.now()),
        ])
        db.session.commit()
        device_id = device.id
    manager = login("manager_yc")
    page = manager.get(f"/device/{device_id}")
    assert page.status_code == 200
    assert f"at: &#39;yesterday&#39; {tag}" in page.text and f"poison-{tag}" in page.text
    listing = manager.get("/devices/rejected/")
    assert listing.status_code == 200
    assert f"unknown device ghost-{tag}" in listing.text and f"at: &#39;yesterday&#39; {tag}" in listing.text
    assert f"fx-only-{tag}" not in listing.text and f"no-community-{tag}" not in listing.text
    assert 'name="viewport"' in listing.text or "viewport" in listing.text
    admin = login("admin").get("/devices/rejected/")
    assert f"no-community-{tag}" in admin.text and f"fx-only-{tag}" in admin.text
    resident = login("resident_yc").get("/devices/rejected/")
    assert resident.status_code in (302, 403) or f"ghost-{tag}" not in resident.text
    zh = login("manager_yc")
    zh.get("/lang/zh")
    assert "被拒绝的设备消息" in zh.get("/devices/rejected/").text


def test_the_device_form_refuses_an_unknown_profile_and_an_address_that_does_not_parse(demo_app, login):
    client = login("manager_yc")
    with demo_app.app_context():
        yc = db.session.scalar(select(Community.id).where(Community.code == "YC"))
    cases = [("eastron_sdm12O", "127.0.0.1:5020/3", "unknown device profile"),
             ("water_meter_dn20", "not an address", "not a host name"),
             ("door_controller", "not an address", "bad MQTT device id")]
    for profile, address, message in cases:
        code = f"BAD-{uuid.uuid4().hex[:6]}"
        page = client.post("/devices/add", data={"community": yc, "code": code, "name": "typo",
                                                 "profile": profile, "address": address, "location": ""},
                           follow_redirects=True)
        assert message in page.text, (profile, address)
        with demo_app.app_context():
            assert db.session.scalar(select(Device.id).where(Device.code == code)) is None
    code = f"OK-{uuid.uuid4().hex[:6]}"
    client.post("/devices/add", data={"community": yc, "code": code, "name": "good", "profile": "water_meter_dn20",
                                      "address": "192.168.1.20:502/7", "location": ""}, follow_redirects=True)
    with demo_app.app_context():
        assert db.session.scalar(select(Device.id).where(Device.code == code)) is not None
