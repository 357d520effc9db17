"""The studio's form preview: a form's YAML text rendered exactly as the task page renders it.

Nothing is stored. The text is parsed by the same loader as a form file
(``app.forms.definitions.parse_form_text``: the YAML loader that keeps every key's line, then
every check of ``validate_form_file``), so a syntax error or a bad key is reported at its real
line, and a valid form is rendered by ``app.forms.render.render_form`` — the renderer of the
task page (``InboxView._task_page``), with the form's defaults as the values.

The form's id must match its package path (``forms/<module>/<name>.yaml`` → ``<module>/<name>``),
as ``check_package`` requires. ``files`` are the draft's other files (path → text): a form has
no reference to other files today, but the preview takes them so that the check a form file
gets here stays the one it gets in its package.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from markupsafe import Markup

from app.assets.errors import AssetError
from app.forms.definitions import DATA_FOLDERS, FormDef, parse_form_text
from app.forms.messages import resolve_locale
from app.forms.render import render_form
from app.assets.translate import translate


@dataclass
class FormPreview:
    """``html`` of the rendered form ('' when it has errors) and ``errors`` at their lines."""

    html: str = ""
    errors: list[dict] = field(default_factory=list)
    form: FormDef | None = None

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_json(self) -> dict:
        return {"html": self.html, "errors": self.errors}


def _error(e: AssetError, locale: str) -> dict:
    """``{line, element, message}``; the line is 1-based (0 when a problem has none); the reason
    in the words of the studio's findings (``app.assets.translate``)."""
    reason = translate(e.reason, locale)
    message = f"{e.element}: {reason}" if e.element else reason
    return {"line": int(e.line or 0), "element": e.element, "message": message,
            "severity": e.severity}


def form_id_of(path: str) -> str | None:
    """``forms/repair/accept.yaml`` → ``repair/accept``; None for a path that is not a form's."""
    from app.modules.packages import _kind

    if not isinstance(path, str) or _kind(path) != "form":
        return None
    module, name = path[len("forms/"):-len(".yaml")].split("/", 1)
    return None if name in DATA_FOLDERS else f"{module}/{name}"


def preview_form(path: str, text: str, files: Mapping[str, str] | None = None, *,
                 locale: str | None = None, static_url: str = "/static/forms",
                 upload_url: str | None = None) -> FormPreview:
    """Check and render one form's YAML ``text`` (the file ``path`` of a draft)."""
    form_id = form_id_of(path)
    if form_id is None:
        return FormPreview(errors=[{"line": 0, "element": "file", "severity": "error",
                                    "message": f"{path}: not a form path (forms/<module>/<name>.yaml)"}])
    if not isinstance(text, str):
        return FormPreview(errors=[{"line": 0, "element": "file", "severity": "error",
                                    "message": f"{path}: the form text is missing"}])
    form, errors = parse_form_text(text, path, form_id)
    if errors or form is None:
        return FormPreview(errors=[_error(e, resolve_locale(locale)) for e in sorted(errors, key=lambda e: e.line)])
    html: Markup = render_form(form, values=None, locale=locale, action_url="", csrf_token=None,
                               options={}, static_url=static_url, upload_url=upload_url)
    return FormPreview(html=str(html), form=form)
