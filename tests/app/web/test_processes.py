"""Consultant uploads: errors named by file/line/element, immutable versions, running
instances keep their process and form versions."""
from __future__ import annotations

import io
import re
from pathlib import Path

from sqlalchemy import select

from app.db import db
from app.engine.models import ProcessInstance, ProcessVersion, TaskRow
from app.domains.estate.models import Community

ROOT = Path(__file__).resolve().parents[3]
NOTICE_BPMN = (ROOT / "bpmn" / "notice" / "notice.bpmn").read_text(encoding="utf-8")
DRAFT_FORM = (ROOT / "forms" / "notice" / "draft.yaml").read_text(encoding="utf-8")


def _upload(client, bpmn: str, forms: dict[str, str] | None = None, validate_only: bool = False):
    data = {"bpmn": (io.BytesIO(bpmn.encode("utf-8")), "notice.bpmn"), "module_id": "notice"}
    files = [(io.BytesIO(text.encode("utf-8")), name) for name, text in (forms or {}).items()]
    if files:
        data["forms"] = files
    if validate_only:
        data["validate_only"] = "1"
    return client.post("/processes/upload", data=data, content_type="multipart/form-data")


def test_invalid_upload_names_file_line_and_element_and_stores_nothing(demo_app, login):
    client = login("consultant")
    with demo_app.app_context():
        before = db.session.query(ProcessVersion).count()
    broken = NOTICE_BPMN.replace('camunda:formKey="notice/review"', 'camunda:formKey="notice/nope"')
    line = next(i for i, l in enumerate(broken.splitlines(), 1) if "notice/nope" in l)
    response = _upload(client, broken)
    assert response.status_code == 422
    # a Chinese page (the default) shows the validator's reason in Chinese, file:line:element as is
    assert f"notice.bpmn:{line}: " in response.text and "未知的表单“notice/nope”" in response.text
    assert "unknown form" not in response.text
    client.post("/lang/en")
    response = _upload(client, broken)
    assert f"notice.bpmn:{line}: " in response.text and "unknown form &#39;notice/nope&#39;" in response.text
    client.post("/lang/zh")
    with demo_app.app_context():
        assert db.session.query(ProcessVersion).count() == before


def test_xml_entities_are_refused(demo_app, login):
    evil = ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
            + NOTICE_BPMN.split("?>", 1)[1].replace("Draft", "&e;", 1))
    response = login("consultant").post("/api/v1/processes/validate", data={
        "bpmn": (io.BytesIO(evil.encode()), "evil.bpmn")}, content_type="multipart/form-data")
    assert response.status_code == 422
    assert "root:" not in response.text


def test_new_version_leaves_running_instance_on_its_version_and_form(demo_app, login):
    manager = login("manager_yc")
    with demo_app.app_context():
        yc = db.session.scalar(select(Community.id).where(Community.code == "YC"))
    manager.post(f"/instances/{yc}/start", data={"process_id": "notice", "business_key": "V1"})
    with demo_app.app_context():
        v1 = db.session.scalar(select(ProcessInstance).where(ProcessInstance.business_key == "V1"))
        v1_version = db.session.get(ProcessVersion, v1.version_id).version

    changed_bpmn = NOTICE_BPMN.replace('name="Draft', 'name="Draft v2', 1)
    if changed_bpmn == NOTICE_BPMN:
        changed_bpmn = NOTICE_BPMN.replace("</bpmn:definitions>", "<!-- v2 --></bpmn:definitions>")
    new_form = DRAFT_FORM.replace("fields:", "fields:\n  - name: urgency\n    type: choice\n    required: true\n"
                                  "    label: {zh: 紧急程度, en: Urgency}\n    choices:\n"
                                  "      - {value: low, label: {zh: 一般, en: Low}}\n"
                                  "      - {value: high, label: {zh: 紧急, en: High}}", 1)
    response = _upload(login("consultant"), changed_bpmn, {"notice/draft.yaml": new_form})
    assert response.status_code == 200, response.text
    assert re.search(r"version \d+|版本 \d+", response.text)
    assert "1.0.1" in response.text  # a new version of the module, not of every community's process
    assert (ROOT / "forms" / "notice" / "draft.yaml").read_text(encoding="utf-8") == DRAFT_FORM  # checkout untouched

    # no community runs it until an administrator upgrades that community
    manager.post(f"/instances/{yc}/start", data={"process_id": "notice", "business_key": "STILL1"})
    with demo_app.app_context():
        still = db.session.scalar(select(ProcessInstance).where(ProcessInstance.business_key == "STILL1"))
        assert still.version_id == v1.version_id
    menu = manager.get(f"/modules/{yc}/").text
    assert 'data-new-version="1.0.1"' in menu
    assert "流程 notice 已修改" in menu and "表单 notice/draft 已修改（新增字段 urgency）" in menu
    assert manager.post(f"/modules/{yc}/notice/upgrade").status_code == 302

    manager.post(f"/instances/{yc}/start", data={"process_id": "notice", "business_key": "V2"})
    with demo_app.app_context():
        v2 = db.session.scalar(select(ProcessInstance).where(ProcessInstance.business_key == "V2"))
        assert db.session.get(ProcessVersion, v2.version_id).version == v1_version + 1
        t1 = db.session.scalar(select(TaskRow.id).where(TaskRow.instance_id == v1.id))
        t2 = db.session.scalar(select(TaskRow.id).where(TaskRow.instance_id == v2.id))
    desk = login("frontdesk_yc")
    for task in (t1, t2):
        desk.post(f"/inbox/task/{task}/claim")
    assert 'name="urgency"' not in desk.get(f"/inbox/task/{t1}").text   # v1 keeps its form
    assert 'name="urgency"' in desk.get(f"/inbox/task/{t2}").text       # v2 has the new field
    assert desk.post(f"/inbox/task/{t1}", data={"title": "旧版", "body": "v1 still works"}).status_code == 302
    assert desk.post(f"/inbox/task/{t2}", data={"title": "新版", "body": "v2"}).status_code == 422
    assert desk.post(f"/inbox/task/{t2}", data={"title": "新版", "body": "v2", "urgency": "high"}).status_code == 302


def test_only_consultants_and_admins_upload(demo_app, login):
    response = _upload(login("manager_yc"), NOTICE_BPMN)
    assert response.status_code in (302, 403)


def test_validation_shows_warnings_beside_errors_on_the_api_and_the_page(demo_app, login):
    walk_in = (ROOT / "bpmn" / "visitors" / "walk_in.bpmn").read_bytes()
    client = login("consultant")
    response = client.post("/api/v1/processes/validate", data={
        "bpmn": (io.BytesIO(walk_in), "walk_in.bpmn"), "module_id": "visitors"}, content_type="multipart/form-data")
    assert response.status_code == 200, response.text
    body = response.get_json()
    assert body["errors"] == []
    lines = walk_in.decode().splitlines()
    element = next(i for i, text in enumerate(lines) if 'id="apply_refusal"' in text)
    line = next(i for i in range(element, len(lines)) if "pass_id" in lines[i]) + 1  # the parameter's real line
    assert any(w.startswith(f"walk_in.bpmn:{line}: apply_refusal: warning: input parameter 'pass_id' reads 'pass_id'")
               for w in body["warnings"]), body["warnings"]
    # beside the English lines (what `estateflow validate` prints), the findings in the caller's language
    assert {"path": "walk_in.bpmn", "line": line, "element": "apply_refusal", "severity": "warning"}.items() \
        <= next(f for f in body["findings"] if f["element"] == "apply_refusal").items()
    assert any(f["message"].startswith("输入参数“pass_id”读取“pass_id”") for f in body["findings"]), body["findings"]
    for lang, heading, said in (("zh", "警告（不影响上传，请逐条检查）：", "警告：输入参数“pass_id”读取“pass_id”"),
                                ("en", "Warnings (they do not stop the upload; check each one):",
                                 "warning: input parameter &#39;pass_id&#39; reads")):
        client.post(f"/lang/{lang}")
        page = client.post("/processes/upload", data={
            "bpmn": (io.BytesIO(walk_in), "walk_in.bpmn"), "module_id": "visitors", "validate_only": "1"},
            content_type="multipart/form-data")
        assert page.status_code == 200
        assert heading in page.text and f"walk_in.bpmn:{line}: apply_refusal: {said}" in page.text
        assert 'id="upload-ok"' in page.text
    client.post("/lang/zh")
