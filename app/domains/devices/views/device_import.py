"""Device list import pages: upload → preview with row errors → confirm (all or nothing)."""
from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask import session as http_session
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext as _
from flask_login import current_user

from app.db import db
from app.domains.devices import device_import as svc
from app.domains.estate.models import Community
from app.security.scope import require_community
from app.settings import get_settings
from app.web.locale import current_locale

GRANTS = {"Manager": [["^(DeviceImportView)$", ".*"]]}


class DeviceImportView(BaseView):
    route_base = "/import-devices"
    default_view = "index"

    @expose("/<int:community_id>/", methods=["GET"])
    @has_access
    def index(self, community_id: int):
        return self._index_page(community_id)

    @expose("/<int:community_id>/", methods=["POST"])
    @has_access
    @permission_name("upload")
    def upload(self, community_id: int):
        return self._index_page(community_id)

    def _index_page(self, community_id: int):
        require_community(community_id)
        preview = None
        if request.method == "POST":
            upload = request.files.get("file")
            data = upload.read(get_settings().upload_max_bytes + 1) if upload and upload.filename else b""
            if not data:
                flash(_("Choose a CSV or Excel file first."), "danger")
            elif len(data) > get_settings().upload_max_bytes:
                flash(_("The file is too large."), "danger")
            else:
                preview = svc.preview_devices(db.session, community_id, data, upload.filename, current_locale())
                if preview.ok:
                    http_session["device_import"] = {"name": upload.filename, "data": data.hex(),
                                                     "community_id": community_id}
        return self.render_template(
            "table_import.html", community=db.session.get(Community, community_id), preview=preview,
            columns=svc.COLUMNS, locale=current_locale(), title=_("Import devices"), template_endpoint=None,
            confirm_url=url_for("DeviceImportView.confirm", community_id=community_id))

    @expose("/<int:community_id>/confirm", methods=["POST"])
    @has_access
    def confirm(self, community_id: int):
        require_community(community_id)
        stash = http_session.pop("device_import", None)
        if not stash or stash.get("community_id") != community_id:
            abort(400)
        preview = svc.preview_devices(db.session, community_id, bytes.fromhex(stash["data"]), stash["name"],
                                      current_locale())
        if not preview.ok:
            flash(_("The file no longer passes the checks; nothing was imported."), "danger")
            return redirect(url_for("DeviceImportView.index", community_id=community_id))
        count = svc.apply_devices(db.session, community_id, preview, current_user.username)
        db.session.commit()
        flash(_("Imported %(n)s devices.", n=count), "success")
        return redirect(url_for("DeviceView.list"))


def register(appbuilder) -> None:
    appbuilder.add_view_no_menu(DeviceImportView())
