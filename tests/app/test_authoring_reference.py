"""docs/authoring.md's reference region is exactly what scripts/authoring_reference.py generates.

A new operation, parameter, field type, role, channel or expression function without a doc
update fails here: run ``python scripts/authoring_reference.py`` and commit the result.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _generator():
    spec = importlib.util.spec_from_file_location("authoring_reference", ROOT / "scripts" / "authoring_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_reference_matches_the_code():
    gen = _generator()
    doc = (ROOT / "docs" / "authoring.md").read_text(encoding="utf-8")
    assert gen.START in doc and gen.END in doc
    assert gen.render(doc) == doc, "docs/authoring.md is stale: run python scripts/authoring_reference.py"


def test_reference_covers_every_operation_field_type_role_and_channel():
    from app.domains.notifications.delivery import CHANNELS
    from app.engine.evaluator import SAFE_FUNCTIONS
    from app.engine.operations import _REGISTRY
    from app.forms.definitions import FIELD_TYPES
    from app.security.roles import ROLE_KEYS

    text = _generator().generate()
    for name in [*_REGISTRY, *FIELD_TYPES, *ROLE_KEYS.values(), *CHANNELS, *SAFE_FUNCTIONS]:
        assert f"`{name}`" in text, name


def test_a_new_operation_makes_the_doc_stale():
    from marshmallow import Schema, fields

    from app.engine.operations import operation, unregister

    gen = _generator()
    doc = (ROOT / "docs" / "authoring.md").read_text(encoding="utf-8")

    class P(Schema):
        colour = fields.String(required=True)

    operation("zz.test_only", schema=P, results=["painted"])(lambda params, ctx: {"painted": True})
    try:
        fresh = gen.render(doc)
        assert fresh != doc and "`zz.test_only`" in fresh and "`colour`" in fresh and "`painted`" in fresh
        # the hand-written parts around the region are kept
        assert fresh.split(gen.START)[0] == doc.split(gen.START)[0]
        assert fresh.split(gen.END)[1] == doc.split(gen.END)[1]
    finally:
        unregister("zz.test_only")


def test_the_roles_listed_are_the_roles_validation_knows():
    from app.roles import KNOWN_ROLES
    from app.security.roles import ROLE_KEYS

    assert set(ROLE_KEYS.values()) == set(KNOWN_ROLES)
