"""Checklists as data: ``forms/inspection/checklists/<id>.yaml``.

A checklist is a list of items a patrol answers at a point. Each item has a ``type``:

* ``yes_no`` — fails on "no" (phrase the question so that yes is compliant);
* ``number`` — with ``min`` and/or ``max``: a value outside the range fails;
* ``photo`` — ``required: true`` makes the photo mandatory;
* ``text`` — a remark, never fails.

and optionally ``clause`` (the policy clause the item serves), ``severity`` (low, medium,
high: sets the rectification deadline) and ``role`` (who rectifies: technician or guard).
A checklist becomes an ordinary form (``as_form``), so the phone renders and parses it like
every other form. ``estateflow validate`` checks these files (``validate_checklist_file``) and
names file, line and item for every problem. An uploaded module package may bring more
(``forms/<module>/checklists/*.yaml``, checked the same way at upload); points of a community
where that module is enabled can use them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy.orm import Session

from app.assets.errors import AssetError, AssetInvalid
from app.assets.yaml_lines import LineDict, LineList, load_yaml_file, load_yaml_text
from app.forms.definitions import FieldDef, FormDef, localized

ITEM_TYPES = ("yes_no", "number", "photo", "text")
SEVERITIES = ("low", "medium", "high")
ROLES = ("technician", "guard")
_TOP = {"id", "title", "description", "items"}
_ITEM = {"name", "type", "label", "clause", "severity", "role", "required", "min", "max", "unit"}


@dataclass(frozen=True)
class Item:
    name: str
    type: str
    label: dict
    clause: str = ""
    severity: str = "medium"
    role: str = "technician"
    required: bool = True
    min: Decimal | None = None
    max: Decimal | None = None
    unit: str = ""
    line: int = 0

    def fails(self, value: Any) -> bool:
        """Whether this answer is a finding."""
        if self.type == "yes_no":
            return value is False
        if self.type == "number" and value is not None:
            number = Decimal(str(value))
            return (self.min is not None and number < self.min) or (self.max is not None and number > self.max)
        return False

    @property
    def counts(self) -> bool:
        """A compliance item (counted as checked): yes/no and number answers."""
        return self.type in ("yes_no", "number")


@dataclass(frozen=True)
class Checklist:
    id: str
    title: dict
    items: tuple[Item, ...]
    file: str = ""
    #: the module that brings it: ``inspection`` (shipped) or an uploaded package's module id
    module: str = "inspection"

    def as_form(self) -> FormDef:
        """The checklist as a form: yes/no and number required, photos as the item says."""
        fields = []
        for item in self.items:
            label = dict(item.label)
            if item.type == "number" and (item.min is not None or item.max is not None):
                rng = f"{item.min if item.min is not None else ''}–{item.max if item.max is not None else ''}"
                label = {k: f"{v}（{rng}{item.unit}）" for k, v in label.items()}
            ftype = {"yes_no": "yes_no", "number": "number", "photo": "photo", "text": "textarea"}[item.type]
            extra: dict[str, Any] = {}
            if item.type == "photo":
                extra = {"max_files": 3, "min_files": 1 if item.required else None}
            if item.type == "text":
                extra = {"max_length": 500}
            help_text = {"zh": item.clause, "en": item.clause} if item.clause else None
            fields.append(FieldDef(name=item.name, type=ftype, label=label, help=help_text,
                                   required=item.required if item.type in ("photo", "text") else True,
                                   line=item.line, **extra))
        return FormDef(id=f"inspection/checklists/{self.id}", title=self.title, fields=tuple(fields), file=self.file)

    def item(self, name: str) -> Item:
        for item in self.items:
            if item.name == name:
                return item
        raise KeyError(name)

    def label(self, locale: str) -> str:
        return localized(self.title, locale)


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def parse_checklist(path: Path | PurePosixPath, display: str | None = None,
                    text: str | None = None) -> tuple[Checklist | None, list[AssetError]]:
    """The checklist in ``path`` (or ``text``, a stored package's file named ``path``) and every
    problem in it (``file:line: element: reason``)."""
    name = display or str(path)
    try:
        node = load_yaml_text(text, name) if text is not None else load_yaml_file(path, name)
    except AssetInvalid as exc:
        return None, exc.errors
    errors: list[AssetError] = []

    def err(line: int, element: str, reason: str) -> None:
        errors.append(AssetError(name, line, element, reason))

    if not isinstance(node, LineDict):
        return None, [AssetError(name, 1, "checklist", "expected a mapping with id, title and items")]
    for key in node:
        if key not in _TOP:
            err(node.line_of(key), key, f"unknown key (expected one of {', '.join(sorted(_TOP))})")
    cid = node.get("id")
    if cid != path.stem:
        err(node.line_of("id"), "id", f"must be the file name without .yaml ({path.stem!r})")
    title = node.get("title")
    if not isinstance(title, dict) or not title.get("zh") or not title.get("en"):
        err(node.line_of("title"), "title", "needs zh and en texts")
    raw_items = node.get("items")
    items: list[Item] = []
    if not isinstance(raw_items, LineList) or not raw_items:
        err(node.line_of("items"), "items", "needs at least one item")
        raw_items = LineList()
    seen: set[str] = set()
    for index, raw in enumerate(raw_items):
        line = raw_items.line_of(index)
        if not isinstance(raw, LineDict):
            err(line, f"items[{index}]", "expected a mapping")
            continue
        element = f"item {raw.get('name') or index + 1}"
        for key in raw:
            if key not in _ITEM:
                err(raw.line_of(key), element, f"unknown key {key!r}")
        item_name = raw.get("name")
        if not isinstance(item_name, str) or not item_name.isidentifier() or not item_name.islower():
            err(raw.line_of("name"), element, "name must be lower case letters, digits and _")
            continue
        if item_name in seen:
            err(raw.line_of("name"), element, "the same name is used twice")
        seen.add(item_name)
        itype = raw.get("type")
        if itype not in ITEM_TYPES:
            err(raw.line_of("type"), element,
                f"unknown item type {itype!r} (expected one of {', '.join(ITEM_TYPES)})")
            continue
        label = raw.get("label")
        if not isinstance(label, dict) or not label.get("zh") or not label.get("en"):
            err(raw.line_of("label"), element, "label needs zh and en texts")
            label = {"zh": item_name, "en": item_name}
        severity = raw.get("severity", "medium")
        if severity not in SEVERITIES:
            err(raw.line_of("severity"), element, f"severity must be one of {', '.join(SEVERITIES)}")
        role = raw.get("role", "technician")
        if role not in ROLES:
            err(raw.line_of("role"), element, f"role must be one of {', '.join(ROLES)}")
        low, high = _decimal(raw.get("min")), _decimal(raw.get("max"))
        if itype != "number" and ("min" in raw or "max" in raw):
            err(raw.line_of("min" if "min" in raw else "max"), element, "min and max are for number items")
        if itype == "number":
            if ("min" in raw and low is None) or ("max" in raw and high is None):
                err(raw.line_of("min" if "min" in raw and low is None else "max"), element, "min and max must be numbers")
            elif low is None and high is None:
                err(raw.line, element, "a number item needs min or max (the compliant range)")
            elif low is not None and high is not None and low > high:
                err(raw.line_of("min"), element, "min is above max")
        required = raw.get("required", itype != "text")
        if not isinstance(required, bool):
            err(raw.line_of("required"), element, "required must be true or false")
            required = True
        items.append(Item(name=item_name, type=itype, label=dict(label), clause=str(raw.get("clause") or "")[:300],
                          severity=severity if severity in SEVERITIES else "medium",
                          role=role if role in ROLES else "technician", required=required,
                          min=low, max=high, unit=str(raw.get("unit") or ""), line=line))
    if errors:
        return None, errors
    return Checklist(id=cid, title=dict(title), items=tuple(items), file=name), []


def validate_checklist_file(path: Path) -> list[AssetError]:
    return parse_checklist(Path(path))[1]


def checklists_dir() -> Path:
    from app.settings import get_settings

    return get_settings().assets_dir / "forms" / "inspection" / "checklists"


@lru_cache(maxsize=8)
def _load_all(folder: str) -> dict[str, Checklist]:
    found: dict[str, Checklist] = {}
    for path in sorted(Path(folder).glob("*.yaml")):
        checklist, errors = parse_checklist(path)
        if checklist is not None:
            found[checklist.id] = checklist
    return found


def all_checklists(session: Session | None = None) -> dict[str, Checklist]:
    """Every valid checklist shipped (a broken file is left out; validate reports it), and with a
    ``session`` those of uploaded module packages (``forms/<module>/checklists/*.yaml``, the
    newest version of each package; their ids never clash with shipped ones, the upload checks)."""
    shipped = _load_all(str(checklists_dir()))
    if session is None:
        return shipped
    from app.modules.packages import stored_packages

    found: dict[str, Checklist] = {}
    for row in stored_packages(session):
        for rel, text in sorted((row.files or {}).items()):
            if _PACKAGE_FILE.match(rel):
                found.update(_package_checklist(row.module_id, rel, text))
    return {**found, **shipped}


_PACKAGE_FILE = re.compile(r"^forms/[a-z0-9][a-z0-9_\-]*/checklists/[a-z0-9][a-z0-9_\-]*\.yaml$")


@lru_cache(maxsize=256)
def _package_checklist(module_id: str, rel: str, text: str) -> dict[str, Checklist]:
    checklist, _errors = parse_checklist(PurePosixPath(rel), display=rel, text=text)
    return {checklist.id: replace(checklist, module=module_id)} if checklist is not None else {}


def usable_in(session: Session, checklist_id: str, community_id: int) -> Checklist:
    """The checklist a point of this community may use: shipped, or from an uploaded package
    whose module the community has enabled. ``LookupError`` (unknown) or ``PermissionError``
    (the package's module is off here), each with the module id as its argument."""
    from app.platform.processes import module_enabled

    found = all_checklists(session).get(checklist_id)
    if found is None:
        raise LookupError(checklist_id)
    if found.module != "inspection" and not module_enabled(session, community_id, found.module):
        raise PermissionError(found.module)
    return found


def get_checklist(checklist_id: str, session: Session | None = None) -> Checklist:
    """``KeyError`` when there is no such (valid) checklist."""
    return all_checklists(session)[checklist_id]


def _register_validator() -> None:
    """``estateflow validate`` checks ``forms/inspection/checklists/*.yaml`` with this module."""
    from app.assets.validate import DATA_VALIDATORS

    DATA_VALIDATORS.setdefault("checklists", validate_checklist_file)


_register_validator()
