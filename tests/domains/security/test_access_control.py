"""Access control against simulated door controllers on the real broker: residents'
credentials granted on every door, moving out revokes, offline doors get the command queued,
door events stored once and searchable."""
from __future__ import annotations

import time
import uuid
from datetime import datetime

import pytest
from sqlalchemy import func, select

from app import clock
from app.domains.security import access_control as svc
from app.domains.security.models import AccessCredential, DoorEvent
from app.settings import get_settings
from connectors.mqtt import MqttConnector
from connectors.router import InboundEvent
from connectors.simulators.devices import SimulatedDoor

AT = datetime(2026, 5, 4, 6, 0)




@pytest.fixture
def estate(session, build_estate):
    clock.freeze(AT)
    yield build_estate(session)
    clock.reset()


@pytest.fixture
def bus(estate, session):
    """Two simulated doors and a platform connector on a topic root of this test only."""
    root = f"eftest/{uuid.uuid4().hex[:10]}"
    url = get_settings().mqtt_url
    from app.domains.devices.registry import mqtt_profile_lookup

    doors = {d: SimulatedDoor(estate.community.code, d, url, root=root).start() for d in ("door-1", "door-2")}
    connector = MqttConnector(url, client_id=f"t-{uuid.uuid4().hex[:8]}", root=root,
                              profiles=mqtt_profile_lookup(session), persistent=False).start()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not all(connector.is_online(estate.community.code, d) for d in doors):
        time.sleep(0.05)
    yield connector, doors
    connector.stop()
    for door in doors.values():
        door.stop()


def test_residents_are_granted_on_every_door_and_moving_out_revokes(session, estate, bus):
    connector, doors = bus
    send = svc.connector_sender(connector, estate.community.code)
    result = svc.sync_community(session, estate.community.id, send, actor="test")
    # resident 1: card + face reference, resident 2: card only → 3 credentials x 2 doors
    assert (result.active, result.failed, result.queued) == (6, 0, 0)
    wang, li = estate.residents
    for door in doors.values():
        assert door.credentials == {wang.card_number: "active", "FACE-REF-9001": "active", li.card_number: "active"}
    assert {c["params"]["kind"] for c in doors["door-1"].commands} == {"card", "face"}
    # nothing to send the second time
    assert svc.sync_community(session, estate.community.id, send).unchanged == 6
    # moving out suspends every credential of that household on every door
    moved = svc.move_out(session, estate.households[0].id, send, actor="frontdesk")
    assert moved.suspended == 4 and estate.households[0].active is False
    for door in doors.values():
        assert door.credentials[wang.card_number] == "suspended"
        assert door.credentials["FACE-REF-9001"] == "suspended"
        assert door.credentials[li.card_number] == "active"
    assert {r.status for r in session.scalars(select(AccessCredential)
                                              .where(AccessCredential.resident_id == wang.id))} == {"suspended"}
    # moving back in restores
    estate.households[0].active = True
    assert svc.sync_household(session, estate.households[0].id, send).active == 4
    assert doors["door-2"].credentials[wang.card_number] == "active"


def test_a_door_that_refuses_is_recorded_as_failed(session, estate, bus):
    connector, doors = bus

    def refusing(device, capability, params):
        raise ConnectionError("door unreachable")

    result = svc.sync_resident(session, estate.residents[1], refusing)
    assert result.failed == 2
    rows = session.scalars(select(AccessCredential).where(AccessCredential.resident_id == estate.residents[1].id)).all()
    assert {r.status for r in rows} == {"failed"} and all("unreachable" in r.error for r in rows)


def test_an_offline_door_gets_the_command_queued(session, estate, bus):
    connector, doors = bus
    doors["door-2"].stop()
    deadline = time.monotonic() + 5
    while connector.is_online(estate.community.code, "door-2") is not False and time.monotonic() < deadline:
        time.sleep(0.05)
    result = svc.sync_resident(session, estate.residents[1], svc.connector_sender(connector, estate.community.code))
    assert (result.active, result.queued) == (1, 1)


def _entry(estate, credential, granted=True, method="card", at="2026-05-04T06:00:00Z", device="door-1"):
    body = {"type": "entry", "credential": credential, "method": method, "granted": granted, "at": at}
    return InboundEvent(estate.community.code, device, "entry", body, "door_controller", None, AT)


def test_door_events_are_stored_once_and_searchable(session, estate):
    wang = estate.residents[0]
    assert svc.handle_door_event(session, _entry(estate, wang.card_number)) is not None
    assert svc.handle_door_event(session, _entry(estate, wang.card_number)) is None  # redelivery
    svc.handle_door_event(session, _entry(estate, "UNKNOWN-7", granted=False, at="2026-05-04T07:00:00Z"))
    svc.handle_door_event(session, _entry(estate, estate.residents[1].card_number, device="door-2",
                                          at="2026-05-05T07:00:00Z"))
    assert session.scalar(select(func.count()).select_from(DoorEvent)) == 3
    ids = [estate.community.id]
    assert [e.credential for e in svc.search_door_events(session, ids, granted=False)] == ["UNKNOWN-7"]
    found = svc.search_door_events(session, ids, q=estate.households[0].code)
    assert [e.resident_id for e in found] == [wang.id]
    assert [e.device_code for e in svc.search_door_events(session, ids, device_code="DOOR-2")] == ["DOOR-2"]
    assert len(svc.search_door_events(session, ids, since=datetime(2026, 5, 5))) == 1
    assert svc.search_door_events(session, [estate.community.id + 999]) == []
