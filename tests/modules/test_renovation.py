"""装修申请 (menus/renovation.yaml, bpmn/renovation/, forms/renovation/) end to end through the
engine, on SQLite and PostgreSQL: a module with no Python of its own.

Approved path: the resident applies with drawings, the manager approves with a deposit, the
accountant collects it (``fees.record_deposit`` books it in the ledger), a technician's site
checks loop (OK → a week's timer → check again; problems → the resident fixes → check again),
the final inspection fails once (back to the resident's fix), a deduction above the deposit
sends it back to the manager, and then it passes with a deduction,
the accountant pays the rest back (``fees.release_deposit``). Rejected path: the manager
rejects with a reason and nothing is booked.
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app import clock
from app.domains.fees.deposits import deposit_state, deposits_held_cents
from app.domains.fees.ledger import account_balance, ledger_problems
from app.domains.fees.models import LedgerEntry
from app.engine import fire_due_timers
from tests.support.module_flows import Flow, drawing, make_estate, told


def apply(flow: Flow) -> None:
    flow.do("apply", "owner101", {
        "work_types": ["bathroom", "plumbing"], "description": "卫生间重做防水，更换水管",
        "start_date": "2026-12-01", "end_date": "2026-12-20", "contractor": "宏达装饰 王工",
        "contractor_phone": "13912345678", "drawings": [drawing()]})


def test_renovation_with_site_check_loop_final_inspection_and_deposit_release(session):
    estate = make_estate(session, ["fees", "renovation"])
    home = estate["homes"][0]
    flow = Flow(session, estate["community"], "renovation", "ZX-2026-001",
                {"applicant": "owner101", "household_id": home.id})
    assert flow.waiting() == ["apply"]
    assert flow.inbox("tenant101") == []  # the applicant's own task
    apply(flow)
    assert flow.inbox("mgr") == ["review"] and flow.inbox("desk") == []
    flow.do("review", "mgr", {"decision": "approve", "deposit": "2000.00",
                              "conditions": "施工时间 8:00-12:00、14:00-18:00"})
    flow.do("collect_deposit", "acct", {"deposit_method": "cash", "deposit_receipt_no": "SJ-0001"})
    key = f"instance:{flow.instance.id}"
    cid = estate["community"].id
    assert deposit_state(session, cid, key).held_cents == 200000
    assert account_balance(session, "cash", community_id=cid) == 200000

    # site checks: OK waits a week, then the technician checks again
    flow.do("site_check", "tech", {"check_result": "ok"})
    assert flow.waiting() == []
    clock.advance(timedelta(days=6))
    assert fire_due_timers(session) == 0
    clock.advance(timedelta(days=1, minutes=1))
    assert fire_due_timers(session) == 1
    session.commit()
    # problems found: the resident fixes them, the technician checks again
    flow.do("site_check", "tech", {"check_result": "fix", "findings": "卫生间防水未做闭水试验"})
    assert flow.inbox("owner101") == ["fix"]
    flow.do("fix", "owner101", {"fix_notes": "已做 48 小时闭水试验"})
    flow.do("site_check", "tech", {"check_result": "finished"})
    # the final inspection fails once: back to the resident's fix
    flow.do("final_inspection", "mgr", {"final_result": "fail", "findings": "楼道墙面有划痕"})
    flow.do("fix", "owner101", {"fix_notes": "楼道墙面已修补"})
    flow.do("site_check", "tech", {"check_result": "finished"})
    # a deduction above the deposit cannot be booked: the inspection comes back, nothing fails
    flow.do("final_inspection", "mgr", {"final_result": "pass", "deduction": "2000.01",
                                        "deduction_reason": "超额"})
    assert flow.waiting() == ["final_inspection"] and not flow.incidents()
    flow.do("final_inspection", "mgr", {"final_result": "pass", "deduction": "150.00",
                                        "deduction_reason": "楼道扶手损坏维修费"})
    assert deposit_state(session, cid, key).held_cents == 200000  # paid back by the accountant
    flow.do("refund_deposit", "acct", {"refund_method": "bank_transfer", "refund_note": "TK-0001"})

    assert flow.status == "completed" and not flow.incidents()
    state = deposit_state(session, cid, key)
    assert (state.received_cents, state.refunded_cents, state.deducted_cents, state.held_cents) == (
        200000, 185000, 15000, 0)
    assert deposits_held_cents(session, cid) == 0
    assert account_balance(session, "bank", community_id=cid) == -185000
    assert account_balance(session, "revenue", community_id=cid) == -15000
    assert ledger_problems(session) == []
    assert {e.household_id for e in session.scalars(select(LedgerEntry))} == {home.id}
    assert told(session, home.id) == [(
        "renovation.completed", "装修 ZX-2026-001 竣工验收通过，押金已退还（扣除 150.00 元：楼道扶手损坏维修费）。")]


def test_rejected_application_books_nothing(session):
    estate = make_estate(session, ["fees", "renovation"])
    flow = Flow(session, estate["community"], "renovation", "ZX-2026-002",
                {"applicant": "owner101", "household_id": estate["homes"][0].id})
    apply(flow)
    # a rejection needs its reason (the form refuses it without one)
    from app.forms.schema import build_schema

    form = Flow.forms.get("renovation/review")
    assert "reject_reason" in build_schema(form, locale="en").validate({"decision": "reject"})
    flow.do("review", "mgr", {"decision": "reject", "reject_reason": "涉及改动承重墙，不予批准"})
    assert flow.status == "completed" and not flow.incidents()
    assert session.scalar(select(LedgerEntry.id).limit(1)) is None
    assert told(session, estate["homes"][0].id) == [
        ("renovation.rejected", "您的装修申请 ZX-2026-002 未获批准，原因：涉及改动承重墙，不予批准")]
