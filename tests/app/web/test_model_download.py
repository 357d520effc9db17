"""Issue #12, item 2: a model file is served as a plain-text download, never as a page.

The probe had a consultant upload a BPMN with an XHTML ``<h:script>``; ``/instances/bpmn/<id>``
served it as ``application/xml`` without CSP, so it ran in the session of the admin who opened
it. Now the route answers ``text/plain`` as an attachment with ``nosniff`` and
``default-src 'none'`` (even a model stored before the upload check cannot run), and the upload
itself refuses browser code (tests/app/engine/test_xmlsafe.py). Runs on SQLite and PostgreSQL.
"""
from __future__ import annotations

import io
from pathlib import Path

from sqlalchemy import select

from app.db import db
from app.engine.models import ProcessInstance, ProcessVersion
from app.domains.estate.models import Community

ROOT = Path(__file__).resolve().parents[3]
NOTICE_BPMN = (ROOT / "bpmn" / "notice" / "notice.bpmn").read_text(encoding="utf-8")
XSS = ('<bpmn:documentation><h:script xmlns:h="http://www.w3.org/1999/xhtml">'
       'fetch("/users/api/create",{method:"POST"})</h:script>'
       '<h:img xmlns:h="http://www.w3.org/1999/xhtml" src="x" onerror="alert(document.cookie)"/>'
       '</bpmn:documentation>')


def _started_instance(demo_app, manager, key: str) -> int:
    with demo_app.app_context():
        yc = db.session.scalar(select(Community.id).where(Community.code == "YC"))
    response = manager.post(f"/instances/{yc}/start",
                            data={"process_id": "notice", "business_key": key})
    assert response.status_code in (302, 303), response.status_code
    with demo_app.app_context():
        return db.session.scalar(select(ProcessInstance.id)
                                 .where(ProcessInstance.business_key == key))


def _assert_download(response) -> None:
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    assert response.headers["Content-Disposition"].endswith('.bpmn"')
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")


def test_bpmn_of_an_instance_is_a_plain_text_download(demo_app, login):
    manager = login("manager_yc")
    instance_id = _started_instance(demo_app, manager, "DL-1")
    response = manager.get(f"/instances/bpmn/{instance_id}")
    _assert_download(response)
    assert 'filename="notice-v' in response.headers["Content-Disposition"]
    with demo_app.app_context():
        instance = db.session.get(ProcessInstance, instance_id)
        stored = db.session.get(ProcessVersion, instance.version_id).bpmn
    assert response.get_data(as_text=True) == stored  # the diagram still gets the XML text


def test_model_stored_before_the_check_cannot_run_in_the_browser(demo_app, login):
    """A version stored with browser code (before the upload check existed) is still inert."""
    manager = login("manager_yc")
    instance_id = _started_instance(demo_app, manager, "DL-2")
    with demo_app.app_context():
        version = db.session.get(ProcessVersion,
                                 db.session.get(ProcessInstance, instance_id).version_id)
        version_id, original = version.id, version.bpmn
        version.bpmn = original.replace("<bpmn:process ", XSS + "<bpmn:process ", 1)
        db.session.commit()
    try:
        response = login("admin").get(f"/instances/bpmn/{instance_id}")
        _assert_download(response)
        assert "<h:script" in response.get_data(as_text=True)  # served as text, not as a page
    finally:
        with demo_app.app_context():
            version = db.session.get(ProcessVersion, version_id)
            version.bpmn = original
            db.session.commit()


def test_other_community_cannot_download(demo_app, login):
    instance_id = _started_instance(demo_app, login("manager_yc"), "DL-3")
    response = login("manager_fx").get(f"/instances/bpmn/{instance_id}")
    assert response.status_code in (403, 404)


def test_upload_with_browser_code_is_refused_with_file_and_line(demo_app, login):
    evil = NOTICE_BPMN.replace("<bpmn:process ", XSS + "\n<bpmn:process ", 1)
    line = next(i for i, text in enumerate(evil.splitlines(), 1) if "h:script" in text)
    with demo_app.app_context():
        before = db.session.query(ProcessVersion).count()
    response = login("consultant").post("/processes/upload", data={
        "bpmn": (io.BytesIO(evil.encode("utf-8")), "notice.bpmn"), "module_id": "notice"},
        content_type="multipart/form-data")
    assert response.status_code == 422
    # the consultant reads the page in Chinese (the default); file, line and element as written
    assert f"notice.bpmn:{line}: h:script: 模型中不允许 XHTML 元素" in response.text
    assert "不允许属性“onerror”" in response.text
    with demo_app.app_context():
        assert db.session.query(ProcessVersion).count() == before
