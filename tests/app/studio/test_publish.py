"""Studio diff and publish: a draft is compared with the newest published version (process
elements and form fields added/removed/changed) and published through ``upload_package`` as a
new module version, which then shows on the module menu where a manager enables it. A taken
version is moved to the next free one; a broken draft is refused with its findings, nothing stored."""
from __future__ import annotations

from sqlalchemy import func, select

from app.db import db
from app.domains.estate.models import Community
from app.modules.models import ModulePackage

USER_TASK = """    <bpmn:userTask id="inspect" name="检查" camunda:formKey="pipe_check/inspect" camunda:candidateGroups="technician">
      <bpmn:incoming>flow_start_end</bpmn:incoming>
      <bpmn:outgoing>flow_inspect_end</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="flow_inspect_end" sourceRef="inspect" targetRef="end" />
"""


def _packages(app, module_id) -> list[str]:
    with app.app_context():
        return sorted(db.session.scalars(select(ModulePackage.version).where(ModulePackage.module_id == module_id)))


def _with_task(bpmn: str) -> str:
    """start → inspect (user task) → end, as the modeler would save it."""
    bpmn = bpmn.replace('targetRef="end" />', 'targetRef="inspect" />', 1)
    bpmn = bpmn.replace("<bpmn:incoming>flow_start_end</bpmn:incoming>\n    </bpmn:endEvent>",
                        "<bpmn:incoming>flow_inspect_end</bpmn:incoming>\n    </bpmn:endEvent>")
    return bpmn.replace("  </bpmn:process>", USER_TASK + "  </bpmn:process>")


def _module(client):
    client.post("/studio/new", data={"module_id": "pipe_check", "name_zh": "管道检查", "name_en": "Pipe check"})
    client.post("/studio/api/pipe_check/add", json={"kind": "form", "name": "inspect"})
    added = client.post("/studio/api/pipe_check/add", json={"kind": "process", "name": "pipe_check"})
    path = added.json["path"]
    saved = client.post("/studio/api/pipe_check/file", json={"path": path, "text": _with_task(added.json["files"][path])})
    assert [f for f in saved.json["findings"] if f["severity"] == "error"] == [], saved.json["findings"]
    return saved.json["files"]


def test_publish_a_new_module_then_a_manager_enables_it_and_a_change_gets_the_next_version(demo_app, login):
    client = login("consultant")
    files = _module(client)
    diff = client.get("/studio/api/pipe_check/diff").json
    assert diff["published_version"] is None
    assert {(c["path"], c["change"]) for c in diff["changes"]} >= {("bpmn/pipe_check/pipe_check.bpmn", "added"),
                                                                   ("forms/pipe_check/inspect.yaml", "added")}
    published = client.post("/studio/api/pipe_check/publish", json={})
    assert published.status_code == 200, published.json
    assert published.json["version"] == "1.0.0"
    assert _packages(demo_app, "pipe_check") == ["1.0.0"]

    manager = login("manager_yc")
    with demo_app.app_context():
        yc = db.session.scalar(select(Community.id).where(Community.code == "YC"))
    menu = manager.get(f"/modules/{yc}/")
    assert 'id="module-pipe_check"' in menu.text
    enabled = manager.post(f"/modules/{yc}/pipe_check/settings", data={})
    assert enabled.status_code == 302

    # a form field added and the task renamed: the diff says so; the version 1.0.0 is taken
    form = files["forms/pipe_check/inspect.yaml"] + "  - name: leak\n    type: yes_no\n    label: {zh: 漏水, en: Leak}\n"
    client.post("/studio/api/pipe_check/file", json={"path": "forms/pipe_check/inspect.yaml", "text": form})
    bpmn = files["bpmn/pipe_check/pipe_check.bpmn"].replace('name="检查"', 'name="管道检查"')
    client.post("/studio/api/pipe_check/file", json={"path": "bpmn/pipe_check/pipe_check.bpmn", "text": bpmn})
    changes = client.get("/studio/api/pipe_check/diff").json
    assert changes["published_version"] == "1.0.0"
    rows = {(c["kind"], c.get("element") or c.get("field"), c["change"]) for c in changes["changes"]}
    assert ("form", "leak", "added") in rows and ("process", "inspect", "changed") in rows
    assert ("process", "start", "changed") not in rows  # untouched elements are not reported
    again = client.post("/studio/api/pipe_check/publish", json={})
    assert again.status_code == 200, again.json
    assert (again.json["version"], again.json["bumped_from"]) == ("1.0.1", "1.0.0")
    assert 'version: "1.0.1"' in again.json["files"]["menus/pipe_check.yaml"]
    assert _packages(demo_app, "pipe_check") == ["1.0.0", "1.0.1"]


def test_a_broken_condition_is_refused_with_its_finding_and_nothing_is_stored(demo_app, login):
    client = login("consultant")
    client.post("/studio/new", data={"module_id": "pipe_broken", "name_zh": "坏条件", "name_en": "Broken"})
    added = client.post("/studio/api/pipe_broken/add", json={"kind": "process", "name": "flow"})
    path = added.json["path"]
    text = added.json["files"][path].replace(
        '<bpmn:sequenceFlow id="flow_start_end" sourceRef="start" targetRef="end" />',
        '<bpmn:sequenceFlow id="flow_start_end" sourceRef="start" targetRef="end">\n'
        '      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">${approved ==}</bpmn:conditionExpression>\n'
        '    </bpmn:sequenceFlow>')
    saved = client.post("/studio/api/pipe_broken/file", json={"path": path, "text": text})
    assert saved.status_code == 200
    before = _packages(demo_app, "pipe_broken")
    refused = client.post("/studio/api/pipe_broken/publish", json={})
    assert refused.status_code == 400
    flagged = [e for e in refused.json["errors"] if e["element"] == "flow_start_end"]
    assert flagged and flagged[0]["path"] == path and flagged[0]["line"] > 1, refused.json
    assert _packages(demo_app, "pipe_broken") == before == []
    check = client.post("/studio/api/check-expression", json={"expression": "${approved ==}"}).json
    assert check["ok"] is False and check["message"]
    assert client.post("/studio/api/check-expression", json={"expression": "decision == 'approve'"}).json["ok"]


def test_a_shipped_module_is_published_as_a_revision_above_its_shipped_version(demo_app, login):
    client = login("consultant")
    client.post("/studio/notice/edit")
    draft = client.get("/studio/api/notice/draft").json
    form = draft["files"]["forms/notice/draft.yaml"] + (
        "  - name: urgent\n    type: yes_no\n    label: {zh: 紧急, en: Urgent}\n")
    client.post("/studio/api/notice/file", json={"path": "forms/notice/draft.yaml", "text": form})
    published = client.post("/studio/api/notice/publish", json={})
    assert published.status_code == 200, published.json
    assert published.json["bumped_from"] == draft["base_version"]
    with demo_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ModulePackage)
                                 .where(ModulePackage.module_id == "notice")) == 1
