"""Mosquitto restarted in the middle of a QoS 1 stream of device events: every event is stored
exactly once by the platform's event consumer. Mosquitto crashing (SIGKILL) while a door is
online: a command for it is queued at once in the database outbox (not a 5-second timeout) and
delivered once when the broker and the door are back. Uses its OWN Mosquitto (temporary
config, free port, persistence on); the shared broker on 1883 is never touched."""
from __future__ import annotations

import json
import threading
import time
import uuid

import paho.mqtt.client as mqtt
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from app.domains.devices import registry as svc
from app.domains.devices.event_consumer import EventConsumer
from app.domains.estate.models import Community
from app.domains.security.models import HydrantReading
from connectors.models import DeviceCommand
from connectors.mqtt import MqttConnector
from connectors.simulators.devices import SimulatedDoor

EVENTS = 600


def _wait(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return bool(predicate())


def _payload(seq: int) -> str:
    return json.dumps({"type": "pressure", "mpa": 0.3, "battery": 80, "seq": seq,
                       "at": f"2026-03-01T{8 + seq // 3600:02d}:{seq // 60 % 60:02d}:{seq % 60:02d}+00:00"})


def test_a_broker_restart_mid_stream_loses_no_event_and_the_outbox_delivers(db_engine, var_dir, build_estate,
                                                                              own_broker):
    broker = own_broker
    url = f"mqtt://127.0.0.1:{broker.port}"
    factory = sessionmaker(db_engine, expire_on_commit=False)
    with factory() as s:
        code = build_estate(s).community.code
        cid = s.scalar(select(Community.id).where(Community.code == code))
        svc.register_device(s, cid, "RHYD-1", "restart hydrant", "hydrant_pressure_sensor", "rhyd-1")
        svc.register_device(s, cid, "RDOOR-1", "单元门", "door_controller", "rdoor-1")
        s.commit()
    root = f"eftest/{uuid.uuid4().hex[:10]}"
    consumer = EventConsumer(factory, mqtt_url=url, root=root, client_id=f"t-restart-{uuid.uuid4().hex[:8]}",
                             persistent=True, profile_refresh=0.2).start()
    with factory() as s:
        commands = MqttConnector(url, client_id=f"t-cmd-{uuid.uuid4().hex[:8]}", root=root,
                                 outbox=svc.SessionOutbox(factory), profiles=svc.mqtt_profile_lookup(s),
                                 persistent=False, flush_timeout=3).start()
    door = SimulatedDoor(code, "rdoor-1", url, root=root).start()
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"rhyd-{uuid.uuid4().hex[:8]}", clean_session=False)
    pub.reconnect_delay_set(1, 2)
    pub.max_queued_messages_set(0)  # keep every QoS 1 message while the broker is away
    pub.connect("127.0.0.1", broker.port)
    pub.loop_start()
    sent = threading.Event()

    def stream() -> None:
        for seq in range(EVENTS):
            pub.publish(f"{root}/{code}/rhyd-1/event", _payload(seq), qos=1)
            time.sleep(0.004)
        sent.set()

    def stored() -> int:
        with factory() as s:
            return s.scalar(select(func.count()).select_from(HydrantReading))

    publisher = threading.Thread(target=stream)
    try:
        assert _wait(lambda: commands.is_online(code, "rdoor-1"), 30)
        publisher.start()
        assert _wait(lambda: stored() >= EVENTS // 4, 60), consumer.stats
        broker.stop()  # SIGTERM: Mosquitto saves its persistence file
        time.sleep(1)
        broker.start()
        assert sent.wait(90)
        assert _wait(lambda: stored() >= EVENTS, 120), (stored(), consumer.stats)

        # a crash this time (SIGKILL: no will messages, nothing saved): the door was online when
        # the broker vanished, so only the lost connection says a command cannot go out now
        assert _wait(lambda: commands.is_online(code, "rdoor-1") is True, 30)
        broker.proc.kill()
        broker.proc.wait(10)
        assert _wait(lambda: not commands.connected, 10)
        started = time.monotonic()
        queued = commands.send_command(code, "rdoor-1", "grant", {"credential": "C7", "kind": "card"})
        assert queued.status == "queued" and time.monotonic() - started < 2, queued
        broker.start()
        with factory() as s:
            assert _wait(lambda: s.scalars(select(DeviceCommand.status)).one() == "delivered"
                         or (s.expire_all() or False), 60)
        time.sleep(1.5)  # room for a duplicate delivery, if there were one
    finally:
        publisher.join(60)
        pub.disconnect()
        pub.loop_stop()
        door.stop()
        commands.stop()
        consumer.stop()
        broker.stop()
    assert stored() == EVENTS
    assert [c["command"] for c in door.commands] == ["grant"]
    assert door.duplicates == 0
