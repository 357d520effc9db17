"""A community's typed settings for one module (defaults when it was never enabled).

Services that follow a module setting (thresholds, windows, limits) read it here, so the
value an administrator saved on the module menu is the value the rule uses.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from functools import lru_cache
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.modules.catalog import ModuleDef, load_catalog
from app.modules.models import ModuleActivation
from app.modules.settings_schema import settings_from_json
from app.settings import get_settings


@lru_cache(maxsize=8)
def _module(module_id: str) -> ModuleDef:
    module = load_catalog(get_settings().assets_dir).modules.get(module_id)
    if module is None:
        raise LookupError(f"module {module_id!r} is not in the catalogue")
    return module


#: module definitions that answer for their ids inside ``draft_modules`` (a studio test run)
_DRAFTS: ContextVar[dict[str, ModuleDef]] = ContextVar("draft_modules", default={})


@contextlib.contextmanager
def draft_modules(modules: dict[str, ModuleDef]) -> Iterator[None]:
    """Within the block these (unpublished) module definitions give their settings' types and
    defaults: a studio test run of a draft reads the draft's settings, not a published version's."""
    token = _DRAFTS.set({**_DRAFTS.get(), **modules})
    try:
        yield
    finally:
        _DRAFTS.reset(token)


def module_settings(session: Session, community_id: int, module_id: str) -> dict[str, Any]:
    """Typed settings (Decimals for decimal settings) as saved for this community."""
    stored = session.scalar(select(ModuleActivation.settings).where(
        ModuleActivation.community_id == community_id, ModuleActivation.module_id == module_id))
    draft = _DRAFTS.get().get(module_id)
    if draft is not None:
        return settings_from_json(draft, stored)
    try:
        module = _module(module_id)
    except LookupError:  # an uploaded module package
        from app.modules.packages import package_module, stored_packages

        row = next((r for r in stored_packages(session) if r.module_id == module_id), None)
        module = package_module(row)[0] if row is not None else None
        if module is None:
            raise
    return settings_from_json(module, stored)


def role_user_ids(session: Session, community_id: int, role_key: str) -> list[int]:
    """Logins with this role key (``manager``, ``guard``, ...) who belong to the community."""
    from flask_appbuilder.security.sqla.models import Role, User, assoc_user_role

    from app.domains.estate.models import UserCommunity
    from app.security.roles import ROLE_KEYS

    fab_names = [name for name, key in ROLE_KEYS.items() if key == role_key]
    return sorted(set(session.scalars(
        select(User.id).join(assoc_user_role, assoc_user_role.c.user_id == User.id)
        .join(Role, Role.id == assoc_user_role.c.role_id)
        .join(UserCommunity, UserCommunity.user_id == User.id)
        .where(Role.name.in_(fab_names), UserCommunity.community_id == community_id))))
