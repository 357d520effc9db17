"""The studio's form editor endpoints (``/studio/forms-api``): live preview and field palette.

``POST /studio/forms-api/preview`` ``{path, text, module, files?}`` → ``{html, errors}``: the form
rendered by the task page's renderer, or its errors ``[{line, element, message}]`` at their real
lines (app/studio/form_preview.py). Nothing is stored. ``GET /studio/forms-api/palette`` →
``{types: [{type, label, options, snippet}]}`` (app/studio/form_palette.py).

Consultants and Admins only (the studio's users); every other role gets 403, read route
included. The preview is a POST (the text may be long) that writes nothing.
"""
from __future__ import annotations

from flask import jsonify, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext as _

from app.web.locale import current_locale

#: the studio's users: Consultants (Admin has every permission)
GRANTS = {"Consultant": [["^(StudioFormsView)$", "^(can_preview|can_palette)$"]]}

#: the largest form text the preview takes (a form file is a few KB)
MAX_TEXT = 256 * 1024


def _draft_files(module: str | None, given) -> dict[str, str]:
    """The draft's other files: the studio's draft service when there is one, else what the
    editor sent (``files``), else none."""
    files: dict[str, str] = {}
    if isinstance(given, dict):
        files.update({str(k): v for k, v in given.items() if isinstance(v, str)})
    if module:
        try:
            from app.studio.drafts import draft_files  # the core's draft service (issue #20)
        except ImportError:
            return files
        from app.db import db

        stored = draft_files(db.session, module) or {}
        return {**stored, **files}
    return files


class StudioFormsView(BaseView):
    route_base = "/studio/forms-api"
    default_view = "palette"

    @expose("/preview", methods=["POST"])
    @has_access
    @permission_name("preview")
    def preview(self):
        from app.studio.form_preview import preview_form

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
        result = preview_form(path, text, files, locale=current_locale(),
                              static_url=url_for("static", filename="forms"),
                              upload_url="/uploads/{sha256}")
        return jsonify(result.as_json())

    @expose("/palette", methods=["GET"])
    @has_access
    @permission_name("palette")
    def palette(self):
        from app.studio.form_palette import palette

        return jsonify(types=palette())


def register(appbuilder) -> None:
    appbuilder.add_view_no_menu(StudioFormsView)
