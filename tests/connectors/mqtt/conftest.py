"""MQTT test fixtures: the real broker, a unique topic root per test, retained state cleared."""
from __future__ import annotations

import threading
import time
import uuid

import paho.mqtt.client as mqtt
import pytest

from app.settings import get_settings
from connectors.mqtt.client import parse_url


def clear_retained(url: str, root: str, wait: float = 0.5) -> None:
    host, port, _u, _p = parse_url(url)
    topics: set[str] = set()
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"clean-{uuid.uuid4().hex[:8]}")
    subscribed = threading.Event()
    c.on_message = lambda _c, _u, msg: topics.add(msg.topic) if msg.retain and msg.payload else None
    c.on_subscribe = lambda *a: subscribed.set()
    c.on_connect = lambda cl, *a: cl.subscribe(f"{root}/#", qos=1)
    try:
        c.connect(host, port)
    except OSError:
        return
    c.loop_start()
    subscribed.wait(5)
    time.sleep(wait)
    for topic in topics:
        c.publish(topic, b"", qos=1, retain=True).wait_for_publish(5)
    c.disconnect()
    c.loop_stop()


@pytest.fixture
def mqtt_url() -> str:
    return get_settings().mqtt_url


@pytest.fixture
def root(mqtt_url):
    value = f"test-{uuid.uuid4().hex[:10]}/estateflow"
    yield value
    clear_retained(mqtt_url, value)


def wait_for(predicate, timeout: float = 10.0, step: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()
