"""Issue 12, item 10: a queued command reaches its device once. Claiming an outbox row is one
atomic UPDATE ... RETURNING (SQLite and PostgreSQL); two connections that both see the device
come back deliver it once; one connection per process owns the outbox; devices (simulators)
ignore a repeated request id and the platform counts the repeated ack once."""
from __future__ import annotations

import json
import threading
import time
import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from app.domains.devices import bus
from app.domains.devices import registry as svc
from app.domains.estate.models import Community, PropertyCompany
from app.settings import get_settings
from connectors.models import DeviceCommand
from connectors.mqtt import MemoryOutbox, MqttConnector
from connectors.simulators.devices import SimulatedDoor


@pytest.fixture
def door_device(session):
    company = PropertyCompany(name="示例物业")
    c = Community(company=company, code=f"YC{uuid.uuid4().hex[:6]}", name="怡翠花园")
    session.add_all([company, c])
    session.flush()
    device = svc.register_device(session, c.id, "DOOR-1", "单元门", "door_controller", "door-1")
    session.commit()
    return c, device


def test_claiming_a_queued_command_is_atomic(session, door_device):
    _c, device = door_device
    svc.enqueue_command(session, device, "grant", {"credential": "C1", "kind": "card"}, "req-1")
    session.commit()
    factory = sessionmaker(bind=session.get_bind(), expire_on_commit=False)
    outbox = svc.SessionOutbox(factory)
    results: list[bool] = []
    barrier = threading.Barrier(6)

    def claim(i: int) -> None:
        barrier.wait()
        results.append(outbox.claim("req-1", f"conn-{i}"))

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 5 + [True]
    outbox.attempted("req-1", "no ack")  # no answer: back in the queue for the next flush
    assert outbox.claim("req-1", "conn-x") is True
    outbox.delivered("req-1", True, {"status": "active"}, None)
    outbox.delivered("req-1", False, None, "a repeated, different ack")  # changes nothing
    assert outbox.claim("req-1", "conn-y") is False
    session.expire_all()
    row = session.scalars(select(DeviceCommand)).one()
    assert (row.status, row.result, row.error) == ("delivered", {"status": "active"}, None)


def _wait(predicate, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_two_connections_deliver_a_queued_command_once(session, door_device):
    community, _device = door_device
    factory = sessionmaker(bind=session.get_bind(), expire_on_commit=False)
    url = get_settings().mqtt_url
    root = f"test-{uuid.uuid4().hex[:10]}/estateflow"
    # two connections with the same durable outbox, each thinking it may flush (two processes)
    conns = [MqttConnector(url, client_id=f"two-{i}-{root}", root=root, outbox=svc.SessionOutbox(factory),
                           profiles=svc.mqtt_profile_lookup(session), persistent=False, flush_timeout=3)
             for i in range(2)]
    door = SimulatedDoor(community.code, "door-1", url, root=root)
    for c in conns:
        c.start()
    try:
        door.start()
        door.kill()
        assert _wait(lambda: all(c.is_online(community.code, "door-1") is False for c in conns), 30)
        ack = conns[0].send_command(community.code, "door-1", "grant", {"credential": "C9", "kind": "card"})
        assert ack.status == "queued"
        door.start()
        assert _wait(lambda: _status(factory) == "delivered")
        time.sleep(1.5)  # room for a second delivery, if there were one
    finally:
        door.stop()
        for c in conns:
            c.stop()
    assert [c["command"] for c in door.commands] == ["grant"]
    assert door.duplicates == 0
    assert sum(c.stats["outbox_claimed_elsewhere"] for c in conns) <= 1


def _status(factory) -> str:
    with factory() as s:
        return s.scalars(select(DeviceCommand.status)).one()


def test_one_connection_per_process_owns_the_outbox():
    a = MqttConnector("mqtt://127.0.0.1:1883", client_id="own-a", outbox=MemoryOutbox())
    b = MqttConnector("mqtt://127.0.0.1:1883", client_id="own-b", outbox=MemoryOutbox())
    try:
        bus.take_outbox(a)
        assert a.owns_outbox
        bus.take_outbox(b)  # the event consumer of the worker/demo takes it over
        assert b.owns_outbox and not a.owns_outbox
        a._handle_state("YC", "door-1", type("M", (), {"payload": b"online", "topic": "x"})())
        assert a._flush_q.empty()  # a connection that does not own the outbox never flushes it
        b._handle_state("YC", "door-1", type("M", (), {"payload": b"online", "topic": "x"})())
        assert b._flush_q.get_nowait() == ("YC", "door-1")
    finally:
        bus.release_outbox(b)
        bus.release_outbox(a)


def test_a_repeated_request_id_is_executed_once_and_its_ack_counted_once(mqtt_url_root):
    url, root = mqtt_url_root
    conn = MqttConnector(url, client_id=f"rep-{root}", root=root, persistent=False)
    door = SimulatedDoor("YC", "door-1", url, root=root)
    with conn:
        door.start()
        try:
            assert _wait(lambda: conn.is_online("YC", "door-1"))
            body = json.dumps({"request_id": "same-1", "command": "grant",
                               "params": {"credential": "C1", "kind": "card"}})
            for _ in range(2):  # the same request twice: a redelivery, a second connection
                conn.client.publish(f"{root}/YC/door-1/cmd", body, qos=1).wait_for_publish(5)
            assert _wait(lambda: door.duplicates == 1)
            assert _wait(lambda: conn.stats["duplicate_acks"] == 1)
        finally:
            door.stop()
    assert [c["request_id"] for c in door.commands] == ["same-1"]
    assert conn.stats["late_acks"] == 1


@pytest.fixture
def mqtt_url_root():
    from tests.connectors.mqtt.conftest import clear_retained

    url = get_settings().mqtt_url
    root = f"test-{uuid.uuid4().hex[:10]}/estateflow"
    yield url, root
    clear_retained(url, root)


def test_the_sweep_gives_answered_commands_a_week_and_keeps_the_waiting_ones(world):
    """Every gate opening has an outbox row: the sweep drops the answered ones after
    ``INBOX_KEEP_DAYS``; pending and recent ones stay."""
    from datetime import timedelta

    from app import clock

    factory = world["factory"]
    with factory() as s:
        cid = s.scalar(select(Community.id).where(Community.code == world["code"]))
        door = svc.register_device(s, cid, "PDOOR-1", "单元门", "door_controller", "pdoor-1")
        old = clock.now() - timedelta(days=8)
        for request_id, status, done in [("old-ok", "delivered", old), ("old-failed", "failed", old),
                                         ("new-ok", "delivered", clock.now()), ("waiting", "pending", None)]:
            row = svc.enqueue_command(s, door, "grant", {"credential": "C1", "kind": "card"}, request_id)
            row.status, row.done_at, row.created_at = status, done, old
        s.commit()
    world["consumer"].sweep()
    with factory() as s:
        assert sorted(s.scalars(select(DeviceCommand.request_id))) == ["new-ok", "waiting"]


def test_the_sweep_finds_the_devices_with_commands_waiting(session, door_device):
    """The consumer's sweep asks which devices have queued commands (pending, or claimed by a
    sender that died): the device's community code and address, once each."""
    from app.domains.devices.deferred import resend_due

    c, device = door_device
    assert resend_due(session) == [] or (c.code, device.address) not in resend_due(session)
    svc.enqueue_command(session, device, "grant", {"credential": "C1", "kind": "card"}, "req-sweep-1")
    svc.enqueue_command(session, device, "grant", {"credential": "C2", "kind": "card"}, "req-sweep-2")
    session.commit()
    due = resend_due(session)
    assert due.count((c.code, device.address)) == 1
