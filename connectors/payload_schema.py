"""A small declarative payload schema for MQTT devices, checked without a dependency.

A schema is a mapping ``field -> spec`` where spec is a type name (``string``, ``integer``,
``number``, ``boolean``, ``object``, ``array``,
``datetime``: an ISO-8601 string) or a mapping with ``type``, optional
``required`` (default true), ``enum``, ``min``, ``max``. Unknown payload keys are allowed
(vendors add fields); missing required keys, wrong types and values outside an enum are not.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
    "datetime": (str,),
}

#: a device's clock may drift; a time further than this ahead of ours is refused
MAX_CLOCK_AHEAD_S = 24 * 3600


_horizon = [0.0, datetime(2000, 1, 1)]


def _latest_allowed() -> datetime:
    """Now + ``MAX_CLOCK_AHEAD_S`` (naive UTC), recomputed at most once a second."""
    import time

    t = time.monotonic()
    if t - _horizon[0] > 1.0:
        _horizon[0] = t
        _horizon[1] = datetime.now(timezone.utc).replace(tzinfo=None) + timedelta(seconds=MAX_CLOCK_AHEAD_S)
    return _horizon[1]


def parse_datetime(value: Any) -> datetime | None:
    """An ISO-8601 date-time (``2026-11-30T08:00:00+08:00``, ``...Z``, or naive = UTC) as a
    naive UTC ``datetime``; None if ``value`` is not one (``"yesterday"``, ``"7"``)."""
    return _parse_iso(value) if isinstance(value, str) else None


@lru_cache(maxsize=512)
def _parse_iso(value: str) -> datetime | None:
    if not 10 < len(value) <= 40 or "T" not in value.upper()[8:12]:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        offset = parsed.utcoffset()
        parsed = parsed.replace(tzinfo=None) - offset if offset else parsed.replace(tzinfo=None)
    if parsed.year < 2000:
        return None
    return parsed


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: str
    required: bool = True
    enum: tuple[Any, ...] | None = None
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True)
class PayloadSchema:
    fields: tuple[FieldSpec, ...] = field(default_factory=tuple)

    def errors(self, payload: Any) -> list[str]:
        """Every problem with ``payload``; an empty list means valid."""
        if not isinstance(payload, dict):
            return [f"payload must be a JSON object, got {type(payload).__name__}"]
        problems: list[str] = []
        for spec in self.fields:
            if spec.name not in payload or payload[spec.name] is None:
                if spec.required:
                    problems.append(f"{spec.name}: required")
                continue
            value = payload[spec.name]
            allowed = TYPES[spec.type]
            if isinstance(value, bool) and bool not in allowed:
                problems.append(f"{spec.name}: expected {spec.type}, got boolean")
                continue
            if not isinstance(value, allowed):
                problems.append(f"{spec.name}: expected {spec.type}, got {type(value).__name__}")
                continue
            if spec.type == "datetime":
                parsed = parse_datetime(value)
                if parsed is None:
                    problems.append(f"{spec.name}: {value[:40]!r} is not an ISO-8601 date-time")
                elif parsed > _latest_allowed():
                    problems.append(f"{spec.name}: {value[:40]!r} is in the future")
                continue
            if spec.enum is not None and value not in spec.enum:
                problems.append(f"{spec.name}: {value!r} not one of {list(spec.enum)}")
            if spec.min is not None and value < spec.min:
                problems.append(f"{spec.name}: {value} below {spec.min}")
            if spec.max is not None and value > spec.max:
                problems.append(f"{spec.name}: {value} above {spec.max}")
        return problems


def parse_schema(raw: Any, where: str) -> tuple[PayloadSchema, list[tuple[str, str, int | None]]]:
    """Build a schema from YAML data; returns (schema, [(element, reason, line)])."""
    problems: list[tuple[str, str, int | None]] = []
    if raw is None:
        return PayloadSchema(), problems
    if not isinstance(raw, dict):
        return PayloadSchema(), [(where, "schema must be a mapping of field: type", None)]
    specs: list[FieldSpec] = []
    line_of = getattr(raw, "line_of", lambda _k: None)
    for name, spec in raw.items():
        element = f"{where}.{name}"
        line = line_of(name)
        if isinstance(spec, str):
            spec = {"type": spec}
        if not isinstance(spec, dict):
            problems.append((element, "field spec must be a type name or a mapping", line))
            continue
        unknown = set(spec) - {"type", "required", "enum", "min", "max", "description"}
        if unknown:
            problems.append((element, f"unknown keys {sorted(unknown)}", line))
        type_name = spec.get("type")
        if type_name not in TYPES:
            problems.append((element, f"type must be one of {sorted(TYPES)}, got {type_name!r}", line))
            continue
        enum = spec.get("enum")
        if enum is not None and not isinstance(enum, list):
            problems.append((element, "enum must be a list", line))
            enum = None
        required = spec.get("required", True)
        if not isinstance(required, bool):
            problems.append((element, "required must be true or false", line))
            required = True
        specs.append(FieldSpec(str(name), type_name, required,
                               tuple(enum) if enum is not None else None,
                               spec.get("min"), spec.get("max")))
    return PayloadSchema(tuple(specs)), problems
