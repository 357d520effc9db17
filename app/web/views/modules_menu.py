"""Module menu: the catalogue as cards per community; enable, configure, disable."""
from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext as _
from flask_login import current_user

from app.db import db
from app.domains.estate.models import Community
from app.i18n import pick
from app.modules.activation import (
    ModuleError,
    disable_module,
    enable_module,
    module_states,
    update_settings,
    upgrade_module,
)
from app.modules.catalog import DECIMAL_TYPES, INT_TYPES
from app.security.scope import require_community
from app.web.catalog import get_catalog
from app.web.locale import current_locale as _locale


def _may_change() -> bool:
    """Whether this user may enable, configure or disable modules (by permission, not role name)."""
    from flask import current_app

    sm = current_app.appbuilder.sm
    return sm.has_access("can_save_settings", "ModuleMenuView") and sm.has_access("can_disable", "ModuleMenuView")


def _form_values(module, form) -> dict:
    """Settings typed into the HTML form, as strings/bools for the marshmallow schema."""
    values: dict = {}
    for setting in module.settings:
        if setting.type == "bool":
            values[setting.name] = form.get(setting.name) in ("on", "true", "1", "y")
        elif setting.name in form:
            values[setting.name] = form.get(setting.name, "").strip()
    return values


class ModuleMenuView(BaseView):
    route_base = "/modules"
    default_view = "index"
    #: upgrading a community is a change like enabling: the same permission as settings
    method_permission_name = {"index": "index", "settings": "settings", "disable": "disable",
                              "upgrade": "settings"}

    @expose("/<int:community_id>/")
    @has_access
    def index(self, community_id: int):
        require_community(community_id)
        community = db.session.get(Community, community_id)
        states = module_states(db.session, get_catalog(), community_id)
        return self.render_template(
            "modules/menu.html", community=community, states=states, pick=pick,
            locale=_locale(), may_change=_may_change(), catalog=get_catalog(),
        )

    @expose("/<int:community_id>/<module_id>/settings", methods=["GET"])
    @has_access
    def settings(self, community_id: int, module_id: str):
        return self._settings_page(community_id, module_id)

    @expose("/<int:community_id>/<module_id>/settings", methods=["POST"])
    @has_access
    @permission_name("save_settings")
    def save_settings(self, community_id: int, module_id: str):
        return self._settings_page(community_id, module_id)

    def _settings_page(self, community_id: int, module_id: str):
        require_community(community_id)
        catalog = get_catalog()
        module = catalog.get(module_id) or abort(404)
        community = db.session.get(Community, community_id)
        state = next(s for s in module_states(db.session, catalog, community_id) if s.module.id == module_id)
        values = {k: ("" if v is None else v) for k, v in state.settings.items()}
        errors: dict[str, list[str]] = {}
        general_error = None
        if request.method == "POST":
            if not _may_change():
                abort(403)
            typed = _form_values(module, request.form)
            values.update(typed)
            try:
                if state.enabled:
                    update_settings(db.session, catalog=catalog, community_id=community_id,
                                    module_id=module_id, settings=typed, actor=current_user.username)
                else:
                    enable_module(db.session, catalog=catalog, community_id=community_id,
                                  module_id=module_id, settings=typed, actor=current_user.username)
                db.session.commit()
                flash(_("Saved: %(title)s", title=pick(module.title, _locale())), "success")
                return redirect(url_for("ModuleMenuView.index", community_id=community_id))
            except ModuleError as err:
                db.session.rollback()
                errors = err.field_errors(_locale())
                general_error = err.message(_locale())
        return self.render_template(
            "modules/settings.html", community=community, module=module, state=state,
            values=values, errors=errors, general_error=general_error, pick=pick,
            locale=_locale(), may_change=_may_change(), int_types=INT_TYPES, decimal_types=DECIMAL_TYPES,
        )

    @expose("/<int:community_id>/<module_id>/disable", methods=["POST"])
    @has_access
    def disable(self, community_id: int, module_id: str):
        require_community(community_id)
        if not _may_change():
            abort(403)
        catalog = get_catalog()
        module = catalog.get(module_id) or abort(404)
        try:
            disable_module(db.session, catalog=catalog, community_id=community_id, module_id=module_id,
                           actor=current_user.username)
            db.session.commit()
            flash(_("Disabled: %(title)s", title=pick(module.title, _locale())), "success")
        except ModuleError as err:
            db.session.rollback()
            flash(err.message(_locale()), "danger")
        return redirect(url_for("ModuleMenuView.index", community_id=community_id))

    @expose("/<int:community_id>/<module_id>/upgrade", methods=["POST"])
    @has_access
    def upgrade(self, community_id: int, module_id: str):
        """Move this community to the newest version of an uploaded module package."""
        require_community(community_id)
        if not _may_change():
            abort(403)
        catalog = get_catalog()
        module = catalog.get(module_id) or abort(404)
        try:
            upgrade_module(db.session, catalog=catalog, community_id=community_id, module_id=module_id,
                           actor=current_user.username)
            db.session.commit()
            flash(_("Upgraded: %(title)s to %(v)s", title=pick(module.title, _locale()), v=module.version),
                  "success")
        except ModuleError as err:
            db.session.rollback()
            flash(err.message(_locale()), "danger")
        return redirect(url_for("ModuleMenuView.index", community_id=community_id))


def register(appbuilder) -> None:
    from app.web.catalog import init_catalog

    init_catalog(appbuilder.app if hasattr(appbuilder, "app") and appbuilder.app else _current_app())
    appbuilder.add_view_no_menu(ModuleMenuView())


def _current_app():
    from flask import current_app

    return current_app._get_current_object()
