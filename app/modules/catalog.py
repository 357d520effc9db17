"""The module menu: one ``menus/<module>.yaml`` per module, validated with file and line.

A module is data (see DESIGN.md, "Modules are data"). This file turns the menu entries into
``ModuleDef`` objects and reports every problem as an ``AssetError`` so a consultant can fix
the entry in an editor. A broken entry is reported and skipped; it never stops the others.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from app.assets.errors import AssetError, AssetInvalid
from app.assets.yaml_lines import LineDict, LineList, load_yaml_file

CATEGORIES = ("fees", "service", "security", "parking", "energy", "visitors", "inspection")
CAPABILITIES = (
    "meter.read", "door.grant", "door.suspend", "door.restore", "gate.open",
    "pressure.read", "camera.alert", "charger.start", "charger.stop",
)
SETTING_TYPES = (
    "bool", "int", "decimal", "money", "string", "choice",
    "duration_minutes", "duration_hours", "days",
)
INT_TYPES = ("int", "duration_minutes", "duration_hours", "days")
DECIMAL_TYPES = ("decimal", "money")
_RANGED_TYPES = INT_TYPES + DECIMAL_TYPES

_TOP_REQUIRED = ("id", "version", "title", "description", "category")
_TOP_OPTIONAL = ("depends_on", "processes", "forms", "capabilities", "schedules", "settings")
_SETTING_REQUIRED = ("name", "type", "default", "label", "description")
_SETTING_OPTIONAL = ("min", "max", "choices")
_LOCALES = ("zh", "en")
_ID_RE = re.compile(r"^[a-z][a-z0-9_]{0,59}$")
_VERSION_RE = re.compile(r"^\d+\.\d+\.\d+$")


@dataclass(frozen=True)
class Choice:
    value: str
    label: dict[str, str]


@dataclass(frozen=True)
class SettingDef:
    """One knob of a module: typed, with a default, a label and help text in zh and en.

    ``default``, ``min`` and ``max`` are already typed: ``Decimal`` for decimal/money,
    ``int`` for int and durations, ``bool`` for bool, ``str`` for string/choice.
    """

    name: str
    type: str
    default: Any
    label: dict[str, str]
    description: dict[str, str]
    min: Any = None
    max: Any = None
    choices: tuple[Choice, ...] = ()


@dataclass(frozen=True)
class Schedule:
    flow: str
    cron: str


@dataclass(frozen=True)
class ModuleDef:
    id: str
    version: str
    title: dict[str, str]
    description: dict[str, str]
    category: str
    depends_on: tuple[str, ...] = ()
    processes: tuple[str, ...] = ()
    forms: tuple[str, ...] = ()
    capabilities: tuple[str, ...] = ()
    schedules: tuple[Schedule, ...] = ()
    settings: tuple[SettingDef, ...] = ()
    source: str = ""
    depends_on_lines: tuple[int, ...] = field(default=(), compare=False, repr=False)
    assets_root: Path | None = field(default=None, compare=False, repr=False)
    #: the ``module_package`` row of an uploaded module (None: shipped with the installation)
    package_id: int | None = field(default=None, compare=False, repr=False)

    def setting(self, name: str) -> SettingDef | None:
        return next((s for s in self.settings if s.name == name), None)


@dataclass
class Catalog:
    """The loaded menu: valid modules by id, and every problem found while loading."""

    assets_root: Path
    modules: dict[str, ModuleDef] = field(default_factory=dict)
    errors: list[AssetError] = field(default_factory=list)

    def get(self, module_id: str) -> ModuleDef | None:
        return self.modules.get(module_id)


# --------------------------------------------------------------------------- parsing


@lru_cache(maxsize=1)
def known_flows() -> frozenset[str]:
    """Names of the Prefect flows in ``workflows/`` (read from the source: no prefect import)."""
    from app.settings import PROJECT_ROOT

    names: set[str] = set()
    for path in sorted((PROJECT_ROOT / "workflows").glob("*.py")):
        names.update(re.findall(r"@flow\(\s*name\s*=\s*[\"']([A-Za-z0-9_]+)[\"']",
                                path.read_text("utf-8")))
    return frozenset(names)


class _Checker:
    """Collects errors for one file; every check names element and line."""

    def __init__(self, file: str):
        self.file = file
        self.errors: list[AssetError] = []

    def error(self, line: int, element: str, reason: str) -> None:
        self.errors.append(AssetError(self.file, line, element, reason))

    def keys(self, data: LineDict, element: str, required, optional) -> None:
        prefix = f"{element}." if element else ""
        for key in required:
            if key not in data:
                self.error(data.line, f"{prefix}{key}" if prefix else key, "missing required key")
        allowed = set(required) | set(optional)
        for key in data:
            if key not in allowed:
                self.error(data.line_of(key), f"{prefix}{key}", "unknown key")

    def text(self, data: LineDict, key: str, element: str) -> dict[str, str] | None:
        value = data.get(key)
        line = data.line_of(key)
        if not isinstance(value, dict):
            self.error(line, element, "must be a mapping {zh: ..., en: ...}")
            return None
        ok = True
        for loc in _LOCALES:
            text = value.get(loc)
            if not isinstance(text, str) or not text.strip():
                self.error(value.line_of(loc) if loc in value else line, f"{element}.{loc}",
                           f"missing {loc} text")
                ok = False
        for loc in value:
            if loc not in _LOCALES:
                self.error(value.line_of(loc), f"{element}.{loc}", "unknown key (use zh and en)")
                ok = False
        return {loc: value[loc] for loc in _LOCALES} if ok else None

    def str_list(self, data: LineDict, key: str) -> LineList | None:
        value = data.get(key, None)
        if key not in data or value is None:
            return LineList()
        if not isinstance(value, list):
            self.error(data.line_of(key), key, "must be a list")
            return None
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item:
                self.error(value.line_of(i), f"{key}[{i}]", "must be a non-empty string")
                return None
        return value


def _typed_value(kind: str, value: Any) -> tuple[Any, str | None]:
    """Convert a YAML value to the setting's type; return (value, reason-if-wrong)."""
    if kind == "bool":
        return (value, None) if isinstance(value, bool) else (None, "must be true or false")
    if kind in INT_TYPES:
        if isinstance(value, bool) or not isinstance(value, int):
            return None, "must be a whole number"
        if kind != "int" and value < 0:
            return None, "must not be negative"
        return value, None
    if kind in DECIMAL_TYPES:
        if isinstance(value, float):
            return None, f'write decimals as a quoted string, e.g. "{value}"'
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            return None, 'must be a decimal string, e.g. "0.85"'
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            return None, f"not a decimal number: {value!r}"
        if not number.is_finite():
            return None, "must be a finite number"
        if kind == "money" and number.as_tuple().exponent < -2:
            return None, "money has at most 2 decimal places (fen)"
        return number, None
    # string, choice
    return (value, None) if isinstance(value, str) else (None, "must be a string")


def _parse_setting(c: _Checker, raw: Any, index: int, line: int) -> SettingDef | None:
    element = f"settings[{index}]"
    if not isinstance(raw, LineDict):
        c.error(line, element, "must be a mapping")
        return None
    before = len(c.errors)
    name = raw.get("name")
    if isinstance(name, str) and _ID_RE.match(name):
        element = f"settings[{name}]"
    elif "name" in raw:
        c.error(raw.line_of("name"), f"{element}.name",
                "must be a lower-case identifier (a-z, 0-9, _)")
    c.keys(raw, element, _SETTING_REQUIRED, _SETTING_OPTIONAL)
    kind = raw.get("type")
    if "type" in raw and kind not in SETTING_TYPES:
        c.error(raw.line_of("type"), f"{element}.type",
                f"unknown setting type {kind!r} (expected one of: {', '.join(SETTING_TYPES)})")
        kind = None
    label = c.text(raw, "label", f"{element}.label") if "label" in raw else None
    description = (c.text(raw, "description", f"{element}.description")
                   if "description" in raw else None)
    if kind is None or len(c.errors) > before:
        return None

    bounds: dict[str, Any] = {}
    for key in ("min", "max"):
        if key not in raw:
            continue
        if kind not in _RANGED_TYPES:
            c.error(raw.line_of(key), f"{element}.{key}", f"does not apply to type {kind}")
            continue
        value, reason = _typed_value(kind, raw[key])
        if reason:
            c.error(raw.line_of(key), f"{element}.{key}", reason)
        else:
            bounds[key] = value
    if "min" in bounds and "max" in bounds and bounds["min"] > bounds["max"]:
        c.error(raw.line_of("max"), f"{element}.max", "is less than min")

    choices: list[Choice] = []
    if kind == "choice":
        raw_choices = raw.get("choices")
        if not isinstance(raw_choices, list) or not raw_choices:
            c.error(raw.line_of("choices"), f"{element}.choices",
                    "a choice setting needs a non-empty list of choices")
        else:
            for i, item in enumerate(raw_choices):
                item_el = f"{element}.choices[{i}]"
                if not isinstance(item, LineDict):
                    c.error(raw_choices.line_of(i), item_el,
                            "must be a mapping {value: ..., label: {zh, en}}")
                    continue
                c.keys(item, item_el, ("value", "label"), ())
                value = item.get("value")
                if not isinstance(value, str) or not value:
                    c.error(item.line_of("value"), f"{item_el}.value", "must be a string")
                    continue
                if any(ch.value == value for ch in choices):
                    c.error(item.line_of("value"), f"{item_el}.value",
                            f"duplicate choice {value!r}")
                item_label = c.text(item, "label", f"{item_el}.label") if "label" in item else None
                if item_label:
                    choices.append(Choice(value, item_label))
    elif "choices" in raw:
        c.error(raw.line_of("choices"), f"{element}.choices", f"does not apply to type {kind}")

    default, reason = _typed_value(kind, raw["default"])
    default_line = raw.line_of("default")
    if reason:
        c.error(default_line, f"{element}.default", reason)
    elif "min" in bounds and default < bounds["min"]:
        c.error(default_line, f"{element}.default", f"{default} is below min {bounds['min']}")
    elif "max" in bounds and default > bounds["max"]:
        c.error(default_line, f"{element}.default", f"{default} is above max {bounds['max']}")
    elif kind == "choice" and choices and default not in {ch.value for ch in choices}:
        c.error(default_line, f"{element}.default", f"{default!r} is not one of the choices")

    if len(c.errors) > before:
        return None
    return SettingDef(name=name, type=kind, default=default, label=label,
                      description=description, min=bounds.get("min"), max=bounds.get("max"),
                      choices=tuple(choices))


def _check_asset_paths(c: _Checker, data: LineDict, key: str, root: Path, suffixes) -> None:
    paths = c.str_list(data, key)
    if not paths:
        return
    resolved_root = root.resolve()
    for i, rel in enumerate(paths):
        element = f"{key}[{i}]"
        line = paths.line_of(i)
        target = (root / rel).resolve()
        if Path(rel).is_absolute() or not target.is_relative_to(resolved_root):
            c.error(line, element, f"{rel}: must be a path inside the assets folder")
        elif not rel.endswith(suffixes):
            c.error(line, element, f"{rel}: expected a {' or '.join(suffixes)} file")
        elif not target.is_file():
            c.error(line, element, f"{rel}: file does not exist")


def _parse(path: Path, assets_root: Path) -> tuple[ModuleDef | None, list[AssetError]]:
    try:
        display = path.resolve().relative_to(assets_root.resolve()).as_posix()
    except ValueError:
        display = str(path)
    try:
        data = load_yaml_file(path, display)
    except AssetInvalid as exc:
        return None, list(exc.errors)
    c = _Checker(display)
    if not isinstance(data, LineDict):
        c.error(getattr(data, "line", 1) or 1, "module",
                "a menu entry must be a mapping of keys (id, version, title, ...)")
        return None, c.errors

    c.keys(data, "", _TOP_REQUIRED, _TOP_OPTIONAL)
    module_id = data.get("id")
    if "id" in data:
        if not isinstance(module_id, str) or not _ID_RE.match(module_id):
            c.error(data.line_of("id"), "id", "must be a lower-case identifier (a-z, 0-9, _)")
        elif module_id != path.stem:
            c.error(data.line_of("id"), "id",
                    f"{module_id!r} does not match the file name {path.name!r}")
    version = data.get("version")
    if "version" in data and (not isinstance(version, str) or not _VERSION_RE.match(version)):
        c.error(data.line_of("version"), "version",
                'must be a quoted version string like "1.0.0"')
    title = c.text(data, "title", "title") if "title" in data else None
    description = c.text(data, "description", "description") if "description" in data else None
    category = data.get("category")
    if "category" in data and category not in CATEGORIES:
        c.error(data.line_of("category"), "category",
                f"unknown category {category!r} (expected one of: {', '.join(CATEGORIES)})")

    depends_on = c.str_list(data, "depends_on")
    if depends_on:
        for i, dep in enumerate(depends_on):
            if dep == module_id:
                c.error(depends_on.line_of(i), f"depends_on[{i}]",
                        f"dependency cycle: {dep} → {dep}")
            elif depends_on.index(dep) != i:
                c.error(depends_on.line_of(i), f"depends_on[{i}]", f"duplicate dependency {dep!r}")
    capabilities = c.str_list(data, "capabilities")
    if capabilities:
        for i, cap in enumerate(capabilities):
            if cap not in CAPABILITIES:
                c.error(capabilities.line_of(i), f"capabilities[{i}]",
                        f"unknown capability {cap!r} (expected one of: {', '.join(CAPABILITIES)})")
    _check_asset_paths(c, data, "processes", assets_root, (".bpmn",))
    _check_asset_paths(c, data, "forms", assets_root, (".yaml", ".yml"))

    schedules: list[Schedule] = []
    raw_schedules = data.get("schedules") or LineList()
    if not isinstance(raw_schedules, list):
        c.error(data.line_of("schedules"), "schedules", "must be a list")
    else:
        for i, item in enumerate(raw_schedules):
            element = f"schedules[{i}]"
            if not isinstance(item, LineDict):
                c.error(raw_schedules.line_of(i), element, "must be a mapping {flow, cron}")
                continue
            before = len(c.errors)
            c.keys(item, element, ("flow", "cron"), ())
            flow = item.get("flow", "")
            if not isinstance(flow, str) or ("flow" in item and not flow):
                c.error(item.line_of("flow"), f"{element}.flow", "must be a flow name")
            elif flow and flow not in known_flows():
                c.error(item.line_of("flow"), f"{element}.flow",
                        f"unknown flow {flow!r} (the flows in workflows/: {', '.join(sorted(known_flows()))})")
            cron = item.get("cron")
            if "cron" in item:
                from app.modules.schedules import cron_error

                reason = (cron_error(cron) if isinstance(cron, str)
                          else "must be a cron expression with 5 fields, e.g. \"0 2 1 * *\"")
                if reason:
                    c.error(item.line_of("cron"), f"{element}.cron", reason)
            if len(c.errors) == before:
                schedules.append(Schedule(item["flow"], item["cron"]))

    settings: list[SettingDef] = []
    raw_settings = data.get("settings") or LineList()
    if not isinstance(raw_settings, list):
        c.error(data.line_of("settings"), "settings", "must be a list")
    else:
        seen: dict[str, int] = {}
        for i, raw in enumerate(raw_settings):
            setting = _parse_setting(c, raw, i, raw_settings.line_of(i))
            name = raw.get("name") if isinstance(raw, dict) else None
            if isinstance(name, str):
                if name in seen:
                    c.error(raw.line_of("name"), f"settings[{name}].name",
                            f"duplicate setting name (first at line {seen[name]})")
                    continue
                seen[name] = raw.line_of("name")
            if setting:
                settings.append(setting)

    if c.errors:
        return None, c.errors
    module = ModuleDef(
        id=module_id, version=version, title=title, description=description, category=category,
        depends_on=tuple(depends_on), processes=tuple(data.get("processes") or ()),
        forms=tuple(data.get("forms") or ()), capabilities=tuple(capabilities),
        schedules=tuple(schedules), settings=tuple(settings), source=display,
        depends_on_lines=tuple(depends_on.line_of(i) for i in range(len(depends_on))),
        assets_root=assets_root,
    )
    return module, []


def validate_menu_file(path: Path, assets_root: Path) -> list[AssetError]:
    """Every problem of one menu entry on its own (dependencies are checked by the catalogue)."""
    return _parse(Path(path), Path(assets_root))[1]


def parse_menu_file(path: Path, assets_root: Path) -> ModuleDef:
    """The ``ModuleDef`` of one valid menu entry; raises ``AssetInvalid`` otherwise."""
    module, errors = _parse(Path(path), Path(assets_root))
    if errors:
        raise AssetInvalid(errors)
    return module


# --------------------------------------------------------------------------- catalogue


def _find_cycle(start: str, modules: dict[str, ModuleDef]) -> list[str] | None:
    """The dependency path from ``start`` back to itself, if there is one."""
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        current, path = stack.pop()
        for dep in modules[current].depends_on:
            if dep == start:
                return path + [start]
            if dep in modules and dep not in seen:
                seen.add(dep)
                stack.append((dep, path + [dep]))
    return None


def load_catalog(assets_root: Path) -> Catalog:
    """Load every ``menus/*.yaml`` under ``assets_root``; broken entries are reported, skipped."""
    root = Path(assets_root)
    catalog = Catalog(assets_root=root)
    parsed: dict[str, ModuleDef] = {}
    files = sorted((root / "menus").glob("*.yaml")) if (root / "menus").is_dir() else []
    for path in files:
        module, errors = _parse(path, root)
        catalog.errors.extend(errors)
        if module:
            parsed[module.id] = module
    present_files = {p.stem for p in files}

    def fail(module: ModuleDef, index: int, reason: str) -> None:
        catalog.errors.append(AssetError(module.source, module.depends_on_lines[index],
                                         f"depends_on[{index}]", reason))

    cyclic = {}
    for module_id in parsed:
        cycle = _find_cycle(module_id, parsed)
        if cycle:
            cyclic[module_id] = cycle
    for module_id, cycle in cyclic.items():
        module = parsed[module_id]
        fail(module, module.depends_on.index(cycle[1]), "dependency cycle: " + " → ".join(cycle))
    for module_id in cyclic:
        parsed.pop(module_id)

    # Unknown or broken dependencies, repeated until nothing more drops out.
    changed = True
    while changed:
        changed = False
        for module in list(parsed.values()):
            missing = [(i, d) for i, d in enumerate(module.depends_on) if d not in parsed]
            if not missing:
                continue
            i, dep = missing[0]
            if dep in cyclic:
                fail(module, i, f"depends on module {dep!r}, which is in a dependency cycle")
            elif dep in present_files:
                fail(module, i, f"depends on module {dep!r}, whose menu entry is invalid")
            else:
                fail(module, i, f"unknown dependency {dep!r} (no menus/{dep}.yaml)")
            parsed.pop(module.id)
            changed = True
    catalog.modules = dict(sorted(parsed.items()))
    return catalog
