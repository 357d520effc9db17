"""Resident pages (phone first, large text): the first screen of a mini-program.

The home shows one tile per enabled module — 缴费 / 报修 / 访客 — then 公告 (when the notice
module is on) and 消息, each with a badge (what is owed, open orders, visitors waiting for an
answer, unread messages), and the latest notices. A module adds its resident pages in its own
view file and lists them in ``RESIDENT_TILES`` ({module, endpoint, label{zh,en}, icon,
optional ``badge``: a function ``(session, household) -> str | None``}); a tile shows only when
that module is enabled in the household's community.

A login that holds several households (a family member paying for an elderly parent) picks
the one it acts for here; the elderly-friendly mode (large text, high contrast, fewer items)
is the login's own preference, kept with its language.
"""
from __future__ import annotations

from flask import abort, redirect, request, session, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name
from flask_login import current_user, user_logged_in

from app.db import db
from app.domains.estate.residents import choose_household, households_of_user, require_household
from app.domains.notifications.delivery import notices, unread_count
from app.i18n import pick
from app.platform.models import UserPreference
from app.platform.processes import module_enabled
from app.web.locale import current_locale

GRANTS = {"Resident": [["^(ResidentPortalView)$", ".*"]]}

NOTICE_MODULE = "notice"
ELDERLY_TILES = ("fees", "repair")
"""The tiles the elderly-friendly mode keeps (besides messages): paying and reporting."""


def resident_tiles() -> list[dict]:
    from app.web.views import view_modules

    tiles: list[dict] = []
    for module in view_modules():
        tiles.extend(getattr(module, "RESIDENT_TILES", []))
    return tiles


def elderly_mode() -> bool:
    """This request's login wants the elderly-friendly pages (remembered in its session)."""
    return bool(session.get("elderly"))


def home_tiles(household, locale: str, elderly: bool) -> list[dict]:
    """The first screen's tiles for ``household``, with their badges."""
    tiles = []
    for tile in resident_tiles():
        if elderly and tile["module"] not in ELDERLY_TILES:
            continue
        if module_enabled(db.session, household.community_id, tile["module"]):
            badge = tile["badge"](db.session, household) if tile.get("badge") else None
            tiles.append({"id": tile["module"], "href": url_for(tile["endpoint"]), "label": pick(tile["label"], locale),
                          "icon": tile.get("icon", "fa-circle"), "badge": badge})
    if not elderly:
        from app.platform.resident_services import resident_services
        from app.web.views.resident_services import services_badge

        if resident_services(db.session, household.community_id):
            tiles.append({"id": "services", "href": url_for("ResidentServicesView.index"),
                          "label": pick({"zh": "办事", "en": "Services"}, locale), "icon": "fa-file-text-o",
                          "badge": services_badge(db.session, household)})
    if not elderly and module_enabled(db.session, household.community_id, NOTICE_MODULE):
        tiles.append({"id": "notice", "href": url_for("ResidentPortalView.notices"),
                      "label": pick({"zh": "公告", "en": "Notices"}, locale), "icon": "fa-bullhorn", "badge": None})
    unread = unread_count(db.session, current_user.id)
    tiles.append({"id": "messages", "href": url_for("NotificationView.index"),
                  "label": pick({"zh": "消息", "en": "Messages"}, locale), "icon": "fa-bell",
                  "badge": str(unread) if unread else None})
    return tiles


class ResidentPortalView(BaseView):
    route_base = "/me"
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        households = households_of_user(db.session, current_user.id)
        household = require_household(db.session, current_user.id)
        elderly = elderly_mode()
        tiles, latest = [], []
        if household is not None:
            tiles = home_tiles(household, current_locale(), elderly)
            if module_enabled(db.session, household.community_id, NOTICE_MODULE):
                latest = notices(db.session, household.community_id, limit=1 if elderly else 3)
        return self.render_template("resident/home.html", households=households, household=household,
                                    tiles=tiles, notices=latest, elderly=elderly)

    @expose("/notices")
    @has_access
    def notices(self):
        household = require_household(db.session, current_user.id)
        if household is None or not module_enabled(db.session, household.community_id, NOTICE_MODULE):
            abort(404)
        return self.render_template("resident/notices.html", household=household,
                                    notices=notices(db.session, household.community_id, limit=50))

    @expose("/household", methods=["POST"])
    @has_access
    @permission_name("choose_household")
    def switch_household(self):
        """Act for another of this login's households (bills, repairs, visitors follow)."""
        if choose_household(db.session, current_user.id, request.form.get("household_id", type=int) or 0) is None:
            abort(404)
        db.session.commit()
        return redirect(url_for("ResidentPortalView.index"))

    @expose("/mode", methods=["POST"])
    @has_access
    @permission_name("elderly_mode")
    def set_mode(self):
        """Switch the elderly-friendly mode on or off for this login."""
        on = request.form.get("elderly") == "on"
        pref = db.session.get(UserPreference, current_user.id) or UserPreference(user_id=current_user.id)
        pref.elderly_mode = on
        db.session.add(pref)
        db.session.commit()
        session["elderly"] = on
        return redirect(url_for("ResidentPortalView.index"))


def _restore_mode(sender, user, **extra) -> None:
    pref = db.session.get(UserPreference, user.id)
    session["elderly"] = bool(pref and pref.elderly_mode)


def register(appbuilder) -> None:
    from flask import current_app

    appbuilder.add_view_no_menu(ResidentPortalView())
    app = current_app._get_current_object()
    user_logged_in.connect(_restore_mode, app)
    app.context_processor(lambda: {"resident_elderly": elderly_mode()})
