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


def form_names(forms: dict[str, bytes], module_id: str | None) -> dict[str, bytes]:
    """``draft.yaml`` uploaded for module ``notice`` is ``notice/draft.yaml`` (a name with a
    folder keeps it), as docs/authoring.md promises for the page and the JSON API alike."""
    out = {}
    for name, data in forms.items():
        name = name.replace("\\", "/")
        if "/" not in name and module_id:
            name = f"{module_id}/{name}"
        out[name] = data
    return out


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


def module_errors(session: Session, bpmn_name: str, bpmn_data: bytes, module_id: str | None,
                  catalog=None) -> list[AssetError]:
    """A process upload names a module of the catalogue that is not an uploaded package, and
    its process id belongs to that module only (never to another module, or to none)."""
    from app.modules.catalog import load_catalog
    from app.modules.packages import with_packages

    if catalog is None:
        catalog = with_packages(session, load_catalog(get_settings().assets_dir))
    if not module_id:
        return [AssetError(bpmn_name, 0, "module",
                           "name the module this process belongs to (e.g. notice); a process "
                           "without a module could never be enabled per community")]
    module = catalog.get(module_id)
    if module is None:
        return [AssetError(bpmn_name, 0, "module",
                           f"unknown module {module_id!r}: upload its module package first "
                           f"(known: {', '.join(sorted(catalog.modules))})")]
    if module.package_id is not None:
        return [AssetError(bpmn_name, 0, "module",
                           f"module {module_id!r} is an uploaded package: change it by uploading a "
                           "new package version")]
    try:
        from app.engine.definitions import build_definition
        from app.engine.xmlsafe import parse_xml

        tree, _ = parse_xml(bpmn_data, bpmn_name)
        process_id = build_definition(tree, bpmn_name).process_id
    except Exception:  # noqa: BLE001 - validation reports the file's own problems
        return []
    from sqlalchemy import select

    owners = set(session.scalars(select(ProcessVersion.module_id)
                                 .where(ProcessVersion.process_id == process_id).distinct()))
    others = sorted(o or "(none)" for o in owners if o != module_id)
    if others:
        return [AssetError(bpmn_name, 0, process_id,
                           f"process id {process_id!r} belongs to module {others[0]!r}, not "
                           f"{module_id!r}; a process id belongs to one module")]
    return []


def upload_process(
    session: Session, *, bpmn_name: str, bpmn_data: bytes, forms: dict[str, bytes],
    module_id: str | None, actor: str, forms_root: Path | None = None, catalog=None,
) -> UploadResult:
    """Validate everything; on success store the forms and deploy a new process version.

    Nothing is written when any file has an error. Identical content keeps its version.
    The module must exist (shipped, not an uploaded package) and own the process id.
    """
    root = forms_root or get_settings().assets_dir / "forms"
    errors, scratch = check_upload(bpmn_name, bpmn_data, forms, root, session=session)
    try:
        if not errors:
            errors = module_errors(session, bpmn_name, bpmn_data, module_id, catalog)
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
