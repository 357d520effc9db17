"""ensure_broker: leaves a running broker alone; otherwise starts one the connector can use."""
import pytest

from connectors.mqtt import MqttConnector
from connectors.mqtt.broker import AmqttBroker, ensure_broker, is_listening
from connectors.profiles import shipped_profiles
from connectors.simulators.devices import SimulatedDoor
from connectors.simulators.meters import free_port

from .conftest import wait_for


def test_running_broker_is_left_alone(mqtt_url):
    assert ensure_broker(mqtt_url) is None


@pytest.mark.parametrize("prefer", ["mosquitto", "amqtt"])
def test_starts_a_broker_bound_to_loopback_that_the_connector_speaks(prefer, tmp_path):
    port = free_port()
    url = f"mqtt://127.0.0.1:{port}"
    handle = ensure_broker(url, var_dir=tmp_path, prefer=prefer)
    try:
        assert handle is not None and handle.kind == prefer
        if prefer == "amqtt":
            assert isinstance(handle, AmqttBroker)
        seen = []
        P = shipped_profiles()
        with MqttConnector(url, client_id=f"c-{port}", profiles={"door-1": P["door_controller"]}) as conn:
            conn.router.register("entry", seen.append)
            door = SimulatedDoor("YC", "door-1", url).start()
            try:
                assert conn.send_command("YC", "door-1", "grant", {"credential": "C1", "kind": "card"}).ok
                door.present("C1")
                assert wait_for(lambda: len(seen) == 1)
            finally:
                door.stop()
    finally:
        if handle is not None:
            handle.stop()
    assert wait_for(lambda: not is_listening("127.0.0.1", port), timeout=10)
