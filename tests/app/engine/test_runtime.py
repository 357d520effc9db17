"""Running processes end to end on both databases: gateways, lanes, scripts,
service tasks, subprocesses and call activities, cancellation."""
from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from app.engine.runtime import cancel_instance, start_instance
from app.engine.history import instance_data, instance_history
from app.engine.models import MessageWait, ProcessInstance, TaskRow, TimerRow
from app.engine.tasks import complete_task, task_data
from app.platform.models import AuditEvent


def test_small_amount_takes_default_branch(session, community, deploy, open_tasks):
    deploy("gateways.bpmn")
    inst = start_instance(session, "gateways", community.id, "PO-1", actor="li")
    session.commit()
    [request] = open_tasks(inst.id)
    assert (request.element_id, request.role, request.form_id) == ("request", "front_desk", "test/request")
    complete_task(session, request.id, {"amount": 200}, actor="li")
    session.commit()
    assert inst.status == "completed"
    assert instance_data(session, inst.id) == {"amount": 200, "route": "small",
                                              "business_key": "PO-1", "community_id": community.id}
    assert open_tasks(inst.id) == []


def test_big_amount_needs_both_parallel_approvals(session, community, deploy, open_tasks):
    deploy("gateways.bpmn")
    inst = start_instance(session, "gateways", community.id, "PO-2", actor="li")
    [request] = open_tasks(inst.id)
    complete_task(session, request.id, {"amount": 5000}, actor="li")
    session.commit()
    approvals = open_tasks(inst.id)
    assert sorted((t.element_id, t.role) for t in approvals) == [
        ("approve_accountant", "accountant"), ("approve_manager", "manager")]
    complete_task(session, approvals[0].id, {"ok": True}, actor="wang")
    session.commit()
    assert inst.status == "waiting"
    complete_task(session, approvals[1].id, {"ok": True}, actor="zhao")
    session.commit()
    assert inst.status == "completed"
    history = instance_history(session, inst.id)
    assert "summarize" in history["completed_elements"]
    assert instance_data(session, inst.id)["total"] == 10000
    assert "auto" not in history["completed_elements"]
    assert [t["completed_by"] for t in history["tasks"]] == ["li", "wang", "zhao"]


NOTICE = Path(__file__).resolve().parents[3] / "bpmn" / "notice" / "notice.bpmn"


def test_notice_module_rejected_once_then_published(session, community, deploy, open_tasks, caplog):
    deploy(NOTICE, module="notice")
    inst = start_instance(session, "notice", community.id, "N-2026-001", actor="front")
    session.commit()
    [draft] = open_tasks(inst.id)
    assert (draft.role, draft.form_id, draft.business_key) == ("front_desk", "notice/draft", "N-2026-001")
    complete_task(session, draft.id, {"title": "停水通知", "body": "周六 9:00-12:00 停水"}, actor="front")
    session.commit()
    [review] = open_tasks(inst.id)
    assert (review.role, review.form_id) == ("manager", "notice/review")
    assert review.due_at == review.created_at + timedelta(hours=24)
    complete_task(session, review.id, {"decision": "reject", "comment": "写明小区"}, actor="boss")
    session.commit()
    [draft2] = open_tasks(inst.id)
    assert draft2.element_id == "draft" and draft2.id != draft.id
    assert task_data(session, draft2.id)["comment"] == "写明小区"
    complete_task(session, draft2.id, {"title": "和平里停水通知", "body": "周六停水"}, actor="front")
    session.commit()
    [review2] = open_tasks(inst.id)
    with caplog.at_level(logging.INFO, logger="estateflow.operations"):
        complete_task(session, review2.id, {"decision": "approve"}, actor="boss")
        session.commit()
    assert inst.status == "completed"
    assert "【通知】和平里停水通知: 周六停水" in caplog.text
    actions = session.scalars(select(AuditEvent.action).where(
        AuditEvent.community_id == community.id).order_by(AuditEvent.id)).all()
    assert actions == ["process.start"] + ["task.complete"] * 4


def test_subprocess_and_call_activity(session, community, deploy, open_tasks):
    deploy("nested.bpmn")
    inst = start_instance(session, "nested", community.id, "INS-1")
    session.commit()
    [inner] = open_tasks(inst.id)
    assert (inner.element_id, inner.role) == ("inner_task", "technician")
    complete_task(session, inner.id, {"finding": "ok"}, actor="tech")
    session.commit()
    assert inst.status == "completed"
    elements = instance_history(session, inst.id)["completed_elements"]
    assert {"inner_task", "child_script", "call_child", "end"} <= set(elements)


def test_start_data_and_business_key_are_task_data(session, community, deploy, open_tasks):
    deploy("gateways.bpmn")
    inst = start_instance(session, "gateways", community.id, "PO-9", data={"amount": 1})
    [request] = open_tasks(inst.id)
    data = task_data(session, request.id)
    assert data["business_key"] == "PO-9" and data["community_id"] == community.id
    assert data["amount"] == 1


def test_cancel_closes_tasks_and_timers(session, community, deploy, open_tasks):
    deploy("escalation.bpmn")
    inst = start_instance(session, "escalation", community.id, "WO-7")
    session.commit()
    assert session.scalar(select(func.count()).select_from(TimerRow).where(
        TimerRow.instance_id == inst.id, TimerRow.status == "pending")) == 1
    cancel_instance(session, inst.id, actor="boss", reason="duplicate")
    session.commit()
    assert session.get(ProcessInstance, inst.id).status == "cancelled"
    assert open_tasks(inst.id) == []
    assert session.scalar(select(func.count()).select_from(TimerRow).where(
        TimerRow.instance_id == inst.id, TimerRow.status == "pending")) == 0
    assert session.scalar(select(func.count()).select_from(MessageWait)) == 0
    assert session.scalar(select(TaskRow.status).where(TaskRow.instance_id == inst.id)) == "cancelled"


def test_an_input_that_starts_and_ends_with_expressions_is_text_not_one_expression():
    """``${a} x ${b}`` fills both in; before, it was evaluated as the expression ``a} x ${b``."""
    from types import SimpleNamespace

    from app.engine.runtime import evaluate_param

    values = {"business_key": "TS-1", "n": 5, "comment": "好"}
    wf = SimpleNamespace(script_engine=SimpleNamespace(evaluate=lambda task, expr: eval(expr, {}, values)))
    assert evaluate_param(wf, None, "${n}") == 5
    assert evaluate_param(wf, None, "${business_key} 满意度 ${n}：${comment}") == "TS-1 满意度 5：好"
    assert evaluate_param(wf, None, "plain") == "plain"
