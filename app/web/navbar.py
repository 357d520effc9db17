"""The navbar's menu, rendered once per (roles, language) and reused.

Flask-AppBuilder decides every menu item's visibility with a permission check on every request
(about 40 checks and as many translations a page: ~70% of a page's server time). What a menu
shows depends only on the roles' permissions and the language, so the rendered HTML is kept per
(role set, locale) in ``access_cache.menus`` — cleared, like the permission answers, when a role
or permission changes (app/security/access_cache.py).
"""
from __future__ import annotations

from flask import Flask, render_template
from markupsafe import Markup

from app.security import access_cache


def navbar_menu(menu) -> Markup:
    from flask_babel import get_locale
    from flask_login import current_user

    roles = (tuple(sorted(r.id for r in current_user.roles)) if current_user.is_authenticated
             else ("anonymous",))
    return access_cache.menus.get_or_compute(
        (roles, str(get_locale())),
        lambda: Markup(render_template("appbuilder/navbar_menu_items.html", menu=menu)))


def install(app: Flask) -> None:
    app.jinja_env.globals["ef_navbar_menu"] = navbar_menu
