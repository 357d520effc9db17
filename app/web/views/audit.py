"""The audit log: every change of every record, read-only, scoped to the user's communities."""
from __future__ import annotations

from flask_appbuilder import ModelView
from flask_appbuilder.models.sqla.filters import FilterInFunction
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _l

from app.platform.models import AuditEvent
from app.security.scope import visible_community_ids
from app.web.labels import actor_label, code_label, readable_json


class AuditView(ModelView):
    route_base = "/audit"
    datamodel = SQLAInterface(AuditEvent)
    base_filters = [["community_id", FilterInFunction, visible_community_ids]]
    base_order = ("at", "desc")
    base_permissions = ["can_list", "can_show"]
    list_columns = ["at", "actor", "action", "target_type", "target_id", "community_id"]
    show_columns = ["at", "actor", "action", "target_type", "target_id", "community_id", "before", "after"]
    search_columns = ["actor", "action", "target_type"]
    # a record named by a code (a module id for module.enable) reads in words; numbers as they are
    formatters_columns = {"before": readable_json, "after": readable_json, "actor": actor_label,
                          "target_id": code_label}
    label_columns = {
        "at": _l("When"), "actor": _l("Who"), "action": _l("Action"), "target_type": _l("Record type"),
        "target_id": _l("Record"), "community_id": _l("Community"), "before": _l("Before"), "after": _l("After"),
    }
