"""Resident pages (phone first, large text): home with one tile per enabled module.

A module adds its resident pages in its own view file and lists them in
``RESIDENT_TILES`` ({module, endpoint, label{zh,en}, icon}); a tile shows only
when that module is enabled in the resident's community.
"""
from __future__ import annotations

from flask import url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_login import current_user

from app.db import db
from app.domains.estate.residents import households_of_user
from app.i18n import pick
from app.platform.processes import module_enabled

GRANTS = {"Resident": [["^(ResidentPortalView)$", ".*"]]}


def resident_tiles() -> list[dict]:
    from app.web.views import view_modules

    tiles: list[dict] = []
    for module in view_modules():
        tiles.extend(getattr(module, "RESIDENT_TILES", []))
    return tiles


class ResidentPortalView(BaseView):
    route_base = "/me"
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        from flask_babel import get_locale

        locale = str(get_locale() or "zh")[:2]
        households = households_of_user(db.session, current_user.id)
        tiles = []
        if households:
            community_id = households[0].community_id
            for tile in resident_tiles():
                if module_enabled(db.session, community_id, tile["module"]):
                    tiles.append({"href": url_for(tile["endpoint"]), "label": pick(tile["label"], locale),
                                  "icon": tile.get("icon", "fa-circle")})
        return self.render_template("resident/home.html", households=households, tiles=tiles)


def register(appbuilder) -> None:
    appbuilder.add_view_no_menu(ResidentPortalView())
