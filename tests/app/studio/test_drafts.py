"""Studio drafts: a consultant creates a module draft, adds a process and a form, saves and
removes files (paths checked against the package layout) and gets the package check's findings
on every save; a published module opens as a draft of its files (SQLite and PostgreSQL)."""
from __future__ import annotations

from sqlalchemy import select

from app.db import db
from app.studio.models import StudioDraft

MENU = "menus/leak_check.yaml"


def _new(client, module_id="leak_check"):
    return client.post("/studio/new", data={"module_id": module_id, "name_zh": "漏水检查", "name_en": "Leak check"})


def _draft(app, module_id="leak_check") -> StudioDraft | None:
    with app.app_context():
        return db.session.scalar(select(StudioDraft).where(StudioDraft.module_id == module_id))


def test_a_new_module_draft_is_valid_and_its_editor_carries_the_studio_data(demo_app, login):
    client = login("consultant")
    response = _new(client)
    assert response.status_code == 302 and response.headers["Location"].endswith("/studio/leak_check/")
    draft = _draft(demo_app)
    assert list(draft.files) == [MENU] and draft.base_version is None
    page = client.get("/studio/leak_check/")
    assert page.status_code == 200
    text = page.text
    for marker in ('id="studio-data"', 'id="studio-process"', 'id="studio-form"', 'id="studio-testrun"',
                   'id="studio-publish"', 'id="studio-findings"', "studio/studio.js"):
        assert marker in text, marker
    findings = client.get("/studio/api/leak_check/findings").json["findings"]
    assert [f for f in findings if f["severity"] == "error"] == []
    again = _new(client)
    assert again.status_code == 302 and again.headers["Location"].endswith("/studio/")


def test_added_files_are_listed_in_the_menu_and_lint_names_file_line_and_element(demo_app, login):
    client = login("consultant")
    _new(client, "leak_two")
    added = client.post("/studio/api/leak_two/add", json={"kind": "process", "name": "report"})
    assert added.status_code == 200, added.json
    assert added.json["path"] == "bpmn/leak_two/report.bpmn"
    form = client.post("/studio/api/leak_two/add", json={"kind": "form", "name": "report"})
    assert form.json["path"] == "forms/leak_two/report.yaml"
    files = form.json["files"]
    assert "bpmn/leak_two/report.bpmn" in files["menus/leak_two.yaml"]
    assert "forms/leak_two/report.yaml" in files["menus/leak_two.yaml"]
    assert [f for f in form.json["findings"] if f["severity"] == "error"] == [], form.json["findings"]

    broken = files["forms/leak_two/report.yaml"].replace("type: text", "type: colour")
    saved = client.post("/studio/api/leak_two/file", json={"path": "forms/leak_two/report.yaml", "text": broken})
    assert saved.status_code == 200
    errors = [f for f in saved.json["findings"] if f["severity"] == "error"]
    assert errors and errors[0]["path"] == "forms/leak_two/report.yaml"
    assert errors[0]["line"] == 5 and errors[0]["element"] == "fields[0].type"
    assert "colour" in errors[0]["message"]

    removed = client.post("/studio/api/leak_two/file/delete", json={"path": "forms/leak_two/report.yaml"})
    assert removed.status_code == 200
    assert "forms/leak_two/report.yaml" not in removed.json["files"]
    assert "forms/leak_two" not in removed.json["files"]["menus/leak_two.yaml"]


def test_a_path_outside_the_layout_or_of_another_module_is_a_clear_400(demo_app, login):
    client = login("consultant")
    _new(client, "leak_three")
    for path in ("../etc/passwd", "bpmn/other/x.bpmn", "notes.txt", "forms/repair/x.yaml"):
        response = client.post("/studio/api/leak_three/file", json={"path": path, "text": "x"})
        assert response.status_code == 400, path
        assert response.json["error"], path
    menu = client.post("/studio/api/leak_three/file/delete", json={"path": "menus/leak_three.yaml"})
    assert menu.status_code == 400


def test_the_menu_form_edits_names_without_yaml_and_keeps_the_lists(demo_app, login):
    client = login("consultant")
    _new(client, "leak_four")
    client.post("/studio/api/leak_four/add", json={"kind": "form", "name": "note"})
    response = client.post("/studio/api/leak_four/menu", json={
        "title_zh": "漏水巡查", "title_en": "Leak patrol", "description_zh": "每月检查管道", "description_en":
        "Check the pipes monthly", "category": "inspection"})
    assert response.status_code == 200, response.json
    menu = response.json["menu"]
    assert (menu["title_zh"], menu["title_en"], menu["category"]) == ("漏水巡查", "Leak patrol", "inspection")
    assert menu["forms"] == ["forms/leak_four/note.yaml"]
    assert [f for f in response.json["findings"] if f["severity"] == "error"] == []


def test_a_shipped_module_opens_as_a_draft_of_its_files(demo_app, login):
    client = login("consultant")
    response = client.post("/studio/notice/edit")
    assert response.status_code == 302 and response.headers["Location"].endswith("/studio/notice/")
    draft = _draft(demo_app, "notice")
    assert "menus/notice.yaml" in draft.files and "bpmn/notice/notice.bpmn" in draft.files
    assert draft.base_version
    registry = client.get("/studio/api/registry?module=notice").json
    assert "notice/draft" in registry["forms"]
    manager = next(r for r in registry["roles"] if r["code"] == "manager")
    assert manager["label"] != "manager"  # a label, never the raw code
    notify = next(o for o in registry["operations"] if o["name"] == "notify.log")
    assert {"name": "message", "required": True, "type": "string"} in [
        {k: p[k] for k in ("name", "required", "type")} for p in notify["params"]]
