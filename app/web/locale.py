"""The UI language is a per-user choice: remembered on switch, restored at login."""
from __future__ import annotations

from flask import Flask, request, session
from flask_login import current_user, user_logged_in

from app.db import db
from app.i18n import LANGUAGES
from app.platform.models import UserPreference


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
