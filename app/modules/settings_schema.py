"""A marshmallow schema per module, built from the settings declared in its menu entry.

The same schema validates the settings form and the JSON API. Decimal and money settings
load as ``Decimal`` and are stored in the database JSON as strings, never floats.
Error messages come in Simplified Chinese (``zh``) or English (``en``).
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from app.modules.catalog import DECIMAL_TYPES, INT_TYPES, ModuleDef, SettingDef

MESSAGES: dict[str, dict[str, str]] = {
    "unknown": {"zh": "未知的设置项。", "en": "Unknown setting."},
    "null": {"zh": "不能为空。", "en": "May not be empty."},
    "required": {"zh": "必填。", "en": "Required."},
    "bool": {"zh": "应为“是”或“否”。", "en": "Must be yes or no."},
    "int": {"zh": "应为整数。", "en": "Must be a whole number."},
    "decimal": {"zh": "应为数字，如 \"0.85\"。", "en": "Must be a number, e.g. \"0.85\"."},
    "float": {
        "zh": "请以字符串提交小数（如 \"0.85\"），以免精度丢失。",
        "en": "Send decimals as strings (e.g. \"0.85\") so no precision is lost.",
    },
    "special": {"zh": "应为有限数字。", "en": "Must be a finite number."},
    "too_large": {"zh": "数字过大。", "en": "Number too large."},
    "money_places": {"zh": "金额最多两位小数（精确到分）。",
                     "en": "Money has at most 2 decimal places (fen)."},
    "string": {"zh": "应为文本。", "en": "Must be text."},
    "min": {"zh": "不能小于 {min}。", "en": "Must be at least {min}."},
    "max": {"zh": "不能大于 {max}。", "en": "Must be at most {max}."},
    "range": {"zh": "应在 {min} 到 {max} 之间。", "en": "Must be between {min} and {max}."},
    "choice": {"zh": "应为以下之一：{choices}。", "en": "Must be one of: {choices}."},
}


def _msg(key: str, locale: str) -> str:
    texts = MESSAGES[key]
    return texts.get(locale) or texts["en"]


class _ExactDecimal(fields.Decimal):
    """A Decimal field that refuses floats: a float has already lost the exact value."""

    def __init__(self, *, money: bool = False, **kwargs):
        self.money = money
        super().__init__(as_string=True, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, float):
            raise self.make_error("float")
        number = super()._deserialize(value, attr, data, **kwargs)
        if self.money and number.as_tuple().exponent < -2:
            raise self.make_error("money_places")
        return number


class _WholeNumber(fields.Integer):
    """Integers from JSON numbers or form strings; refuses 1.5, 2.0 and true."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, float):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


def _range(setting: SettingDef, locale: str) -> list[validate.Validator]:
    lo, hi = setting.min, setting.max
    if setting.type in INT_TYPES and setting.type != "int" and lo is None:
        lo = 0  # durations and day counts are never negative
    if lo is None and hi is None:
        return []
    if lo is not None and hi is not None:
        error = _msg("range", locale).format(min=lo, max=hi)
    elif lo is not None:
        error = _msg("min", locale).format(min=lo)
    else:
        error = _msg("max", locale).format(max=hi)
    return [validate.Range(min=lo, max=hi, error=error)]


def _field(setting: SettingDef, locale: str) -> fields.Field:
    common: dict[str, Any] = {
        "load_default": setting.default,
        "metadata": {"label": setting.label, "description": setting.description,
                     "type": setting.type},
    }
    base_errors = {"null": _msg("null", locale), "required": _msg("required", locale)}
    if setting.type == "bool":
        return fields.Boolean(error_messages={**base_errors, "invalid": _msg("bool", locale)},
                              **common)
    if setting.type in INT_TYPES:
        return _WholeNumber(
            strict=False, validate=_range(setting, locale),
            error_messages={**base_errors, "invalid": _msg("int", locale),
                            "too_large": _msg("too_large", locale)},
            **common,
        )
    if setting.type in DECIMAL_TYPES:
        return _ExactDecimal(
            money=setting.type == "money", validate=_range(setting, locale),
            error_messages={**base_errors, "invalid": _msg("decimal", locale),
                            "float": _msg("float", locale), "special": _msg("special", locale),
                            "too_large": _msg("too_large", locale),
                            "money_places": _msg("money_places", locale)},
            **common,
        )
    if setting.type == "choice":
        labels = "、" if locale == "zh" else ", "
        listing = labels.join(
            f"{c.label.get(locale, c.label['en'])} ({c.value})" for c in setting.choices
        )
        return fields.String(
            validate=[validate.OneOf([c.value for c in setting.choices],
                                     error=_msg("choice", locale).format(choices=listing))],
            error_messages={**base_errors, "invalid": _msg("string", locale)},
            **common,
        )
    return fields.String(error_messages={**base_errors, "invalid": _msg("string", locale)},
                         **common)


def build_settings_schema(module: ModuleDef, locale: str = "zh") -> Schema:
    """A schema instance validating one module's settings; unknown settings are refused.

    ``schema.load(data)`` returns every setting, defaults filled in, Decimals for
    decimal/money; errors map setting names to messages in ``locale``.
    """
    attrs: dict[str, Any] = {s.name: _field(s, locale) for s in module.settings}
    attrs["error_messages"] = {"unknown": _msg("unknown", locale),
                               "type": _msg("unknown", locale)}
    attrs["Meta"] = type("Meta", (), {"unknown": RAISE, "register": False})
    schema_cls = type(f"{module.id.title().replace('_', '')}SettingsSchema", (Schema,), attrs)
    return schema_cls(unknown=RAISE)


def validate_settings(module: ModuleDef, data: dict, locale: str = "zh") -> dict[str, Any]:
    """Typed settings; raises ``marshmallow.ValidationError`` with messages in ``locale``."""
    if not isinstance(data, dict):
        raise ValidationError({"_schema": [_msg("unknown", locale)]})
    return build_settings_schema(module, locale).load(data)


def settings_to_json(module: ModuleDef, values: dict[str, Any]) -> dict[str, Any]:
    """Typed settings → JSON-safe dict for the database: Decimals become strings."""
    out: dict[str, Any] = {}
    for setting in module.settings:
        if setting.name not in values:
            continue
        value = values[setting.name]
        if setting.type in DECIMAL_TYPES and value is not None:
            value = format(Decimal(value) if not isinstance(value, Decimal) else value, "f")
        out[setting.name] = value
    return out


def settings_from_json(module: ModuleDef, stored: dict[str, Any] | None) -> dict[str, Any]:
    """Database JSON → typed settings; missing ones get their defaults, retired ones drop.

    A module's newer version may add or remove settings; stored values of settings that
    still exist are kept as they are.
    """
    stored = stored or {}
    out: dict[str, Any] = {}
    for setting in module.settings:
        value = stored.get(setting.name, setting.default)
        if setting.type in DECIMAL_TYPES and value is not None and not isinstance(value, Decimal):
            value = Decimal(str(value))
        out[setting.name] = value
    return out
