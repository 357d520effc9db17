"""notify.log, notify.send, data.set and audit.note have a visible effect on the pages.

A consultant uploads a process of service tasks only (through the JSON API), a manager starts
it on the instances page; then: the resident's notification page shows the in-app message, the
community's notification list (manager, admin) shows what ``notify.log`` published and the
``log`` copy, the instance page shows both and the audit note, the audit log shows the note.
On SQLite and PostgreSQL (``demo_db_url``).
"""
from __future__ import annotations

import io
import logging
from pathlib import Path

from sqlalchemy import select

from app.db import db
from app.domains.estate.models import Community
from app.engine.models import ProcessInstance

BPMN = Path(__file__).parent / "fixtures" / "notice_effects.bpmn"
KEY = "EFF-1"


def _yc(app) -> int:
    with app.app_context():
        return db.session.scalar(select(Community.id).where(Community.code == "YC"))


def _run(app, login, caplog) -> int:
    consultant = login("consultant")
    uploaded = consultant.post("/api/v1/processes/upload", content_type="multipart/form-data", data={
        "bpmn": (io.BytesIO(BPMN.read_bytes()), "notice_effects.bpmn"), "module_id": "notice"})
    assert uploaded.status_code in (200, 201), uploaded.json
    yc = _yc(app)
    with caplog.at_level(logging.INFO, logger="estateflow"):
        started = login("manager_yc").post(f"/instances/{yc}/start",
                                           data={"process_id": "notice_effects", "business_key": KEY})
    assert started.status_code == 302
    with app.app_context():
        instance = db.session.scalar(select(ProcessInstance).where(ProcessInstance.business_key == KEY))
        assert instance.status == "completed", instance.error
        return instance.id


def test_every_generic_operation_shows_where_its_channel_says(demo_app, login, caplog):
    instance_id = _run(demo_app, login, caplog)
    yc = _yc(demo_app)
    board = "【通知】电梯年检 lift inspection: 周三 9:00 年检"

    # log: the platform log ...
    logged = [r.getMessage() for r in caplog.records]
    assert any("[notice_board]" in m and board in m for m in logged), logged
    assert any("notify notice.published" in m for m in logged), logged  # notify.send's log channel

    # ... and the community's notification list, for its manager and the admin
    for user in ("manager_yc", "admin"):
        page = login(user).get(f"/notifications/community/{yc}/")
        assert page.status_code == 200, user
        assert board in page.text and 'data-channel="notice_board"' in page.text
        assert 'data-channel="log"' in page.text and 'data-channel="in_app"' in page.text
    # another community's manager cannot read it
    assert login("manager_fx").get(f"/notifications/community/{yc}/").status_code in (403, 404, 302)

    # in_app: the recipient's notification page (and only theirs)
    resident = login("resident_yc").get("/notifications/")
    assert "社区通知：电梯年检 lift inspection" in resident.text and "周三 9:00 年检" in resident.text
    assert "电梯年检" not in login("resident_fx").get("/notifications/").text

    # the instance page: what it published and sent, and its audit note
    show = login("manager_yc").get(f"/instances/show/{instance_id}")
    assert 'id="instance-notifications"' in show.text and board in show.text
    assert "社区通知：电梯年检 lift inspection" in show.text
    assert 'id="audit-notes"' in show.text and "notice.effects_noted" in show.text
    assert "年检通知已发布 电梯年检 lift inspection" in show.text
    assert f"/notifications/community/{yc}/" in show.text  # the manager's way to the full list
    desk_show = login("frontdesk_yc").get(f"/instances/show/{instance_id}")
    assert desk_show.status_code == 200 and board in desk_show.text  # front desk sees the instance ...
    assert "/notifications/community/" not in desk_show.text  # ... but not the community list

    # audit.note: the audit log
    audit = login("manager_yc").get("/audit/list/")  # newest first
    assert audit.status_code == 200 and "notice.effects_noted" in audit.text
