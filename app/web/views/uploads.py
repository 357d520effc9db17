"""Serving stored uploads (photos, files) to the users who may read them, and the check every
form submission makes on the files it attaches (``check_form_uploads``)."""
from __future__ import annotations

from flask import abort, current_app, redirect, send_file, url_for
from flask_appbuilder import BaseView, expose
from flask_babel import gettext as _
from flask_login import current_user

from app.db import db
from app.domains.estate.residents import households_of_user
from app.forms.uploads import describe_upload, open_upload
from app.platform.uploads import readable_upload, record_receipts, refused_kept_uploads
from app.security.roles import RESIDENT
from app.security.scope import is_platform_admin, visible_community_ids


def check_form_uploads(data: dict, errors: dict, raw: dict, stored: list[dict], *, scope: str,
                       community_id: int | None, existing=()) -> tuple[dict, dict]:
    """After ``parse_submission(..., on_store=stored.append)``: note the files this request
    stored (committed at once, so the user may keep them on the next try of the same form), and
    refuse *kept* references to files this user did not upload for ``scope`` (``existing``: the
    hashes already in the instance's data). Returns ``(data, errors)``; a refusal empties data."""
    if stored:
        record_receipts(db.session, stored, user_id=current_user.id, scope=scope, community_id=community_id)
        db.session.commit()
    refused = refused_kept_uploads(db.session, raw, new=[r["sha256"] for r in stored], user_id=current_user.id,
                                   scope=scope, existing=existing)
    for name, shas in refused.items():
        errors.setdefault(name, []).append(_("A file that was not uploaded here by you cannot be attached."))
        if isinstance(raw.get(name), list):
            raw[name] = [r for r in raw[name] if r.get("sha256") not in shas]
    return ({} if refused or errors else data), errors


def _is_staff() -> bool:
    return is_platform_admin() or any(r.name != RESIDENT for r in current_user.roles)


class UploadView(BaseView):
    route_base = "/uploads"
    default_view = "get"

    @expose("/<sha256>")
    def get(self, sha256: str):
        if not current_user.is_authenticated:
            return redirect(url_for(self.appbuilder.sm.auth_view.endpoint + ".login"))
        staff = _is_staff()
        content_type = readable_upload(
            db.session, sha256, community_ids=visible_community_ids(), user_id=current_user.id, staff=staff,
            security=staff and current_app.appbuilder.sm.has_access("can_incident", "SecurityView"),
            household_ids=[] if staff else [h.id for h in households_of_user(db.session, current_user.id)])
        if content_type is None:
            abort(404)
        if not content_type:
            ref = describe_upload(sha256)
            if ref is None:
                abort(404)
            content_type = ref["content_type"]
        try:
            handle = open_upload(sha256)
        except FileNotFoundError:
            abort(404)
        response = send_file(handle, mimetype=content_type, max_age=3600)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Content-Security-Policy"] = "default-src 'none'"
        response.headers["Cache-Control"] = "private, max-age=3600"
        return response


def register(appbuilder) -> None:
    appbuilder.add_view_no_menu(UploadView())
