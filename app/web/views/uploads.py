"""Serving stored uploads (photos, files) to users of the communities that use them."""
from __future__ import annotations

from flask import abort, redirect, send_file, url_for
from flask_appbuilder import BaseView, expose
from flask_login import current_user

from app.db import db
from app.forms.uploads import open_upload
from app.platform.uploads import readable_grant
from app.security.scope import visible_community_ids


class UploadView(BaseView):
    route_base = "/uploads"
    default_view = "get"

    @expose("/<sha256>")
    def get(self, sha256: str):
        if not current_user.is_authenticated:
            return redirect(url_for(self.appbuilder.sm.auth_view.endpoint + ".login"))
        grant = readable_grant(db.session, sha256, visible_community_ids())
        if grant is None:
            abort(404)
        try:
            handle = open_upload(sha256)
        except FileNotFoundError:
            abort(404)
        response = send_file(handle, mimetype=grant.content_type, max_age=3600)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Content-Security-Policy"] = "default-src 'none'"
        return response


def register(appbuilder) -> None:
    appbuilder.add_view_no_menu(UploadView())
