"""The gate's ``open`` decided by a plate read is durable: the event worker process is killed
(``os._exit``, no clean-up) right after the read's commit — before the command is sent, or
after the gate opened but before its answer was noted — and started again with the same
client id: the gate opens exactly once (a repeated request id is answered, not executed
again), the read is stored once (the broker redelivers it, the inbox knows it) and it ends
showing the gate opened. Real broker, real worker processes, SQLite and PostgreSQL."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.domains.parking.models import ParkingPermit, PlateEvent
from app.settings import get_settings
from connectors.models import DeviceCommand
from connectors.simulators.devices import SimulatedGate

from .conftest import build_lot, wait_for

KILLED = 17

WORKER = textwrap.dedent("""
    import os, sys, time
    from sqlalchemy import create_engine
    from sqlalchemy.orm import sessionmaker
    from app.domains.devices import bus
    from app.domains.devices.event_consumer import EventConsumer, _Inbox

    url, mqtt_url, root, client_id, dies = sys.argv[1:6]
    if dies == "before_send":  # the read is committed, its command not yet handed to a sender
        _Inbox._send = lambda self, lane, commands: os._exit(%(killed)d) if commands else None
    elif dies == "before_noted":  # the gate opened and answered; the answer is never noted
        _Inbox._results = lambda self, results: os._exit(%(killed)d)
    factory = sessionmaker(create_engine(url), expire_on_commit=False)
    consumer = EventConsumer(factory, mqtt_url=mqtt_url, root=root, client_id=client_id,
                             persistent=True, profile_refresh=0.2).start()
    bus.use_connector(consumer.connector)
    print("ready", flush=True)
    while True:
        time.sleep(0.3)
        consumer.sweep()
""" % {"killed": KILLED})


def _worker(db_url: str, root: str, client_id: str, dies: str) -> subprocess.Popen:
    repo = Path(__file__).resolve().parents[3]
    env = {**os.environ, "PYTHONPATH": str(repo), "ESTATEFLOW_DATABASE_URL": db_url}
    proc = subprocess.Popen([sys.executable, "-c", WORKER, db_url, get_settings().mqtt_url, root, client_id, dies],
                            cwd=repo, env=env, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    return proc


@pytest.mark.parametrize("dies", ["before_send", "before_noted"])
def test_a_worker_killed_after_the_reads_commit_opens_the_gate_once_when_it_is_back(db_engine, var_dir, build_estate,
                                                                                   dies):
    factory, ids, code = build_lot(db_engine, build_estate)
    with factory() as s:
        s.add(ParkingPermit(number="KP1", community_id=ids["community"], household_id=ids["households"][0],
                            plate="京K12345", kind="monthly", starts_on=date(2026, 1, 1), ends_on=date(2030, 12, 31),
                            price_cents=30000, status="active", created_by="test"))
        s.commit()
    db_url = db_engine.url.render_as_string(hide_password=False)
    root, client_id = f"eftest/{uuid.uuid4().hex[:10]}", f"t-kill-{uuid.uuid4().hex[:8]}"
    gate = SimulatedGate(code, "gate-1", get_settings().mqtt_url, root=root).start()
    first = _worker(db_url, root, client_id, dies)
    second = None
    try:
        gate.publish_event("plate", plate="京K12345", direction="out", confidence=0.97, opened=False,
                           at=datetime.now(UTC).replace(microsecond=0).isoformat())
        assert first.wait(30) == KILLED
        with factory() as s:
            read = s.scalar(select(PlateEvent))
            command = s.scalar(select(DeviceCommand))
            assert (read.outcome, read.gate_status) == ("permit", "sending")
            assert (command.status, command.claimed_by) == ("sending", client_id)
            assert read.gate_request_id == command.request_id
        assert gate.opened == (0 if dies == "before_send" else 1)

        second = _worker(db_url, root, client_id, "never")

        def settled():
            with factory() as s:
                return (s.scalar(select(PlateEvent.gate_status)) == "ok"
                        and s.scalar(select(DeviceCommand.status)) == "delivered")
        assert wait_for(settled, 30), "the command was not delivered after the restart"
        time.sleep(1.0)  # nothing more arrives
        assert gate.opened == 1
        assert gate.duplicates == (1 if dies == "before_noted" else 0)  # the same request id, answered again
        with factory() as s:
            assert s.scalar(select(func.count(PlateEvent.id))) == 1  # the redelivered read counted once
            assert s.scalar(select(func.count(DeviceCommand.id))) == 1
            assert s.scalar(select(PlateEvent.gate_request_id)) is None
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(10)
        gate.stop()
