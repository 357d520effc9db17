"""The studio's field palette: every field type a form may use, its options, a YAML snippet.

Derived from the form loader (``app.forms.definitions``: ``FIELD_TYPES``, the keys every field
takes and the keys of each type — the same tables ``validate_form_file`` checks and
``app.forms.schema`` builds its marshmallow fields from), so a new type or key appears here the
moment the loader accepts it; only the people's words for them are written here, and a type or
key without words is an error (``tests/app/studio/test_form_preview.py``), never a raw code.

Each snippet is a list item for ``fields:`` (two-space indentation, as in the shipped forms)
with the keys the type needs (name, type, label; choices for the choice types); inserted in a
form, it loads and renders (the tests check every type).
"""
from __future__ import annotations

from flask_babel import force_locale
from flask_babel import lazy_gettext as _l

from app.forms import definitions as d

#: people's words for each field type (``d.FIELD_TYPES``)
TYPE_LABELS = {
    "text": _l("Text (one line)"), "textarea": _l("Text (several lines)"),
    "number": _l("Number field"), "money": _l("Amount of money"), "date": _l("Date field"),
    "datetime": _l("Date and time field"), "choice": _l("One choice from a list"),
    "multi_choice": _l("Several choices from a list"), "yes_no": _l("Yes or no"),
    "photo": _l("Photos"), "file": _l("Files (PDF or images)"),
    "household": _l("A household of the community"), "staff": _l("A staff member of the community"),
    "device": _l("A device of the community"),
}

#: people's words for each key of a field (``d._COMMON_KEYS`` and every ``d._TYPE_KEYS``)
OPTION_LABELS = {
    "name": _l("Field name (a-z, 0-9, _), the name in the task data"),
    "type": _l("Field type"),
    "label": _l("Label {zh, en}"),
    "help": _l("Help text {zh, en} under the field"),
    "placeholder": _l("Placeholder text {zh, en} inside the empty field"),
    "required": _l("Must be filled in (true/false)"),
    "default": _l("Value shown before anything is typed"),
    "visible_if": _l("Shown only when this rule holds (e.g. decision == 'reject')"),
    "min_length": _l("At least this many characters"),
    "max_length": _l("At most this many characters"),
    "pattern": _l("Regular expression the text must match"),
    "min": _l("Smallest value allowed"),
    "max": _l("Largest value allowed"),
    "integer": _l("Whole numbers only (true/false)"),
    "choices": _l("The choices: a list of {value, label {zh, en}}"),
    "min_files": _l("At least this many files"),
    "max_files": _l("At most this many files"),
    "max_bytes": _l("Largest size of one file, in bytes"),
    "accept": _l("Content types accepted (e.g. [application/pdf])"),
    "skills": _l("Only staff with every one of these skills"),
    "role": _l("Only staff with this job"),
}

#: keys every snippet writes, in this order (the rest of the options are listed for the user)
_SNIPPET_KEYS = ("name", "type", "label", "required")


def field_types() -> tuple[str, ...]:
    return tuple(d.FIELD_TYPES)


def type_options(ftype: str) -> list[str]:
    """The keys a field of ``ftype`` takes: the common ones, then the type's own (sorted)."""
    common = [k for k in _SNIPPET_KEYS if k in d._COMMON_KEYS]
    common += sorted(d._COMMON_KEYS - set(common))
    return common + sorted(d._TYPE_KEYS.get(ftype, set()))


def snippet(ftype: str, name: str | None = None) -> str:
    """A ``fields:`` list item of type ``ftype`` that loads as it is (2-space indentation)."""
    name = name or f"new_{ftype}"
    with force_locale("zh"):
        zh = str(TYPE_LABELS[ftype])
    with force_locale("en"):
        en = str(TYPE_LABELS[ftype])
    lines = [f"  - name: {name}", f"    type: {ftype}",
             f"    label: {{zh: {_quote(zh)}, en: {_quote(en)}}}", "    required: false"]
    if ftype in ("choice", "multi_choice"):
        lines.append("    choices:")
        for value, zh_label, en_label in (("a", "选项一", "Option one"), ("b", "选项二", "Option two")):
            lines.append(f"      - {{value: {value}, label: {{zh: {zh_label}, en: {en_label}}}}}")
    return "\n".join(lines) + "\n"


def _quote(text: str) -> str:
    """A flow-style YAML scalar: quoted when it holds characters YAML would read otherwise."""
    if any(ch in text for ch in ":{}[],#&*!|>'\"%@`") or text != text.strip():
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def palette(locale: str | None = None) -> list[dict]:
    """``[{type, label, options: [{key, label}], snippet}]`` in ``locale`` (the request's if None)."""

    def build() -> list[dict]:
        return [{
            "type": ftype,
            "label": str(TYPE_LABELS[ftype]),
            "options": [{"key": key, "label": str(OPTION_LABELS[key])} for key in type_options(ftype)],
            "snippet": snippet(ftype),
        } for ftype in field_types()]

    if locale is None:
        return build()
    with force_locale(locale):
        return build()
