"""The shared base of every community-scoped CRUD view (estate, devices, module records)."""
from __future__ import annotations

from flask import abort
from flask_appbuilder import ModelView
from flask_appbuilder.models.sqla.filters import FilterInFunction

from app.security.scope import visible_community_ids

SCOPED_REL = [["community_id", FilterInFunction, visible_community_ids]]
COMMUNITY_REL = {"community": [["id", FilterInFunction, visible_community_ids]]}


class ScopedModelView(ModelView):
    """A ModelView whose list, show, edit and delete only reach visible communities.

    FAB applies ``base_filters`` to list and to get-by-id (show/edit/delete), so a
    record of another community is a 404. Writes are checked again in pre_add /
    pre_update because a form post could name any community id.
    """

    base_filters = [["community_id", FilterInFunction, visible_community_ids]]
    add_form_query_rel_fields = COMMUNITY_REL
    edit_form_query_rel_fields = COMMUNITY_REL
    page_size = 50

    def _check_scope(self, item) -> None:
        if item.community_id not in visible_community_ids():
            abort(404)
        for rel in ("building", "unit", "household"):
            related = getattr(item, rel, None)
            if related is not None and related.community_id != item.community_id:
                abort(400, description=f"{rel} belongs to another community")

    def pre_add(self, item) -> None:
        if getattr(item, "community", None) is not None:
            item.community_id = item.community.id
        self._check_scope(item)

    def pre_update(self, item) -> None:
        self.pre_add(item)

    def pre_delete(self, item) -> None:
        self._check_scope(item)
