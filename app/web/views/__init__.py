"""Registers every view with the AppBuilder; one place to see the menu layout."""
from __future__ import annotations

from flask_appbuilder import AppBuilder
from flask_babel import lazy_gettext as _l


def register_views(appbuilder: AppBuilder) -> None:
    from app.web.views.estate import (
        AuditView,
        BuildingView,
        CommunityView,
        DeviceView,
        HouseholdView,
        ResidentView,
        StaffView,
        UnitView,
    )
    from app.web.views.api import EstateApi

    appbuilder.add_view(CommunityView, "communities", label=_l("Communities"), icon="fa-building", category="Estate", category_label=_l("Estate"))
    appbuilder.add_view(BuildingView, "buildings", label=_l("Buildings"), icon="fa-building-o", category="Estate", category_label=_l("Estate"))
    appbuilder.add_view(UnitView, "units", label=_l("Units"), icon="fa-home", category="Estate", category_label=_l("Estate"))
    appbuilder.add_view(HouseholdView, "households", label=_l("Households"), icon="fa-users", category="Estate", category_label=_l("Estate"))
    appbuilder.add_view(ResidentView, "residents", label=_l("Residents"), icon="fa-user", category="Estate", category_label=_l("Estate"))
    appbuilder.add_view(StaffView, "staff", label=_l("Staff"), icon="fa-id-badge", category="Estate", category_label=_l("Estate"))
    appbuilder.add_view(DeviceView, "devices", label=_l("Devices"), icon="fa-microchip", category="Estate", category_label=_l("Estate"))
    appbuilder.add_view(AuditView, "audit", label=_l("Audit log"), icon="fa-history", category="Estate", category_label=_l("Estate"))
    appbuilder.add_api(EstateApi)

    for extra in _optional_registrars():
        extra(appbuilder)


def _optional_registrars():
    """View groups that live in their own modules (menu, import, engine, devices)."""
    from app.web.views import household_import, inbox, instances, modules_menu, processes, uploads

    return [modules_menu.register, household_import.register, inbox.register, instances.register,
            processes.register, uploads.register]
