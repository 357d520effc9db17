"""Enabling, configuring and disabling a module for one community.

All functions work inside the caller's transaction (they flush, never commit) and audit
every change with before and after. Dependencies are enforced both ways: a module cannot
be enabled before the modules it depends on, nor can a module be disabled while an enabled
module depends on it. Rows read for these checks are locked (``FOR SHARE`` / ``FOR UPDATE``
on PostgreSQL), so a concurrent enable and disable cannot both pass their checks.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.modules.capabilities import community_capabilities, profile_capabilities
from app.modules.catalog import Catalog, ModuleDef
from app.modules.models import ModuleActivation
from app.modules.settings_schema import (
    settings_from_json,
    settings_to_json,
    validate_settings,
)
from app.platform.audit import record

Hook = Callable[[Session, int, ModuleDef, str], None]

#: Called after a module is enabled for a community: ``(session, community_id, module, actor)``.
#: The engine registers here to deploy the module's processes and start its schedules.
on_enable: list[Hook] = []
#: Called after a module is disabled: stop new instances, stop schedules.
on_disable: list[Hook] = []

_MESSAGES: dict[str, dict[str, str]] = {
    "unknown_module": {
        "zh": "没有名为“{module}”的模块（或其菜单条目无效）。",
        "en": "There is no module “{module}” (or its menu entry is invalid).",
    },
    "already_enabled": {
        "zh": "模块“{title_zh}”已启用；如需修改请编辑其设置。",
        "en": "Module “{title_en}” is already enabled; edit its settings instead.",
    },
    "not_enabled": {
        "zh": "模块“{title_zh}”尚未启用。",
        "en": "Module “{title_en}” is not enabled.",
    },
    "dependency_not_enabled": {
        "zh": "请先启用 {missing_zh}，再启用模块“{title_zh}”。",
        "en": "Enable {missing_en} first; module “{title_en}” depends on it.",
    },
    "required_by_enabled": {
        "zh": "无法停用模块“{title_zh}”：已启用的 {dependents_zh} 依赖它，请先停用这些模块。",
        "en": "Cannot disable module “{title_en}”: the enabled {dependents_en} depend on it; "
              "disable them first.",
    },
    "up_to_date": {
        "zh": "模块“{title_zh}”已是最新版本。",
        "en": "Module “{title_en}” already runs its newest version.",
    },
    "invalid_settings": {
        "zh": "模块“{title_zh}”的设置有误：{details}",
        "en": "Settings of module “{title_en}” are invalid: {details}",
    },
}


class ModuleError(Exception):
    """A refused module change; ``code`` for programs, ``message(locale)`` for people."""

    def __init__(self, code: str, params: dict[str, Any] | None = None):
        self.code = code
        self.params = params or {}
        super().__init__(self.message("en"))

    def message(self, locale: str = "zh") -> str:
        loc = locale if locale in ("zh", "en") else "en"
        params = dict(self.params)
        errors = params.get("errors", {}).get(loc, {})
        sep = "；" if loc == "zh" else "; "
        params["details"] = sep.join(
            f"{name}: {' '.join(msgs) if isinstance(msgs, list) else msgs}"
            for name, msgs in errors.items()
        )
        return _MESSAGES[self.code][loc].format(**params)

    def field_errors(self, locale: str = "zh") -> dict[str, list[str]]:
        """For ``invalid_settings``: setting name → messages, to show beside each field."""
        return self.params.get("errors", {}).get(locale, {})


@dataclass
class ModuleState:
    """One row of the module menu page for a community."""

    module: ModuleDef
    enabled: bool
    version: str | None  # the version enabled for the community, if ever enabled
    settings: dict[str, Any]  # typed (Decimals); defaults when never enabled
    missing_dependencies: list[str] = field(default_factory=list)
    capabilities: dict[str, bool] = field(default_factory=dict)  # capability → available
    #: an uploaded package with a newer version than the one enabled here: what it changes
    upgrade_changes: list[dict[str, str]] | None = None

    @property
    def upgrade_available(self) -> bool:
        return self.upgrade_changes is not None

    @property
    def can_enable(self) -> bool:
        return not self.enabled and not self.missing_dependencies


def _titles(modules: list[ModuleDef], loc: str) -> str:
    sep = "、" if loc == "zh" else ", "
    return sep.join(f"“{m.title[loc]}”" for m in modules)


def _module(catalog: Catalog, module_id: str) -> ModuleDef:
    module = catalog.modules.get(module_id)
    if module is None:
        raise ModuleError("unknown_module", {"module": module_id})
    return module


def _title_params(module: ModuleDef) -> dict[str, str]:
    return {"module": module.id, "title_zh": module.title["zh"], "title_en": module.title["en"]}


def _activation(session: Session, community_id: int, module_id: str, *, lock: bool = False,
                shared: bool = False) -> ModuleActivation | None:
    stmt = select(ModuleActivation).where(
        ModuleActivation.community_id == community_id, ModuleActivation.module_id == module_id
    )
    if lock:
        stmt = stmt.with_for_update(read=shared)
    return session.scalars(stmt).one_or_none()


def _snapshot(row: ModuleActivation | None) -> dict | None:
    if row is None:
        return None
    return {"enabled": row.enabled, "version": row.version, "settings": dict(row.settings or {})}


def _validated(module: ModuleDef, settings: dict) -> dict[str, Any]:
    try:
        typed = validate_settings(module, settings, "zh")
    except ValidationError:
        errors = {}
        for loc in ("zh", "en"):
            try:
                validate_settings(module, settings, loc)
            except ValidationError as exc:
                errors[loc] = exc.messages
        raise ModuleError("invalid_settings", {**_title_params(module), "errors": errors})
    return settings_to_json(module, typed)


def _enabled_ids(session: Session, community_id: int, module_ids, *, lock: bool) -> set[str]:
    if not module_ids:
        return set()
    stmt = select(ModuleActivation.module_id).where(
        ModuleActivation.community_id == community_id,
        ModuleActivation.module_id.in_(list(module_ids)),
        ModuleActivation.enabled.is_(True),
    )
    if lock:
        stmt = stmt.with_for_update(read=True)
    return set(session.scalars(stmt).all())


def enable_module(
    session: Session, *, catalog: Catalog, community_id: int, module_id: str,
    settings: dict | None = None, actor: str,
) -> ModuleActivation:
    """Enable a module for a community with validated settings (defaults fill the gaps).

    Refused with ``ModuleError`` when the module is unknown, already enabled, a dependency
    is not enabled for this community, or a setting is unknown or out of range.
    """
    module = _module(catalog, module_id)
    stored = _validated(module, settings or {})
    enabled = _enabled_ids(session, community_id, module.depends_on, lock=True)
    missing = [catalog.modules[d] for d in module.depends_on if d not in enabled]
    if missing:
        raise ModuleError("dependency_not_enabled", {
            **_title_params(module), "missing": [m.id for m in missing],
            "missing_zh": _titles(missing, "zh"), "missing_en": _titles(missing, "en"),
        })
    row = _activation(session, community_id, module_id, lock=True)
    if row is not None and row.enabled:
        raise ModuleError("already_enabled", _title_params(module))
    before = _snapshot(row)
    if row is None:
        row = ModuleActivation(community_id=community_id, module_id=module_id)
        session.add(row)
    row.enabled = True
    row.version = module.version
    row.settings = stored
    row.changed_by = actor
    row.changed_at = utcnow()
    session.flush()
    record(session, actor=actor, action="module.enable", target_type="module",
           target_id=module_id, community_id=community_id, before=before, after=_snapshot(row))
    for hook in list(on_enable):
        hook(session, community_id, module, actor)
    return row


def update_settings(
    session: Session, *, catalog: Catalog, community_id: int, module_id: str,
    settings: dict, actor: str,
) -> ModuleActivation:
    """Change some settings of an enabled module; the others keep their current values."""
    module = _module(catalog, module_id)
    row = _activation(session, community_id, module_id, lock=True)
    if row is None or not row.enabled:
        raise ModuleError("not_enabled", _title_params(module))
    current = settings_to_json(module, settings_from_json(module, row.settings))
    stored = _validated(module, {**current, **settings})
    before = _snapshot(row)
    row.settings = stored
    if module.package_id is None:
        row.version = module.version  # an uploaded package changes version only by an upgrade
    row.changed_by = actor
    row.changed_at = utcnow()
    session.flush()
    record(session, actor=actor, action="module.settings", target_type="module",
           target_id=module_id, community_id=community_id, before=before, after=_snapshot(row))
    return row


def disable_module(
    session: Session, *, catalog: Catalog, community_id: int, module_id: str, actor: str,
) -> ModuleActivation:
    """Disable a module; its settings are kept. Refused while an enabled module needs it."""
    module = _module(catalog, module_id)
    row = _activation(session, community_id, module_id, lock=True)
    if row is None or not row.enabled:
        raise ModuleError("not_enabled", _title_params(module))
    dependents_ids = [m.id for m in catalog.modules.values() if module_id in m.depends_on]
    enabled = _enabled_ids(session, community_id, dependents_ids, lock=False)
    if enabled:
        dependents = [catalog.modules[d] for d in sorted(enabled)]
        raise ModuleError("required_by_enabled", {
            **_title_params(module), "dependents": [m.id for m in dependents],
            "dependents_zh": _titles(dependents, "zh"), "dependents_en": _titles(dependents, "en"),
        })
    before = _snapshot(row)
    row.enabled = False
    row.changed_by = actor
    row.changed_at = utcnow()
    session.flush()
    record(session, actor=actor, action="module.disable", target_type="module",
           target_id=module_id, community_id=community_id, before=before, after=_snapshot(row))
    for hook in list(on_disable):
        hook(session, community_id, module, actor)
    return row


def upgrade_module(
    session: Session, *, catalog: Catalog, community_id: int, module_id: str, actor: str,
) -> ModuleActivation:
    """Move one community to the newest version of an uploaded module package. Settings keep
    their values (new settings get their defaults; removed ones are dropped); running
    instances finish on the version they started with."""
    module = _module(catalog, module_id)
    row = _activation(session, community_id, module_id, lock=True)
    if row is None or not row.enabled:
        raise ModuleError("not_enabled", _title_params(module))
    if row.version == module.version:
        raise ModuleError("up_to_date", _title_params(module))
    before = _snapshot(row)
    known = {s.name for s in module.settings}
    row.settings = _validated(module, {k: v for k, v in (row.settings or {}).items() if k in known})
    row.version = module.version
    row.changed_by = actor
    row.changed_at = utcnow()
    session.flush()
    record(session, actor=actor, action="module.upgrade", target_type="module",
           target_id=module_id, community_id=community_id, before=before, after=_snapshot(row))
    return row


def module_states(session: Session, catalog: Catalog, community_id: int) -> list[ModuleState]:
    """Every catalogue module as the menu page shows it for one community."""
    rows = {
        r.module_id: r
        for r in session.scalars(
            select(ModuleActivation).where(ModuleActivation.community_id == community_id)
        )
    }
    enabled = {m for m, r in rows.items() if r.enabled}
    from app.modules.packages import package_profiles

    known = {name: set(p.capabilities) for name, p in package_profiles(session).items()}
    known.update(profile_capabilities(catalog.assets_root))  # shipped names win
    provided = community_capabilities(session, community_id, known)
    states = []
    for module in catalog.modules.values():
        row = rows.get(module.id)
        changes = None
        if module.package_id is not None and row is not None and row.version != module.version:
            from app.modules.packages import package_changes, package_version

            old = package_version(session, module.id, row.version)
            if old is None:  # the community runs the version the installation ships
                from app.modules.catalog import load_catalog
                from app.modules.packages import shipped_package

                shipped = load_catalog(catalog.assets_root).get(module.id)
                old = shipped_package(session, shipped) if shipped is not None else None
            new = package_version(session, module.id, module.version)
            if old is not None and new is not None:
                changes = package_changes(old, new)
        states.append(ModuleState(
            upgrade_changes=changes,
            module=module,
            enabled=bool(row and row.enabled),
            version=row.version if row else None,
            settings=settings_from_json(module, row.settings if row else None),
            missing_dependencies=[d for d in module.depends_on if d not in enabled],
            capabilities={c: c in provided for c in module.capabilities},
        ))
    return states
