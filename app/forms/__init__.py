"""Forms defined in YAML (``forms/<module>/<name>.yaml``).

One definition renders the HTML form (render.py) and builds the marshmallow schema that
validates the submission (schema.py); the validated data becomes task data in the engine.
"""
from app.forms.definitions import FieldDef, FormDef, FormRegistry, load_form, validate_form_file
from app.forms.render import render_form
from app.forms.schema import build_schema, jsonable, parse_submission, visible_fields

__all__ = [
    "FieldDef", "FormDef", "FormRegistry", "build_schema", "jsonable", "load_form",
    "parse_submission", "render_form", "validate_form_file", "visible_fields",
]
