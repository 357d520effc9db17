"""Issue 12, item 11: the process upload API on a locked SQLite database answers 503 "busy, try
again" (what FAB's own ``@safe`` turned into 500 "Fatal error"), and stores nothing."""
from __future__ import annotations

import io
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.db import db
from app.engine.models import ProcessVersion

ROOT = Path(__file__).resolve().parents[3]
NOTICE = (ROOT / "bpmn" / "notice" / "notice.bpmn").read_text(encoding="utf-8")


def test_upload_api_on_a_locked_database_is_busy_not_a_500(demo_app, login, demo_db_url):
    if not demo_db_url.startswith("sqlite"):
        pytest.skip("SQLite's single writer is what this item is about")
    client = login("consultant")
    with demo_app.app_context():
        before = db.session.scalar(select(func.count()).select_from(ProcessVersion))
        db.session.remove()
    body = NOTICE.replace('name="', 'name="busy ', 1)  # other content: a new version would be written
    holder = sqlite3.connect(demo_db_url.removeprefix("sqlite:///"), timeout=1)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        response = client.post("/api/v1/processes/upload", data={
            "module_id": "notice", "bpmn": (io.BytesIO(body.encode()), "notice.bpmn")},
            content_type="multipart/form-data")
    finally:
        holder.rollback()
        holder.close()
    assert response.status_code == 503, response.text
    assert response.json["message"] in ("系统繁忙，请稍后再试。",  # zh: the default language
                                        "The system is busy, please try again in a moment.")
    assert response.headers["Retry-After"]
    with demo_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ProcessVersion)) == before
