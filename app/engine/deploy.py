"""Deploying process versions: validate, store once per content, never change.

Deploying bytes deployed before returns the version that has them (the installation's
file again after a consultant's upload, at every start-up); anything else becomes
version n+1. Running instances keep the version they started with.
"""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.assets.errors import AssetError, AssetInvalid  # noqa: F401
from app.engine import store
from app.engine.definitions import build_definition, content_hash
from app.engine.errors import ProcessNotFound
from app.engine.models import ProcessVersion
from app.engine.operations import known_operations as registered_operations
from app.engine.runtime import latest_version
from app.engine.validation import validate_bpmn
from app.engine.xmlsafe import parse_xml
from app.roles import KNOWN_ROLES
from app.platform.audit import record


def deploy_process(
    session: Session,
    filename: str,
    data: bytes,
    module_id: str | None,
    actor: str,
    known_forms: set[str],
    known_operations: set[str] | None = None,
    known_roles: set[str] | None = None,
    new_version: bool = False,
) -> ProcessVersion:
    """Validate and store ``data`` as the newest version of its process (no commit).

    Bytes deployed before reuse that version, unless ``new_version`` (the same BPMN with other
    forms: see ``app.forms.versions.forms_changed``). Raises :class:`AssetInvalid` with every
    error found.
    """
    ops = registered_operations() if known_operations is None else known_operations
    roles = set(KNOWN_ROLES) if known_roles is None else known_roles
    errors = validate_bpmn(data, filename, known_forms, ops, roles)
    if errors:
        raise AssetInvalid(errors)
    tree, _ = parse_xml(data, filename)
    definition = build_definition(tree, filename)
    digest = content_hash(data)
    try:
        current = latest_version(session, definition.process_id)
    except ProcessNotFound:
        current = None
    if current is not None and current.content_hash == digest and not new_version:
        return current
    if current is not None and not new_version:  # bytes deployed before (the shipped file again after an upload)
        earlier = session.scalars(select(ProcessVersion).where(
            ProcessVersion.process_id == definition.process_id, ProcessVersion.content_hash == digest)
            .order_by(ProcessVersion.version.desc()).limit(1)).first()
        if earlier is not None:
            return earlier
    version = ProcessVersion(
        process_id=definition.process_id,
        version=(current.version + 1) if current else 1,
        module_id=module_id,
        filename=filename,
        content_hash=digest,
        bpmn=data.decode("utf-8"),
        start_messages=definition.start_messages,
        deployed_by=actor,
    )
    session.add(version)
    session.flush()
    store.remember_definition(digest, definition)
    record(session, actor=actor, action="process.deploy", target_type="process_version",
           target_id=version.id, after={"process_id": version.process_id,
                                        "version": version.version, "module": module_id,
                                        "hash": digest})
    return version


def deploy_directory(
    session: Session,
    path: str | Path,
    actor: str,
    known_forms: set[str],
    known_operations: set[str] | None = None,
    known_roles: set[str] | None = None,
    module_id: str | None = None,
) -> list[ProcessVersion]:
    """Deploy every ``*.bpmn`` of ``bpmn/<module>/``; all or nothing (no commit).

    ``module_id`` defaults to the folder name.
    """
    folder = Path(path)
    errors = validate_directory(folder, known_forms, known_operations, known_roles)
    if errors:
        raise AssetInvalid(errors)
    module = module_id or folder.name
    return [
        deploy_process(session, str(file), file.read_bytes(), module, actor, known_forms,
                       known_operations, known_roles)
        for file in sorted(folder.glob("*.bpmn"))
    ]


def validate_directory(
    path: str | Path,
    known_forms: set[str],
    known_operations: set[str] | None = None,
    known_roles: set[str] | None = None,
) -> list[AssetError]:
    """What ``estateflow validate bpmn/<module>`` reports for the BPMN files."""
    ops = registered_operations() if known_operations is None else known_operations
    roles = set(KNOWN_ROLES) if known_roles is None else known_roles
    errors: list[AssetError] = []
    for file in sorted(Path(path).glob("*.bpmn")):
        errors.extend(validate_bpmn(file.read_bytes(), str(file), known_forms, ops, roles))
    return errors
