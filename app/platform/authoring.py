"""Consultant uploads: validate a BPMN process (and its forms) and deploy a new version.

Uploaded files are parsed safely (size limit, no DTD/entities: see app.engine.xmlsafe)
and never executed. Forms uploaded alongside are validated in a scratch folder with
the same layout as ``forms/`` (shipped forms plus forms uploaded earlier) and, when
everything is valid, stored as immutable form versions pinned to the new process
version. Nothing is written into the code checkout.
"""
from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session

from app.platform.discovery import load_operations

load_operations()  # registers every operation before validation
from app.assets.errors import AssetError, AssetInvalid
from app.engine import deploy_process
from app.engine.models import ProcessVersion
from app.engine.operations import known_operations
from app.engine.validation import validate_bpmn
from app.forms.definitions import FormRegistry, validate_form_file
from app.roles import KNOWN_ROLES
from app.settings import get_settings


@dataclass
class UploadResult:
    errors: list[AssetError] = field(default_factory=list)
    version: ProcessVersion | None = None
    forms: list[str] = field(default_factory=list)


def _safe_form_path(name: str) -> str | None:
    """'repair/accept.yaml' style relative names only: no absolute paths, no '..'."""
    parts = Path(name.replace("\\", "/")).parts
    if not parts or any(p in ("..", "") or p.startswith(".") for p in parts) or Path(name).is_absolute():
        return None
    if not name.endswith(".yaml"):
        return None
    return "/".join(parts)


def _write_stored_forms(session: Session | None, scratch: Path) -> None:
    """Forms uploaded earlier (newest version of each) join the scratch folder."""
    if session is None:
        return
    from sqlalchemy import func, select

    from app.forms.models import FormVersion

    newest = select(FormVersion.form_id, func.max(FormVersion.version).label("v")).group_by(FormVersion.form_id).subquery()
    rows = session.scalars(select(FormVersion).join(
        newest, (FormVersion.form_id == newest.c.form_id) & (FormVersion.version == newest.c.v)))
    for row in rows:
        target = scratch / f"{row.form_id}.yaml"
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(row.text, encoding="utf-8")


def check_upload(
    bpmn_name: str, bpmn_data: bytes, forms: dict[str, bytes], forms_root: Path | None = None,
    session: Session | None = None,
) -> tuple[list[AssetError], Path]:
    """Validate without deploying; returns the errors and a scratch forms folder."""
    settings = get_settings()
    root = forms_root or settings.assets_dir / "forms"
    errors: list[AssetError] = []
    scratch = Path(tempfile.mkdtemp(prefix="ef-forms-"))
    shutil.copytree(root, scratch, dirs_exist_ok=True)
    _write_stored_forms(session, scratch)
    for name, data in forms.items():
        rel = _safe_form_path(name)
        if rel is None:
            errors.append(AssetError(name, 0, "file", "form files must be named <module>/<form>.yaml"))
            continue
        if len(data) > settings.bpmn_max_bytes:
            errors.append(AssetError(name, 0, "file", f"larger than {settings.bpmn_max_bytes} bytes"))
            continue
        target = scratch / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        errors.extend(validate_form_file(target, scratch))
    known_forms = set(FormRegistry(scratch).ids())
    if len(bpmn_data) > settings.bpmn_max_bytes:
        errors.append(AssetError(bpmn_name, 0, "file", f"larger than {settings.bpmn_max_bytes} bytes"))
    else:
        errors.extend(validate_bpmn(bpmn_data, bpmn_name, known_forms, known_operations(), set(KNOWN_ROLES)))
    return errors, scratch


def upload_process(
    session: Session, *, bpmn_name: str, bpmn_data: bytes, forms: dict[str, bytes],
    module_id: str | None, actor: str, forms_root: Path | None = None,
) -> UploadResult:
    """Validate everything; on success store the forms and deploy a new process version.

    Nothing is written when any file has an error. Identical content keeps its version.
    """
    root = forms_root or get_settings().assets_dir / "forms"
    errors, scratch = check_upload(bpmn_name, bpmn_data, forms, root, session=session)
    try:
        if errors:
            return UploadResult(errors=errors)
        known_forms = set(FormRegistry(scratch).ids())
        try:
            version = deploy_process(session, bpmn_name, bpmn_data, module_id, actor, known_forms)
        except AssetInvalid as exc:
            return UploadResult(errors=exc.errors)
        from app.forms.versions import pin_forms

        texts = {_safe_form_path(name)[:-len(".yaml")]: data.decode("utf-8") for name, data in forms.items()}
        pin_forms(session, version, scratch, texts=texts, actor=actor)
        return UploadResult(version=version, forms=sorted(texts))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
