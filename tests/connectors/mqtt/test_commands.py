"""Commands through the real broker: acknowledged round trip, refusals, offline delivery."""
import pytest

from connectors.mqtt import CommandRejected, MemoryOutbox, MqttConnector
from connectors.profiles import shipped_profiles
from connectors.simulators.devices import SimulatedCharger, SimulatedDoor, SimulatedGate

from .conftest import wait_for

P = shipped_profiles()
PROFILES = {"door-1": P["door_controller"], "gate-1": P["barrier_gate"], "chg-1": P["ev_charger"]}


@pytest.fixture
def connector(mqtt_url, root):
    conn = MqttConnector(mqtt_url, client_id=f"conn-{root}", root=root, profiles=PROFILES,
                         outbox=MemoryOutbox(), persistent=False, flush_timeout=3)
    with conn:
        yield conn


def test_door_command_round_trip_with_ack(connector, mqtt_url, root):
    door = SimulatedDoor("YC", "door-1", mqtt_url, root=root).start()
    try:
        assert wait_for(lambda: connector.is_online("YC", "door-1"))
        ack = connector.send_command("YC", "door-1", "grant", {"credential": "C1001", "kind": "card"}, timeout=5)
        assert ack.ok and ack.result == {"credential": "C1001", "status": "active"}
        assert door.credentials == {"C1001": "active"}
        assert door.commands[-1]["request_id"] == ack.request_id
        ack = connector.send_command("YC", "door-1", "suspend", {"credential": "C1001"}, timeout=5)
        assert ack.ok and door.credentials["C1001"] == "suspended"
        refused = connector.send_command("YC", "door-1", "restore", {"credential": "NOPE"}, timeout=5)
        assert refused.status == "failed" and "unknown credential" in refused.error
    finally:
        door.stop()


def test_gate_and_charger_commands(connector, mqtt_url, root):
    gate = SimulatedGate("YC", "gate-1", mqtt_url, root=root).start()
    charger = SimulatedCharger("YC", "chg-1", mqtt_url, root=root).start()
    try:
        assert connector.send_command("YC", "gate-1", "open", {"reason": "visitor"}).ok
        assert gate.opened == 1
        assert connector.send_command("YC", "chg-1", "start", {"session_id": "S1"}).ok
        assert connector.send_command("YC", "chg-1", "stop", {"session_id": "S1"}).result["status"] == "stopped"
    finally:
        gate.stop()
        charger.stop()


def test_command_not_in_profile_is_rejected_before_sending(connector):
    with pytest.raises(CommandRejected, match="no command 'explode'"):
        connector.send_command("YC", "door-1", "explode", {})
    with pytest.raises(CommandRejected, match="credential: required"):
        connector.send_command("YC", "door-1", "grant", {"kind": "card"})
    with pytest.raises(CommandRejected, match="not one of"):
        connector.send_command("YC", "door-1", "grant", {"credential": "C", "kind": "retina"})


def test_no_answer_is_a_timeout_not_a_hang(connector):
    ack = connector.send_command("YC", "gate-1", "open", {}, timeout=0.5)
    assert ack.status == "timeout"


def test_command_to_offline_door_is_delivered_when_it_reconnects(connector, mqtt_url, root):
    door = SimulatedDoor("YC", "door-1", mqtt_url, root=root).start()
    assert connector.send_command("YC", "door-1", "grant", {"credential": "C7", "kind": "qr"}).ok
    door.kill()  # no goodbye: the broker publishes the door's last will
    assert wait_for(lambda: connector.is_online("YC", "door-1") is False, timeout=30)
    queued = connector.send_command("YC", "door-1", "suspend", {"credential": "C7", "reason": "arrears"})
    queued2 = connector.send_command("YC", "door-1", "restore", {"credential": "C7"})
    assert queued.status == "queued" and queued2.status == "queued"
    assert [i.command for i in connector.outbox.pending("YC", "door-1")] == ["suspend", "restore"]
    assert len(door.commands) == 1  # nothing reached the door while it was away
    door.start()  # back online
    assert wait_for(lambda: not connector.outbox.pending("YC", "door-1"))
    try:
        assert [c["command"] for c in door.commands[1:]] == ["suspend", "restore"]  # in order
        assert connector.outbox.done[queued.request_id][0] is True
        assert door.credentials["C7"] == "active"
    finally:
        door.stop()
