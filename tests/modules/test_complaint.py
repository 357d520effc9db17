"""投诉建议 (menus/complaint.yaml, bpmn/complaint/, forms/complaint/) end to end through the
engine, on SQLite and PostgreSQL: a module with no Python of its own.

A complaint the front desk assigns to the guards is answered in time and rated; one assigned to
the technicians is not answered within 24 hours, so the response deadline (a timer boundary)
takes it from the technicians and gives it to the manager, who answers; the resident rates it.
A suggestion is answered by the front desk, with no department and no escalation.
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app import clock
from app.engine import fire_due_timers, instance_history
from app.platform.models import AuditEvent
from tests.support.module_flows import Flow, make_estate, told

COMPLAINT = {"kind": "complaint", "category": "noise", "description": "楼上每晚 11 点后装修噪音",
             "contact_back": True}


def start(session, estate, key):
    flow = Flow(session, estate["community"], "complaint", key,
                {"applicant": "tenant101", "household_id": estate["homes"][0].id})
    assert flow.inbox("tenant101") == ["submit"] and flow.inbox("owner101") == []
    return flow


def test_complaint_answered_in_time_and_one_escalated_by_the_deadline(session):
    estate = make_estate(session, ["complaint"])
    on_time = start(session, estate, "TS-001")
    on_time.do("submit", "tenant101", COMPLAINT)
    assert on_time.inbox("desk") == ["assign"]
    on_time.do("assign", "desk", {"department": "guard", "assign_note": "夜间巡逻时上门提醒"})
    assert on_time.inbox("guard") == ["respond_guard"] and on_time.inbox("tech") == []
    clock.advance(timedelta(hours=3))
    on_time.do("respond_guard", "guard", {"response": "已上门提醒，对方承诺 22 点后停工"})
    on_time.do("rate", "tenant101", {"satisfaction": "5", "rating_comment": "处理及时"})
    assert not on_time.incidents() and on_time.status == "completed"

    late = start(session, estate, "TS-002")
    late.do("submit", "tenant101", {**COMPLAINT, "category": "facilities", "description": "电梯按钮失灵"})
    late.do("assign", "desk", {"department": "technician"})
    assert late.inbox("tech") == ["respond_technician"]
    clock.advance(timedelta(hours=23))
    assert fire_due_timers(session) == 0
    clock.advance(timedelta(hours=1, minutes=1))
    assert fire_due_timers(session) == 1
    session.commit()
    assert late.waiting() == ["escalated"]
    assert late.inbox("tech") == [] and late.inbox("mgr") == ["escalated"]
    late.do("escalated", "mgr", {"response": "已联系电梯维保单位更换按钮"})
    late.do("rate", "tenant101", {"satisfaction": "3", "rating_comment": "处理慢"})
    assert late.status == "completed" and not late.incidents()
    notes = [a.after for a in session.scalars(select(AuditEvent).where(AuditEvent.action == "complaint.rated")
                                             .order_by(AuditEvent.id))]
    assert [n.get("note") for n in notes] == ["TS-001 满意度 5：处理及时", "TS-002 满意度 3：处理慢"]
    assert told(session, estate["homes"][0].id) == [
        ("complaint.answered", "处理结果：已上门提醒，对方承诺 22 点后停工"),
        ("complaint.answered", "处理结果：已联系电梯维保单位更换按钮")]


def test_suggestion_is_answered_without_escalation(session):
    estate = make_estate(session, ["complaint"])
    flow = start(session, estate, "TS-003")
    flow.do("submit", "tenant101", {"kind": "suggestion", "category": "environment",
                                    "description": "建议在 2 号楼旁增设分类垃圾桶"})
    assert flow.inbox("desk") == ["reply_suggestion"]
    clock.advance(timedelta(days=5))  # no deadline escalates a suggestion
    assert fire_due_timers(session) == 0
    flow.do("reply_suggestion", "desk", {"reply": "已采纳，下周安装", "adopted": True})
    assert flow.status == "completed" and not flow.incidents()
    done = [t["element_id"] for t in instance_history(session, flow.instance.id)["tasks"]]
    assert done == ["submit", "reply_suggestion"]
    assert told(session, estate["homes"][0].id) == [
        ("complaint.suggestion_answered", "感谢您的建议。答复：已采纳，下周安装")]


def test_the_response_deadline_follows_the_communitys_setting(session):
    """The 24 hours are a module setting (read by the generic ``module.settings`` operation): a
    community that sets 4 hours escalates after 4."""
    from app.modules.activation import update_settings
    from app.modules.catalog import load_catalog
    from tests.support.module_flows import ROOT

    estate = make_estate(session, ["complaint"], code="MS")
    update_settings(session, catalog=load_catalog(ROOT), community_id=estate["community"].id,
                    module_id="complaint", settings={"response_hours": 4}, actor="mgr")
    session.commit()
    flow = start(session, estate, "TS-004")
    flow.do("submit", "tenant101", COMPLAINT)
    flow.do("assign", "desk", {"department": "technician"})
    clock.advance(timedelta(hours=3, minutes=59))
    assert fire_due_timers(session) == 0
    clock.advance(timedelta(minutes=2))
    assert fire_due_timers(session) == 1
    session.commit()
    assert flow.inbox("mgr") == ["escalated"]
