"""Diff a draft against the module's newest published version, and publish it as a new version.

The diff is per element of each process (by id: added, removed, changed) and per field of each
form (by name); publishing is ``upload_package`` (a new immutable module version, processes
deployed, forms pinned). A draft whose version is taken is moved to the next free version first.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import yaml
from sqlalchemy.orm import Session

from app.modules import packages
from app.modules.catalog import Catalog
from app.studio import drafts
from app.studio.lint import finding, is_shipped, package_files
from app.studio.models import StudioDraft

_BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"


def _elements(text: str) -> dict[str, str]:
    """Element id → a signature of its semantics (tag, attributes, children; diagram layout left out)."""
    from lxml import etree

    from app.engine.xmlsafe import parse_xml

    try:
        tree, _ = parse_xml(text.encode("utf-8"), "draft.bpmn")
    except Exception:  # noqa: BLE001 - an unreadable file is reported by lint
        return {}
    if tree is None:
        return {}
    out: dict[str, str] = {}
    for process in tree.getroot().iter(f"{_BPMN}process"):
        for node in process.iter():
            if not isinstance(node.tag, str) or node is process:
                continue
            node_id = node.get("id")
            if not node_id:
                continue
            copy = etree.fromstring(etree.tostring(node))
            for child in list(copy):  # incoming/outgoing refs change with any new flow
                if isinstance(child.tag, str) and etree.QName(child).localname in ("incoming", "outgoing"):
                    copy.remove(child)
            out[node_id] = etree.tostring(copy, method="c14n").decode("utf-8")
    return out


def _fields(text: str) -> dict[str, dict]:
    try:
        doc = yaml.safe_load(text) or {}
    except yaml.YAMLError:
        return {}
    items = doc.get("fields") if isinstance(doc, dict) else None
    return {str(f.get("name")): f for f in items or [] if isinstance(f, dict) and f.get("name")}


def _compare(before: dict, after: dict) -> list[tuple[str, str]]:
    out = []
    for key in sorted(set(before) | set(after)):
        if key not in before:
            out.append((key, "added"))
        elif key not in after:
            out.append((key, "removed"))
        elif before[key] != after[key]:
            out.append((key, "changed"))
    return out


def file_changes(old: dict[str, str], new: dict[str, str]) -> list[dict]:
    """Structured changes from ``old`` files to ``new``: processes by element, forms by field."""
    changes: list[dict] = []
    for path in sorted(set(old) | set(new)):
        kind = packages._kind(path) or ("test" if path.startswith("tests/") else "file")
        kind = {"bpmn": "process"}.get(kind, kind)
        if path not in old or path not in new:
            changes.append({"kind": kind, "path": path, "change": "added" if path not in old else "removed"})
            continue
        if old[path] == new[path]:
            continue
        if kind == "process":
            found = _compare(_elements(old[path]), _elements(new[path]))
            changes.extend({"kind": kind, "path": path, "element": e, "change": c} for e, c in found)
            if not found:  # only the layout moved
                changes.append({"kind": kind, "path": path, "element": "", "change": "changed"})
        elif kind == "form":
            found = _compare(_fields(old[path]), _fields(new[path]))
            changes.extend({"kind": kind, "path": path, "field": f, "change": c} for f, c in found)
            if not found:
                changes.append({"kind": kind, "path": path, "field": "", "change": "changed"})
        else:
            changes.append({"kind": kind, "path": path, "change": "changed"})
    return changes


def diff(session: Session, draft: StudioDraft, catalog: Catalog) -> dict:
    published = drafts.published_files(session, draft.module_id, catalog)
    old, version = published if published else ({}, None)
    return {"published_version": version, "changes": file_changes(old, dict(draft.files or {}))}


@dataclass
class Published:
    version: str | None = None
    errors: list[dict] = field(default_factory=list)
    warnings: list[dict] = field(default_factory=list)
    bumped_from: str | None = None


def _taken(session: Session, draft: StudioDraft, catalog: Catalog, version: str) -> str | None:
    """The version the draft must move past (a stored version with other content, or a shipped
    module's version at or above it), or None when the draft's version is free."""
    rows = drafts.stored_versions(session, draft.module_id)
    newest = rows[-1].version if rows else None
    shipped = catalog.get(draft.module_id)
    floor = shipped.version if shipped is not None and shipped.package_id is None else None
    candidates = [v for v in (newest, floor) if v]
    top = max(candidates, key=packages._semver) if candidates else None
    if top is None or packages._semver(version) > packages._semver(top):
        return None
    same = next((r for r in rows if r.version == version), None)
    if same is not None and same.content_hash == packages.content_hash(package_files(draft)):
        return None  # publishing the same content again is a no-op
    return top


def publish(session: Session, draft: StudioDraft, *, actor: str, catalog: Catalog, locale: str) -> Published:
    """Store the draft as a new module version (errors as findings; nothing stored then)."""
    menu = drafts.menu_path(draft.module_id)
    text = (draft.files or {}).get(menu)
    if text is None:
        return Published(errors=[{"path": menu, "line": 0, "element": "file", "severity": "error",
                                  "message": "the draft has no menu entry" if locale != "zh" else "草稿缺少菜单条目"}])
    version = str(drafts.menu_fields(text)["version"] or "1.0.0")
    top = _taken(session, draft, catalog, version)
    bumped_from = None
    if top is not None:
        new_version = packages.next_free_version(session, draft.module_id,
                                                 max(version, top, key=packages._semver))
        drafts.save_file(session, draft, menu, packages.set_menu_version(text, new_version), actor=actor)
        bumped_from, version = version, new_version
    outcome = packages.upload_package(session, package_files(draft), actor=actor,
                                      revision_of_shipped=is_shipped(draft.module_id))
    warnings = [finding(w, locale) for w in outcome.warnings]
    if outcome.errors:
        return Published(errors=[finding(e, locale) for e in outcome.errors], warnings=warnings)
    draft.base_version = outcome.package.version
    session.flush()
    return Published(version=outcome.package.version, warnings=warnings, bumped_from=bumped_from)
