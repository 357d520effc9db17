"""The inbound router on the real broker, fed by the simulators: a redelivered alert starts
one process, a burst of 1,000 events from many devices is absorbed with nothing lost and an
incident (and process) for every real incident, malformed events are refused and logged."""
from __future__ import annotations

import json
import logging
import threading
import time

from sqlalchemy import func, select

from app.domains.devices.registry import register_device
from app.domains.security.models import (
    DoorEvent,
    HydrantReading,
    SecurityAlert,
    SecurityIncident,
)
from app.engine.models import ProcessInstance
from connectors.simulators.devices import (
    TINY_PNG,
    SimulatedCamera,
    SimulatedDoor,
    SimulatedHydrant,
)


def _count(factory, model, *where) -> int:
    with factory() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def _wait_for(predicate, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def test_the_same_alert_delivered_twice_starts_one_process(world):
    cam = world["sim"](SimulatedCamera, "cam-1")
    body = json.dumps({"type": "alert", "kind": "thrown_object", "confidence": 0.93, "snapshot": TINY_PNG,
                       "zone": "", "at": "2026-05-04T06:00:00+00:00"})
    topic = f"{world['root']}/{world['code']}/cam-1/event"
    for _ in range(2):  # what a QoS 1 redelivery looks like: the same message again
        cam._client.publish(topic, body, qos=1).wait_for_publish(5)
    consumer = world["consumer"]
    assert _wait_for(lambda: consumer.inbox.stats["dispatched"] >= 2, 20)
    assert _count(world["factory"], SecurityAlert) == 1
    with world["factory"]() as s:
        incident = s.scalars(select(SecurityIncident)).one()
        instances = s.scalars(select(ProcessInstance)).all()
        assert [(i.process_id, i.business_key) for i in instances] == [("security_alert", incident.number)]
        assert incident.snapshot and incident.snapshot["content_type"] == "image/png"


def test_a_burst_of_1000_events_from_many_devices_loses_nothing(world):
    factory, code = world["factory"], world["code"]
    cams, hydrants, doors = [f"bcam-{i}" for i in range(20)], [f"bhyd-{i}" for i in range(20)], \
        [f"bdoor-{i}" for i in range(10)]
    with factory() as s:
        from app.domains.estate.models import Community

        cid = s.scalar(select(Community.id).where(Community.code == code))
        for d in cams:
            register_device(s, cid, d.upper(), d, "ai_camera", d, location=f"位置{d}")
        for d in hydrants:
            register_device(s, cid, d.upper(), d, "hydrant_pressure_sensor", d)
        for d in doors:
            register_device(s, cid, d.upper(), d, "door_controller", d)
        s.commit()
    sims = ([world["sim"](SimulatedCamera, d) for d in cams] + [world["sim"](SimulatedHydrant, d) for d in hydrants]
            + [world["sim"](SimulatedDoor, d) for d in doors])
    kinds = ["thrown_object", "loitering"]

    seconds = 3.0  # "a few seconds": every device spreads its events over about 3 s

    def fire(sim):
        if isinstance(sim, SimulatedCamera):
            for i in range(20):  # 20 alerts, two kinds: 2 real incidents per camera
                sim.publish_event("alert", wait=False, kind=kinds[i % 2], confidence=0.8, snapshot=TINY_PNG,
                                  zone="", event_id=f"{sim.device}-{i}")
                time.sleep(seconds / 20)
        elif isinstance(sim, SimulatedHydrant):
            for i in range(15):
                sim.publish_event("pressure", wait=False, mpa=0.3 + i / 1000, battery=90, seq=i)
                time.sleep(seconds / 15)
        else:
            for i in range(30):
                sim.publish_event("entry", wait=False, credential=f"{sim.device}-C{i}", method="card",
                                  granted=i % 5 != 0)
                time.sleep(seconds / 30)

    threads = [threading.Thread(target=fire, args=(s,)) for s in sims]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    expected = {"alerts": 20 * 20, "readings": 20 * 15, "doors": 10 * 30}
    assert sum(expected.values()) == 1000

    def done():
        return (_count(factory, SecurityAlert) >= expected["alerts"]
                and _count(factory, HydrantReading) >= expected["readings"]
                and _count(factory, DoorEvent) >= expected["doors"])

    assert _wait_for(done, 120), world["consumer"].stats
    assert _count(factory, SecurityAlert) == 400
    assert _count(factory, HydrantReading) == 300
    assert _count(factory, DoorEvent) == 300
    assert _count(factory, DoorEvent, DoorEvent.granted.is_(False)) == 60
    # one incident and one process per (camera, kind): 40 real incidents, not 400 tasks
    assert _count(factory, SecurityIncident) == 40
    assert _count(factory, ProcessInstance) == 40
    stats = world["consumer"].stats
    assert stats.get("malformed", 0) == 0 and stats.get("router_handler_errors", 0) == 0


def test_malformed_events_are_refused_and_logged(world, caplog):
    cam = world["sim"](SimulatedCamera, "cam-1")
    topic = f"{world['root']}/{world['code']}"
    consumer = world["consumer"]
    bad = [
        (f"{topic}/cam-1/event", b"{not json"),
        (f"{topic}/cam-1/event", json.dumps({"type": "alert", "kind": "ufo", "confidence": 0.5, "at": "x"})),
        (f"{topic}/cam-1/event", json.dumps({"type": "alert", "confidence": 7})),
        (f"{topic}/cam-1/event", json.dumps(["a", "list"])),
        (f"{topic}/cam-404/event", json.dumps({"type": "alert", "kind": "loitering", "confidence": 0.5, "at": "x"})),
    ]
    with caplog.at_level(logging.WARNING, logger="connectors.mqtt.client"):
        for t, body in bad:
            cam._client.publish(t, body, qos=1).wait_for_publish(5)
        assert _wait_for(lambda: consumer.connector.stats["malformed"] >= 4
                         and consumer.connector.stats["unknown_device"] >= 1, 20)
    assert _count(world["factory"], SecurityAlert) == 0
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "not JSON" in messages and "'ufo' not one of" in messages and "kind: required" in messages
    assert "unknown device" in messages
    # a good alert after the bad ones still goes through
    cam.alert("loitering", 0.7)
    assert _wait_for(lambda: _count(world["factory"], SecurityAlert) == 1, 20)
