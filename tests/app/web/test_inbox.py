"""Staff inbox through the web app: claim, validation error keeps input, complete, conflicts."""
from __future__ import annotations

import re

from sqlalchemy import select

from app.db import db
from app.engine.models import ProcessInstance, TaskRow
from app.domains.estate.models import Community


def _task_ids(client) -> list[int]:
    return [int(t) for t in re.findall(r'data-task="(\d+)"', client.get("/inbox/").text)]


def _start_notice(app, login, key: str) -> int:
    client = login("manager_yc")
    with app.app_context():
        yc = db.session.scalar(select(Community.id).where(Community.code == "YC"))
    response = client.post(f"/instances/{yc}/start", data={"process_id": "notice", "business_key": key})
    assert response.status_code == 302
    with app.app_context():
        return db.session.scalar(select(ProcessInstance.id).where(ProcessInstance.business_key == key))


def _draft_task(app, instance_id: int) -> int:
    with app.app_context():
        return db.session.scalar(select(TaskRow.id).where(TaskRow.instance_id == instance_id,
                                                          TaskRow.status.in_(["ready", "claimed"])))


def test_two_step_flow_with_a_validation_error_on_the_way(demo_app, login):
    instance_id = _start_notice(demo_app, login, "N-1")
    desk = login("frontdesk_yc")
    task = _draft_task(demo_app, instance_id)
    assert task in _task_ids(desk)
    assert task not in _task_ids(login("tech_yc1"))  # not a technician's task
    assert desk.post(f"/inbox/task/{task}/claim").status_code == 302

    bad = desk.post(f"/inbox/task/{task}", data={"title": "停水通知", "body": ""})
    assert bad.status_code == 422
    assert 'value="停水通知"' in bad.text and "aria-invalid" in bad.text

    good = desk.post(f"/inbox/task/{task}", data={"title": "停水通知", "body": "周三 9:00–12:00 停水"})
    assert good.status_code == 302
    manager = login("manager_yc")
    review = _draft_task(demo_app, instance_id)
    assert review in _task_ids(manager)
    manager.post(f"/inbox/task/{review}/claim")
    page = manager.get(f"/inbox/task/{review}")
    assert "停水通知" in page.text  # the draft shows as read-only context
    assert manager.post(f"/inbox/task/{review}", data={"decision": "approve"}).status_code == 302
    with demo_app.app_context():
        assert db.session.get(ProcessInstance, instance_id).status == "completed"
    history = manager.get(f"/instances/show/{instance_id}")
    assert "frontdesk_yc" in history.text and "completed" in history.text


def test_completing_the_same_task_twice_gives_one_success_and_a_clear_conflict(demo_app, login):
    instance_id = _start_notice(demo_app, login, "N-2")
    desk = login("frontdesk_yc")
    task = _draft_task(demo_app, instance_id)
    desk.post(f"/inbox/task/{task}/claim")
    page = desk.get(f"/inbox/task/{task}")
    version = int(re.search(r'data-version="(\d+)"', page.text).group(1))
    first = desk.post(f"/inbox/task/{task}", data={"title": "a", "body": "b", "_version": version})
    second = desk.post(f"/inbox/task/{task}", data={"title": "c", "body": "d", "_version": version},
                       follow_redirects=True)
    assert first.status_code == 302
    assert "nothing of yours was saved" in second.text or "未保存" in second.text
    with demo_app.app_context():
        row = db.session.get(TaskRow, task)
        assert row.status == "completed" and row.data["title"] == "a"


def test_someone_elses_claim_cannot_be_completed(demo_app, login):
    instance_id = _start_notice(demo_app, login, "N-3")
    task = _draft_task(demo_app, instance_id)
    desk = login("frontdesk_yc")
    desk.post(f"/inbox/task/{task}/claim")
    other = login("manager_yc")  # manager is not front desk: the task is not even visible
    assert other.post(f"/inbox/task/{task}", data={"title": "x", "body": "y"}).status_code == 404
    with demo_app.app_context():
        assert db.session.get(TaskRow, task).status == "claimed"


def test_tasks_of_another_community_are_invisible(demo_app, login):
    instance_id = _start_notice(demo_app, login, "N-4")
    task = _draft_task(demo_app, instance_id)
    fx_guard = login("guard_fx")
    assert task not in _task_ids(fx_guard)
    assert fx_guard.get(f"/inbox/task/{task}").status_code == 404
    assert login("manager_fx").get(f"/instances/show/{instance_id}").status_code == 404
