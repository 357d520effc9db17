"""The Flask + Flask-AppBuilder web application (views only; rules live in services)."""
from __future__ import annotations

import logging
from typing import Any

from flask import Flask
from flask_appbuilder import AppBuilder

from app.db import db
from app.i18n import LANGUAGES, TRANSLATIONS_DIR, compile_catalogs
from app.platform.discovery import import_all_models
from app.security.http import flask_config as security_config
from app.security.roles import ADMIN, FAB_ROLES
from app.settings import Settings, get_settings


def merged_roles() -> dict[str, list[list[str]]]:
    """Core role grants plus those declared by each view module (``GRANTS``)."""
    from app.web.views import extra_grants

    roles = {name: list(pairs) for name, pairs in FAB_ROLES.items()}
    for name, pairs in extra_grants().items():
        roles.setdefault(name, []).extend(pairs)
    return roles


def flask_config(settings: Settings) -> dict[str, Any]:
    """Flask/FAB configuration derived from the typed settings."""
    from flask_appbuilder.const import AUTH_DB

    return {
        "SQLALCHEMY_DATABASE_URI": settings.database_url,
        "SQLALCHEMY_TRACK_MODIFICATIONS": False,
        # a pooled connection that died with a database restart is replaced, not handed out
        "SQLALCHEMY_ENGINE_OPTIONS": {} if settings.database_url.startswith("sqlite") else {"pool_pre_ping": True},
        "SECRET_KEY": settings.secret_key,
        "APP_NAME": "estateflow 智慧物业",
        "AUTH_TYPE": AUTH_DB,
        "AUTH_ROLE_ADMIN": ADMIN,
        "AUTH_ROLE_PUBLIC": "Public",
        "FAB_ROLES": merged_roles(),
        "FAB_ADD_SECURITY_API": False,
        "FAB_API_SWAGGER_UI": False,
        "JWT_ERROR_MESSAGE_KEY": "message",  # token errors in the API's one error body
        "LANGUAGES": LANGUAGES,
        "BABEL_DEFAULT_LOCALE": settings.default_locale,
        "BABEL_TRANSLATION_DIRECTORIES": str(TRANSLATIONS_DIR),
        "MAX_CONTENT_LENGTH": settings.upload_max_bytes * 7,
        "WTF_CSRF_ENABLED": True,
        "FAB_BASE_TEMPLATE": "estateflow_base.html",
        "ESTATEFLOW_SETTINGS": settings,
        **security_config(settings),
    }


class EstateflowAppBuilder(AppBuilder):
    """FAB's AppBuilder with our POST-only language switch."""

    def _add_admin_views(self) -> None:
        from app.web.locale import use_post_locale_view

        use_post_locale_view(self)
        super()._add_admin_views()


def create_app(overrides: dict[str, Any] | None = None, settings: Settings | None = None) -> Flask:
    """Build the web app. ``overrides`` are Flask config keys (tests use them)."""
    settings = settings or get_settings()
    logging.getLogger("flask_appbuilder").setLevel(logging.ERROR)
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    compile_catalogs()
    import_all_models()

    app = Flask(__name__, template_folder="../templates", static_folder="../static")
    app.config.update(flask_config(settings))
    app.config.update(overrides or {})

    from flask_wtf.csrf import CSRFProtect

    CSRFProtect(app)
    from app.security import http as http_security

    http_security.install_converters(app)
    with app.app_context():
        db.init_app(app)
        from app.security.manager import EstateflowSecurityManager
        from app.web.home import HomeView

        appbuilder = EstateflowAppBuilder(indexview=HomeView, base_template="estateflow_base.html",
                                security_manager_class=EstateflowSecurityManager)
        appbuilder.init_app(app, db.session)
        from app.web.views import register_views

        register_views(appbuilder)
        from app.platform.processes import install_hooks

        install_hooks()
        http_security.install(app, settings)

    from app.web.locale import init_locale
    from app.web.navbar import install as install_navbar_cache

    init_locale(app)
    install_navbar_cache(app)
    from app.web import labels

    labels.install(app)
    from app.web import errors

    errors.install(app)

    @app.template_filter("local_dt")
    def _local_dt(value: Any, fmt: str = "%Y-%m-%d %H:%M") -> str:
        """Stored naive UTC → the community's wall-clock time for people."""
        from app.localtime import local_format

        return local_format(value, fmt)

    @app.template_filter("json_text")
    def _json_text(value: Any) -> str:
        """JSON for people: Chinese stays readable (tojson escapes it to \\uXXXX)."""
        import json

        return json.dumps(value, ensure_ascii=False, default=str)

    @app.context_processor
    def _locale_context() -> dict[str, Any]:
        from flask_babel import get_locale

        return {"current_locale": str(get_locale() or settings.default_locale)[:2]}

    __import__("app.db", fromlist=["install_busy_handler"]).install_busy_handler(app)  # busy DB: 503, never 500
    return app
