"""Studio drafts: create one (a new module, or from a published/shipped one), save and remove
its files, keep the menu entry's ``processes:``/``forms:`` lists in step, edit the menu entry.

Every path is checked against the package layout of :mod:`app.modules.packages` (and must
belong to the draft's module); a bad one raises :class:`DraftError` with a clear message.
"""
from __future__ import annotations

import re
from pathlib import PurePosixPath

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.modules import packages
from app.modules.catalog import CATEGORIES, Catalog
from app.studio.models import StudioDraft

_ID_RE = re.compile(r"^[a-z][a-z0-9_]{0,59}$")
_FILE_RE = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,79}$")
#: the top-level keys of a menu entry in the order the studio writes them
MENU_KEYS = ("id", "version", "title", "description", "category", "depends_on", "processes", "forms",
             "capabilities", "schedules", "settings")


class DraftError(Exception):
    """A request the draft service refuses (bad id, path outside the layout, ...)."""

    def __init__(self, message: str, *, zh: str | None = None):
        super().__init__(message)
        self.message_en = message
        self.message_zh = zh or message

    def message(self, locale: str) -> str:
        return self.message_zh if locale == "zh" else self.message_en


def stored_versions(session: Session, module_id: str) -> list:
    """Every stored package version of a module, oldest first."""
    from app.modules.models import ModulePackage

    rows = session.scalars(select(ModulePackage).where(ModulePackage.module_id == module_id))
    return sorted(rows, key=lambda r: packages._semver(r.version))


def menu_path(module_id: str) -> str:
    return f"menus/{module_id}.yaml"


def get_draft(session: Session, module_id: str) -> StudioDraft | None:
    return session.scalar(select(StudioDraft).where(StudioDraft.module_id == module_id))


def list_drafts(session: Session) -> list[StudioDraft]:
    return list(session.scalars(select(StudioDraft).order_by(StudioDraft.module_id)))


def _quote(text: str) -> str:
    return yaml.safe_dump(text, allow_unicode=True, default_style='"', width=10_000).strip().splitlines()[0]


def minimal_menu(module_id: str, name_zh: str, name_en: str, category: str = "service") -> str:
    """A valid menu entry with no processes or forms yet."""
    return (f"id: {module_id}\n"
            f'version: "1.0.0"\n'
            f"title: {{zh: {_quote(name_zh)}, en: {_quote(name_en)}}}\n"
            f"description: {{zh: {_quote(name_zh)}, en: {_quote(name_en)}}}\n"
            f"category: {category}\n"
            "depends_on: []\n"
            "processes: []\n"
            "forms: []\n")


def new_draft(session: Session, module_id: str, name_zh: str, name_en: str, *, actor: str,
              catalog: Catalog) -> StudioDraft:
    """A draft of a new module with a minimal menu entry."""
    module_id = (module_id or "").strip()
    name_zh, name_en = (name_zh or "").strip(), (name_en or "").strip()
    if not _ID_RE.match(module_id):
        raise DraftError(f"module id {module_id!r}: use lower-case letters, digits and _ (start with a letter)",
                         zh=f"模块编号“{module_id}”：只能用小写字母、数字和下划线，并以字母开头")
    if not name_zh or not name_en:
        raise DraftError("give the module a name in Chinese and in English", zh="请填写模块的中文名和英文名")
    if get_draft(session, module_id) is not None:
        raise DraftError(f"a draft of module {module_id!r} exists already; open it",
                         zh=f"模块“{module_id}”已有草稿，请直接打开")
    if catalog.get(module_id) is not None or stored_versions(session, module_id):
        raise DraftError(f"module {module_id!r} exists already; edit it instead of creating it",
                         zh=f"模块“{module_id}”已存在，请编辑它而不是新建")
    draft = StudioDraft(module_id=module_id, files={menu_path(module_id): minimal_menu(module_id, name_zh, name_en)},
                        base_version=None, updated_by=actor)
    session.add(draft)
    session.flush()
    return draft


def published_files(session: Session, module_id: str, catalog: Catalog) -> tuple[dict[str, str], str] | None:
    """The newest published files of a module: its newest stored package, else the shipped files."""
    rows = stored_versions(session, module_id)
    module = catalog.get(module_id)
    if rows and (module is None or module.package_id is not None or module.assets_root is None
                 or packages._semver(rows[-1].version) > packages._semver(module.version)):
        return dict(rows[-1].files), rows[-1].version
    if module is not None and module.package_id is None:
        return {p: d.decode("utf-8") for p, d in packages.shipped_files(module).items()}, module.version
    if rows:
        return dict(rows[-1].files), rows[-1].version
    return None


def draft_from_published(session: Session, module_id: str, *, actor: str, catalog: Catalog) -> StudioDraft:
    """A draft holding a published module's files (the existing draft if there is one)."""
    draft = get_draft(session, module_id)
    if draft is not None:
        return draft
    found = published_files(session, module_id, catalog)
    if found is None:
        raise DraftError(f"there is no module {module_id!r}", zh=f"没有模块“{module_id}”")
    files, version = found
    draft = StudioDraft(module_id=module_id, files=files, base_version=version, updated_by=actor)
    session.add(draft)
    session.flush()
    return draft


def check_path(draft: StudioDraft, path: str) -> str:
    """The cleaned package path, or DraftError naming the layout."""
    clean = packages._clean(path or "")
    kind = packages._kind(clean) if clean else None
    if kind is None:
        raise DraftError(f"{path!r} is not part of a module package (expected {packages._LAYOUT})",
                         zh=f"“{path}”不属于模块包的文件结构（应为 {packages._LAYOUT}）")
    if kind in ("bpmn", "form", "checklist", "notifications", "menu", "test"):
        owner = packages._PATTERNS[kind].match(clean).group("id")
        if owner != draft.module_id:
            raise DraftError(f"{clean} belongs to module {owner!r}, but this draft is module {draft.module_id!r}",
                             zh=f"{clean} 属于模块“{owner}”，而本草稿是模块“{draft.module_id}”")
    return clean


def _touch(draft: StudioDraft, files: dict[str, str], actor: str) -> None:
    draft.files = dict(sorted(files.items()))  # a new dict: the JSON column sees the change
    draft.updated_by = actor


def save_file(session: Session, draft: StudioDraft, path: str, text: str, *, actor: str) -> str:
    """Store one file of the draft; a new process or form is listed in the menu entry."""
    clean = check_path(draft, path)
    if not isinstance(text, str):
        raise DraftError("the file's text is missing", zh="缺少文件内容")
    files = dict(draft.files or {})
    is_new = clean not in files
    files[clean] = text
    menu = menu_path(draft.module_id)
    kind = packages._kind(clean)
    if is_new and kind in ("bpmn", "form") and menu in files:
        key = "processes" if kind == "bpmn" else "forms"
        if clean not in menu_list(files[menu], key):
            files[menu] = packages.add_to_menu_list(files[menu], key, clean)
    _touch(draft, files, actor)
    session.flush()
    return clean


def delete_file(session: Session, draft: StudioDraft, path: str, *, actor: str) -> str:
    """Remove one file (never the menu entry); it leaves the menu entry's lists too."""
    clean = check_path(draft, path)
    menu = menu_path(draft.module_id)
    if clean == menu:
        raise DraftError("the menu entry is the module itself and cannot be removed",
                         zh="菜单条目就是模块本身，不能删除")
    files = dict(draft.files or {})
    if clean not in files:
        raise DraftError(f"{clean} is not in this draft", zh=f"本草稿中没有 {clean}")
    del files[clean]
    kind = packages._kind(clean)
    if kind in ("bpmn", "form") and menu in files:
        key = "processes" if kind == "bpmn" else "forms"
        items = menu_list(files[menu], key)
        if clean in items:
            files[menu] = set_menu_key(files[menu], key, [p for p in items if p != clean])
    _touch(draft, files, actor)
    session.flush()
    return clean


def discard_draft(session: Session, draft: StudioDraft) -> None:
    session.delete(draft)
    session.flush()


# --------------------------------------------------------------------------- new files


def _file_name(name: str) -> str:
    name = (name or "").strip()
    if not _FILE_RE.match(name):
        raise DraftError(f"file name {name!r}: use lower-case letters, digits, _ and -",
                         zh=f"文件名“{name}”：只能用小写字母、数字、_ 和 -")
    return name


def new_process_text(process_id: str, name: str) -> str:
    """A BPMN file with a start and an end event and its diagram (bpmn-js opens it as drawn)."""
    from xml.sax.saxutils import quoteattr

    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI"
                  xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"
                  xmlns:di="http://www.omg.org/spec/DD/20100524/DI"
                  xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
                  id="{process_id}_definitions" targetNamespace="https://estateflow.org/bpmn/{process_id}">
  <bpmn:process id="{process_id}" name={quoteattr(name)} isExecutable="true">
    <bpmn:startEvent id="start">
      <bpmn:outgoing>flow_start_end</bpmn:outgoing>
    </bpmn:startEvent>
    <bpmn:endEvent id="end">
      <bpmn:incoming>flow_start_end</bpmn:incoming>
    </bpmn:endEvent>
    <bpmn:sequenceFlow id="flow_start_end" sourceRef="start" targetRef="end" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="{process_id}_diagram">
    <bpmndi:BPMNPlane id="{process_id}_plane" bpmnElement="{process_id}">
      <bpmndi:BPMNShape id="start_di" bpmnElement="start">
        <dc:Bounds x="152" y="102" width="36" height="36" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="end_di" bpmnElement="end">
        <dc:Bounds x="352" y="102" width="36" height="36" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNEdge id="flow_start_end_di" bpmnElement="flow_start_end">
        <di:waypoint x="188" y="120" />
        <di:waypoint x="352" y="120" />
      </bpmndi:BPMNEdge>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
"""


def new_form_text(form_id: str, title_zh: str, title_en: str) -> str:
    """A valid form with one text field."""
    return (f"id: {form_id}\n"
            f"title: {{zh: {_quote(title_zh)}, en: {_quote(title_en)}}}\n"
            "fields:\n"
            "  - name: note\n"
            "    type: text\n"
            "    label: {zh: 备注, en: Note}\n")


def add_process(session: Session, draft: StudioDraft, name: str, *, actor: str) -> str:
    name = _file_name(name)
    path = f"bpmn/{draft.module_id}/{name}.bpmn"
    if path in (draft.files or {}):
        raise DraftError(f"{path} exists already", zh=f"{path} 已存在")
    process_id = name.replace("-", "_") if name.replace("-", "_") == draft.module_id \
        else f"{draft.module_id}_{name.replace('-', '_')}"
    return save_file(session, draft, path, new_process_text(process_id, name), actor=actor)


def add_form(session: Session, draft: StudioDraft, name: str, *, actor: str) -> str:
    name = _file_name(name)
    path = f"forms/{draft.module_id}/{name}.yaml"
    if path in (draft.files or {}):
        raise DraftError(f"{path} exists already", zh=f"{path} 已存在")
    return save_file(session, draft, path, new_form_text(f"{draft.module_id}/{name}", name, name), actor=actor)


# --------------------------------------------------------------------------- the menu entry


def _menu_doc(text: str) -> dict:
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        return {}
    return doc if isinstance(doc, dict) else {}


def menu_list(text: str, key: str) -> list[str]:
    value = _menu_doc(text).get(key)
    return [str(v) for v in value] if isinstance(value, list) else []


def _dump_value(value) -> str:
    if isinstance(value, list) and not value:
        return "[]"
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "\n" + "".join(f"  - {v}\n" for v in value)
    if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
        return "{" + ", ".join(f"{k}: {_quote(v)}" for k, v in value.items()) + "}"
    if isinstance(value, str):
        return _quote(value)
    dumped = yaml.safe_dump(value, allow_unicode=True, default_flow_style=False, sort_keys=False)
    return "\n" + "".join(f"  {line}\n" for line in dumped.splitlines())


def set_menu_key(text: str, key: str, value) -> str:
    """The menu entry with the top-level ``key`` replaced by ``value`` (comments elsewhere kept)."""
    rendered = _dump_value(value)
    block = f"{key}:{'' if rendered.startswith(chr(10)) else ' '}{rendered}"
    if not block.endswith("\n"):
        block += "\n"
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if not re.match(rf"^{re.escape(key)}:", line):
            continue
        j = i + 1
        while j < len(lines) and (lines[j].startswith((" ", "\t", "-")) or not lines[j].strip()):
            j += 1
        while j > i + 1 and not lines[j - 1].strip():  # blank lines after the block stay
            j -= 1
        return "".join(lines[:i]) + block + "".join(lines[j:])
    return text.rstrip("\n") + "\n" + block


def menu_fields(text: str) -> dict:
    """What the studio's menu form shows: names, descriptions, category, listed files."""
    doc = _menu_doc(text)
    title = doc.get("title") if isinstance(doc.get("title"), dict) else {}
    description = doc.get("description") if isinstance(doc.get("description"), dict) else {}
    return {
        "title_zh": str(title.get("zh") or ""), "title_en": str(title.get("en") or ""),
        "description_zh": str(description.get("zh") or ""), "description_en": str(description.get("en") or ""),
        "category": str(doc.get("category") or ""), "version": str(doc.get("version") or ""),
        "processes": menu_list(text, "processes"), "forms": menu_list(text, "forms"),
        "categories": list(CATEGORIES),
    }


def update_menu(session: Session, draft: StudioDraft, values: dict, *, actor: str) -> str:
    """Set the menu entry's names, descriptions and category from the studio's menu form."""
    path = menu_path(draft.module_id)
    text = (draft.files or {}).get(path) or minimal_menu(draft.module_id, draft.module_id, draft.module_id)
    title = {"zh": str(values.get("title_zh") or "").strip(), "en": str(values.get("title_en") or "").strip()}
    description = {"zh": str(values.get("description_zh") or "").strip(),
                   "en": str(values.get("description_en") or "").strip()}
    if title["zh"] or title["en"]:
        text = set_menu_key(text, "title", title)
    if description["zh"] or description["en"]:
        text = set_menu_key(text, "description", description)
    category = str(values.get("category") or "").strip()
    if category:
        text = set_menu_key(text, "category", category)
    return save_file(session, draft, path, text, actor=actor)


def file_kind(path: str) -> str:
    """``menu``, ``bpmn``, ``form``, ``test`` or the package kind of a path (for the editor)."""
    if path.startswith("tests/"):
        return "test"
    kind = packages._kind(path)
    return kind or "file"


def file_list(draft: StudioDraft) -> list[dict]:
    order = {"menu": 0, "bpmn": 1, "form": 2, "test": 3}
    items = [{"path": p, "kind": file_kind(p), "name": PurePosixPath(p).stem} for p in (draft.files or {})]
    return sorted(items, key=lambda i: (order.get(i["kind"], 9), i["path"]))
