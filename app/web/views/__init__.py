"""Registers every view with the AppBuilder: the platform's pages, then each domain's.

Each view module (here, or a domain's ``views.py`` / ``views/*.py``) that defines
``register(appbuilder)`` is registered automatically, and its optional ``GRANTS`` (FAB role
name → list of [view regex, permission regex]) extend the builtin roles: a module's pages and
who may use them live in one file.
"""
from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

from flask_appbuilder import AppBuilder
from flask_babel import lazy_gettext as _l

from app.platform.discovery import domain_submodules

_CORE = ("audit",)


def view_modules() -> list[ModuleType]:
    """The platform's view modules (by name), then every domain's, in domain order."""
    import app.web.views as package

    modules = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        if info.name not in _CORE:
            modules.append(importlib.import_module(f"{package.__name__}.{info.name}"))
    return modules + [m for m in domain_submodules("views") if m.__name__ not in _CORE_DOMAIN_VIEWS]


_CORE_DOMAIN_VIEWS = ("app.domains.estate.views.records", "app.domains.estate.views.api",
                      "app.domains.devices.views.records")


def extra_grants() -> dict[str, list[list[str]]]:
    grants: dict[str, list[list[str]]] = {}
    for module in view_modules():
        for role, pairs in getattr(module, "GRANTS", {}).items():
            grants.setdefault(role, []).extend(pairs)
    return grants


def register_views(appbuilder: AppBuilder) -> None:
    from app.domains.devices.views.records import DeviceView
    from app.domains.estate.views.api import EstateApi
    from app.domains.estate.views.records import (
        BuildingView,
        CommunityView,
        HouseholdView,
        ResidentView,
        StaffView,
        UnitView,
    )
    from app.web.views.audit import AuditView

    cat = {"category": "Estate", "category_label": _l("Estate")}
    appbuilder.add_view(CommunityView, "communities", label=_l("Communities"), icon="fa-building", **cat)
    appbuilder.add_view(BuildingView, "buildings", label=_l("Buildings"), icon="fa-building-o", **cat)
    appbuilder.add_view(UnitView, "units", label=_l("Units"), icon="fa-home", **cat)
    appbuilder.add_view(HouseholdView, "households", label=_l("Households"), icon="fa-users", **cat)
    appbuilder.add_view(ResidentView, "residents", label=_l("Residents"), icon="fa-user", **cat)
    appbuilder.add_view(StaffView, "staff", label=_l("Staff"), icon="fa-id-badge", **cat)
    appbuilder.add_view(DeviceView, "devices", label=_l("Devices"), icon="fa-microchip", **cat)
    appbuilder.add_view(AuditView, "audit", label=_l("Audit log"), icon="fa-history", **cat)
    appbuilder.add_api(EstateApi)

    for module in view_modules():
        register = getattr(module, "register", None)
        if register is not None:
            register(appbuilder)
    from app.web.menus import arrange

    arrange(appbuilder)
