"""A consultant uploads a module package through the page and the JSON API; a manager enables
it for one community on the module menu; the documented ``curl`` example works."""
from __future__ import annotations

import io
from pathlib import Path

from sqlalchemy import func, select

from app.db import db
from app.domains.estate.models import Community
from app.engine.models import ProcessInstance, ProcessVersion
from app.modules.models import ModuleActivation, ModulePackage
from app.modules.packages import pack_folder, read_folder

ROOT = Path(__file__).resolve().parents[3]
LIFT = ROOT / "tests" / "app" / "modules" / "fixtures" / "lift_inspection"
INSPECT = "forms/lift_inspection/inspect.yaml"


def _community_id(app, code: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Community.id).where(Community.code == code))


def _count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def _zip(files: dict[str, bytes]) -> bytes:
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_the_documented_curl_example_validates_and_uploads(demo_app, login):
    """docs/authoring.md: ``-F bpmn=@bpmn/notice/notice.bpmn -F forms=@forms/notice/draft.yaml
    -F module_id=notice`` (curl sends the bare file name ``draft.yaml``)."""
    client = login("consultant")

    def post(url):
        return client.post(url, content_type="multipart/form-data", data={
            "bpmn": (io.BytesIO((ROOT / "bpmn/notice/notice.bpmn").read_bytes()), "notice.bpmn"),
            "forms": (io.BytesIO((ROOT / "forms/notice/draft.yaml").read_bytes()), "draft.yaml"),
            "module_id": "notice"})

    validated = post("/api/v1/processes/validate")
    assert validated.status_code == 200, validated.json
    assert validated.json["errors"] == []
    uploaded = post("/api/v1/processes/upload")
    assert uploaded.status_code == 201, uploaded.json
    assert uploaded.json["process_id"] == "notice"


def test_a_process_for_an_unknown_module_is_refused(demo_app, login):
    client = login("consultant")
    response = client.post("/api/v1/processes/upload", content_type="multipart/form-data", data={
        "bpmn": (io.BytesIO((ROOT / "bpmn/notice/notice.bpmn").read_bytes()), "notice.bpmn"),
        "module_id": "lifts"})
    assert response.status_code == 422
    assert response.json["errors"][0].startswith("notice.bpmn:0: module: unknown module 'lifts'")


def test_a_broken_package_on_the_page_stores_nothing(demo_app, login):
    client = login("consultant")
    files = read_folder(LIFT)
    files[INSPECT] = files[INSPECT].replace(b"type: choice", b"type: colour")
    before = (_count(demo_app, ModulePackage), _count(demo_app, ProcessVersion))
    response = client.post("/processes/package", content_type="multipart/form-data", data={
        "package": (io.BytesIO(_zip(files)), "lift_inspection.zip")})
    assert response.status_code == 422
    assert "forms/lift_inspection/inspect.yaml:8: fields[0].type: 未知的字段类型“colour”" in response.text
    assert (_count(demo_app, ModulePackage), _count(demo_app, ProcessVersion)) == before


def test_upload_on_the_page_then_enable_for_one_community(demo_app, login):
    consultant = login("consultant")
    checked = consultant.post("/processes/package", content_type="multipart/form-data", data={
        "package": (io.BytesIO(pack_folder(LIFT)), "lift_inspection.zip"), "validate_only": "1"})
    assert checked.status_code == 200 and 'id="package-ok"' in checked.text
    assert _count(demo_app, ModulePackage) == 0

    # the multi-file picker: every file of the folder, bare names
    picked = [(io.BytesIO(d), Path(p).name) for p, d in read_folder(LIFT).items()
              if not p.startswith("menus/notifications/")]
    uploaded = consultant.post("/processes/package", content_type="multipart/form-data",
                               data={"package": picked})
    assert uploaded.status_code == 200, uploaded.text
    assert "lift_inspection" in uploaded.text and 'id="package-ok"' in uploaded.text
    assert _count(demo_app, ModulePackage) == 1

    # the same version with other content is refused, clearly
    files = read_folder(LIFT)
    files[INSPECT] = files[INSPECT].replace(b"max_length: 1000", b"max_length: 999")
    again = consultant.post("/api/v1/processes/package/upload", content_type="multipart/form-data",
                            data={"package": (io.BytesIO(_zip(files)), "lift.zip")})
    assert again.status_code == 422
    assert "version 1.0.0 of module 'lift_inspection' was already uploaded with other content" in \
        again.json["errors"][0]

    yc, fx = _community_id(demo_app, "YC"), _community_id(demo_app, "FX")
    manager = login("manager_yc")
    menu = manager.get(f"/modules/{yc}/")
    assert 'id="module-lift_inspection"' in menu.text and "电梯年检" in menu.text
    enabled = manager.post(f"/modules/{yc}/lift_inspection/settings", data={"inspection_hours": "24"})
    assert enabled.status_code == 302, enabled.text
    with demo_app.app_context():
        row = db.session.scalar(select(ModuleActivation).where(
            ModuleActivation.community_id == yc, ModuleActivation.module_id == "lift_inspection"))
        assert row.enabled and row.version == "1.0.0" and row.settings == {"inspection_hours": 24}
    started = manager.post(f"/instances/{yc}/start", data={"process_id": "lift_inspection",
                                                          "business_key": "LIFT-1"})
    assert started.status_code == 302
    with demo_app.app_context():
        assert db.session.scalar(select(ProcessInstance.status).where(
            ProcessInstance.business_key == "LIFT-1")) == "waiting"

    other = login("manager_fx")
    assert "lift_inspection" not in other.get(f"/instances/{fx}/").text
    refused = other.post(f"/instances/{fx}/start", data={"process_id": "lift_inspection"})
    assert refused.status_code == 302
    with demo_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ProcessInstance).where(
            ProcessInstance.community_id == fx, ProcessInstance.business_key.is_(None),
            ProcessInstance.version_id.in_(select(ProcessVersion.id).where(
                ProcessVersion.process_id == "lift_inspection")))) == 0

    # version 1.1.0: YC sees what changes and upgrades; FX (never enabled) is untouched
    v2 = read_folder(LIFT)
    v2["menus/lift_inspection.yaml"] = v2["menus/lift_inspection.yaml"].replace(b'"1.0.0"', b'"1.1.0"')
    v2["forms/lift_inspection/certify.yaml"] += (b"  - name: inspector\n    type: text\n"
                                                 b"    label: {zh: x, en: Inspector}\n")
    second = consultant.post("/api/v1/processes/package/upload", content_type="multipart/form-data",
                             data={"package": (io.BytesIO(_zip(v2)), "lift.zip")})
    assert second.status_code == 201, second.json
    menu = manager.get(f"/modules/{yc}/")
    assert 'class="alert alert-info module-upgrade" data-new-version="1.1.0"' in menu.text
    assert "表单 lift_inspection/certify 已修改（新增字段 inspector）" in menu.text
    assert manager.post(f"/modules/{yc}/lift_inspection/upgrade").status_code == 302
    with demo_app.app_context():
        assert db.session.scalar(select(ModuleActivation.version).where(
            ModuleActivation.community_id == yc, ModuleActivation.module_id == "lift_inspection")) == "1.1.0"
    assert "module-upgrade" not in manager.get(f"/modules/{yc}/").text
