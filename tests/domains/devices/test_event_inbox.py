"""The inbox worker without a broker (SQLite and PostgreSQL): an event is acknowledged only
after its transaction committed, handled once however often it is delivered, a busy database
is waited out (never dropped), a poison event goes to the dead letters, refusals are stored."""
from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import sessionmaker

from app.domains.devices.event_consumer import _Inbox
from app.domains.devices.inbound import build_session_router
from app.domains.devices.models import DeviceDeadLetter, DeviceInbox, DeviceRejected
from app.domains.security.models import HydrantReading
from connectors.mqtt.client import Refusal, event_key
from connectors.router import InboundEvent


@pytest.fixture
def estate(db_engine, var_dir, build_estate):
    factory = sessionmaker(db_engine, expire_on_commit=False)
    with factory() as s:
        estate = build_estate(s)
        s.commit()
    return factory, estate.community.code


def _event(code: str, seq: int, acks: list, device: str = "hyd-1") -> InboundEvent:
    payload = {"type": "pressure", "mpa": 0.3, "seq": seq, "at": "2026-03-01T08:00:00+00:00"}
    topic = f"estateflow/{code}/{device}/event"
    key = event_key(topic, repr(payload).encode(), payload, None, code, device, "pressure")
    return InboundEvent(code, device, "pressure", payload, "hydrant_pressure_sensor", "pressure.read",
                        None, topic, {"key": key, "ack": lambda: acks.append(seq)})


def _count(factory, model) -> int:
    with factory() as s:
        return s.scalar(select(func.count()).select_from(model))


def _wait(predicate, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def test_a_redelivered_event_is_handled_once_and_acknowledged_each_time(estate):
    factory, code = estate
    acks: list[int] = []
    inbox = _Inbox(factory, build_session_router())
    try:
        for seq in (1, 2, 1, 1, 3):  # QoS 1 redeliveries look exactly like this
            inbox.dispatch(_event(code, seq, acks))
        assert _wait(lambda: len(acks) == 5)
    finally:
        inbox.close()
    assert _count(factory, HydrantReading) == 3
    assert _count(factory, DeviceInbox) == 3
    assert inbox.stats["duplicates"] == 2 and inbox.stats["handled"] == 3


def _hold_lock(db_engine, seconds: float, locked: threading.Event) -> threading.Thread:
    """A second connection locks what the handler writes: the whole SQLite file
    (``BEGIN EXCLUSIVE``) or the hydrant reading table on PostgreSQL."""

    def hold():
        if db_engine.dialect.name == "sqlite":
            import sqlite3

            conn = sqlite3.connect(db_engine.url.database, isolation_level=None)
            conn.execute("BEGIN EXCLUSIVE")
            locked.set()
            time.sleep(seconds)
            conn.execute("ROLLBACK")
            conn.close()
        else:
            with db_engine.connect() as conn:
                conn.execute(text("LOCK TABLE hydrant_reading IN ACCESS EXCLUSIVE MODE"))
                locked.set()
                time.sleep(seconds)
                conn.rollback()

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    return thread


def test_a_busy_database_is_waited_out_and_nothing_is_acknowledged_before_the_commit(estate, db_engine):
    factory, code = estate
    acks: list[int] = []
    inbox = _Inbox(factory, build_session_router(), backoff=(0.05, 0.2))
    locked = threading.Event()
    # longer than SQLite's busy timeout: "database is locked" is raised and must be retried
    holder = _hold_lock(db_engine, 10.0, locked)
    try:
        assert locked.wait(5)
        for seq in range(20):
            inbox.dispatch(_event(code, seq, acks))
        time.sleep(2.0)
        assert acks == []  # nothing stored yet, so nothing acknowledged
        holder.join(20)
        assert _wait(lambda: len(acks) == 20, 30), inbox.stats
    finally:
        inbox.close()
    assert acks == list(range(20))  # in order
    assert _count(factory, HydrantReading) == 20
    assert _count(factory, DeviceDeadLetter) == 0


def test_a_poison_event_goes_to_the_dead_letters_and_the_next_one_flows(estate):
    factory, code = estate
    router = build_session_router()

    def boom(session, event):
        if event.payload["seq"] == 13:
            raise ValueError("handler bug on this payload")

    router.register("pressure.read", boom)
    acks: list[int] = []
    inbox = _Inbox(factory, router, max_attempts=3)
    try:
        for seq in (12, 13, 14):
            inbox.dispatch(_event(code, seq, acks))
        assert _wait(lambda: len(acks) == 3)
        inbox.dispatch(_event(code, 13, acks))  # redelivered poison: recognised, not re-run
        assert _wait(lambda: len(acks) == 4)
    finally:
        inbox.close()
    assert _count(factory, HydrantReading) == 2
    with factory() as s:
        dead = s.scalars(select(DeviceDeadLetter)).one()
        assert dead.payload["seq"] == 13 and "handler bug" in dead.error and dead.attempts == 3
        assert dead.device_id is not None and dead.device == "hyd-1"
    assert inbox.stats["dead_letters"] == 1


def test_refusals_are_stored_with_their_reason_known_device_or_not(estate):
    factory, code = estate
    acks: list[str] = []
    inbox = _Inbox(factory, build_session_router())
    from app import clock

    try:
        for community, device, reason in [(code, "hyd-1", "mpa: expected number, got str"),
                                          (code, "ghost-7", "unknown device"),
                                          ("NOPE", "x", "unknown device"), ("", "", "topic has extra levels")]:
            inbox.refuse(Refusal(community, device, f"estateflow/{community}/{device}/event", reason, "{...",
                                 5, clock.now(),
                                 lambda r=reason: acks.append(r)))
        assert _wait(lambda: len(acks) == 4)
    finally:
        inbox.close()
    with factory() as s:
        rows = s.scalars(select(DeviceRejected).order_by(DeviceRejected.id)).all()
        assert [r.reason for r in rows] == acks
        assert rows[0].device_id is not None and rows[0].community_id is not None
        assert rows[1].device_id is None and rows[1].community_id is not None
        assert rows[2].community_id is None and rows[3].topic == "estateflow///event"


def test_event_keys_use_the_profile_event_id_else_topic_and_payload():
    a = event_key("r/C/d/event", b'{"id": "7", "x": 1}', {"id": "7", "x": 1}, "id", "C", "d", "alert")
    b = event_key("r/C/d/event", b'{"id": "7", "x": 2}', {"id": "7", "x": 2}, "id", "C", "d", "alert")
    c = event_key("r/C/d/event", b'{"x": 1}', {"x": 1}, None, "C", "d", "alert")
    d = event_key("r/C/d/event", b'{"x": 2}', {"x": 2}, None, "C", "d", "alert")
    assert a == b and c != d and len(a) == 64
    assert event_key("r/C/e/event", b'{"x": 1}', {"x": 1}, None, "C", "e", "alert") != c


def test_lanes_keep_each_devices_order_and_handle_other_devices_meanwhile(estate):
    """Two lanes: while a handler holds up one device's events, the other device's events are
    handled and acknowledged; each device's events are handled in the order they came. (Devices
    not registered: their events write nothing before the hold, so SQLite's one writer is free.)"""
    factory, code = estate
    router = build_session_router()
    release = threading.Event()
    handled: list[tuple[str, int]] = []

    def slow_first_device(session, event):
        if event.device == "hyd-x1":
            assert release.wait(30)
        handled.append((event.device, event.payload["seq"]))

    router.register("pressure.read", slow_first_device)
    acks: list[int] = []
    inbox = _Inbox(factory, router, workers=2)
    try:
        for seq in range(1, 4):
            inbox.dispatch(_event(code, seq, acks, "hyd-x1"))
            inbox.dispatch(_event(code, 100 + seq, acks, "hyd-x2"))
        assert _wait(lambda: sorted(acks) == [101, 102, 103], 20), (acks, inbox.stats)
        assert [seq for device, seq in handled] == [101, 102, 103]
        release.set()
        assert _wait(lambda: len(acks) == 6, 20), (acks, inbox.stats)
    finally:
        release.set()
        inbox.close()
    assert [seq for device, seq in handled if device == "hyd-x1"] == [1, 2, 3]
    assert [seq for seq in acks if seq < 100] == [1, 2, 3]
    assert inbox.stats["handled"] == 6
