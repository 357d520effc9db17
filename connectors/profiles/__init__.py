"""Device profiles: what a device model speaks, read from ``connectors/profiles/*.yaml``.

A profile names the protocol (``modbus`` or ``mqtt``), the capabilities it offers, and either
a register map (Modbus meters) or commands, events and payload schemas (MQTT devices).
Validation reports every problem as ``file:line: element: reason`` so a consultant can fix a
vendor file in an editor; a file with errors is never half-loaded.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any

from app.assets.errors import AssetError, AssetInvalid
from app.assets.yaml_lines import load_yaml_file
from connectors.capabilities import CAPABILITIES
from connectors.payload_schema import PayloadSchema, parse_schema

PROFILES_DIR = Path(__file__).resolve().parent

REGISTER_TYPES: dict[str, int] = {"uint16": 1, "int16": 1, "uint32": 2, "int32": 2, "float32": 2}
FUNCTIONS = ("holding", "input")
ORDERS = ("big", "little")
PROTOCOLS = ("modbus", "mqtt")
TOPIC_KINDS = ("cmd", "ack", "event", "state")


@dataclass(frozen=True)
class Register:
    """One value in a Modbus register map; ``value = raw * scale``."""

    name: str
    address: int
    function: str = "holding"
    type: str = "uint16"
    word_order: str = "big"
    byte_order: str = "big"
    scale: Decimal = Decimal(1)
    unit: str = ""
    range: tuple[Decimal, Decimal] | None = None
    cumulative: bool = False

    @property
    def count(self) -> int:
        return REGISTER_TYPES[self.type]


@dataclass(frozen=True)
class CommandSpec:
    name: str
    capability: str | None
    params: PayloadSchema


@dataclass(frozen=True)
class EventSpec:
    """``event_id``: the payload field that identifies an event (duplicates are recognised by
    it; without one, by a hash of topic and payload). ``timestamp``: the payload field holding
    the device's own time of the event, used as the event's time."""

    name: str
    capability: str | None
    schema: PayloadSchema
    event_id: str | None = None
    timestamp: str | None = None


@dataclass(frozen=True)
class Profile:
    name: str
    protocol: str
    description: str
    capabilities: tuple[str, ...]
    file: str
    registers: dict[str, Register] = field(default_factory=dict)
    primary: str | None = None
    commands: dict[str, CommandSpec] = field(default_factory=dict)
    events: dict[str, EventSpec] = field(default_factory=dict)
    topics: tuple[str, ...] = TOPIC_KINDS

    @property
    def primary_register(self) -> Register:
        if not self.primary:
            raise LookupError(f"profile {self.name} has no primary register")
        return self.registers[self.primary]

    def command_for(self, capability: str) -> CommandSpec | None:
        return next((c for c in self.commands.values() if c.capability == capability), None)


class _Collector:
    def __init__(self, file: str):
        self.file = file
        self.errors: list[AssetError] = []

    def add(self, line: int | None, element: str, reason: str) -> None:
        self.errors.append(AssetError(self.file, line or 0, element, reason))


def _line(data: Any, key: Any) -> int:
    return data.line_of(key) if hasattr(data, "line_of") else getattr(data, "line", 0)


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _parse_register(name: str, raw: Any, defaults: dict, c: _Collector, line: int) -> Register | None:
    el = f"modbus.registers.{name}"
    if not isinstance(raw, dict):
        c.add(line, el, "must be a mapping")
        return None
    known = {"address", "function", "type", "word_order", "byte_order", "scale", "unit", "range",
             "cumulative", "description"}
    for key in raw:
        if key not in known:
            c.add(_line(raw, key), f"{el}.{key}", f"unknown key (known: {', '.join(sorted(known))})")
    ok = True
    address = raw.get("address")
    if not isinstance(address, int) or isinstance(address, bool) or not 0 <= address <= 65535:
        c.add(_line(raw, "address"), f"{el}.address", f"must be an integer 0..65535, got {address!r}")
        ok = False
    function = raw.get("function", "holding")
    if function not in FUNCTIONS:
        c.add(_line(raw, "function"), f"{el}.function", f"must be one of {FUNCTIONS}, got {function!r}")
        ok = False
    rtype = raw.get("type", "uint16")
    if rtype not in REGISTER_TYPES:
        c.add(_line(raw, "type"), f"{el}.type", f"must be one of {tuple(REGISTER_TYPES)}, got {rtype!r}")
        ok = False
    orders = {}
    for key in ("word_order", "byte_order"):
        orders[key] = raw.get(key, defaults.get(key, "big"))
        if orders[key] not in ORDERS:
            c.add(_line(raw, key), f"{el}.{key}", f"must be big or little, got {orders[key]!r}")
            ok = False
    scale = _decimal(raw.get("scale", 1))
    if scale is None or scale == 0:
        c.add(_line(raw, "scale"), f"{el}.scale", f"must be a non-zero decimal, got {raw.get('scale')!r}")
        ok = False
    rng = None
    if "range" in raw:
        r = raw["range"]
        bounds = [_decimal(v) for v in r] if isinstance(r, list) and len(r) == 2 else None
        if not bounds or None in bounds or bounds[0] > bounds[1]:
            c.add(_line(raw, "range"), f"{el}.range", f"must be [low, high] with low <= high, got {r!r}")
            ok = False
        else:
            rng = (bounds[0], bounds[1])
    cumulative = raw.get("cumulative", False)
    if not isinstance(cumulative, bool):
        c.add(_line(raw, "cumulative"), f"{el}.cumulative", "must be true or false")
        ok = False
    unit = raw.get("unit", "")
    if not isinstance(unit, str):
        c.add(_line(raw, "unit"), f"{el}.unit", "must be a string")
        ok = False
    if not ok:
        return None
    return Register(name, address, function, rtype, orders["word_order"], orders["byte_order"],
                    scale, unit, rng, cumulative)


def _parse_modbus(data: dict, c: _Collector) -> tuple[dict[str, Register], str | None]:
    section = data.get("modbus")
    if not isinstance(section, dict):
        c.add(_line(data, "modbus"), "modbus", "a modbus profile needs a 'modbus:' mapping")
        return {}, None
    defaults = {k: section.get(k, "big") for k in ("word_order", "byte_order")}
    for key in ("word_order", "byte_order"):
        if defaults[key] not in ORDERS:
            c.add(_line(section, key), f"modbus.{key}", f"must be big or little, got {defaults[key]!r}")
    regs_raw = section.get("registers")
    registers: dict[str, Register] = {}
    if not isinstance(regs_raw, dict) or not regs_raw:
        c.add(_line(section, "registers"), "modbus.registers", "must be a non-empty mapping")
        return {}, None
    for name, raw in regs_raw.items():
        reg = _parse_register(str(name), raw, defaults, c, _line(regs_raw, name))
        if reg:
            registers[str(name)] = reg
    used: dict[tuple[str, int], str] = {}
    for reg in registers.values():
        for offset in range(reg.count):
            slot = (reg.function, reg.address + offset)
            if slot in used:
                c.add(_line(regs_raw, reg.name), f"modbus.registers.{reg.name}",
                      f"overlaps register {used[slot]} at {reg.function} address {slot[1]}")
                break
            used[slot] = reg.name
    primary = section.get("primary")
    if primary is not None and primary not in regs_raw:
        c.add(_line(section, "primary"), "modbus.primary", f"names no register: {primary!r}")
        primary = None
    return registers, primary


def _parse_specs(section: dict, key: str, schema_key: str, caps: tuple[str, ...], c: _Collector,
                 cls: type) -> dict:
    raw = section.get(key) or {}
    out: dict = {}
    if not isinstance(raw, dict):
        c.add(_line(section, key), f"mqtt.{key}", "must be a mapping of name: spec")
        return out
    for name, spec in raw.items():
        el = f"mqtt.{key}.{name}"
        line = _line(raw, name)
        if spec is None:
            spec = {}
        if not isinstance(spec, dict):
            c.add(line, el, "must be a mapping")
            continue
        extra_keys = ("event_id", "timestamp") if key == "events" else ()
        for k in spec:
            if k not in ("capability", schema_key, "description", *extra_keys):
                c.add(_line(spec, k), f"{el}.{k}",
                      f"unknown key (known: {', '.join(('capability', schema_key, 'description', *extra_keys))})")
        cap = spec.get("capability")
        if cap is not None and cap not in caps:
            c.add(_line(spec, "capability"), f"{el}.capability",
                  f"{cap!r} is not in this profile's capabilities {list(caps)}")
        schema, problems = parse_schema(spec.get(schema_key), f"{el}.{schema_key}")
        for element, reason, pline in problems:
            c.add(pline or _line(spec, schema_key), element, reason)
        named: dict[str, str | None] = {}
        for k in extra_keys:
            field_name = spec.get(k)
            fields = {f.name: f for f in schema.fields}
            if field_name is not None and (not isinstance(field_name, str) or field_name not in fields):
                c.add(_line(spec, k), f"{el}.{k}", f"names no field of the schema: {field_name!r}")
                field_name = None
            elif k == "timestamp" and field_name is not None and fields[field_name].type != "datetime":
                c.add(_line(spec, k), f"{el}.{k}", f"field {field_name!r} must have type datetime")
                field_name = None
            named[k] = field_name
        out[str(name)] = cls(str(name), cap, schema, **named)
    return out


def _parse(path: Path, data: Any, c: _Collector) -> Profile | None:
    if not isinstance(data, dict):
        c.add(getattr(data, "line", 1), "profile", "must be a mapping")
        return None
    known = {"name", "protocol", "description", "vendor", "capabilities", "modbus", "mqtt"}
    for key in data:
        if key not in known:
            c.add(_line(data, key), str(key), f"unknown key (known: {', '.join(sorted(known))})")
    name = data.get("name")
    if not isinstance(name, str) or not name:
        c.add(_line(data, "name"), "name", "required string")
    elif name != path.stem:
        c.add(_line(data, "name"), "name", f"must match the file name {path.stem!r}, got {name!r}")
    protocol = data.get("protocol")
    if protocol not in PROTOCOLS:
        c.add(_line(data, "protocol"), "protocol", f"must be one of {PROTOCOLS}, got {protocol!r}")
    caps_raw = data.get("capabilities")
    caps: list[str] = []
    if not isinstance(caps_raw, list) or not caps_raw:
        c.add(_line(data, "capabilities"), "capabilities", "must be a non-empty list")
    else:
        for i, cap in enumerate(caps_raw):
            if cap not in CAPABILITIES:
                c.add(caps_raw.line_of(i) if hasattr(caps_raw, "line_of") else 0,
                      f"capabilities[{i}]", f"unknown capability {cap!r} (known: {', '.join(CAPABILITIES)})")
            else:
                caps.append(cap)
    registers: dict[str, Register] = {}
    primary = None
    commands: dict = {}
    events: dict = {}
    topics = TOPIC_KINDS
    if protocol == "modbus":
        registers, primary = _parse_modbus(data, c)
        if "meter.read" in caps and primary is None and "modbus" in data:
            c.add(_line(data.get("modbus"), "primary"), "modbus.primary",
                  "meter.read needs a primary register")
    elif protocol == "mqtt":
        section = data.get("mqtt")
        if not isinstance(section, dict):
            c.add(_line(data, "mqtt"), "mqtt", "an mqtt profile needs an 'mqtt:' mapping")
        else:
            for k in section:
                if k not in ("topics", "commands", "events"):
                    c.add(_line(section, k), f"mqtt.{k}", "unknown key (known: commands, events, topics)")
            raw_topics = section.get("topics", list(TOPIC_KINDS))
            if not isinstance(raw_topics, list) or any(t not in TOPIC_KINDS for t in raw_topics):
                c.add(_line(section, "topics"), "mqtt.topics", f"must be a list drawn from {TOPIC_KINDS}")
            else:
                topics = tuple(raw_topics)
            tcaps = tuple(caps)
            commands = _parse_specs(section, "commands", "params", tcaps, c, CommandSpec)
            events = _parse_specs(section, "events", "schema", tcaps, c, EventSpec)
            covered = {s.capability for s in (*commands.values(), *events.values())}
            for cap in caps:
                if cap not in covered:
                    c.add(_line(data, "capabilities"), "capabilities",
                          f"{cap} is offered but no command or event implements it")
    if c.errors:
        return None
    return Profile(name, protocol, str(data.get("description", "")), tuple(caps), str(path),
                   registers, primary, commands, events, topics)


def parse_profile_file(path: Path) -> tuple[Profile | None, list[AssetError]]:
    """Load one profile; returns the profile (None if invalid) and every error found."""
    path = Path(path)
    c = _Collector(str(path))
    try:
        data = load_yaml_file(path)
    except AssetInvalid as exc:
        return None, list(exc.errors)
    profile = _parse(path, data, c)
    return profile, c.errors


def validate_profile_file(path: Path) -> list[AssetError]:
    """Every problem in one profile file, as ``file:line: element: reason`` errors."""
    return parse_profile_file(path)[1]


def load_profiles(directory: Path = PROFILES_DIR) -> tuple[dict[str, Profile], list[AssetError]]:
    """All valid profiles in ``directory`` by name, and the errors of the invalid ones."""
    profiles: dict[str, Profile] = {}
    errors: list[AssetError] = []
    for path in sorted(Path(directory).glob("*.yaml")):
        profile, errs = parse_profile_file(path)
        errors.extend(errs)
        if profile is not None:
            profiles[profile.name] = profile
    return profiles, errors


@lru_cache(maxsize=1)
def shipped_profiles() -> dict[str, Profile]:
    """The profiles shipped with estateflow; raises if one of them is broken."""
    profiles, errors = load_profiles(PROFILES_DIR)
    if errors:
        raise AssetInvalid(errors)
    return profiles
