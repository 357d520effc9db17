"""Snapshot the forms a process version uses, and find the right form for a task."""
from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.engine.models import ProcessVersion
from app.engine.store import definition_of
from app.forms.definitions import FormDef, FormRegistry, parse_form_text
from app.forms.models import FormVersion, ProcessFormPin


def _store_text(session: Session, form_id: str, text: str, actor: str) -> FormVersion:
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    existing = session.scalar(select(FormVersion).where(FormVersion.form_id == form_id,
                                                        FormVersion.content_hash == digest))
    if existing is not None:
        return existing
    latest = session.scalar(select(func.max(FormVersion.version)).where(FormVersion.form_id == form_id)) or 0
    row = FormVersion(form_id=form_id, version=latest + 1, content_hash=digest, text=text, created_by=actor)
    session.add(row)
    session.flush()
    return row


def _current_text(form_id: str, forms_root: Path, texts: dict[str, str]) -> str | None:
    """The form's text as this deployment ships it: uploaded with it, else the installation's file."""
    if form_id in texts:
        return texts[form_id]
    path = forms_root / f"{form_id}.yaml"
    return path.read_text(encoding="utf-8") if path.is_file() else None


def forms_changed(session: Session, version: ProcessVersion, forms_root: Path,
                  texts: dict[str, str] | None = None) -> bool:
    """Whether a form this already pinned process version uses has other text now (a new
    module version that changed only a form): then the unchanged BPMN needs a new process
    version, pinned to the new forms, or new instances would keep the old form."""
    texts = texts or {}
    pins = {pin.form_id: pin.form_version_id for pin in session.scalars(
        select(ProcessFormPin).where(ProcessFormPin.process_version_id == version.id))}
    for form_id, form_version_id in pins.items():
        text = _current_text(form_id, forms_root, texts)
        if text is None:
            continue
        pinned = session.get(FormVersion, form_version_id)
        if pinned is not None and pinned.content_hash != hashlib.sha256(text.encode("utf-8")).hexdigest():
            return True
    return False


def pin_forms(session: Session, version: ProcessVersion, forms_root: Path,
              texts: dict[str, str] | None = None, actor: str = "system") -> dict[str, int]:
    """Record the current text of every form the process version's user tasks name.

    ``texts`` (form id → YAML) overrides the files, for forms uploaded with the process.
    Pins are written once per process version: deploying the same version again keeps them.
    """
    texts = texts or {}
    pinned: dict[str, int] = {}
    for meta in definition_of(version).user_tasks.values():
        form_id = meta.form_id
        if not form_id or form_id in pinned:
            continue
        if session.get(ProcessFormPin, (version.id, form_id)) is not None:
            pinned[form_id] = session.get(ProcessFormPin, (version.id, form_id)).form_version_id
            continue
        text = _current_text(form_id, forms_root, texts)
        if text is None:  # a form uploaded earlier: its newest stored version
            text = session.scalar(select(FormVersion.text).where(FormVersion.form_id == form_id)
                                  .order_by(FormVersion.version.desc()).limit(1))
            if text is None:
                continue  # validation already refused unknown forms; nothing to pin
        row = _store_text(session, form_id, text, actor)
        session.add(ProcessFormPin(process_version_id=version.id, form_id=form_id, form_version_id=row.id))
        pinned[form_id] = row.id
    session.flush()
    return pinned


@lru_cache(maxsize=512)
def _parsed(form_version_id: int, form_id: str, text: str) -> FormDef | None:
    form, _errors = parse_form_text(text, f"{form_id}@{form_version_id}", form_id)
    return form


def form_for_task(session: Session, process_version_id: int, form_id: str, registry: FormRegistry) -> FormDef | None:
    """The form pinned to this task's process version, else the current one (or None)."""
    pin = session.get(ProcessFormPin, (process_version_id, form_id))
    if pin is not None:
        row = session.get(FormVersion, pin.form_version_id)
        form = _parsed(row.id, form_id, row.text)
        if form is not None:
            return form
    return registry.get(form_id) if form_id in registry else None


def deploy_with_forms(session: Session, filename: str, data: bytes, module_id: str | None, actor: str,
                      known_forms: set[str], forms_root: Path, texts: dict[str, str] | None = None) -> ProcessVersion:
    """Deploy a process and pin its forms; unchanged BPMN whose forms changed becomes a new
    process version (running instances keep theirs, new ones get the new forms)."""
    from app.engine import deploy_process

    version = deploy_process(session, filename, data, module_id, actor, known_forms)
    if forms_changed(session, version, forms_root, texts):
        version = deploy_process(session, filename, data, module_id, actor, known_forms, new_version=True)
    pin_forms(session, version, forms_root, texts=texts, actor=actor)
    return version
