"""Issue 12, item 12, through the real broker: every refused device message is stored with its
reason (unknown devices and communities and topics with an extra level too), oversized payloads
and bad timestamps are refused, the device's own time is used, identical readings stored once."""
from __future__ import annotations

import json
import time
from datetime import datetime

from sqlalchemy import func, select

from app.domains.devices.models import Device, DeviceRejected
from app.domains.security.models import HydrantReading, SecurityAlert


def _wait(predicate, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def _count(factory, model, *where) -> int:
    with factory() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def test_refusals_are_stored_with_their_reason(world):
    factory, code, root = world["factory"], world["code"], world["root"]
    cam = world["sim"](__import__("connectors.simulators.devices", fromlist=["SimulatedCamera"]).SimulatedCamera,
                       "cam-1")
    at = "2026-05-04T06:00:00+00:00"
    good = {"type": "alert", "kind": "loitering", "confidence": 0.5, "at": at}
    bad = [
        (f"{root}/{code}/cam-1/event", b"{not json", "not JSON"),
        (f"{root}/{code}/cam-1/event", json.dumps({**good, "confidence": "high"}), "confidence: expected number"),
        (f"{root}/{code}/cam-1/event", json.dumps({"type": "alert", "confidence": 0.5, "at": at}), "kind: required"),
        (f"{root}/{code}/cam-1/event", json.dumps({**good, "at": "yesterday"}), "not an ISO-8601 date-time"),
        (f"{root}/{code}/cam-404/event", json.dumps(good), "unknown device 'cam-404'"),
        (f"{root}/NOPE/cam-1/event", json.dumps(good), "in community 'NOPE'"),
        (f"{root}/{code}/cam-1/extra/event", json.dumps(good), "extra levels"),
        (f"{root}/{code}/cam-1/event", json.dumps({**good, "zone": "x" * (1024 * 1024)}), "over the limit"),
    ]
    for topic, body, _reason in bad:
        cam._client.publish(topic, body, qos=1).wait_for_publish(5)
    assert _wait(lambda: _count(factory, DeviceRejected) == len(bad)), world["consumer"].stats
    with factory() as s:
        rows = s.scalars(select(DeviceRejected).order_by(DeviceRejected.id)).all()
        device_id = s.scalar(select(Device.id).where(Device.address == "cam-1"))
        last_error = s.get(Device, device_id).last_error
    for row, (_t, _b, reason) in zip(rows, bad, strict=True):
        assert reason in row.reason, (row.reason, reason)
    assert [r.device_id == device_id for r in rows] == [True, True, True, True, False, False, True, True]
    assert rows[5].community_id is None and rows[4].community_id is not None
    assert rows[7].size > 1024 * 1024 and len(rows[7].excerpt) <= 300
    assert last_error.startswith("rejected:")
    assert _count(factory, SecurityAlert) == 0  # nothing refused was stored as an alert
    cam._client.publish(f"{root}/{code}/cam-1/event", json.dumps(good), qos=1).wait_for_publish(5)
    assert _wait(lambda: _count(factory, SecurityAlert) == 1)


def test_identical_readings_are_stored_once_and_the_device_time_is_used(world):
    factory, code, root = world["factory"], world["code"], world["root"]
    hyd = world["sim"](__import__("connectors.simulators.devices", fromlist=["SimulatedHydrant"]).SimulatedHydrant,
                       "hyd-1")
    body = json.dumps({"type": "pressure", "mpa": 0.31, "battery": 90, "at": "2026-05-04T06:00:00+08:00"})
    for _ in range(3):  # a sensor repeating itself, a QoS 1 redelivery
        hyd._client.publish(f"{root}/{code}/hyd-1/event", body, qos=1).wait_for_publish(5)
    other = json.dumps({"type": "pressure", "mpa": 0.32, "battery": 90, "at": "2026-05-04T06:01:00+08:00"})
    hyd._client.publish(f"{root}/{code}/hyd-1/event", other, qos=1).wait_for_publish(5)
    consumer = world["consumer"]
    assert _wait(lambda: consumer.inbox.stats["dispatched"] >= 4), consumer.stats
    assert _count(factory, HydrantReading) == 2
    assert consumer.inbox.stats["duplicates"] == 2
    with factory() as s:
        device = s.scalars(select(Device).where(Device.address == "hyd-1")).one()
        assert device.last_seen == datetime(2026, 5, 3, 22, 1)  # the device's own time, in UTC
