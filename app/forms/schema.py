"""The server side of a form: a marshmallow schema built from the same ``FormDef``.

``build_schema`` validates JSON-ish data (API calls, engine tests); ``parse_submission``
takes an HTML form post (strings, checkboxes, uploaded files), stores the files and
returns validated task data, the errors per field, and the raw values for a re-render.
Visibility rules are evaluated here on the submitted values, whatever the browser did:
hidden fields are dropped, and a field is required only while it is visible.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from marshmallow import (
    Schema, ValidationError, fields, post_load, pre_load, validate, validates_schema,
)

from app.forms.definitions import FieldDef, FormDef, UPLOAD_TYPES
from app.forms.messages import human_bytes, msg, resolve_locale
from app.forms.references import find_reference, staff_eligible
from app.forms.rules import evaluate, rule_fields
from app.forms.uploads import UploadRejected, describe_upload, store_upload

__all__ = ["build_schema", "parse_submission", "visible_fields", "jsonable", "FormSchema"]

_CENT = Decimal("0.01")


# --------------------------------------------------------------------------- visibility


def _empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, (list, tuple)):
        return len(value) == 0
    return False


_YES = {"yes", "true", "1", "on", "y"}
_NO = {"no", "false", "0", "off", "n"}


def _rule_value(f: FieldDef, value: Any) -> Any:
    """A yes/no answer seen by rules as True/False; anything unreadable counts as empty."""
    if f.type != "yes_no" or value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    return True if text in _YES else False if text in _NO else None


def visible_fields(form: FormDef, values: Mapping[str, Any]) -> set[str]:
    """Names of the fields visible for these values; a hidden field counts as empty."""
    memo: dict[str, bool] = {}
    by_name = {f.name: f for f in form.fields}

    def vis(name: str) -> bool:
        if name in memo:
            return memo[name]
        f = by_name[name]
        if f.visible_rule is None:
            memo[name] = True
            return True
        memo[name] = False  # cycles are refused at load time; this only guards recursion
        seen = {n: (_rule_value(by_name[n], values.get(n)) if n in by_name and vis(n) else None)
                for n in rule_fields(f.visible_rule)}
        memo[name] = evaluate(f.visible_rule, seen)
        return memo[name]

    return {name for name in by_name if vis(name)}


# --------------------------------------------------------------------------- fields


class Money(fields.Field):
    """Decimal with exactly 2 places; '12.345', 'abc', NaN and booleans are refused."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
            raise self.make_error("invalid")
        try:
            d = Decimal(str(value).strip().replace(",", "")) if not isinstance(value, Decimal) else value
        except (InvalidOperation, ValueError):
            raise self.make_error("invalid") from None
        if not d.is_finite() or d.as_tuple().exponent < -2:
            raise self.make_error("invalid")
        return d.quantize(_CENT)


class Number(fields.Field):
    """Decimal (never float), or int when the field says ``integer: true``."""

    def __init__(self, *, integer: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.integer = integer

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
            raise self.make_error("invalid")
        try:
            d = value if isinstance(value, Decimal) else Decimal(str(value).strip())
        except (InvalidOperation, ValueError):
            raise self.make_error("invalid") from None
        if not d.is_finite():
            raise self.make_error("invalid")
        if self.integer:
            if d != d.to_integral_value():
                raise self.make_error("invalid")
            return int(d)
        return d


class Text(fields.String):
    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs).strip()


class UploadList(fields.Field):
    """A list of stored-upload references; each is re-read from storage, not trusted."""

    def __init__(self, *, fdef: FieldDef, locale: str, **kwargs):
        super().__init__(**kwargs)
        self.fdef, self.locale = fdef, locale

    def _deserialize(self, value, attr, data, **kwargs):
        items = value if isinstance(value, (list, tuple)) else [value]
        refs, errors = [], []
        for item in items:
            if isinstance(item, str):
                try:
                    item = json.loads(item)
                except ValueError:
                    item = {"sha256": item}
            if not isinstance(item, Mapping) or not isinstance(item.get("sha256"), str):
                raise self.make_error("invalid")
            ref = describe_upload(item["sha256"], item.get("name"))
            if ref is None:
                errors.append(msg("upload_missing", self.locale))
                continue
            f = self.fdef
            if ref["content_type"] not in f.accepted_types:
                errors.append(UploadRejected("bad_type", name=ref["name"],
                                             accept=", ".join(f.accepted_types)).message(self.locale))
            elif f.max_bytes is not None and ref["size"] > f.max_bytes:
                errors.append(UploadRejected("too_large", name=ref["name"],
                                             limit=human_bytes(f.max_bytes)).message(self.locale))
            refs.append(ref)
        if errors:
            raise ValidationError(errors)
        return refs


class Reference(fields.Field):
    """An integer id that must name a record of the form's community."""

    def __init__(self, *, fdef: FieldDef, session, community_id: int, locale: str, **kwargs):
        super().__init__(**kwargs)
        self.fdef, self.session, self.community_id, self.locale = fdef, session, community_id, locale

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool):
            raise self.make_error("invalid")
        try:
            record_id = int(str(value).strip())
        except ValueError:
            raise self.make_error("invalid") from None
        record = None
        if 0 < record_id < 2**31:  # beyond an INTEGER column PostgreSQL would raise
            record = find_reference(self.session, self.fdef, record_id, self.community_id)
        if record is None:
            raise ValidationError(msg("not_found", self.locale))
        if self.fdef.type == "staff" and not staff_eligible(record, self.fdef):
            raise ValidationError(msg("not_eligible", self.locale))
        return record_id


class NaiveDateTime(fields.DateTime):
    """ISO date-time as typed in the browser (``datetime-local``: no zone). A value with a
    zone is refused rather than guessed: task data keeps one convention."""

    def _deserialize(self, value, attr, data, **kwargs):
        result = super()._deserialize(value, attr, data, **kwargs)
        if result.tzinfo is not None:
            raise self.make_error("invalid")
        return result


def _limits(f: FieldDef, locale: str) -> list:
    out: list = []
    if f.min is not None:
        out.append(validate.Range(min=f.min, error=msg("min", locale, min=f.min)))
    if f.max is not None:
        out.append(validate.Range(max=f.max, error=msg("max", locale, max=f.max)))
    if f.min_length is not None:
        out.append(validate.Length(min=f.min_length, error=msg("min_length", locale, min=f.min_length)))
    if f.max_length is not None:
        out.append(validate.Length(max=f.max_length, error=msg("max_length", locale, max=f.max_length)))
    if f.pattern:
        out.append(validate.Regexp(f"(?:{f.pattern})\\Z", error=msg("pattern", locale)))
    if f.type in UPLOAD_TYPES:
        if f.min_files is not None:
            out.append(validate.Length(min=f.min_files, error=msg("min_files", locale, min=f.min_files)))
        if f.max_files is not None:
            out.append(validate.Length(max=f.max_files, error=msg("max_files", locale, max=f.max_files)))
    return out


def _make_field(f: FieldDef, locale: str, session, community_id) -> fields.Field:
    kw: dict[str, Any] = {"required": False, "allow_none": False, "validate": _limits(f, locale)}
    required_msg = msg("required", locale)

    def em(invalid_key: str) -> dict[str, str]:
        return {"required": required_msg, "null": required_msg, "invalid": msg(invalid_key, locale)}

    t = f.type
    if t in ("text", "textarea"):
        return Text(error_messages=em("invalid_text"), **kw)
    if t == "money":
        return Money(error_messages=em("invalid_money"), **kw)
    if t == "number":
        return Number(integer=f.integer, error_messages=em(
            "invalid_integer" if f.integer else "invalid_number"), **kw)
    if t == "date":
        return fields.Date(error_messages=em("invalid_date"), **kw)
    if t == "datetime":
        return NaiveDateTime(format="iso", error_messages=em("invalid_datetime"), **kw)
    if t == "choice":
        kw["validate"] = [validate.OneOf(f.choice_values(), error=msg("invalid_choice", locale))]
        return fields.String(error_messages=em("invalid_choice"), **kw)
    if t == "multi_choice":
        inner = fields.String(validate=validate.OneOf(
            f.choice_values(), error=msg("invalid_choice", locale)),
            error_messages=em("invalid_choice"))
        return fields.List(inner, error_messages=em("invalid_list"), **kw)
    if t == "yes_no":
        return fields.Boolean(
            truthy={True, *_YES}, falsy={False, *_NO},
            error_messages=em("invalid_yes_no"), **kw)
    if t in UPLOAD_TYPES:
        return UploadList(fdef=f, locale=locale, error_messages=em("invalid_list"), **kw)
    if f.is_reference:
        return Reference(fdef=f, session=session, community_id=community_id, locale=locale,
                         error_messages=em("not_found"), **kw)
    raise ValueError(f"unsupported field type {t!r}")


class FormSchema(Schema):
    """Base of the generated schemas; ``form_def`` and ``locale`` are set per form."""

    form_def: FormDef
    locale: str = "zh"

    @pre_load
    def _drop_empty_and_hidden(self, data, **kwargs):
        if not isinstance(data, Mapping):
            return data
        visible = visible_fields(self.form_def, data)
        names = set(self.form_def.field_names)
        out = {}
        for key, value in data.items():
            if key in names:
                if key in visible and not _empty(value):
                    out[key] = value
            else:
                out[key] = value  # unknown keys: marshmallow reports them
        return out

    @validates_schema(skip_on_field_errors=False, pass_original=True)
    def _required_when_visible(self, data, original_data, **kwargs):
        if not isinstance(original_data, Mapping):
            return
        visible = visible_fields(self.form_def, original_data)
        errors = {}
        for f in self.form_def.fields:
            if f.name not in visible or not _empty(original_data.get(f.name)):
                continue
            if f.required:
                errors[f.name] = [msg("required", self.locale)]
            elif f.min_files:  # "at least n photos" makes an empty upload field an error
                errors[f.name] = [msg("min_files", self.locale, min=f.min_files)]
        if errors:
            raise ValidationError(errors)

    @post_load
    def _fill_visible(self, data, **kwargs):
        """Visible fields left empty are present as None ([] for lists): task data keeps
        a stable shape for gateway conditions; hidden fields are absent."""
        visible = visible_fields(self.form_def, data)
        out = {}
        for f in self.form_def.fields:
            if f.name in data:
                out[f.name] = data[f.name]
            elif f.name in visible:
                out[f.name] = [] if f.type in UPLOAD_TYPES + ("multi_choice",) else None
        return out


def build_schema(
    form: FormDef, *, session=None, community_id: int | None = None, locale: str | None = None
) -> Schema:
    """A marshmallow schema validating submissions of ``form``.

    Reference fields need ``session`` and ``community_id``: without them the schema could
    not tell another community's record from one of ours, so building it fails instead.
    """
    locale = resolve_locale(locale)
    if any(f.is_reference for f in form.fields) and (session is None or community_id is None):
        raise ValueError(f"form {form.id!r} has reference fields: pass session and community_id")
    attrs: dict[str, Any] = {
        f.name: _make_field(f, locale, session, community_id) for f in form.fields
    }
    attrs.update(form_def=form, locale=locale,
                 error_messages={"unknown": msg("unknown_field", locale),
                                 "type": msg("invalid_list", locale)})
    cls = type(f"Form_{form.id.replace('/', '_')}", (FormSchema,), attrs)
    return cls()


# --------------------------------------------------------------------------- HTML posts


def _flatten(messages: Any) -> list[str]:
    if isinstance(messages, str):
        return [messages]
    if isinstance(messages, Mapping):
        return [m for v in messages.values() for m in _flatten(v)]
    if isinstance(messages, (list, tuple)):
        return [m for v in messages for m in _flatten(v)]
    return [str(messages)]


def _kept_refs(values: list[str]) -> list[dict]:
    refs = []
    for v in values:
        try:
            item = json.loads(v)
        except ValueError:
            item = {"sha256": v}
        if isinstance(item, Mapping):
            ref = describe_upload(str(item.get("sha256", "")), item.get("name"))
            if ref is not None:
                refs.append(ref)
    return refs


def parse_submission(
    form: FormDef,
    request_form,
    files,
    *,
    session=None,
    community_id: int | None = None,
    locale: str | None = None,
    on_store=None,
) -> tuple[dict, dict[str, list[str]], dict]:
    """HTML post → (task data, errors per field, raw values for a re-render).

    ``on_store(ref)`` is called for every file stored by this request (so the caller can note
    who uploaded it for which form: a *kept* reference is not trusted on its own).

    ``request_form`` and ``files`` are werkzeug ``MultiDict``s (``request.form``,
    ``request.files``). New uploads of visible upload fields are stored at once; their
    references come back in ``raw`` so the re-rendered form keeps them (as hidden,
    checked "keep" boxes) and the user does not upload them again. ``data`` is empty
    when there are errors.
    """
    locale = resolve_locale(locale)
    raw: dict[str, Any] = {}
    for f in form.fields:
        if f.type == "multi_choice":
            raw[f.name] = [v for v in request_form.getlist(f.name) if v != ""]
        elif f.type in UPLOAD_TYPES:
            raw[f.name] = _kept_refs(request_form.getlist(f.name))
        else:
            raw[f.name] = request_form.get(f.name, "")
    errors: dict[str, list[str]] = {}
    visible = visible_fields(form, raw)
    for f in form.fields:
        if f.type not in UPLOAD_TYPES or f.name not in visible:
            continue
        known = {r["sha256"] for r in raw[f.name]}
        for storage in files.getlist(f.name) if files is not None else []:
            if storage is None or not getattr(storage, "filename", None):
                continue  # an empty <input type=file> posts a nameless part
            try:
                ref = store_upload(storage.stream, storage.filename,
                                   accept=f.accepted_types, max_bytes=f.max_bytes)
            except UploadRejected as exc:
                errors.setdefault(f.name, []).append(exc.message(locale))
                continue
            if on_store is not None:
                on_store(ref)
            if ref["sha256"] not in known:
                known.add(ref["sha256"])
                raw[f.name].append(ref)
    schema = build_schema(form, session=session, community_id=community_id, locale=locale)
    try:
        data = schema.load({k: v for k, v in raw.items()})
    except ValidationError as exc:
        rejected = set(errors)  # a refused upload already says what is wrong there
        for name, messages in exc.normalized_messages().items():
            if name in rejected:
                continue
            for m in _flatten(messages):
                if m not in errors.setdefault(name, []):
                    errors[name].append(m)
        data = {}
    if errors:
        data = {}
    return data, errors, raw


def jsonable(data: Mapping[str, Any]) -> dict:
    """Task data in JSON types: Decimal → '12.50' (text, never float), dates → ISO text."""

    def conv(v: Any) -> Any:
        if isinstance(v, Decimal):
            return str(v)
        if isinstance(v, (date, datetime)):
            return v.isoformat()
        if isinstance(v, list):
            return [conv(x) for x in v]
        if isinstance(v, Mapping):
            return {k: conv(x) for k, x in v.items()}
        return v

    return {k: conv(v) for k, v in data.items()}
