"""Household import pages: upload → preview with row errors → confirm."""
from __future__ import annotations

import io

from flask import abort, flash, redirect, request, send_file, url_for
from flask import session as http_session
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext as _
from flask_login import current_user

from app.db import db
from app.domains.estate import household_import as svc
from app.domains.estate.models import Community
from app.security.scope import require_community
from app.settings import get_settings
from app.web.locale import current_locale as _locale


class HouseholdImportView(BaseView):
    route_base = "/import"
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
        community = db.session.get(Community, community_id)
        locale = _locale()
        preview = None
        if request.method == "POST":
            upload = request.files.get("file")
            if upload is None or not upload.filename:
                flash(_("Choose a CSV or Excel file first."), "danger")
            else:
                data = upload.read(get_settings().upload_max_bytes + 1)
                if len(data) > get_settings().upload_max_bytes:
                    flash(_("The file is too large."), "danger")
                else:
                    preview = svc.preview_import(db.session, community_id, data, upload.filename, locale)
                    db.session.rollback()
                    if preview.ok:
                        http_session["import_file"] = {"name": upload.filename, "data": data.hex(),
                                                       "community_id": community_id}
        return self.render_template(
            "table_import.html", community=community, preview=preview, columns=svc.COLUMNS, locale=locale,
            title=_("Import households"), template_endpoint="HouseholdImportView.template",
            confirm_url=url_for("HouseholdImportView.confirm", community_id=community_id))

    @expose("/<int:community_id>/confirm", methods=["POST"])
    @has_access
    def confirm(self, community_id: int):
        require_community(community_id)
        stash = http_session.pop("import_file", None)
        if not stash or stash.get("community_id") != community_id:
            abort(400)
        preview = svc.preview_import(db.session, community_id, bytes.fromhex(stash["data"]), stash["name"], _locale())
        if not preview.ok:
            db.session.rollback()
            flash(_("The file no longer passes the checks; nothing was imported."), "danger")
            return redirect(url_for("HouseholdImportView.index", community_id=community_id))
        count = svc.apply_import(db.session, community_id, preview, current_user.username)
        db.session.commit()
        flash(_("Imported %(n)s households.", n=count), "success")
        return redirect(url_for("HouseholdView.list"))

    @expose("/template.<fmt>")
    @has_access
    def template(self, fmt: str):
        frame = svc.template_frame()
        buffer = io.BytesIO()
        if fmt == "xlsx":
            frame.to_excel(buffer, index=False)
            mime = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        elif fmt == "csv":
            buffer.write(frame.to_csv(index=False).encode("utf-8-sig"))
            mime = "text/csv"
        else:
            abort(404)
        buffer.seek(0)
        return send_file(buffer, mimetype=mime, as_attachment=True, download_name=f"households.{fmt}")



def register(appbuilder) -> None:
    appbuilder.add_view_no_menu(HouseholdImportView())
