"""Module menu page (filled in once the catalog package lands)."""
from __future__ import annotations

from flask_appbuilder import BaseView, expose, has_access


class ModuleMenuView(BaseView):
    route_base = "/modules"
    default_view = "index"

    @expose("/<int:community_id>/")
    @has_access
    def index(self, community_id: int):
        return "todo"


def register(appbuilder) -> None:
    appbuilder.add_view_no_menu(ModuleMenuView())
