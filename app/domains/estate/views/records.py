"""CRUD views for the estate, every one scoped to the user's communities."""
from __future__ import annotations

from flask import abort
from flask_appbuilder import ModelView
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.models.sqla.filters import FilterInFunction
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _l

from app.domains.estate.models import (
    Building,
    Community,
    Household,
    Resident,
    Staff,
    Unit,
)
from app.security.scope import is_platform_admin, visible_community_ids
from app.web.scoped import COMMUNITY_REL as _COMMUNITY_REL
from app.web.scoped import SCOPED_REL as _SCOPED_REL
from app.web.scoped import ScopedModelView


class CommunityView(ModelView):
    route_base = "/communities"
    datamodel = SQLAInterface(Community)
    base_filters = [["id", FilterInFunction, visible_community_ids]]
    list_columns = ["code", "name", "name_en", "company", "address"]
    add_columns = edit_columns = ["company", "code", "name", "name_en", "address", "latitude", "longitude"]
    label_columns = {
        "code": _l("Code"), "name": _l("Name"), "name_en": _l("English name"),
        "company": _l("Property company"), "address": _l("Address"),
        "latitude": _l("Latitude"), "longitude": _l("Longitude"), "buildings": _l("Buildings"),
    }

    def pre_add(self, item) -> None:
        if not is_platform_admin():
            abort(403)

    def pre_update(self, item) -> None:
        if item.id not in visible_community_ids():
            abort(404)

    def pre_delete(self, item) -> None:
        if not is_platform_admin():
            abort(403)


class BuildingView(ScopedModelView):
    route_base = "/buildings"
    datamodel = SQLAInterface(Building)
    list_columns = ["community", "code", "name", "floors"]
    add_columns = edit_columns = ["community", "code", "name", "floors", "latitude", "longitude"]
    label_columns = {
        "community": _l("Community"), "code": _l("Code"), "name": _l("Name"),
        "floors": _l("Floors"), "latitude": _l("Latitude"), "longitude": _l("Longitude"), "units": _l("Units"),
    }


class UnitView(ScopedModelView):
    route_base = "/units"
    datamodel = SQLAInterface(Unit)
    list_columns = ["community", "building", "number", "floor", "area_m2"]
    add_columns = edit_columns = ["community", "building", "number", "floor", "area_m2"]
    add_form_query_rel_fields = edit_form_query_rel_fields = {**_COMMUNITY_REL, "building": _SCOPED_REL}
    label_columns = {
        "community": _l("Community"), "building": _l("Building"), "number": _l("Unit number"),
        "floor": _l("Floor"), "area_m2": _l("Area (m²)"),
    }


class HouseholdView(ScopedModelView):
    route_base = "/households"
    datamodel = SQLAInterface(Household)
    list_columns = ["community", "code", "unit", "head_name", "phone", "active"]
    search_columns = ["code", "head_name", "phone"]
    add_columns = edit_columns = [
        "community", "unit", "code", "head_name", "phone", "move_in", "active",
        "elderly_alone", "medical_exemption", "disability_exemption",
    ]
    add_form_query_rel_fields = edit_form_query_rel_fields = {**_COMMUNITY_REL, "unit": _SCOPED_REL}
    label_columns = {
        "community": _l("Community"), "code": _l("Household code"), "unit": _l("Unit"),
        "head_name": _l("Head of household"), "phone": _l("Phone"), "move_in": _l("Moved in"),
        "active": _l("Active"), "elderly_alone": _l("Elderly living alone"),
        "medical_exemption": _l("Medical exemption"), "disability_exemption": _l("Disability exemption"),
        "prepaid_balance_cents": _l("Prepaid balance (cents)"), "residents": _l("Residents"),
    }


class ResidentView(ScopedModelView):
    route_base = "/residents"
    datamodel = SQLAInterface(Resident)
    list_columns = ["household", "name", "phone", "relation"]
    search_columns = ["name", "phone"]
    add_columns = edit_columns = ["household", "name", "phone", "relation", "card_number"]
    add_form_query_rel_fields = edit_form_query_rel_fields = {"household": _SCOPED_REL}
    label_columns = {
        "household": _l("Household"), "name": _l("Name"), "phone": _l("Phone"),
        "relation": _l("Relation"), "card_number": _l("Access card"), "face_ref": _l("Face record"),
    }

    def pre_add(self, item) -> None:
        if item.household is not None:
            item.community_id = item.household.community_id
        self._check_scope(item)


class FilterStaffInVisibleCommunities(BaseFilter):
    """Staff are many-to-many with communities: visible if they share one with the user."""

    name = "staff in visible communities"
    arg_name = "staffvis"

    def apply(self, query, value):
        return query.filter(Staff.communities.any(Community.id.in_(visible_community_ids())))


class StaffView(ModelView):
    route_base = "/staff"
    """Staff belong to several communities; visible when they share one with the user."""

    datamodel = SQLAInterface(Staff)
    list_columns = ["name", "job", "phone", "on_duty", "communities"]
    add_columns = edit_columns = ["name", "job", "phone", "skills", "on_duty", "communities", "latitude", "longitude"]
    add_form_query_rel_fields = edit_form_query_rel_fields = {
        "communities": [["id", FilterInFunction, visible_community_ids]]
    }
    label_columns = {
        "name": _l("Name"), "job": _l("Job"), "phone": _l("Phone"), "on_duty": _l("On duty"),
        "communities": _l("Communities"), "skills": _l("Skills"),
        "latitude": _l("Latitude"), "longitude": _l("Longitude"),
    }
    base_filters = [["id", FilterStaffInVisibleCommunities, lambda: None]]

    def pre_update(self, item) -> None:
        if not item.communities or any(c.id not in visible_community_ids() for c in item.communities):
            if not is_platform_admin():
                abort(404)

    pre_add = pre_update
    pre_delete = pre_update
