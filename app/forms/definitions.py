"""Form definitions: ``forms/<module>/<name>.yaml`` parsed into ``FormDef``.

One definition feeds both the HTML rendering (render.py) and the server-side schema
(schema.py). Loading checks everything a consultant can get wrong and reports each
problem as ``file:line: element: reason`` (all of them, not only the first).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from app.assets.errors import AssetError, AssetInvalid
from app.assets.yaml_lines import LineDict, LineList, load_yaml_file
from app.forms.rules import RuleError, parse_rule, rule_fields

TEXT_TYPES = ("text", "textarea")
UPLOAD_TYPES = ("photo", "file")
REFERENCE_TYPES = ("household", "staff", "device")
FIELD_TYPES = (
    "text", "textarea", "number", "money", "date", "datetime", "choice", "multi_choice",
    "yes_no", "photo", "file", "household", "staff", "device",
)

#: sub-folders of a module's form folder that hold data a domain reads, not forms (e.g.
#: ``forms/inspection/checklists/``): skipped here, checked by ``estateflow validate`` with the
#: validator the domain registers in ``app.assets.validate.DATA_VALIDATORS`` under that name.
DATA_FOLDERS = frozenset({"checklists"})

PHOTO_TYPES = ("image/jpeg", "image/png", "image/webp", "image/gif")
FILE_TYPES = ("application/pdf",) + PHOTO_TYPES

_TOP_KEYS = {"id", "title", "description", "context", "fields"}
_CONTEXT_KEYS = {"name", "label", "type"}
_COMMON_KEYS = {"name", "type", "label", "help", "required", "default", "visible_if", "placeholder"}
_TYPE_KEYS: dict[str, set[str]] = {
    "text": {"min_length", "max_length", "pattern"},
    "textarea": {"min_length", "max_length", "pattern"},
    "number": {"min", "max", "integer"},
    "money": {"min", "max"},
    "date": {"min", "max"},
    "datetime": {"min", "max"},
    "choice": {"choices"},
    "multi_choice": {"choices"},
    "yes_no": set(),
    "photo": {"min_files", "max_files", "max_bytes", "accept"},
    "file": {"min_files", "max_files", "max_bytes", "accept"},
    "household": set(),
    "staff": {"skills", "role"},
    "device": set(),
}
_ALL_FIELD_KEYS = _COMMON_KEYS.union(*_TYPE_KEYS.values())
_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
_LANG = re.compile(r"^[a-z]{2}(-[A-Za-z0-9]+)?$")

Text = dict[str, str]  # {"zh": ..., "en": ...}


def localized(text: Text | None, locale: str) -> str:
    """Pick the text for ``locale``, falling back to Chinese, then any language."""
    if not text:
        return ""
    return text.get(locale) or text.get("zh") or next(iter(text.values()), "")


@dataclass(frozen=True)
class ChoiceDef:
    value: str
    label: Text


@dataclass(frozen=True)
class ContextDef:
    """A read-only value from task data shown above the fields."""

    name: str
    label: Text
    type: str | None = None


@dataclass(frozen=True)
class FieldDef:
    name: str
    type: str
    label: Text
    help: Text | None = None
    placeholder: Text | None = None
    required: bool = False
    default: Any = None
    visible_if: str | None = None
    visible_rule: dict | None = None  # parsed visible_if (see rules.py)
    choices: tuple[ChoiceDef, ...] = ()
    min: Any = None  # Decimal for number/money, date, datetime
    max: Any = None
    integer: bool = False  # number: whole numbers only (int), else Decimal
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    min_files: int | None = None
    max_files: int | None = None
    max_bytes: int | None = None
    accept: tuple[str, ...] = ()  # content types; defaults by type (PHOTO_TYPES, FILE_TYPES)
    skills: tuple[str, ...] = ()  # staff: every listed skill required
    role: str | None = None  # staff: Staff.job must equal it
    line: int = 0

    @property
    def is_upload(self) -> bool:
        return self.type in UPLOAD_TYPES

    @property
    def is_reference(self) -> bool:
        return self.type in REFERENCE_TYPES

    @property
    def accepted_types(self) -> tuple[str, ...]:
        if self.accept:
            return self.accept
        return PHOTO_TYPES if self.type == "photo" else FILE_TYPES

    def choice_values(self) -> list[str]:
        return [c.value for c in self.choices]


@dataclass(frozen=True)
class FormDef:
    id: str
    title: Text
    fields: tuple[FieldDef, ...]
    description: Text | None = None
    context: tuple[ContextDef, ...] = ()
    file: str = ""

    def field(self, name: str) -> FieldDef:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]


# --------------------------------------------------------------------------- loading


class _Checker:
    """Collects errors while turning the raw YAML tree into dataclasses."""

    def __init__(self, filename: str):
        self.file = filename
        self.errors: list[AssetError] = []

    def err(self, line: int, element: str, reason: str) -> None:
        self.errors.append(AssetError(self.file, line, element, reason))

    def keys(self, node: LineDict, allowed: set[str], element: str, hint: str = "") -> None:
        for key in node:
            if key not in allowed:
                where = f"{element}.{key}" if element else str(key)
                self.err(node.line_of(key), where, f"unknown key {key!r}{hint}")

    def text(self, node: LineDict, key: str, element: str, *, required: bool) -> Text | None:
        where = f"{element}.{key}" if element else key
        if key not in node:
            if required:
                self.err(node.line, where, "missing (needs zh and en)")
            return None
        value = node[key]
        line = node.line_of(key)
        if not isinstance(value, dict):
            self.err(line, where, "must be a mapping {zh: ..., en: ...}")
            return None
        result: Text = {}
        for lang in ("zh", "en"):
            text = value.get(lang)
            if not isinstance(text, str) or not text.strip():
                self.err(line, f"{where}.{lang}", "missing text")
        for lang, text in value.items():
            if not isinstance(lang, str) or not _LANG.match(lang):
                self.err(value.line_of(lang) if isinstance(value, LineDict) else line,
                         f"{where}.{lang}", "unknown language code")
            elif isinstance(text, str):
                result[lang] = text
        return result


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        d = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return d if d.is_finite() else None


def _date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return None
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def _limit(ftype: str, value: Any, integer: bool) -> Any:
    """Convert a min/max (or default) of a typed field; None when invalid."""
    if ftype == "money":
        d = _decimal(value)
        return d if d is not None and d.as_tuple().exponent >= -2 else None
    if ftype == "number":
        d = _decimal(value)
        if d is None or (integer and d != d.to_integral_value()):
            return None
        return int(d) if integer else d
    if ftype == "date":
        return _date(value)
    if ftype == "datetime":
        return _datetime(value)
    return None


def _nonneg_int(c: _Checker, node: LineDict, key: str, element: str, *, positive=False):
    if key not in node:
        return None
    value = node[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < (1 if positive else 0):
        c.err(node.line_of(key), f"{element}.{key}",
              f"must be a {'positive' if positive else 'non-negative'} whole number")
        return None
    return value


def _parse_field(c: _Checker, node: Any, element: str, line: int) -> FieldDef | None:
    if not isinstance(node, LineDict):
        c.err(line, element, "must be a mapping")
        return None
    name = node.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        c.err(node.line_of("name"), f"{element}.name",
              "missing or not a lowercase identifier (a-z, 0-9, _)" if name is not None
              else "missing")
        name = None
    ftype = node.get("type")
    if ftype not in FIELD_TYPES:
        if ftype is None:
            c.err(node.line, f"{element}.type", "missing")
        else:
            c.err(node.line_of("type"), f"{element}.type", f"unknown field type {ftype!r}")
        c.keys(node, _ALL_FIELD_KEYS, element)
        c.text(node, "label", element, required=True)
        return None
    allowed = _COMMON_KEYS | _TYPE_KEYS[ftype]
    for key in node:
        if key not in allowed:
            reason = (f"{key!r} does not apply to type {ftype!r}" if key in _ALL_FIELD_KEYS
                      else f"unknown key {key!r}")
            c.err(node.line_of(key), f"{element}.{key}", reason)
    label = c.text(node, "label", element, required=True)
    help_ = c.text(node, "help", element, required=False)
    placeholder = c.text(node, "placeholder", element, required=False)
    required = node.get("required", False)
    if not isinstance(required, bool):
        c.err(node.line_of("required"), f"{element}.required", "must be true or false")
        required = False
    integer = node.get("integer", False)
    if not isinstance(integer, bool):
        c.err(node.line_of("integer"), f"{element}.integer", "must be true or false")
        integer = False

    visible_if, visible_rule = node.get("visible_if"), None
    if visible_if is not None:
        try:
            visible_rule = parse_rule(visible_if)
        except RuleError as exc:
            c.err(node.line_of("visible_if"), f"{element}.visible_if", f"cannot parse: {exc}")

    choices: list[ChoiceDef] = []
    if ftype in ("choice", "multi_choice"):
        raw = node.get("choices")
        if not isinstance(raw, list) or not raw:
            c.err(node.line_of("choices"), f"{element}.choices",
                  "missing: a choice field needs a non-empty list of choices")
        else:
            seen: set[str] = set()
            for i, ch in enumerate(raw):
                where = f"{element}.choices[{i}]"
                cline = raw.line_of(i) if isinstance(raw, LineList) else node.line
                if not isinstance(ch, LineDict) or "value" not in ch:
                    c.err(cline, where, "must be a mapping with value and label")
                    continue
                c.keys(ch, {"value", "label"}, where)
                value = ch["value"]
                if isinstance(value, (dict, list)) or value is None:
                    c.err(ch.line_of("value"), f"{where}.value", "must be text or a number")
                    continue
                value = ("true" if value else "false") if isinstance(value, bool) else str(value)
                if value in seen:
                    c.err(ch.line_of("value"), f"{where}.value", f"duplicate choice {value!r}")
                seen.add(value)
                choices.append(ChoiceDef(value, c.text(ch, "label", where, required=True) or {}))

    limits: dict[str, Any] = {}
    for key in ("min", "max"):
        if key in node and ftype in ("number", "money", "date", "datetime"):
            converted = _limit(ftype, node[key], integer)
            if converted is None:
                c.err(node.line_of(key), f"{element}.{key}", f"not a valid {ftype} value")
            limits[key] = converted
    if limits.get("min") is not None and limits.get("max") is not None:
        try:
            if limits["min"] > limits["max"]:
                c.err(node.line_of("max"), f"{element}.max", "is smaller than min")
        except TypeError:
            c.err(node.line_of("max"), f"{element}.max", "cannot be compared with min")

    min_length = _nonneg_int(c, node, "min_length", element)
    max_length = _nonneg_int(c, node, "max_length", element, positive=True)
    if min_length is not None and max_length is not None and min_length > max_length:
        c.err(node.line_of("max_length"), f"{element}.max_length", "is smaller than min_length")
    pattern = node.get("pattern")
    if pattern is not None:
        try:
            re.compile(str(pattern))
            pattern = str(pattern)
        except re.error as exc:
            c.err(node.line_of("pattern"), f"{element}.pattern", f"bad regular expression: {exc}")
            pattern = None

    min_files = _nonneg_int(c, node, "min_files", element)
    max_files = _nonneg_int(c, node, "max_files", element, positive=True)
    if min_files is not None and max_files is not None and min_files > max_files:
        c.err(node.line_of("max_files"), f"{element}.max_files", "is smaller than min_files")
    max_bytes = _nonneg_int(c, node, "max_bytes", element, positive=True)
    accept: tuple[str, ...] = ()
    if "accept" in node:
        raw = node["accept"]
        raw = [raw] if isinstance(raw, str) else raw
        allowed_types = PHOTO_TYPES if ftype == "photo" else FILE_TYPES
        if not isinstance(raw, list) or not raw:
            c.err(node.line_of("accept"), f"{element}.accept", "must be a list of content types")
        else:
            expanded: list[str] = []
            for t in raw:
                if t == "image/*":
                    expanded.extend(PHOTO_TYPES)
                elif t in allowed_types:
                    expanded.append(t)
                else:
                    c.err(node.line_of("accept"), f"{element}.accept",
                          f"content type {t!r} not supported for {ftype} "
                          f"(supported: {', '.join(allowed_types)})")
            accept = tuple(dict.fromkeys(expanded))

    skills: tuple[str, ...] = ()
    if "skills" in node:
        raw = node["skills"]
        raw = [raw] if isinstance(raw, str) else raw
        if not isinstance(raw, list) or not all(isinstance(s, str) for s in raw):
            c.err(node.line_of("skills"), f"{element}.skills", "must be a list of skill names")
        else:
            skills = tuple(raw)
    role = node.get("role")
    if role is not None and not isinstance(role, str):
        c.err(node.line_of("role"), f"{element}.role", "must be text")
        role = None

    fdef = FieldDef(
        name=name or "", type=ftype, label=label or {}, help=help_, placeholder=placeholder,
        required=required, visible_if=visible_if if visible_rule else None,
        visible_rule=visible_rule, choices=tuple(choices), min=limits.get("min"),
        max=limits.get("max"), integer=integer, min_length=min_length, max_length=max_length,
        pattern=pattern, min_files=min_files, max_files=max_files, max_bytes=max_bytes,
        accept=accept, skills=skills, role=role, line=node.line,
    )
    if "default" in node:
        problem = default_problem(fdef, node["default"])
        if problem:
            c.err(node.line_of("default"), f"{element}.default", problem)
        else:
            fdef = replace(fdef, default=_typed_default(fdef, node["default"]))
    return fdef if name else None


def _typed_default(f: FieldDef, value: Any) -> Any:
    if f.type in ("number", "money", "date", "datetime"):
        return _limit(f.type, value, f.integer)
    if f.type == "choice":
        return str(value).lower() if isinstance(value, bool) else str(value)
    if f.type == "multi_choice":
        return [str(v) for v in value]
    return value


def default_problem(f: FieldDef, value: Any) -> str | None:
    """Why ``value`` is not a valid default for field ``f`` (None when it is)."""
    if f.is_upload or f.is_reference:
        return f"type {f.type!r} cannot have a default"
    if f.type in TEXT_TYPES:
        if not isinstance(value, str):
            return "must be text"
        if f.max_length is not None and len(value) > f.max_length:
            return "longer than max_length"
        if f.min_length is not None and len(value) < f.min_length:
            return "shorter than min_length"
        if f.pattern and not re.fullmatch(f.pattern, value):
            return "does not match pattern"
        return None
    if f.type in ("number", "money", "date", "datetime"):
        if isinstance(value, bool):
            return f"not a valid {f.type} value"
        typed = _limit(f.type, value, f.integer)
        if typed is None:
            return f"not a valid {f.type} value" + (
                " (at most 2 decimal places)" if f.type == "money" else "")
        try:
            if f.min is not None and typed < f.min:
                return "below min"
            if f.max is not None and typed > f.max:
                return "above max"
        except TypeError:
            return "cannot be compared with min/max"
        return None
    if f.type == "choice":
        v = ("true" if value else "false") if isinstance(value, bool) else value
        if isinstance(v, (list, dict)) or str(v) not in f.choice_values():
            return f"{value!r} is not one of the choices"
        return None
    if f.type == "multi_choice":
        if not isinstance(value, list):
            return "must be a list of choice values"
        bad = [v for v in value if str(v) not in f.choice_values()]
        return f"{bad[0]!r} is not one of the choices" if bad else None
    if f.type == "yes_no":
        return None if isinstance(value, bool) else "must be true or false"
    return None


def _check_visibility(c: _Checker, node: LineDict, fields: list[FieldDef]) -> None:
    names = {f.name for f in fields}
    deps: dict[str, set[str]] = {}
    raw_fields = node.get("fields")
    for i, f in enumerate(fields):
        if f.visible_rule is None:
            continue
        used = rule_fields(f.visible_rule)
        element = f"fields[{_index_of(raw_fields, f.name, i)}].visible_if"
        line = _line_of_field_key(raw_fields, f.name, "visible_if", f.line)
        for ref in sorted(used):
            if ref == f.name:
                c.err(line, element, "refers to its own field")
            elif ref not in names:
                c.err(line, element, f"refers to unknown field {ref!r}")
        deps[f.name] = {r for r in used if r in names and r != f.name}
    # cycles (a depends on b, b on a) would make visibility undecidable
    for i, f in enumerate(fields):
        if f.name in deps and _reaches(deps, f.name):
            c.err(_line_of_field_key(raw_fields, f.name, "visible_if", f.line),
                  f"fields[{_index_of(raw_fields, f.name, i)}].visible_if",
                  "visibility rules form a cycle")


def _reaches(deps: dict[str, set[str]], start: str) -> bool:
    seen: set[str] = set()
    stack = list(deps.get(start, ()))
    while stack:
        n = stack.pop()
        if n == start:
            return True
        if n not in seen:
            seen.add(n)
            stack.extend(deps.get(n, ()))
    return False


def _index_of(raw_fields: Any, name: str, fallback: int) -> int:
    if isinstance(raw_fields, list):
        for i, item in enumerate(raw_fields):
            if isinstance(item, dict) and item.get("name") == name:
                return i
    return fallback


def _line_of_field_key(raw_fields: Any, name: str, key: str, fallback: int) -> int:
    if isinstance(raw_fields, list):
        for item in raw_fields:
            if isinstance(item, LineDict) and item.get("name") == name:
                return item.line_of(key)
    return fallback


def display_name(path: Path, forms_root: Path) -> str:
    """``forms/repair/accept.yaml``: the path as a consultant sees it."""
    try:
        return (Path(forms_root.name) / path.resolve().relative_to(forms_root.resolve())).as_posix()
    except ValueError:
        return str(path)


def expected_id(path: Path, forms_root: Path) -> str | None:
    try:
        rel = path.resolve().relative_to(forms_root.resolve())
    except ValueError:
        return None
    return rel.with_suffix("").as_posix()


def _parse(path: Path, forms_root: Path) -> tuple[FormDef | None, list[AssetError]]:
    name = display_name(path, forms_root)
    try:
        node = load_yaml_file(path, name)
    except AssetInvalid as exc:
        return None, list(exc.errors)
    return _parse_node(node, name, expected_id(path, forms_root))


def parse_form_text(text: str, name: str, form_id: str | None = None) -> tuple[FormDef | None, list[AssetError]]:
    """Parse a form from its YAML text (a stored form version); ``form_id`` is expected."""
    from app.assets.yaml_lines import load_yaml_text

    try:
        node = load_yaml_text(text, name)
    except AssetInvalid as exc:
        return None, list(exc.errors)
    return _parse_node(node, name, form_id)


def _parse_node(node: Any, name: str, want: str | None) -> tuple[FormDef | None, list[AssetError]]:
    c = _Checker(name)
    if not isinstance(node, LineDict):
        c.err(getattr(node, "line", 1) or 1, "form", "must be a mapping with id, title, fields")
        return None, c.errors
    c.keys(node, _TOP_KEYS, "")
    form_id = node.get("id")
    if not isinstance(form_id, str) or not form_id:
        c.err(node.line_of("id"), "id", "missing")
    elif want is not None and form_id != want:
        c.err(node.line_of("id"), "id", f"{form_id!r} does not match the file path (expected {want!r})")
    title = c.text(node, "title", "", required=True)
    description = c.text(node, "description", "", required=False)

    context: list[ContextDef] = []
    raw_context = node.get("context", [])
    if raw_context is None:
        raw_context = []
    if not isinstance(raw_context, list):
        c.err(node.line_of("context"), "context", "must be a list")
    else:
        for i, item in enumerate(raw_context):
            where = f"context[{i}]"
            if not isinstance(item, LineDict):
                c.err(raw_context.line_of(i), where, "must be a mapping with name and label")
                continue
            c.keys(item, _CONTEXT_KEYS, where)
            cname = item.get("name")
            if not isinstance(cname, str) or not _NAME.match(cname):
                c.err(item.line_of("name"), f"{where}.name", "missing or not an identifier")
                continue
            ctype = item.get("type")
            if ctype is not None and ctype not in FIELD_TYPES:
                c.err(item.line_of("type"), f"{where}.type", f"unknown field type {ctype!r}")
                ctype = None
            context.append(ContextDef(cname, c.text(item, "label", where, required=True) or {}, ctype))

    fields: list[FieldDef] = []
    raw_fields = node.get("fields")
    if not isinstance(raw_fields, list):
        c.err(node.line_of("fields"), "fields",
              "missing: a list of fields" if raw_fields is None else "must be a list")
        raw_fields = []
    seen: dict[str, int] = {}
    for i, item in enumerate(raw_fields):
        f = _parse_field(c, item, f"fields[{i}]", raw_fields.line_of(i))
        if f is None:
            continue
        if f.name in seen:
            c.err(item.line_of("name"), f"fields[{i}].name",
                  f"duplicate field name {f.name!r} (first at fields[{seen[f.name]}])")
            continue
        seen[f.name] = i
        fields.append(f)
    _check_visibility(c, node, fields)
    if c.errors:
        return None, sorted(c.errors, key=lambda e: e.line)
    return FormDef(
        id=form_id, title=title or {}, description=description, context=tuple(context),
        fields=tuple(fields), file=name,
    ), []


def validate_form_file(path: Path, forms_root: Path) -> list[AssetError]:
    """Every problem in one form file (empty list when it is usable)."""
    return _parse(Path(path), Path(forms_root))[1]


def load_form(path: Path, forms_root: Path) -> FormDef:
    """Load one form file; raises ``AssetInvalid`` carrying every problem found."""
    form, errors = _parse(Path(path), Path(forms_root))
    if errors or form is None:
        raise AssetInvalid(errors)
    return form


class FormRegistry:
    """All forms under ``forms_root`` (``**/*.yaml``); a broken file doesn't stop the others."""

    def __init__(self, forms_root: Path):
        self.root = Path(forms_root)
        self.errors: list[AssetError] = []
        self._forms: dict[str, FormDef] = {}
        self.reload()

    def reload(self) -> None:
        self.errors, self._forms = [], {}
        if not self.root.is_dir():
            return
        for path in sorted(self.root.rglob("*.yaml")):
            if path.parent.name in DATA_FOLDERS:
                continue
            form, errors = _parse(path, self.root)
            if errors:
                self.errors.extend(errors)
            elif form is not None:
                self._forms[form.id] = form

    def get(self, form_id: str) -> FormDef:
        """The form with this id; ``KeyError`` if missing or broken."""
        return self._forms[form_id]

    def __contains__(self, form_id: object) -> bool:
        return form_id in self._forms

    def ids(self) -> list[str]:
        return sorted(self._forms)
