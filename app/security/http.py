"""HTTP hardening of the web app: hosts, cookies, CSRF on the JSON API, headers, odd ids.

``flask_config`` adds the configuration keys, ``install`` the request hooks; both are called by
``app.web.create_app``. What each promises and which test proves it: ``docs/security.md``.
"""
from __future__ import annotations

import base64
import hashlib
import re
import secrets
from pathlib import Path
from typing import Any

from flask import Flask, current_app, g, jsonify, request
from werkzeug.routing import IntegerConverter

from app.settings import Settings

INT64_MAX = 2**63 - 1
#: the base URL used when none is configured outside production (tests, a developer's laptop)
DEVELOPMENT_BASE_URL = "http://localhost"
CSRF_HEADERS = ("X-CSRFToken", "X-CSRF-Token")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"


class ConfigurationError(RuntimeError):
    """The settings are not fit for production."""


def public_base_url() -> str:
    """Where people and payment gateways reach this platform, without a trailing slash.

    Only ever the configured ``ESTATEFLOW_PUBLIC_BASE_URL`` (never the request's Host, which
    the client chooses): callback and return URLs built from it cannot be pointed elsewhere.
    """
    return current_app.config["ESTATEFLOW_PUBLIC_BASE_URL"].rstrip("/")


def legacy_base_url() -> str:
    """The older payment-only setting, ``ESTATEFLOW_PAY_PUBLIC_BASE_URL`` (read as it was, so a
    deployment that set it keeps working; the platform does not import the fees domain)."""
    import os

    return os.environ.get("ESTATEFLOW_PAY_PUBLIC_BASE_URL", "").strip()


def _configured_base_url(settings: Settings) -> str:
    url = settings.public_base_url.strip()
    if not url:
        url = legacy_base_url()
    if not url:
        if settings.production:
            raise ConfigurationError("ESTATEFLOW_PUBLIC_BASE_URL is required in production "
                                     "(e.g. https://wy.example.com)")
        url = DEVELOPMENT_BASE_URL
    if not re.match(r"^https?://[^/\s]+", url):
        raise ConfigurationError(f"ESTATEFLOW_PUBLIC_BASE_URL must be an http(s) URL, not {url!r}")
    return url.rstrip("/")


def flask_config(settings: Settings) -> dict[str, Any]:
    base = _configured_base_url(settings)
    own = settings.model_copy(update={"public_base_url": base})
    secure = own.secure_cookies
    return {
        "ESTATEFLOW_PUBLIC_BASE_URL": base,
        # Flask answers 400 to any other Host header (werkzeug's trusted-host check, ports ignored)
        "TRUSTED_HOSTS": own.allowed_host_list(),
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SECURE": secure,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SECURE": secure,
        "PREFERRED_URL_SCHEME": "https" if secure else "http",
        "FAB_PASSWORD_COMPLEXITY_ENABLED": True,
        "FAB_PASSWORD_COMPLEXITY_VALIDATOR": _password_validator,
        "JWT_TOKEN_LOCATION": ["headers"],
    }


def _password_validator(password: str) -> None:
    from app.security.passwords import validate_password

    validate_password(password)


class Int64Converter(IntegerConverter):
    """``<int:...>`` beyond what a database integer holds is no such page (404), not a 500."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", INT64_MAX)
        super().__init__(map, *args, **kwargs)


def install_converters(app: Flask) -> None:
    """Before any route is added."""
    app.url_map.converters["int"] = Int64Converter


_ID_ARG = re.compile(r"^(pk|id|.*_id)$")


def _too_big_id() -> None:
    from flask import abort

    for name, value in (request.view_args or {}).items():
        if (isinstance(value, str) and _ID_ARG.match(name) and re.fullmatch(r"-?\d{19,}", value.strip())
                and abs(int(value)) > INT64_MAX):
            abort(404)  # FAB's <pk> routes take strings: same answer as a missing row


# --- CSRF on the JSON API ----------------------------------------------------------------------
def _api_blueprints(app: Flask) -> set[str]:
    from flask_appbuilder.api import BaseApi

    return {view.blueprint.name for view in app.appbuilder.baseviews
            if isinstance(view, BaseApi) and getattr(view, "blueprint", None) is not None}


#: endpoints that take no session cookie at all: they authenticate by what they are sent
_API_CSRF_EXEMPT = {"SecurityApi.login", "SecurityApi.refresh"}


def _api_csrf() -> Any:
    """FAB exempts its API blueprints from CSRF; a cookie-authenticated write must still
    carry the session's CSRF token in a header. A Bearer token is not sent by browsers on
    their own, so JWT callers need none."""
    if request.method in SAFE_METHODS or request.blueprint not in current_app.extensions["ef_api_blueprints"]:
        return None
    if request.endpoint in _API_CSRF_EXEMPT or not current_app.config.get("WTF_CSRF_ENABLED", True):
        return None
    if current_app.config.get("SESSION_COOKIE_NAME", "session") not in request.cookies:
        return None  # no session cookie: not cookie-authenticated (devices, JWT, anonymous)
    if request.headers.get("Authorization", "").lower().startswith("bearer "):
        return None
    from flask_wtf.csrf import ValidationError, validate_csrf

    token = next((request.headers[h] for h in CSRF_HEADERS if request.headers.get(h)), None)
    try:
        validate_csrf(token)
    except ValidationError as exc:
        response = jsonify(message=f"CSRF check failed: {exc}. Send the X-CSRFToken header "
                                   "(or use a Bearer token).")
        response.status_code = 400
        return response
    return None


# --- security headers ---------------------------------------------------------------------------
def csp_nonce() -> str:
    """This response's script nonce (FAB's templates call ``csp_nonce()`` when it is defined)."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


_SCRIPT_RE = re.compile(r"<script(?P<attrs>[^>]*)>(?P<body>.*?)</script>", re.DOTALL | re.IGNORECASE)
_HANDLER_RE = re.compile(r"\son[a-z]+=\"(?P<code>[^\"]*)\"", re.IGNORECASE)


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def template_script_hashes(root: Path = TEMPLATES_DIR) -> tuple[list[str], list[str]]:
    """Hashes of the static inline scripts and inline event handlers in our templates.

    Our templates' inline scripts contain no template expressions, so their text is what the
    browser hashes; CSP allows exactly those (and FAB's, which carry the nonce). A script or
    handler with ``{{`` in it cannot be hashed: ``tests/app/security/test_headers.py`` fails.
    """
    scripts, handlers = set(), set()
    for path in sorted(root.rglob("*.html")):
        text = path.read_text(encoding="utf-8")
        for m in _SCRIPT_RE.finditer(text):
            if "src=" in m.group("attrs") or "nonce=" in m.group("attrs") or not m.group("body").strip():
                continue
            if "{{" not in m.group("body") and "{%" not in m.group("body"):
                scripts.add(_sha256(m.group("body")))
        for m in _HANDLER_RE.finditer(text):
            if "{{" not in m.group("code"):
                handlers.add(_sha256(m.group("code")))
    return sorted(scripts), sorted(handlers)


def content_security_policy(nonce: str, script_hashes: list[str], handler_hashes: list[str]) -> str:
    script = ["'self'", f"'nonce-{nonce}'", *script_hashes]
    if handler_hashes:
        script += ["'unsafe-hashes'", *handler_hashes]
    return "; ".join([
        "default-src 'self'",
        "script-src " + " ".join(script),
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self' https:",
        "frame-ancestors 'none'",
    ])


def _security_headers(response):
    headers = response.headers
    if "Content-Security-Policy" not in headers:  # a view may set a stricter one (model files)
        scripts, handlers = current_app.extensions["ef_script_hashes"]
        headers["Content-Security-Policy"] = content_security_policy(csp_nonce(), scripts, handlers)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    headers.setdefault("Permissions-Policy", "camera=(self), geolocation=(), microphone=()")
    if current_app.config.get("SESSION_COOKIE_SECURE"):
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response


def bannerless_request_handler():
    """Request handler for werkzeug's server (``estateflow demo``/``serve``): it answers
    ``Server: estateflow`` instead of ``Werkzeug/x Python/y`` (http.server always sends one;
    production runs gunicorn, see deploy/)."""
    from werkzeug.serving import WSGIRequestHandler

    class BannerlessRequestHandler(WSGIRequestHandler):
        def version_string(self) -> str:
            return "estateflow"

    return BannerlessRequestHandler


def install(app: Flask, settings: Settings) -> None:
    """Request hooks; after AppBuilder registered every view."""
    if settings.proxy_hops > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.proxy_hops, x_proto=settings.proxy_hops)
    app.extensions["ef_api_blueprints"] = _api_blueprints(app)
    app.extensions["ef_script_hashes"] = template_script_hashes()
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    app.before_request(_too_big_id)
    app.before_request(_api_csrf)
    app.after_request(_security_headers)
