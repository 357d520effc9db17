"""Scenario files: which simulated gateways, meters and MQTT devices to run."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.assets.errors import AssetError, AssetInvalid
from app.assets.yaml_lines import load_yaml_file
from connectors.simulators.meters import PATTERNS, SimMeter

SCENARIOS_DIR = Path(__file__).resolve().parent / "scenarios"
DEVICE_PROFILES = ("door_controller", "barrier_gate", "ai_camera", "hydrant_pressure_sensor", "ev_charger")


@dataclass
class Gateway:
    host: str
    port: int
    meters: list[SimMeter]


@dataclass
class Scenario:
    community: str
    speed: float = 1.0
    seed: int = 0
    gateways: list[Gateway] = field(default_factory=list)
    devices: list[dict[str, Any]] = field(default_factory=list)


def _units(spec: Any) -> list[int]:
    text = str(spec)
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.strip().partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def load_scenario(path: Path) -> Scenario:
    """Parse a scenario; raises ``AssetInvalid`` with file:line errors."""
    path = Path(path)
    data = load_yaml_file(path)
    errors: list[AssetError] = []
    f = str(path)

    def err(node: Any, key: Any, element: str, reason: str) -> None:
        line = node.line_of(key) if hasattr(node, "line_of") else getattr(node, "line", 0)
        errors.append(AssetError(f, line, element, reason))

    if not isinstance(data, dict) or not isinstance(data.get("community"), str):
        raise AssetInvalid([AssetError(f, getattr(data, "line", 1), "community", "required string")])
    sc = Scenario(data["community"], float(data.get("speed", 1)), int(data.get("seed", 0)))
    modbus = data.get("modbus") or {}
    host = modbus.get("host", "127.0.0.1")
    for gi, gw in enumerate(modbus.get("gateways") or []):
        meters: list[SimMeter] = []
        for mi, m in enumerate(gw.get("meters") or []):
            el = f"modbus.gateways[{gi}].meters[{mi}]"
            if m.get("pattern", "household") not in PATTERNS:
                err(m, "pattern", f"{el}.pattern", f"must be one of {PATTERNS}")
                continue
            try:
                units = _units(m.get("units"))
            except ValueError:
                err(m, "units", f"{el}.units", "must look like '1-36' or '5'")
                continue
            for u in units:
                try:
                    meters.append(SimMeter(u, m.get("profile", "water_meter_dn20"),
                                           m.get("pattern", "household"), scale=float(m.get("scale", 1.0)),
                                           start=m.get("start", 100 + u * 7)))
                except (KeyError, ValueError) as exc:
                    err(m, "profile", f"{el}.profile", f"unknown profile or bad value: {exc}")
                    break
        sc.gateways.append(Gateway(host, int(gw.get("port", 5020)), meters))
    for di, d in enumerate(data.get("devices") or []):
        if d.get("profile") not in DEVICE_PROFILES:
            err(d, "profile", f"devices[{di}].profile", f"must be one of {DEVICE_PROFILES}")
        elif not isinstance(d.get("id"), str):
            err(d, "id", f"devices[{di}].id", "required string")
        else:
            sc.devices.append(dict(d))
    if errors:
        raise AssetInvalid(errors)
    return sc
