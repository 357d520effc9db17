"""Issue 12, item 9, through the real broker: while the database is locked for 30 s, 1,000
QoS 1 events arrive; after the lock ends every one of them is handled exactly once, and
redeliveries of events already handled change nothing. One test per backend (SQLite: a second
connection holds ``BEGIN EXCLUSIVE``; PostgreSQL: ``LOCK TABLE hydrant_reading IN ACCESS
EXCLUSIVE MODE``, the table the handler writes)."""
from __future__ import annotations

import json
import threading
import time
import uuid

import paho.mqtt.client as mqtt
from sqlalchemy import func, select

from app.domains.devices.models import DeviceDeadLetter, DeviceInbox
from app.domains.devices.registry import register_device
from app.domains.estate.models import Community
from app.domains.security.models import HydrantReading
from app.settings import get_settings
from connectors.mqtt.client import parse_url

from .test_event_inbox import _hold_lock

LOCK_SECONDS = 30
EVENTS = 1000
DEVICES = 10


def _count(factory, model) -> int:
    with factory() as s:
        return s.scalar(select(func.count()).select_from(model))


def _wait(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


def _payload(seq: int) -> str:
    return json.dumps({"type": "pressure", "mpa": 0.3, "battery": 80, "seq": seq,
                       "at": f"2026-03-01T08:{seq // 60 % 60:02d}:{seq % 60:02d}+00:00"})


def test_1000_events_during_a_30s_lock_are_all_handled_once_after_it(world, db_engine):
    factory, code, consumer = world["factory"], world["code"], world["consumer"]
    with factory() as s:
        cid = s.scalar(select(Community.id).where(Community.code == code))
        for i in range(DEVICES):
            register_device(s, cid, f"LHYD-{i}", f"lock hydrant {i}", "hydrant_pressure_sensor", f"lhyd-{i}")
        s.commit()
    consumer.profiles.reload()

    host, port, *_ = parse_url(get_settings().mqtt_url)
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"lockpub-{uuid.uuid4().hex[:8]}")
    pub.max_inflight_messages_set(1000)
    pub.connect(host, port)
    pub.loop_start()
    topic = f"{world['root']}/{code}/lhyd-{{}}/event"
    locked = threading.Event()
    holder = _hold_lock(db_engine, LOCK_SECONDS, locked)
    try:
        assert locked.wait(10)
        t0 = time.monotonic()
        infos = [pub.publish(topic.format(seq % DEVICES), _payload(seq), qos=1) for seq in range(EVENTS)]
        for info in infos:
            info.wait_for_publish(30)
        time.sleep(max(0.0, 5 - (time.monotonic() - t0)))
        assert consumer.inbox.stats["handled"] == 0  # nothing could be stored yet ...
        assert consumer.stats.get("errors", 0) == 0  # ... and nothing was dropped
        holder.join(LOCK_SECONDS + 15)
        assert _wait(lambda: _count(factory, HydrantReading) >= EVENTS, 180), consumer.stats
        # redeliveries of events already handled (a reconnect, a device repeating itself)
        for info in [pub.publish(topic.format(seq % DEVICES), _payload(seq), qos=1) for seq in range(0, EVENTS, 20)]:
            info.wait_for_publish(30)
        assert _wait(lambda: consumer.inbox.stats["duplicates"] >= EVENTS // 20, 60), consumer.stats
    finally:
        pub.disconnect()
        pub.loop_stop()
        holder.join(LOCK_SECONDS + 15)
    assert _count(factory, HydrantReading) == EVENTS
    with factory() as s:
        seqs = sorted(s.scalars(select(HydrantReading.id)).all())
        assert len(seqs) == EVENTS
        assert s.scalar(select(func.count()).select_from(DeviceInbox).where(DeviceInbox.device.like("lhyd-%"))) == EVENTS
    assert _count(factory, DeviceDeadLetter) == 0
    assert consumer.inbox.stats["busy_retries"] > 0 or db_engine.dialect.name == "postgresql"


BURST = 3000


def test_a_burst_beyond_mosquittos_defaults_is_kept_by_the_platforms_broker_config(db_engine, var_dir, build_estate,
                                                                                     own_broker):
    """The broker the platform starts (``mosquitto_config``, the same limits as
    ``deploy/mosquitto/estateflow.conf``): 3,000 events arrive while the database is locked, more
    than Mosquitto's default queue of 1,000 per client (beyond which it drops QoS 1 messages):
    every one is stored once after the lock, and the inbox takes them in batches larger than the
    default in-flight window of 20 (the consumer acknowledges only after its commit)."""
    from sqlalchemy.orm import sessionmaker

    from app.domains.devices.event_consumer import EventConsumer

    broker = own_broker
    url = f"mqtt://127.0.0.1:{broker.port}"
    factory = sessionmaker(db_engine, expire_on_commit=False)
    with factory() as s:
        code = build_estate(s).community.code
        cid = s.scalar(select(Community.id).where(Community.code == code))
        for i in range(DEVICES):
            register_device(s, cid, f"BHYD-{i}", f"burst hydrant {i}", "hydrant_pressure_sensor", f"bhyd-{i}")
        s.commit()
    root = f"eftest/{uuid.uuid4().hex[:10]}"
    consumer = EventConsumer(factory, mqtt_url=url, root=root, client_id=f"t-burst-{uuid.uuid4().hex[:8]}",
                             persistent=True, workers=1).start()
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"burstpub-{uuid.uuid4().hex[:8]}")
    pub.max_inflight_messages_set(1000)
    pub.connect("127.0.0.1", broker.port)
    pub.loop_start()
    locked = threading.Event()
    holder = _hold_lock(db_engine, 8, locked)
    try:
        assert locked.wait(10)
        infos = [pub.publish(f"{root}/{code}/bhyd-{seq % DEVICES}/event", _payload(seq), qos=1)
                 for seq in range(BURST)]
        for info in infos:
            info.wait_for_publish(60)
        holder.join(30)
        assert _wait(lambda: _count(factory, HydrantReading) >= BURST, 300), consumer.stats
        time.sleep(1.0)
    finally:
        pub.disconnect()
        pub.loop_stop()
        holder.join(30)
        consumer.stop()
        broker.stop()
    assert _count(factory, HydrantReading) == BURST
    assert "dropped" not in broker.log_path.read_text(errors="replace").lower()
    stats = consumer.inbox.stats
    assert stats["handled"] == BURST and stats["handled"] / stats["batches"] > 20, stats
