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

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.platform.discovery import load_operations

load_operations()  # registers every operation before validation
from app.assets.errors import AssetError
from app.engine.models import ProcessVersion
from app.engine.operations import known_operations
from app.engine.validation import check_bpmn
from app.forms.definitions import FormRegistry, validate_form_file
from app.roles import KNOWN_ROLES
from app.settings import get_settings


@dataclass
class UploadResult:
    errors: list[AssetError] = field(default_factory=list)
    version: ProcessVersion | None = None
    forms: list[str] = field(default_factory=list)
    #: the module version the upload created (communities get it when they are upgraded)
    module_version: str | None = None
    #: findings that did not refuse the upload
    warnings: list[AssetError] = field(default_factory=list)


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
    """Validate without deploying; returns every finding (errors and warnings, see
    ``AssetError.is_warning``) and a scratch forms folder."""
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
    registry = FormRegistry(scratch)
    known_forms = {form_id: {f.name for f in registry.get(form_id).fields} for form_id in registry.ids()}
    if len(bpmn_data) > settings.bpmn_max_bytes:
        errors.append(AssetError(bpmn_name, 0, "file", f"larger than {settings.bpmn_max_bytes} bytes"))
    else:
        errors.extend(check_bpmn(bpmn_data, bpmn_name, known_forms, known_operations(), set(KNOWN_ROLES)))
    return errors, scratch


def split(findings: list[AssetError]) -> tuple[list[AssetError], list[AssetError]]:
    """(errors, warnings)."""
    return [e for e in findings if not e.is_warning], [e for e in findings if e.is_warning]


def module_errors(session: Session, bpmn_name: str, bpmn_data: bytes, module_id: str | None,
                  catalog=None) -> list[AssetError]:
    """A process upload names a module of the catalogue, and its process id belongs to that
    module only (never to another module, or to none)."""
    if catalog is None:
        catalog = _catalog(session)
    if not module_id:
        return [AssetError(bpmn_name, 0, "module",
                           "name the module this process belongs to (e.g. notice); a process "
                           "without a module could never be enabled per community")]
    module = catalog.get(module_id)
    if module is None:
        return [AssetError(bpmn_name, 0, "module",
                           f"unknown module {module_id!r}: upload its module package first "
                           f"(known: {', '.join(sorted(catalog.modules))})")]
    from app.modules.packages import process_id_of

    process_id = process_id_of(bpmn_data, bpmn_name)
    if process_id is None:
        return []  # validation reports the file's own problems
    from sqlalchemy import select

    owners = set(session.scalars(select(ProcessVersion.module_id)
                                 .where(ProcessVersion.process_id == process_id).distinct()))
    others = sorted(o or "(none)" for o in owners if o != module_id)
    if others:
        return [AssetError(bpmn_name, 0, process_id,
                           f"process id {process_id!r} belongs to module {others[0]!r}, not "
                           f"{module_id!r}; a process id belongs to one module")]
    return []


def _form_ids(session: Session) -> set[str]:
    from app.forms.models import FormVersion

    root = get_settings().assets_dir / "forms"
    return set(FormRegistry(root).ids()) | set(session.scalars(select(FormVersion.form_id).distinct()))


def _catalog(session: Session):
    from app.modules.catalog import load_catalog
    from app.modules.packages import with_packages

    return with_packages(session, load_catalog(get_settings().assets_dir))


@dataclass
class _Revision:
    files: dict[str, bytes]
    base_version: str
    shipped: bool
    unchanged: bool


def _revision(session: Session, module, bpmn_name: str, bpmn_data: bytes,
              forms: dict[str, bytes]) -> _Revision:
    """The files of the module's next version: its newest version (uploaded or shipped) with
    this process (replacing the file of the same process id, else added and listed) and forms."""
    from app.modules.packages import (
        add_to_menu_list,
        process_id_of,
        shipped_files,
    )

    if module.package_id is not None:
        from app.modules.models import ModulePackage

        row = session.get(ModulePackage, module.package_id)
        base = {p: t.encode("utf-8") for p, t in row.files.items()}
        shipped = False
    else:
        base = shipped_files(module)
        shipped = True
    files = dict(base)
    menu_path = f"menus/{module.id}.yaml"
    menu = files[menu_path].decode("utf-8")
    process_id = process_id_of(bpmn_data, bpmn_name)
    target = next((p for p in module.processes
                   if p in files and process_id_of(files[p], p) == process_id), None)
    if target is None:
        stem = Path(bpmn_name.replace("\\", "/")).name
        target = f"bpmn/{module.id}/{stem if stem.endswith('.bpmn') else stem + '.bpmn'}"
        menu = add_to_menu_list(menu, "processes", target)
    files[target] = bpmn_data
    for name, data in forms.items():
        rel = f"forms/{_safe_form_path(name)}"
        if rel not in files:
            menu = add_to_menu_list(menu, "forms", rel)
        files[rel] = data
    files[menu_path] = menu.encode("utf-8")
    return _Revision(files=files, base_version=module.version, shipped=shipped, unchanged=files == base)


def upload_process(
    session: Session, *, bpmn_name: str, bpmn_data: bytes, forms: dict[str, bytes],
    module_id: str | None, actor: str, forms_root: Path | None = None, catalog=None,
) -> UploadResult:
    """Validate everything; on success store a new version of the module with this process.

    A single process upload never reaches every community at once: it becomes the next patch
    version of its module (the module's newest version, shipped or uploaded, with this process
    and these forms), stored like a module package; each community moves to it only when an
    administrator upgrades it on the module menu, and running instances keep their version.
    Nothing is written when any file has an error. Identical content changes nothing.
    """
    root = forms_root or get_settings().assets_dir / "forms"
    findings, scratch = check_upload(bpmn_name, bpmn_data, forms, root, session=session)
    shutil.rmtree(scratch, ignore_errors=True)
    errors, warnings = split(findings)
    catalog = catalog if catalog is not None else _catalog(session)
    if not errors:
        errors = module_errors(session, bpmn_name, bpmn_data, module_id, catalog)
    if errors:
        return UploadResult(errors=errors, warnings=warnings)
    from app.modules.packages import (
        next_free_version,
        process_id_of,
        set_menu_version,
        shipped_process_number,
        upload_package,
    )

    module = catalog.get(module_id)
    revision = _revision(session, module, bpmn_name, bpmn_data, forms)
    process_id = process_id_of(bpmn_data, bpmn_name)
    texts = {_safe_form_path(name)[:-len(".yaml")]: data.decode("utf-8") for name, data in forms.items()}
    if revision.unchanged:
        number = None
        if revision.shipped:  # the installation's own file: deployed as at start-up (idempotent)
            from app.platform.processes import deploy_module_processes

            deploy_module_processes(session, module, module.assets_root or get_settings().assets_dir,
                                    _form_ids(session), actor)
            number = shipped_process_number(session, process_id, bpmn_data)
        else:
            from app.modules.models import ModulePackage

            number = (session.get(ModulePackage, module.package_id).processes or {}).get(process_id)
        current = session.scalar(select(ProcessVersion).where(ProcessVersion.process_id == process_id,
                                                              ProcessVersion.version == number))
        if current is not None:
            return UploadResult(version=current, forms=sorted(texts), module_version=module.version,
                                warnings=warnings)
    version = next_free_version(session, module.id, revision.base_version)
    menu_path = f"menus/{module.id}.yaml"
    files = dict(revision.files)
    files[menu_path] = set_menu_version(files[menu_path].decode("utf-8"), version).encode("utf-8")
    of_shipped = (get_settings().assets_dir / "menus" / f"{module.id}.yaml").is_file()
    outcome = upload_package(session, files, actor=actor, revision_of_shipped=of_shipped)
    if outcome.errors:
        return UploadResult(errors=outcome.errors, warnings=warnings)
    deployed = next(v for v in outcome.processes if v.process_id == process_id)
    return UploadResult(version=deployed, forms=sorted(texts), module_version=version, warnings=warnings)
