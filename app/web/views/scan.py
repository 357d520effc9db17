"""The staff scanner (``/scan/``) and the staff PWA's service worker (``/sw.js``, ``/offline``).

The scanner page reuses the inspection module's scanner script (camera + BarcodeDetector or
jsQR from ``static/vendor``, a typed-code fallback); the code goes to ``/scan/go``, which asks
the domains what it is (``app/web/scan.py``): an inspection point opens its check-in, a visitor
pass shows its check. Both are GETs that change nothing.

The service worker gives staff pages an offline shell: the app's CSS, icons and an offline page
are cached; pages themselves are never cached (they hold residents' names and phones), and
``/inspection/`` is left to the inspection module's own worker. ``static/pwa.js`` registers it
when the app runs pinned to the home screen (display-mode standalone).
"""
from __future__ import annotations

from flask import Response, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import gettext as _
from flask_login import current_user

from app.db import db
from app.security.scope import visible_community_ids
from app.web.locale import current_locale
from app.web.scan import MAX_CODE, resolve

_STAFF = [["^(ScanView)$", "^(can_index|can_go)$"]]
GRANTS = {"Manager": _STAFF, "Guard": _STAFF, "FrontDesk": _STAFF, "Technician": _STAFF}


class ScanView(BaseView):
    route_base = "/scan"
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        return self.render_template("scan/scan.html", result=None, code="")

    @expose("/go")
    @has_access
    def go(self):
        code = (request.args.get("code") or "").strip()
        if not code:
            return redirect(url_for("ScanView.index"))
        answer = resolve(db.session, code, visible_community_ids(), current_user.username, current_locale())
        if answer and answer.get("url"):
            return redirect(answer["url"])
        if answer:
            return self.render_template("scan/scan.html", result=answer, code=code)
        shown = code if len(code) <= 40 else code[:37] + "…"
        flash(_("This code is not a visitor pass or a patrol point of your communities: %(code)s",
                code=shown if len(code) <= MAX_CODE else "…"), "warning")
        return self.render_template("scan/scan.html", result=None, code=""), 404


_SHELL = ["/offline", "/static/css/estateflow.css", "/static/icons/icon-192.png", "/static/manifest.json"]


class PwaView(BaseView):
    """Public on purpose: the worker and the offline page carry no personal data."""

    route_base = ""

    @expose("/sw.js")
    def service_worker(self):
        body = self.render_template("scan/sw.js", shell=_SHELL, version="staff-shell-v1")
        return Response(body, mimetype="application/javascript",
                        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"})

    @expose("/offline")
    def offline(self):
        return self.render_template("scan/offline.html")


def register(appbuilder) -> None:
    appbuilder.add_view_no_menu(ScanView())
    appbuilder.add_view_no_menu(PwaView())
