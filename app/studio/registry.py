"""What the modeler's properties panel may choose from: the forms a task can show (the draft's
and the installation's), the roles a task can go to, the operations a service task can call
with their parameters (from each operation's marshmallow schema)."""
from __future__ import annotations

from marshmallow import fields as mm

from app.modules import packages
from app.studio.models import StudioDraft

_TYPES = [(mm.Boolean, "bool"), (mm.Integer, "int"), (mm.Decimal, "decimal"), (mm.Float, "number"),
          (mm.DateTime, "datetime"), (mm.Date, "date"), (mm.List, "list"), (mm.Dict, "dict"),
          (mm.Nested, "dict"), (mm.String, "string")]


def _type_name(field) -> str:
    for cls, name in _TYPES:
        if isinstance(field, cls):
            return name
    return "string"


def form_ids(session, draft: StudioDraft | None) -> list[str]:
    """Form ids a user task may name: the draft's own, the installation's, stored packages'."""
    found = set(packages._installation_form_ids(None)) | set(packages._stored_form_ids(session))
    for row in packages.stored_packages(session):
        found |= {p[len("forms/"):-len(".yaml")] for p in row.files if packages._kind(p) == "form"}
    if draft is not None:
        mine = {p[len("forms/"):-len(".yaml")] for p in (draft.files or {}) if packages._kind(p) == "form"}
        # the draft's forms replace the stored forms of the same module
        found = {f for f in found if not f.startswith(f"{draft.module_id}/")} | mine
    return sorted(found)


def roles() -> list[dict]:
    from app.roles import KNOWN_ROLES
    from app.web.labels import code_label

    return [{"code": code, "label": code_label(code)} for code in sorted(KNOWN_ROLES)]


def operations() -> list[dict]:
    from app.engine.operations import _REGISTRY
    from app.platform.discovery import load_operations
    from app.web.labels import code_label

    load_operations()
    out = []
    for name in sorted(_REGISTRY):
        op = _REGISTRY[name]
        params = []
        if op.schema is not None:
            for pname, field in op.schema().fields.items():
                if field.dump_only:
                    continue
                params.append({"name": field.data_key or pname, "required": bool(field.required),
                               "type": _type_name(field),
                               "description": str((field.metadata or {}).get("description") or "")})
        label = code_label(name)
        out.append({"name": name, "label": label if label != name else (op.description or name),
                    "description": op.description, "params": params})
    return out


def registry(session, draft: StudioDraft | None) -> dict:
    return {"forms": form_ids(session, draft), "roles": roles(), "operations": operations()}
