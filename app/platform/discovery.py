"""Finds what the domains bring, so a new domain is a new folder and nothing else to edit.

Every package under ``app/domains/`` may have any of these parts, each found by name:

===================  ====================================================================
part                 what the platform does with it
===================  ====================================================================
``models``           imported before the metadata is used (alembic, ``estateflow init``)
``views``            (a module or a package) ``register(appbuilder)``, ``GRANTS``,
                     ``RESIDENT_TILES``, one per view module
``operations``       imported so its ``@operation`` service tasks are registered
``events``           ``INBOUND_HANDLERS`` / ``register_inbound(router, wrap)``: device events
``demo``             ``seed(session)`` (and the optional ``ORDER``) for the demo estate
``kpis``             ``TILES`` (dashboard tiles) and ``TODAY`` (the manager's "needs attention
                     now" counts), see ``app/platform/kpi.py``
``translations.<lang>.yaml``  English msgid → translation, merged into the catalog
``cards``            ``task_cards`` / ``task_detail`` / ``home_panels`` / ``top_badges``: what
                     the inbox card, the task page, the staff home and the top bar show of the
                     domain's records (``app/web/cards.py``)
``scan``             ``resolve(session, code, community_ids, username, locale)``: what a scanned
                     code opens on the staff scanner (``app/web/scan.py``)
===================  ====================================================================

The platform never imports a domain by name apart from the base domains (estate, devices,
notifications); everything else reaches it through this module.
"""
from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from types import ModuleType

from sqlalchemy import MetaData

DOMAINS_DIR = Path(__file__).resolve().parent.parent / "domains"
DOMAINS_PACKAGE = "app.domains"
# Base domains first: leaf domains build on them (menus, demo data, handlers).
BASE_DOMAINS = ("estate", "devices", "notifications")
# Tables that live beside their package rather than in a domain.
_PLATFORM_MODELS = ("app.platform.models", "app.modules.models", "app.forms.models",
                    "app.engine.models", "app.security.models", "app.security.wechat_identity",
                    "app.studio.models", "app.studio.run_models", "connectors.models")


def domain_names() -> list[str]:
    """Every domain package, base domains first, then the others by name."""
    found = sorted(p.parent.name for p in DOMAINS_DIR.glob("*/__init__.py"))
    return [d for d in BASE_DOMAINS if d in found] + [d for d in found if d not in BASE_DOMAINS]


def _has_part(domain: str, part: str) -> bool:
    folder = DOMAINS_DIR / domain
    return (folder / f"{part}.py").exists() or (folder / part / "__init__.py").exists()


def domain_parts(part: str) -> list[ModuleType]:
    """Import ``app.domains.<d>.<part>`` for every domain that has it, in domain order."""
    return [importlib.import_module(f"{DOMAINS_PACKAGE}.{d}.{part}")
            for d in domain_names() if _has_part(d, part)]


def domain_submodules(part: str) -> list[ModuleType]:
    """Like :func:`domain_parts`, but a package part yields each of its modules too."""
    modules: list[ModuleType] = []
    for module in domain_parts(part):
        modules.append(module)
        if hasattr(module, "__path__"):
            for info in sorted(pkgutil.iter_modules(module.__path__), key=lambda i: i.name):
                modules.append(importlib.import_module(f"{module.__name__}.{info.name}"))
    return modules


def import_all_models() -> MetaData:
    """Import every module that declares tables, so ``Model.metadata`` is complete."""
    import flask_appbuilder.security.sqla.models  # noqa: F401  (ab_user, ab_role, ...)

    from app.db import Model

    for name in _PLATFORM_MODELS:
        importlib.import_module(name)
    domain_parts("models")
    return Model.metadata


def load_operations() -> None:
    """Register every service-task operation: the engine's generic ones and each domain's."""
    import app.engine.operations  # noqa: F401  generic: notify.log, data.set, audit.note

    domain_parts("operations")


def translation_files(locale: str) -> list[Path]:
    """Each domain's ``translations.<locale>.yaml``, plus the platform's own extra file."""
    files = sorted((Path(__file__).resolve().parent.parent / "translations" / "extra").glob(f"*.{locale}.yaml"))
    files += [DOMAINS_DIR / d / f"translations.{locale}.yaml" for d in domain_names()
              if (DOMAINS_DIR / d / f"translations.{locale}.yaml").exists()]
    return files
