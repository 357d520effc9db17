"""The UI language is a per-user choice: remembered on switch, restored at login."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, abort, redirect, request, session
from flask_appbuilder import expose
from flask_appbuilder.babel.views import LocaleView as FabLocaleView
from flask_babel import refresh
from flask_login import current_user, user_logged_in

from app.db import db
from app.i18n import LANGUAGES
from app.platform.models import UserPreference


class LocaleView(FabLocaleView):
    """``POST /lang/<locale>`` (a GET changes nothing: no state change from a link or an image).

    Same class name as FAB's, so the ``LocaleView can_index`` grant of every role stays valid.
    The navbar posts a small form (``templates/appbuilder/navbar_right.html``) with ``next``.
    """

    @expose("/<string:locale>", methods=["POST"])
    def index(self, locale):
        if locale not in self.appbuilder.bm.languages:
            abort(404, description="Locale not supported.")
        session["locale"] = locale
        refresh()
        return redirect(_safe_next(request.form.get("next") or request.referrer))


def _safe_next(target: str | None) -> str:
    """A path on this site (never another host: no open redirect)."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.netloc and parts.netloc != request.host:
        return "/"
    path = parts.path or "/"
    if not path.startswith("/") or path.startswith("//"):
        return "/"
    return path + (f"?{parts.query}" if parts.query else "")


def use_post_locale_view(appbuilder) -> None:
    """Make FAB's babel manager register our LocaleView instead of its GET one."""
    bm = appbuilder.bm

    def register_views() -> None:
        bm.locale_view = LocaleView()
        appbuilder.add_view_no_menu(bm.locale_view)

    bm.register_views = register_views


def _remember(response):
    if (request.endpoint or "").startswith("LocaleView.") and current_user.is_authenticated:
        locale = (request.view_args or {}).get("locale")
        if locale in LANGUAGES:
            pref = db.session.get(UserPreference, current_user.id) or UserPreference(user_id=current_user.id)
            pref.locale = locale
            db.session.add(pref)
            db.session.commit()
    return response


def _restore(sender, user, **extra) -> None:
    pref = db.session.get(UserPreference, user.id)
    if pref is not None and pref.locale in LANGUAGES:
        session["locale"] = pref.locale


def init_locale(app: Flask) -> None:
    app.after_request(_remember)
    user_logged_in.connect(_restore, app)


def current_locale() -> str:
    """``zh`` or ``en`` for this request (the one way views ask for the UI language)."""
    from flask_babel import get_locale

    return "en" if str(get_locale() or "zh").startswith("en") else "zh"
