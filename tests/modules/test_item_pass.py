"""物品放行 (menus/item_pass.yaml, bpmn/item_pass/, forms/item_pass/) end to end through the
engine, on SQLite and PostgreSQL: a module with no Python of its own.

A tenant's request goes to the household's owner (their own task); approved, the guard checks the
items at the gate and lets them out. An owner's own request needs no approval, and the guard may
refuse with a reason. An owner with no login is asked by the front desk, who may refuse for them.
"""
from __future__ import annotations

from sqlalchemy import select

from app.engine import instance_history
from app.platform.models import AuditEvent
from tests.support.module_flows import Flow, make_estate, told

REQUEST = {"items": "双人床 1 张、衣柜 1 个、纸箱 6 个", "reason": "moving_out", "move_date": "2026-11-28",
           "vehicle_plate": "京A12345"}


def elements(session, flow):
    return [t["element_id"] for t in instance_history(session, flow.instance.id)["tasks"]]


def test_tenant_request_approved_by_the_owner_and_checked_at_the_gate(session):
    estate = make_estate(session, ["item_pass"])
    flow = Flow(session, estate["community"], "item_pass", "FX-001",
                {"applicant": "tenant101", "household_id": estate["homes"][0].id, "owner": "owner101"})
    flow.do("request", "tenant101", REQUEST)
    assert flow.inbox("owner101") == ["owner_approve"] and flow.inbox("tenant101") == []
    assert flow.inbox("desk") == [] and flow.inbox("guard") == []
    flow.do("owner_approve", "owner101", {"approval": "approve"})
    assert flow.inbox("guard") == ["gate_check"]
    flow.do("gate_check", "guard", {"gate_result": "checked"})
    assert not flow.incidents() and flow.status == "completed"
    notes = [a.after["note"] for a in session.scalars(select(AuditEvent).where(
        AuditEvent.action == "item_pass.let_out"))]
    assert notes == ["FX-001 已查验放行：双人床 1 张、衣柜 1 个、纸箱 6 个"]


def test_owner_needs_no_approval_and_the_guard_refuses_with_a_reason(session):
    estate = make_estate(session, ["item_pass"])
    flow = Flow(session, estate["community"], "item_pass", "FX-002",
                {"applicant": "owner101", "household_id": estate["homes"][0].id, "owner": "owner101"})
    flow.do("request", "owner101", REQUEST)
    assert flow.waiting() == ["gate_check"]
    flow.do("gate_check", "guard", {"gate_result": "refused", "refuse_reason": "物品与清单不符（多出空调 1 台）"})
    assert not flow.incidents() and flow.status == "completed"
    assert elements(session, flow) == ["request", "gate_check"]
    assert told(session, estate["homes"][0].id) == [
        ("item_pass.refused", "物品放行 FX-002 门岗未放行，原因：物品与清单不符（多出空调 1 台）")]


def test_owner_without_login_is_asked_by_the_front_desk_who_refuses(session):
    estate = make_estate(session, ["item_pass"])
    flow = Flow(session, estate["community"], "item_pass", "FX-003",
                {"applicant": "tenant101", "household_id": estate["homes"][1].id, "owner": ""})
    flow.do("request", "tenant101", REQUEST)
    assert flow.inbox("desk") == ["desk_confirm"]
    flow.do("desk_confirm", "desk", {"approval": "refuse", "approval_comment": "业主电话表示不同意搬出家具"})
    assert not flow.incidents() and flow.status == "completed"
    assert "gate_check" not in elements(session, flow)
    assert told(session, estate["homes"][1].id) == [
        ("item_pass.not_approved", "物品放行申请 FX-003 业主未同意：业主电话表示不同意搬出家具")]
