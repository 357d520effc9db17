"""``estateflow simulate``: run a scenario's simulated devices until interrupted.

Starts a broker if none listens at the MQTT URL (``ensure_broker``), the Modbus gateways
with their meters, and the MQTT devices, which then act on their own: doors see card and
QR entries, the gate sees plates, cameras raise alerts, hydrant pressure drops after a
while, chargers run sessions. Doors, gates and chargers also answer platform commands.
"""
from __future__ import annotations

import argparse
import logging
import random
import signal
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from connectors.mqtt.broker import ensure_broker
from connectors.simulators.devices import SIMULATORS, SimulatedDevice
from connectors.simulators.meters import start_meter_server
from connectors.simulators.scenario import SCENARIOS_DIR, Scenario, load_scenario

log = logging.getLogger("estateflow.simulate")


def _default_mqtt_url() -> str:
    try:
        from app.settings import get_settings

        return get_settings().mqtt_url
    except Exception:  # noqa: BLE001 - settings are optional for the simulator
        return "mqtt://127.0.0.1:1883"


def make_clock(speed: float, start: datetime | None = None):
    """A clock running ``speed`` times faster than real time from ``start`` (default now)."""
    t0 = time.monotonic()
    base = start or datetime.now(timezone.utc).replace(tzinfo=None)
    return lambda: base + timedelta(seconds=(time.monotonic() - t0) * speed)


def act(device: SimulatedDevice, spec: dict, rng: random.Random, elapsed: float) -> None:
    """One spontaneous event from a device, as its kind would produce."""
    kind = spec["profile"]
    if kind == "door_controller":
        creds = spec.get("credentials") or ["C0001"]
        device.present(rng.choice(creds + ["UNKNOWN-" + str(rng.randint(1, 99))]),
                       rng.choice(["card", "card", "qr"]))
    elif kind == "barrier_gate":
        # cars that entered leave later: an exit is of a car inside (orphan exits are the tests' job)
        inside = device.inside
        if inside and rng.random() < 0.5:
            plate = rng.choice(sorted(inside))
            inside.discard(plate)
            device.vehicle(plate, "out", round(rng.uniform(0.85, 0.99), 2))
        else:
            plates = [p for p in list(spec.get("plates") or []) + [f"京C{rng.randint(10000, 99999)}"]
                      if p not in inside]
            plate = rng.choice(plates)
            inside.add(plate)
            device.vehicle(plate, "in", round(rng.uniform(0.85, 0.99), 2))
    elif kind == "ai_camera":
        device.alert(rng.choice(["thrown_object", "loitering", "illegal_parking"]),
                     round(rng.uniform(0.6, 0.98), 2))
    elif kind == "hydrant_pressure_sensor":
        low = elapsed >= float(spec.get("drop_after", 1e12))
        device.report(round(rng.uniform(0.04, 0.08) if low else rng.uniform(0.28, 0.35), 3))
    elif kind == "ev_charger":
        device.tick(0.25)  # sessions are started by the platform (a resident on the phone)


class Simulation:
    """A running scenario; ``stop()`` ends everything it started."""

    def __init__(self, scenario: Scenario, mqtt_url: str, *, root: str = "estateflow",
                 start_broker: bool = True, meters: bool = True) -> None:
        self.scenario, self.mqtt_url, self.root = scenario, mqtt_url, root
        self.broker = ensure_broker(mqtt_url) if start_broker else None
        self.clock = make_clock(scenario.speed)
        self.servers = [start_meter_server(g.meters, g.host, g.port, self.clock)
                        for g in scenario.gateways] if meters else []
        self.devices: list[tuple[SimulatedDevice, dict]] = []
        for spec in scenario.devices:
            cls = SIMULATORS[spec["profile"]]
            kwargs = {"plates": set(spec.get("plates") or ())} if cls.profile == "barrier_gate" else {}
            dev = cls(scenario.community, spec["id"], mqtt_url, root=root, **kwargs).start()
            if cls.profile == "door_controller":
                for c in spec.get("credentials") or []:
                    dev.credentials[c] = "active"
            self.devices.append((dev, spec))
        self.events = 0
        self._stop = threading.Event()

    def run(self, duration: float = 0.0) -> int:
        rng = random.Random(self.scenario.seed)
        started = time.monotonic()
        due = {id(d): started + rng.expovariate(1 / float(s.get("every", 10))) for d, s in self.devices}
        while not self._stop.is_set():
            now = time.monotonic()
            if duration and now - started >= duration:
                break
            for dev, spec in self.devices:
                if now >= due[id(dev)]:
                    try:
                        act(dev, spec, rng, now - started)
                        self.events += 1
                    except Exception:  # noqa: BLE001 - a device hiccup must not end the demo
                        log.exception("simulated %s failed", spec["id"])
                    due[id(dev)] = now + rng.expovariate(1 / float(spec.get("every", 10)))
            self._stop.wait(0.1)
        return self.events

    def stop(self) -> None:
        self._stop.set()
        for dev, _ in self.devices:
            try:
                dev.stop()
            except Exception:  # noqa: BLE001
                log.debug("stop failed", exc_info=True)
        for server in self.servers:
            server.stop()
        if self.broker is not None:
            self.broker.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="estateflow simulate", description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", type=Path, default=SCENARIOS_DIR / "demo.yaml")
    parser.add_argument("--mqtt-url", default=None, help="default: the platform setting")
    parser.add_argument("--root", default="estateflow", help="topic root")
    parser.add_argument("--duration", type=float, default=0, help="seconds; 0 = until Ctrl-C")
    parser.add_argument("--no-broker", action="store_true", help="do not start a broker")
    parser.add_argument("--no-meters", action="store_true", help="MQTT devices only")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("pymodbus").setLevel(logging.WARNING)
    scenario = load_scenario(args.scenario)
    sim = Simulation(scenario, args.mqtt_url or _default_mqtt_url(), root=args.root,
                     start_broker=not args.no_broker, meters=not args.no_meters)
    for server in sim.servers:
        log.info("Modbus gateway %s:%s with %d meters", server.host, server.port, len(server.meters))
    log.info("%d MQTT devices on %s (community %s)%s", len(sim.devices), sim.mqtt_url,
             scenario.community, " - broker started here" if sim.broker else "")
    previous = signal.getsignal(signal.SIGTERM)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: sim._stop.set())
    try:
        events = sim.run(args.duration)
    except KeyboardInterrupt:
        events = sim.events
    finally:
        sim.stop()
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, previous)
    log.info("stopped after %d device events", events)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
