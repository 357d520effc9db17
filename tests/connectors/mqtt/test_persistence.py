"""No QoS 1 event is lost while the consumer is away or the broker restarts.

Uses its OWN Mosquitto (temp config, free port, persistence on); the system broker on 1883
is never touched.
"""
import json
import shutil
import threading
import time
import uuid

import paho.mqtt.client as mqtt
import pytest

from connectors.mqtt import MqttConnector
from connectors.mqtt.broker import MosquittoBroker
from connectors.profiles import shipped_profiles
from connectors.simulators.meters import free_port

from .conftest import wait_for

pytestmark = pytest.mark.skipif(shutil.which("mosquitto") is None and not
                                __import__("os").path.exists("/usr/sbin/mosquitto"),
                                reason="needs the mosquitto binary")
P = shipped_profiles()
ROOT = "estateflow"


@pytest.fixture
def broker(tmp_path):
    b = MosquittoBroker(free_port(), tmp_path / "mosquitto").start()
    yield b
    b.stop()


def _publisher(port: int) -> mqtt.Client:
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"hyd-{uuid.uuid4().hex[:8]}",
                      clean_session=False)
    pub.reconnect_delay_set(1, 2)
    pub.max_queued_messages_set(0)
    pub.connect_async("127.0.0.1", port)
    pub.loop_start()
    return pub


def _event(seq: int) -> str:
    return json.dumps({"type": "pressure", "mpa": 0.3, "battery": float(seq % 100), "seq": seq,
                       "at": "2026-03-01T08:00:00+00:00"})


def _connector(port: int, client_id: str, got: list) -> MqttConnector:
    conn = MqttConnector(f"mqtt://127.0.0.1:{port}", client_id=client_id, root=ROOT,
                         profiles={"hyd-1": P["hydrant_pressure_sensor"]}, persistent=True,
                         reconnect_delay=(1, 2))
    conn.router.register("pressure.read", lambda e: got.append(int(e.payload["seq"])))
    return conn


def test_events_published_while_consumer_is_away_are_delivered(broker):
    got: list[int] = []
    client_id = f"consumer-{uuid.uuid4().hex[:8]}"
    _connector(broker.port, client_id, got).start().stop()  # session + subscriptions exist
    pub = _publisher(broker.port)
    try:
        assert wait_for(pub.is_connected)
        for seq in range(200):
            pub.publish(f"{ROOT}/YC/hyd-1/event", _event(seq), qos=1)
        assert wait_for(lambda: not pub._out_messages, timeout=20)  # all PUBACKed by the broker
        conn = _connector(broker.port, client_id, got).start()
        try:
            assert wait_for(lambda: len(set(got)) == 200, timeout=20), len(set(got))
        finally:
            conn.stop()
    finally:
        pub.disconnect()
        pub.loop_stop()
    assert set(got) == set(range(200))


def test_broker_restart_in_the_middle_of_a_qos1_stream_loses_nothing(broker):
    got: list[int] = []
    total = 1000
    conn = _connector(broker.port, f"consumer-{uuid.uuid4().hex[:8]}", got).start()
    pub = _publisher(broker.port)
    assert wait_for(pub.is_connected)
    sent = threading.Event()

    def stream() -> None:
        for seq in range(total):
            pub.publish(f"{ROOT}/YC/hyd-1/event", _event(seq), qos=1)
            time.sleep(0.002)
        sent.set()

    worker = threading.Thread(target=stream)
    worker.start()
    try:
        assert wait_for(lambda: len(got) >= 250, timeout=20)
        broker.restart()  # SIGTERM (saves persistence), then start again on the same port
        assert conn.stats["disconnects"] >= 1 or wait_for(lambda: conn.stats["disconnects"] >= 1, 5)
        assert sent.wait(60)
        assert wait_for(lambda: set(got) >= set(range(total)), timeout=60), \
            sorted(set(range(total)) - set(got))[:20]
    finally:
        worker.join(60)
        conn.stop()
        pub.disconnect()
        pub.loop_stop()
    assert set(got) == set(range(total))
    assert conn.stats["connects"] >= 2
