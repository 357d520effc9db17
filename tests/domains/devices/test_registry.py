"""Device service: registration, capability lookup, meter reads stored, outbox in the database."""
import time
import uuid
from datetime import datetime
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from app import clock
from app.domains.devices import registry as svc
from app.domains.estate.models import Community, PropertyCompany
from app.settings import get_settings
from connectors.models import DeviceCommand, DeviceError, MeterReading
from connectors.mqtt import MqttConnector
from connectors.router import InboundEvent
from connectors.simulators.devices import SimulatedDoor
from connectors.simulators.meters import SimMeter, start_meter_server

AT = datetime(2026, 3, 1, 7, 30)


@pytest.fixture
def community(session):
    company = PropertyCompany(name="示例物业")
    c = Community(company=company, code=f"YC{uuid.uuid4().hex[:6]}", name="怡翠花园")
    session.add_all([company, c])
    session.flush()
    return c


@pytest.fixture
def frozen_clock():
    clock.freeze(AT)
    yield AT
    clock.reset()


def test_register_and_find_by_capability(session, community):
    svc.register_device(session, community.id, "W-1-101", "1-101 水表", "water_meter_dn20", "127.0.0.1:5020/1")
    svc.register_device(session, community.id, "DOOR-1", "1号楼单元门", "door_controller", "door-1")
    svc.register_device(session, community.id, "CAM-1", "中庭摄像头", "ai_camera", "cam-1")
    assert [d.code for d in svc.capability_devices(session, community.id, "meter.read")] == ["W-1-101"]
    assert [d.code for d in svc.capability_devices(session, community.id, "door.suspend")] == ["DOOR-1"]
    assert svc.capability_devices(session, community.id, "gate.open") == []
    with pytest.raises(ValueError, match="unknown device profile"):
        svc.register_device(session, community.id, "X", "x", "toaster", "x")
    with pytest.raises(ValueError, match="bad Modbus address"):
        svc.register_device(session, community.id, "W-2", "w", "water_meter_dn20", "somewhere:abc/1")
    with pytest.raises(ValueError, match="unknown capability"):
        svc.capability_devices(session, community.id, "door.teleport")
    lookup = svc.mqtt_profile_lookup(session)
    assert lookup(community.code, "door-1").name == "door_controller"
    assert lookup(community.code, "W-1-101") is None


def test_read_meters_stores_good_readings_and_logs_the_rest(session, community, frozen_clock):
    meters = [SimMeter(1), SimMeter(2, "electricity_meter_dds"), SimMeter(3, pattern="out_of_range"),
              SimMeter(4, pattern="silent")]
    with start_meter_server(meters, clock=lambda: AT) as gw:
        for unit, profile in [(1, "water_meter_dn20"), (2, "electricity_meter_dds"),
                              (3, "water_meter_dn20"), (4, "water_meter_dn20")]:
            svc.register_device(session, community.id, f"M{unit}", f"meter {unit}", profile, gw.address(unit))
        readings = svc.read_meters(session, community.id, timeout=0.2, retries=1)
        session.commit()
        assert {r.device_code: r.quality for r in readings} == {
            "M1": "good", "M2": "good", "M3": "out_of_range", "M4": "timeout"}
        stored = session.scalars(select(MeterReading).order_by(MeterReading.id)).all()
        assert [(r.value, r.unit) for r in stored] == [(meters[0].total_at(AT), "m3"),
                                                       (meters[1].total_at(AT), "kWh")]
        assert all(isinstance(r.value, Decimal) for r in stored)
        errors = {e.kind for e in session.scalars(select(DeviceError))}
        assert errors == {"out_of_range", "timeout"}
        by_code = {d.code: d for d in svc.capability_devices(session, community.id, "meter.read")}
        assert by_code["M1"].status == "online" and Decimal(by_code["M1"].last_value["value"]) == stored[0].value
        assert by_code["M4"].status == "offline" and "timeout" in by_code["M4"].last_error
        assert by_code["M3"].status == "fault"  # answers, but the reading is out of range: 故障, not online
        # the meter now reads lower than the last good reading: backwards, not billable
        gw.meters[1].start -= 5
        second = svc.read_meters(session, community.id, timeout=0.2, retries=0)
        session.commit()
    assert {r.device_code: r.quality for r in second}["M1"] == "backwards"
    assert len(svc.billable_readings(session, by_code["M1"])) == 1
    assert svc.device_errors(session, by_code["M1"])[0].kind == "backwards"
    assert by_code["M1"].status == "fault"


def test_events_update_device_state(session, community):
    door = svc.register_device(session, community.id, "DOOR-1", "单元门", "door_controller", "door-1")
    event = InboundEvent(community.code, "door-1", "entry", {"type": "entry", "credential": "C1",
                         "granted": True}, "door_controller", None, AT)
    assert svc.apply_event(session, event) is door
    assert door.status == "online" and door.last_value["credential"] == "C1"
    svc.set_online(session, community.code, "door-1", False)
    assert door.status == "offline"


def test_offline_command_waits_in_the_database_outbox(session, community):
    svc.register_device(session, community.id, "DOOR-1", "单元门", "door_controller", "door-1")
    session.commit()
    factory = sessionmaker(bind=session.get_bind(), expire_on_commit=False)
    url = get_settings().mqtt_url
    root = f"test-{uuid.uuid4().hex[:10]}/estateflow"
    conn = MqttConnector(url, client_id=f"svc-{root}", root=root, outbox=svc.SessionOutbox(factory),
                         profiles=svc.mqtt_profile_lookup(session), persistent=False, flush_timeout=3)
    door = SimulatedDoor(community.code, "door-1", url, root=root)
    with conn:
        door.start()
        door.kill()
        deadline = time.monotonic() + 30
        while conn.is_online(community.code, "door-1") is not False and time.monotonic() < deadline:
            time.sleep(0.05)
        ack = conn.send_command(community.code, "door-1", "grant", {"credential": "C9", "kind": "card"})
        assert ack.status == "queued"
        row = session.scalars(select(DeviceCommand)).one()
        assert (row.status, row.command, row.params["credential"]) == ("pending", "grant", "C9")
        door.start()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            session.expire_all()
            if session.scalars(select(DeviceCommand)).one().status not in ("pending", "sending"):
                break
            time.sleep(0.05)
        door.stop()
    row = session.scalars(select(DeviceCommand)).one()
    assert row.status == "delivered" and row.result == {"credential": "C9", "status": "active"}
    assert door.credentials == {"C9": "active"}
