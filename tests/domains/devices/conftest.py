"""Fixtures of the device tests: a committed estate and an event consumer on the real broker,
on a topic root of the test only."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy.orm import sessionmaker

from app.domains.devices.event_consumer import EventConsumer
from app.settings import get_settings
from connectors.mqtt.broker import MosquittoBroker
from connectors.simulators.meters import free_port


@pytest.fixture
def var_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("ESTATEFLOW_VAR_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


@pytest.fixture
def world(db_engine, var_dir, build_estate):
    """A committed estate, a consumer on a topic root of this test only, simulators to start."""
    factory = sessionmaker(db_engine, expire_on_commit=False)
    with factory() as s:
        estate = build_estate(s)
        s.commit()
        code = estate.community.code
    root = f"eftest/{uuid.uuid4().hex[:10]}"
    consumer = EventConsumer(factory, root=root, client_id=f"t-events-{uuid.uuid4().hex[:8]}",
                             persistent=False, profile_refresh=0.2).start()
    sims = []

    def sim(cls, device):
        s = cls(code, device, get_settings().mqtt_url, root=root).start()
        sims.append(s)
        return s

    yield {"factory": factory, "code": code, "consumer": consumer, "sim": sim, "root": root, "estate": estate}
    consumer.stop()
    for s in sims:
        s.stop()


@pytest.fixture
def own_broker(tmp_path):
    """A Mosquitto of the test's own: the platform's config (``mosquitto_config``), a free
    port, persistence in the test's folder; the shared broker on 1883 is never touched."""
    broker = MosquittoBroker(free_port(), tmp_path / "mosquitto").start()
    yield broker
    broker.stop()
