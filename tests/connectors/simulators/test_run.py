"""The demo scenario loads, and a short simulation produces valid events and readable meters."""
import uuid
from pathlib import Path

import pytest

from app.assets.errors import AssetInvalid
from app.settings import get_settings
from connectors.modbus import MeterRequest, read_meters_sync
from connectors.mqtt import MqttConnector
from connectors.profiles import shipped_profiles
from connectors.simulators.meters import free_port
from connectors.simulators.run import Simulation, main
from connectors.simulators.scenario import SCENARIOS_DIR, load_scenario

from ..mqtt.conftest import clear_retained, wait_for


def test_demo_scenario_has_faulty_and_leaking_meters():
    sc = load_scenario(SCENARIOS_DIR / "demo.yaml")
    patterns = [m.pattern for g in sc.gateways for m in g.meters]
    assert len(patterns) == 76 and {"leak", "out_of_range", "backwards", "silent"} <= set(patterns)
    assert {d["profile"] for d in sc.devices} == {"door_controller", "barrier_gate", "ai_camera",
                                                  "hydrant_pressure_sensor", "ev_charger"}


def test_bad_scenario_names_line(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("community: X\ndevices:\n  - {profile: toaster, id: t1}\n")
    with pytest.raises(AssetInvalid, match=r"bad.yaml:3: devices\[0\].profile"):
        load_scenario(bad)


def test_short_simulation_emits_valid_events_and_serves_meters():
    url = get_settings().mqtt_url
    root = f"test-{uuid.uuid4().hex[:10]}/estateflow"
    sc = load_scenario(SCENARIOS_DIR / "demo.yaml")
    for gw in sc.gateways:
        gw.port = free_port()
    for d in sc.devices:
        d["every"] = 0.2
    P = shipped_profiles()
    profiles = {d["id"]: P[d["profile"]] for d in sc.devices}
    events = []
    with MqttConnector(url, client_id=f"c-{root}", root=root, profiles=profiles, persistent=False) as conn:
        conn.router.register("*", events.append)
        sim = Simulation(sc, url, root=root, start_broker=False)
        try:
            sim.run(duration=2.0)
            gw = sim.servers[0]
            readings = read_meters_sync([MeterRequest(f"W{u}", gw.address(u), P["water_meter_dn20"])
                                         for u in (1, 37, 38, 40)], timeout=0.2, retries=0)
        finally:
            sim.stop()
        assert wait_for(lambda: len(events) >= 10)
        assert conn.stats["malformed"] == 0 and conn.stats["unknown_device"] == 0
    clear_retained(url, root)
    assert {e.device for e in events} >= {"door-1-1", "gate-north", "cam-courtyard", "hydrant-1"}
    assert [r.quality for r in readings] == ["good", "good", "out_of_range", "timeout"]


def test_main_runs_for_a_duration_without_meters():
    root = f"test-{uuid.uuid4().hex[:10]}/estateflow"
    assert main(["--duration", "0.5", "--root", root, "--no-meters", "--no-broker"]) == 0
    clear_retained(get_settings().mqtt_url, root)
