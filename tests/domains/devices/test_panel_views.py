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
