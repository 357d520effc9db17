"""The task page shows the record behind the task (a repair order's photos and timeline);
task names read in the user's language even when stored before ``title_en``; the front desk
sees a badge for visitor requests about to expire."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app import clock
from app.db import db
from app.domains.repair.models import RepairOrder
from app.engine.models import ProcessInstance, TaskRow


def _open_task(app, element_id: str) -> TaskRow:
    with app.app_context():
        return db.session.scalar(select(TaskRow).where(TaskRow.element_id == element_id,
                                                       TaskRow.status.in_(["ready", "claimed"])).order_by(TaskRow.id))


def _notice_draft(app, login, key: str) -> int:
    """A manager starts a notice in YC; the id of its draft task."""
    from app.domains.estate.models import Community

    with app.app_context():
        yc = db.session.scalar(select(Community.id).where(Community.code == "YC"))
    login("manager_yc").post(f"/instances/{yc}/start", data={"process_id": "notice", "business_key": key})
    with app.app_context():
        instance = db.session.scalar(select(ProcessInstance.id).where(ProcessInstance.business_key == key))
        return db.session.scalar(select(TaskRow.id).where(TaskRow.instance_id == instance))


def test_a_repair_task_page_shows_the_orders_timeline_and_link(demo_app, login):
    task = _open_task(demo_app, "assign_manual")
    with demo_app.app_context():
        order = db.session.scalar(select(RepairOrder).where(RepairOrder.number == task.business_key))
        order_id, photos = order.id, len(order.photos or [])
    page = login("manager_yc").get(f"/inbox/task/{task.id}")
    assert page.status_code == 200
    assert 'id="task-detail"' in page.text and 'id="task-timeline"' in page.text
    assert 'data-kind="reported"' in page.text and "<strong>已报修</strong>" in page.text
    assert 'data-kind="unassigned"' in page.text and "暂无合适技工，等待经理派单" in page.text
    assert f'href="/repairs/show/{order_id}"' in page.text
    assert page.text.count('<img src="/uploads/') == photos


def test_a_task_without_a_record_has_no_detail(demo_app, login):
    task_id = _notice_draft(demo_app, login, "N-detail")
    page = login("frontdesk_yc").get(f"/inbox/task/{task_id}")
    assert page.status_code == 200 and 'id="task-detail"' not in page.text


def test_a_task_stored_before_title_en_reads_english_from_the_shipped_process(demo_app, login):
    draft = _notice_draft(demo_app, login, "N-old-title")
    with demo_app.app_context():
        row = db.session.get(TaskRow, draft)
        assert (row.title, row.title_en) == ("起草通知", "Draft notice")  # the shipped names
        row.title, row.title_en = "Draft notice 起草通知", None  # as a task stored by an older release
        task_id = row.id
        db.session.commit()
    desk = login("frontdesk_yc")
    assert "起草通知" in desk.get(f"/inbox/task/{task_id}").text
    assert "Draft notice 起草通知" not in desk.get("/inbox/").text
    desk.post("/lang/en")
    page = desk.get(f"/inbox/task/{task_id}").text
    assert "<h3>Draft notice" in page and "起草通知" not in page
    desk.post("/lang/zh")


def test_the_front_desk_sees_visitor_requests_about_to_expire(demo_app, login):
    desk = login("frontdesk_yc")
    made = desk.post("/visitors/", data={"household_code": "YC-1-101", "visitor_name": "快递员王",
                                         "visitor_phone": "13912345678", "hours": "2"})
    assert made.status_code == 302
    with demo_app.app_context():
        task = db.session.scalar(select(TaskRow).where(TaskRow.element_id == "call_host",
                                                       TaskRow.status == "ready").order_by(TaskRow.id.desc()))
        task.due_at = clock.now() + timedelta(minutes=40)  # not yet within 15 minutes
        db.session.commit()
        task_id = task.id
    home = desk.get("/").text
    assert 'id="ef-badge-visitors-expiring"' not in home
    with demo_app.app_context():
        db.session.get(TaskRow, task_id).due_at = clock.now() + timedelta(minutes=10)
        db.session.commit()
    home = desk.get("/").text
    assert 'id="ef-badge-visitors-expiring"' in home and 'data-panel="visitors_expiring"' in home
    assert 'id="ef-badge-visitors-expiring"' not in login("tech_yc1").get("/").text
