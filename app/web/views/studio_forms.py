"""The studio's form editor endpoints (``/studio/forms-api``): live preview and field palette.

``POST /studio/forms-api/preview`` ``{path, text, module, files?, locale?}`` → ``{html, errors}``: the form
rendered by the task page's renderer, or its errors ``[{line, element, message}]`` at their real
lines (app/studio/form_preview.py). Nothing is stored. ``GET /studio/forms-api/palette`` →
``{types: [{type, label, options, snippet}]}`` (app/studio/form_palette.py).

Consultants and Admins only (the studio's users: app/security/roles.py grants ``Studio*`` views to
the Consultant); every other role gets 403, read route included. The preview is a POST (the text
may be long) that writes nothing.
"""
from __future__ import annotations

from flask import jsonify, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext as _

from app.db import db
from app.i18n import LANGUAGES
from app.studio import drafts
from app.studio import form_palette
from app.studio.form_preview import preview_form
from app.web.locale import current_locale

#: the largest form text the preview takes (a form file is a few KB)
MAX_TEXT = 256 * 1024


def _draft_files(module: str | None, given) -> dict[str, str]:
    """The draft's files (the studio's draft service), with what the editor sent on top."""
    files: dict[str, str] = {}
    if module:
        draft = drafts.get_draft(db.session, module)
        if draft is not None:
            files.update(draft.files or {})
    if isinstance(given, dict):
        files.update({str(k): v for k, v in given.items() if isinstance(v, str)})
    return files


class StudioFormsView(BaseView):
    route_base = "/studio/forms-api"
    default_view = "palette"

    @expose("/preview", methods=["POST"])
    @has_access
    @permission_name("preview")
    def preview(self):
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return jsonify(message=_("Send a JSON object with path and text.")), 400
        path, text = body.get("path"), body.get("text")
        if not isinstance(path, str) or not isinstance(text, str):
            return jsonify(message=_("Send a JSON object with path and text.")), 400
        if len(text) > MAX_TEXT:
            return jsonify(html="", errors=[{"line": 0, "element": "file", "severity": "error",
                                             "message": _("The form text is too long (at most %(n)s KB).",
                                                          n=MAX_TEXT // 1024)}])
        module = body.get("module") if isinstance(body.get("module"), str) else None
        files = _draft_files(module, body.get("files"))
        files[path] = text
        locale = body.get("locale") if body.get("locale") in LANGUAGES else current_locale()
        result = preview_form(path, text, files, locale=locale,
                              static_url=url_for("static", filename="forms"),
                              upload_url="/uploads/{sha256}")
        return jsonify(result.as_json())

    @expose("/palette", methods=["GET"])
    @has_access
    @permission_name("palette")
    def palette(self):
        return jsonify(types=form_palette.palette())


def register(appbuilder) -> None:
    appbuilder.add_view_no_menu(StudioFormsView)
