"""What each engine action writes: rows, audit trail, version counter, one transaction.

The engine writes with Core statements (not ORM flushes); these tests pin down that the
results are the same as before: projection rows, audit rows in order, the optimistic
counter, objects in the caller's session, and nothing committed by the engine.
"""
from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.engine.errors import ConcurrentUpdate, ProcessNotFound, TaskNotOpen
from app.engine.models import OPEN_TASK, ProcessInstance, TaskRow
from app.engine.operations import operation, unregister
from app.engine.runtime import cancel_instance, start_instance
from app.engine.tasks import claim_task, complete_task, get_task
from app.platform.models import AuditEvent

from .conftest import FIXTURES

STRAIGHT = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <bpmn:process id="straight" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:scriptTask id="calc"><bpmn:script>total = 2 * 21</bpmn:script></bpmn:scriptTask>
    <bpmn:endEvent id="end" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="calc" />
    <bpmn:sequenceFlow id="f2" sourceRef="calc" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>"""

NOTED = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="t">
  <bpmn:process id="noted" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:serviceTask id="note" camunda:type="external" camunda:topic="test.note" />
    <bpmn:userTask id="after" camunda:formKey="test/after" camunda:candidateGroups="accountant" />
    <bpmn:endEvent id="end" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="note" />
    <bpmn:sequenceFlow id="f2" sourceRef="note" targetRef="after" />
    <bpmn:sequenceFlow id="f3" sourceRef="after" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>"""


def _audit(session, community_id):
    return session.execute(
        select(AuditEvent.action, AuditEvent.target_type, AuditEvent.target_id)
        .where(AuditEvent.community_id == community_id).order_by(AuditEvent.id)).all()


def test_start_writes_instance_task_row_projection_and_audit(session, community, deploy):
    version = deploy("gateways.bpmn")
    inst = start_instance(session, "gateways", community.id, "PO-1", actor="clerk")
    # in the caller's session, persistent, clean, and nothing committed by the engine
    assert inst in session and inst.id is not None and not session.dirty
    assert (inst.version_id, inst.spec_hash, inst.lock_version) == (
        version.id, version.content_hash, 1)
    assert inst.status == "waiting" and inst.started_by == "clerk" and inst.state
    [row] = session.scalars(select(TaskRow).where(TaskRow.instance_id == inst.id))
    assert inst.projection["tasks"] == {row.spiff_task_id: row.id}
    assert (row.status, row.community_id, row.business_key) == ("ready", community.id, "PO-1")
    after = session.scalar(select(AuditEvent.after).where(AuditEvent.action == "process.start"))
    assert after == {"process_id": "gateways", "version": version.version, "business_key": "PO-1"}
    assert _audit(session, community.id) == [("process.start", "process_instance", str(inst.id))]
    session.rollback()  # the caller decides: nothing of the start survives
    assert session.scalar(select(func.count()).select_from(ProcessInstance)) == 0
    assert session.scalar(select(func.count()).select_from(AuditEvent)
                          .where(AuditEvent.action == "process.start")) == 0


def test_start_uses_the_newest_version(session, community, deploy):
    deploy("gateways.bpmn")
    newest = deploy("gateways.bpmn", (FIXTURES / "gateways.bpmn").read_bytes() + b"<!-- v2 -->")
    inst = start_instance(session, "gateways", community.id, "PO-2")
    assert (inst.version_id, inst.spec_hash) == (newest.id, newest.content_hash)
    after = session.scalar(select(AuditEvent.after).where(AuditEvent.action == "process.start"))
    assert after["version"] == newest.version == 2


def test_unknown_process_raises_and_writes_nothing(session, community):
    with pytest.raises(ProcessNotFound, match="nope"):
        start_instance(session, "nope", community.id)
    assert session.scalar(select(func.count()).select_from(ProcessInstance)) == 0
    # the transaction is still usable
    assert session.scalar(select(func.count()).select_from(AuditEvent)
                          .where(AuditEvent.action == "process.start")) == 0


def test_straight_through_start_is_saved_once(session, community, deploy):
    deploy("straight.bpmn", STRAIGHT)
    inst = start_instance(session, "straight", community.id, "S-1")
    session.commit()
    session.expire_all()
    stored = session.get(ProcessInstance, inst.id)
    assert (stored.status, stored.lock_version) == ("completed", 1)
    assert stored.ended_at is not None and stored.projection["tasks"] == {}
    assert _audit(session, community.id) == [("process.start", "process_instance", str(inst.id))]


def test_complete_updates_row_counter_and_audit(session, community, deploy, open_tasks):
    deploy("gateways.bpmn")
    inst = start_instance(session, "gateways", community.id, "PO-1")
    session.commit()
    session.expunge_all()  # a fresh session, as a web request would have
    [row] = open_tasks(inst.id)
    session.expunge_all()
    done = complete_task(session, row.id, {"amount": 10}, actor="li")
    assert done in session and done.lock_version == 2 and not session.dirty
    stored = session.get(TaskRow, row.id)
    assert (stored.status, stored.completed_by, stored.data) == ("completed", "li", {"amount": 10})
    session.commit()
    assert [a for a, *_ in _audit(session, community.id)] == ["process.start", "task.complete"]
    assert _audit(session, community.id)[1][2] == str(row.id)


def test_complete_reuses_objects_already_in_the_session(session, community, deploy, open_tasks):
    deploy("gateways.bpmn")
    inst = start_instance(session, "gateways", community.id, "PO-1")
    session.commit()
    [row] = open_tasks(inst.id)
    held = get_task(session, row.id)
    done = complete_task(session, row.id, {"amount": 10}, actor="li")
    assert done is inst  # the session's own instance object, updated in place
    assert held.status == "completed" and held.completed_by == "li" and not session.dirty
    session.commit()


def test_complete_after_expire_reloads(session, community, deploy, open_tasks):
    deploy("gateways.bpmn")
    inst = start_instance(session, "gateways", community.id, "PO-1")
    session.commit()
    [row] = open_tasks(inst.id)
    session.expire_all()
    done = complete_task(session, row.id, {"amount": 10}, actor="li")
    assert done is inst and inst.lock_version == 2
    session.commit()


def test_callers_pending_changes_are_written_first(session, community, deploy, open_tasks):
    """Autoflush semantics: a change the caller made before calling the engine is not
    overwritten by (or lost behind) the engine's own statements."""
    deploy("escalation.bpmn")
    inst = start_instance(session, "escalation", community.id, "WO-1")
    session.commit()
    [row] = open_tasks(inst.id)
    claim_task(session, row.id, "tech1")
    row.title = "Repair the pump"  # pending ORM change
    complete_task(session, row.id, {"fixed": True}, actor="tech1")
    session.commit()
    session.expire_all()
    stored = session.get(TaskRow, row.id)
    assert (stored.title, stored.status) == ("Repair the pump", "completed")


def test_stale_complete_conflicts_and_writes_nothing(session, community, deploy, db_engine):
    deploy("gateways.bpmn")
    inst = start_instance(session, "gateways", community.id, "PO-1")
    session.commit()
    [row_id] = inst.projection["tasks"].values()
    with pytest.raises(ConcurrentUpdate):
        complete_task(session, row_id, {"amount": 10}, actor="li", expected_instance_version=0)
    session.rollback()
    with Session(db_engine) as other:
        complete_task(other, row_id, {"amount": 10}, actor="li")
        other.commit()
    with pytest.raises(TaskNotOpen):
        complete_task(session, row_id, {"amount": 10}, actor="wang")
    session.rollback()
    assert session.scalar(select(func.count()).select_from(AuditEvent)
                          .where(AuditEvent.action == "task.complete")) == 1


def test_audit_order_with_an_operation_that_audits(session, community, deploy):
    @operation("test.note")
    def note(params, ctx):
        from app.platform.audit import record

        record(ctx.session, actor="op", action="op.note", target_type="process_instance",
               target_id=ctx.instance.id, community_id=ctx.community_id)
        return {}

    try:
        deploy("noted.bpmn", NOTED)
        inst = start_instance(session, "noted", community.id, "N-1")
        session.commit()
    finally:
        unregister("test.note")
    assert _audit(session, community.id) == [
        ("process.start", "process_instance", str(inst.id)),
        ("op.note", "process_instance", str(inst.id)),
    ]
    assert inst.lock_version == 1 and inst.status == "waiting"


def test_cancel_closes_rows_and_audits(session, community, deploy, open_tasks):
    deploy("escalation.bpmn")
    inst = start_instance(session, "escalation", community.id, "WO-1")
    session.commit()
    cancel_instance(session, inst.id, actor="boss", reason="duplicate")
    session.commit()
    assert inst.status == "cancelled" and inst.lock_version == 2
    assert session.scalars(select(TaskRow.status).where(TaskRow.instance_id == inst.id)
                           .where(TaskRow.status.in_(OPEN_TASK))).all() == []
    assert [a for a, *_ in _audit(session, community.id)] == ["process.start", "process.cancel"]
