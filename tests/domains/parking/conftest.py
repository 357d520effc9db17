"""Fixtures of the parking tests: a committed estate with parking (and fees, visitors, repair)
enabled, a barrier gate and a charger registered, the event consumer on the real broker on a
topic root of the test only, and simulated devices to start."""
from __future__ import annotations

import time
import uuid

import pytest
from sqlalchemy.orm import sessionmaker

from app import clock
from app.domains.devices import bus
from app.domains.devices.event_consumer import EventConsumer
from app.domains.devices.registry import register_device
from app.settings import get_settings

MODULES = ["fees", "parking", "visitors", "repair"]


@pytest.fixture
def var_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("ESTATEFLOW_VAR_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def wait_for(predicate, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    return predicate()


def build_lot(db_engine, build_estate):
    """The committed estate of ``lot``: (session factory, ids, community code)."""
    clock.reset()
    factory = sessionmaker(db_engine, expire_on_commit=False)
    with factory() as s:
        # no night window: the fee of a stay of the last hours does not depend on the hour the test runs
        estate = build_estate(s, modules=MODULES, settings={"parking": {"night_start_hour": 0, "night_end_hour": 0}})
        cid = estate.community.id
        gate = register_device(s, cid, "GATE-1", "东门道闸", "barrier_gate", "gate-1", location="东门")
        charger = register_device(s, cid, "CHG-1", "1号充电桩", "ev_charger", "chg-1", location="北侧停车场")
        s.commit()
        ids = {"community": cid, "gate": gate.id, "charger": charger.id,
               "households": [h.id for h in estate.households]}
    return factory, ids, estate.community.code


@pytest.fixture
def lot(db_engine, var_dir, build_estate):
    """A committed estate with a gate (GATE-1) and a charger (CHG-1), a consumer and simulators."""
    factory, ids, code = build_lot(db_engine, build_estate)
    root = f"eftest/{uuid.uuid4().hex[:10]}"
    consumer = EventConsumer(factory, root=root, client_id=f"t-park-{uuid.uuid4().hex[:8]}",
                             persistent=False, profile_refresh=0.2).start()
    bus.use_connector(consumer.connector)
    sims = []

    def sim(cls, device, **kwargs):
        s = cls(code, device, get_settings().mqtt_url, root=root, **kwargs).start()
        sims.append(s)
        assert wait_for(lambda: consumer.connector.is_online(code, device)), f"{device} not online"
        return s

    yield {"factory": factory, "code": code, "consumer": consumer, "sim": sim, "root": root, "ids": ids}
    bus.use_connector(None)
    consumer.stop()
    for s in sims:
        s.stop()
