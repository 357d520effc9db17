"""Error pages people can read: 400/403/404/405/500 in the app's layout, language and viewport.

JSON callers (``/api/…`` or ``Accept: application/json``) get ``{"message": …}`` instead. If the
layout itself cannot render (the error came from the database, say), a small page with the same
words and a viewport is sent: an error page must never raise.
"""
from __future__ import annotations

import logging

from flask import current_app, jsonify, render_template, request
from flask_babel import gettext, lazy_gettext as _l
from markupsafe import escape
from werkzeug.exceptions import HTTPException, InternalServerError

log = logging.getLogger(__name__)

MESSAGES = {
    400: (_l("Bad request"), _l("The request could not be understood. Please go back and try again.")),
    403: (_l("Not allowed"), _l("Your role may not open this page. Ask your manager if you need it.")),
    404: (_l("Page not found"), _l("This page does not exist, or it belongs to another community.")),
    405: (_l("Not allowed"), _l("This page cannot be opened this way.")),
    500: (_l("Something went wrong"), _l("The error has been logged. Please try again in a moment.")),
}


def _page(code: int):
    title, text = MESSAGES.get(code, MESSAGES[500])
    if request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json":
        return jsonify(message=str(text)), code
    try:
        appbuilder = current_app.appbuilder
        return render_template("error.html", appbuilder=appbuilder, base_template=appbuilder.base_template,
                               code=code, title=str(title), text=str(text)), code
    except Exception:  # noqa: BLE001 - the layout failed: still answer with readable words
        log.exception("error page %s could not use the layout", code)
        return (f"<!doctype html><meta name=viewport content='width=device-width, initial-scale=1'>"
                f"<title>{code}</title><h2>{escape(str(title))}</h2><p>{escape(str(text))}</p>"
                f"<p><a href='/'>{escape(gettext('Home'))}</a></p>"), code


def _http_error(exc: HTTPException):
    return _page(exc.code or 500)


def _server_error(exc: Exception):
    if isinstance(exc, HTTPException) and not isinstance(exc, InternalServerError):
        return _http_error(exc)
    return _page(500)


def install(app) -> None:
    for code in (400, 403, 404, 405):
        app.register_error_handler(code, _http_error)
    app.register_error_handler(500, _server_error)
