"""API input schemas enforce the database's column lengths.

A string longer than its ``String(n)`` column is refused by PostgreSQL (a 500 if nobody checks)
and silently stored by SQLite. ``column_lengths(Model)`` on a marshmallow schema adds a
``Length(max=n)`` validator to every string field named like a length-limited column of the
model, so the API answers 400 with the field's message on both databases.
"""
from __future__ import annotations

from marshmallow import fields, validate
from sqlalchemy import String, inspect


def string_lengths(model) -> dict[str, int]:
    lengths = {}
    for column in inspect(model).columns:
        if isinstance(column.type, String) and column.type.length:
            lengths[column.key] = column.type.length
    return lengths


def column_lengths(model):
    """Class decorator for a marshmallow ``Schema`` that loads attributes of ``model``."""

    def decorate(schema_cls):
        lengths = string_lengths(model)
        for name, field in schema_cls._declared_fields.items():
            key = field.attribute or name
            if isinstance(field, fields.String) and key in lengths:
                field.validators = [*field.validators, validate.Length(max=lengths[key])]
        return schema_cls

    return decorate
