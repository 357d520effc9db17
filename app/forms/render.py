"""The browser side of a form: one ``FormDef`` rendered as mobile-first HTML.

Rendering uses Jinja2 directly (its own Environment on app/templates) so it works in a
Flask view, in the engine's tests and in a CLI preview alike. The caller passes what the
form needs from outside: values typed so far, errors per field, task-data context and
the options of reference selects (``references.reference_options``).
"""
from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from app.forms.definitions import PHOTO_TYPES, UPLOAD_TYPES, FieldDef, FormDef, localized
from app.forms.messages import msg, resolve_locale
from app.forms.schema import visible_fields

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"


@lru_cache(maxsize=1)
def jinja_env() -> Environment:
    return Environment(
        loader=FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def display_value(value: Any, ftype: str | None = None) -> Any:
    """A value as an input shows it: Decimal → '12.50', date → ISO, bool → 'yes'/'no'."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, (list, tuple)):
        return [display_value(v) for v in value]
    return str(value)


def _context_photos(value: Any, upload_url: str) -> list[dict]:
    """Read-only evidence (a camera's snapshot): shown, never a field anyone can replace."""
    refs = value if isinstance(value, list) else [value]
    return [{"url": upload_url.replace("{sha256}", r["sha256"]), "name": str(r.get("name") or "")}
            for r in refs if isinstance(r, dict) and isinstance(r.get("sha256"), str)]


def _context_text(value: Any, locale: str) -> str:
    if isinstance(value, bool):
        return msg("yes" if value else "no", locale)
    if isinstance(value, (list, tuple)):
        return "、".join(_context_text(v, locale) for v in value) if locale == "zh" else \
            ", ".join(_context_text(v, locale) for v in value)
    if isinstance(value, dict) and "name" in value:
        return str(value["name"])
    shown = display_value(value)
    return shown.replace("T", " ") if isinstance(value, datetime) else str(shown)


def _field_view(f: FieldDef, value: Any, errors: list[str], locale: str, visible: bool,
                options: list[tuple[Any, str]] | None, upload_url: str | None) -> dict:
    shown = display_value(value, f.type)
    view: dict[str, Any] = {
        "name": f.name, "type": f.type, "id": f"f-{f.name}",
        "label": localized(f.label, locale), "help": localized(f.help, locale),
        "placeholder": localized(f.placeholder, locale), "required": f.required,
        "errors": errors, "hidden": not visible,
        "rule_json": json.dumps(f.visible_rule, ensure_ascii=False) if f.visible_rule else "",
        "value": shown if not isinstance(shown, list) else "",
        "values": shown if isinstance(shown, list) else ([shown] if shown else []),
        "attrs": {},
    }
    attrs = view["attrs"]
    if f.type in ("text", "textarea"):
        if f.max_length is not None:
            attrs["maxlength"] = f.max_length
        if f.min_length is not None:
            attrs["minlength"] = f.min_length
        if f.pattern and f.type == "text":
            attrs["pattern"] = f.pattern
    elif f.type == "money":
        attrs["inputmode"] = "decimal"
        attrs["autocomplete"] = "off"
    elif f.type == "number":
        attrs["inputmode"] = "numeric" if f.integer else "decimal"
        attrs["autocomplete"] = "off"
    elif f.type in ("date", "datetime"):
        if f.min is not None:
            attrs["min"] = display_value(f.min)
        if f.max is not None:
            attrs["max"] = display_value(f.max)
    if f.type in ("choice", "multi_choice"):
        chosen = set(view["values"])
        view["choices"] = [(c.value, localized(c.label, locale), c.value in chosen)
                           for c in f.choices]
    if f.is_reference:
        view["choices"] = [(str(v), label, str(v) == shown) for v, label in (options or [])]
    if f.type in UPLOAD_TYPES:
        refs = [v for v in (value or []) if isinstance(v, dict) and "sha256" in v]
        view["refs"] = [
            {"json": json.dumps({"sha256": r["sha256"], "name": r.get("name")}, ensure_ascii=False),
             "name": r.get("name") or r["sha256"][:12],
             "url": upload_url.format(sha256=r["sha256"]) if upload_url else None,
             "is_image": str(r.get("content_type", "")).startswith("image/")}
            for r in refs
        ]
        view["multiple"] = f.max_files is None or f.max_files > 1
        view["accept"] = ("image/*" if f.type == "photo" and set(f.accepted_types) == set(PHOTO_TYPES)
                          else ",".join(f.accepted_types))
        view["capture"] = f.type == "photo"
    return view


def render_form(
    form: FormDef,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, list[str]] | None = None,
    context_values: dict[str, Any] | None = None,
    locale: str | None = None,
    action_url: str = "",
    csrf_token: str | None = None,
    options: dict[str, list[tuple[Any, str]]] | None = None,
    static_url: str = "/static/forms",
    upload_url: str | None = None,
    method: str = "post",
) -> Markup:
    """HTML of ``form``; ``values=None`` shows the defaults, else what was typed.

    ``upload_url`` is a pattern such as ``/uploads/{sha256}`` for links to stored files.
    """
    locale = resolve_locale(locale)
    errors = errors or {}
    if values is None:
        values = {f.name: f.default for f in form.fields if f.default is not None}
    visible = visible_fields(form, {k: display_value(v) if not isinstance(v, list) else v
                                    for k, v in values.items()})
    fields = [
        _field_view(f, values.get(f.name), list(errors.get(f.name, [])), locale,
                    f.name in visible, (options or {}).get(f.name), upload_url)
        for f in form.fields
    ]
    names = set(form.field_names)
    form_errors = [m for k, v in errors.items() if k not in names for m in v]
    context = [
        {"label": localized(c.label, locale),
         "value": _context_text((context_values or {}).get(c.name), locale),
         "photos": _context_photos((context_values or {}).get(c.name), upload_url) if c.type == "photo" and upload_url else []}
        for c in form.context
    ]
    template = jinja_env().get_template("forms/form.html")
    html = template.render(
        form=form, form_id=form.id, title=localized(form.title, locale),
        description=localized(form.description, locale), context=context, fields=fields,
        form_errors=form_errors, has_errors=bool(errors), locale=locale,
        action_url=action_url, csrf_token=csrf_token, method=method, static_url=static_url,
        multipart=any(f.is_upload for f in form.fields),
        t={k: msg(k, locale) for k in ("submit", "yes", "no", "choose", "keep_file",
                                       "form_has_errors", "required_mark")},
    )
    return Markup(html)
