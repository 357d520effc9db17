"""Inbound events through the real broker: validated, routed; malformed ones counted and survived."""
import json

import paho.mqtt.client as mqtt
import pytest

from connectors.mqtt import MqttConnector
from connectors.mqtt.client import parse_url
from connectors.profiles import shipped_profiles
from connectors.simulators.devices import (
    TINY_PNG, SimulatedCamera, SimulatedDoor, SimulatedGate, SimulatedHydrant,
)

from .conftest import wait_for

P = shipped_profiles()
PROFILES = {"door-1": P["door_controller"], "gate-1": P["barrier_gate"], "cam-1": P["ai_camera"],
            "hyd-1": P["hydrant_pressure_sensor"]}


@pytest.fixture
def connector(mqtt_url, root):
    conn = MqttConnector(mqtt_url, client_id=f"conn-{root}", root=root, profiles=PROFILES, persistent=False)
    with conn:
        yield conn


def test_device_events_are_routed_by_type_and_capability(connector, mqtt_url, root):
    entries, alerts, pressures, everything = [], [], [], []
    connector.router.register("entry", entries.append)
    connector.router.register("camera.alert", alerts.append)
    connector.router.register("pressure.read", pressures.append)
    connector.router.register("*", everything.append)
    door = SimulatedDoor("YC", "door-1", mqtt_url, root=root).start()
    gate = SimulatedGate("YC", "gate-1", mqtt_url, root=root, plates={"京A12345"}).start()
    cam = SimulatedCamera("YC", "cam-1", mqtt_url, root=root).start()
    hyd = SimulatedHydrant("YC", "hyd-1", mqtt_url, root=root).start()
    try:
        door.credentials["C1"] = "active"
        assert door.present("C1") is True
        assert door.present("C2", "qr") is False
        gate.vehicle("京A12345")
        cam.alert("thrown_object", 0.93)
        hyd.report()
        hyd.drop(0.05)
        assert wait_for(lambda: len(everything) == 6)
    finally:
        for d in (door, gate, cam, hyd):
            d.stop()
    assert [e.payload["granted"] for e in entries] == [True, False]
    assert alerts[0].payload["snapshot"] == TINY_PNG and alerts[0].capability == "camera.alert"
    assert [e.payload["mpa"] for e in pressures] == [0.32, 0.05]
    assert {e.device for e in everything} == {"door-1", "gate-1", "cam-1", "hyd-1"}
    assert connector.stats["malformed"] == 0


def test_malformed_payloads_are_counted_and_do_not_stop_the_consumer(connector, mqtt_url, root, caplog):
    routed = []
    connector.router.register("*", routed.append)

    def boom(event):
        raise RuntimeError("handler bug")

    connector.router.register("entry", boom)
    host, port, *_ = parse_url(mqtt_url)
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"pub-{root}")
    pub.connect(host, port)
    pub.loop_start()
    topic = f"{root}/YC/door-1/event"
    bad = [b"\xff\xfe not utf8", b"{not json", b"[1, 2]", json.dumps({"no": "type"}),
           json.dumps({"type": "teleport"}),
           json.dumps({"type": "entry", "credential": "C1", "method": "retina", "granted": True, "at": "x"}),
           json.dumps({"type": "entry", "credential": 5, "method": "card", "granted": "yes", "at": "x"})]
    try:
        for payload in bad:
            pub.publish(topic, payload, qos=1).wait_for_publish(5)
        good = {"type": "entry", "credential": "C1", "method": "card", "granted": True, "at": "2026-03-01T08:00:00"}
        pub.publish(topic, json.dumps(good), qos=1).wait_for_publish(5)
        pub.publish(f"{root}/YC/stranger/event", json.dumps(good), qos=1).wait_for_publish(5)
        assert wait_for(lambda: len(routed) == 1 and connector.stats["unknown_device"] == 1)
    finally:
        pub.disconnect()
        pub.loop_stop()
    assert connector.stats["malformed"] == len(bad)
    assert connector.router.stats["handler_errors"] == 1
    assert routed[0].payload["credential"] == "C1"
    assert any(topic in r.getMessage() and "not one of" in r.getMessage() for r in caplog.records)
