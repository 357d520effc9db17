"""Inbox, claiming and completing: what staff see and what happens when two act at once."""
from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from app.engine.errors import ConcurrentUpdate, TaskNotOpen
from app.engine.models import ProcessInstance
from app.engine.runtime import start_instance
from app.engine.tasks import claim_task, complete_task, list_inbox, unclaim_task


def test_inbox_shows_role_tasks_of_my_communities_ordered_by_due(
        session, community, other_community, deploy):
    deploy("escalation.bpmn")
    deploy("gateways.bpmn")
    a = start_instance(session, "escalation", community.id, "WO-1")
    start_instance(session, "escalation", other_community.id, "WO-2")
    start_instance(session, "gateways", community.id, "PO-1")
    session.commit()
    mine = list_inbox(session, [community.id], ["technician"], "tech1")
    assert [(t.business_key, t.element_id) for t in mine] == [("WO-1", "repair")]
    assert mine[0].due_at is not None and mine[0].instance_id == a.id
    both = list_inbox(session, [community.id, other_community.id], ["technician", "front_desk"], "x")
    # due tasks first (soonest), tasks without a due date last
    assert [t.business_key for t in both] == ["WO-1", "WO-2", "PO-1"]
    assert list_inbox(session, [community.id], ["guard"], "x") == []


def test_claimed_task_leaves_other_inboxes_and_only_claimer_completes(session, community, deploy):
    deploy("escalation.bpmn")
    start_instance(session, "escalation", community.id, "WO-1")
    session.commit()
    [task] = list_inbox(session, [community.id], ["technician"], "tech1")
    claim_task(session, task.id, "tech1", roles={"technician"})
    session.commit()
    assert list_inbox(session, [community.id], ["technician"], "tech2") == []
    assert [t.id for t in list_inbox(session, [community.id], ["technician"], "tech1")] == [task.id]
    with pytest.raises(TaskNotOpen, match="claimed"):
        claim_task(session, task.id, "tech2")
    with pytest.raises(TaskNotOpen, match="claimed by tech1"):
        complete_task(session, task.id, {}, actor="tech2")
    unclaim_task(session, task.id, "tech1")
    session.commit()
    assert len(list_inbox(session, [community.id], ["technician"], "tech2")) == 1
    with pytest.raises(TaskNotOpen, match="role"):
        claim_task(session, task.id, "guard1", roles={"guard"})


def test_completed_task_cannot_be_completed_again(session, community, deploy):
    deploy("escalation.bpmn")
    inst = start_instance(session, "escalation", community.id, "WO-1")
    session.commit()
    [task] = list_inbox(session, [community.id], ["technician"], "t")
    complete_task(session, task.id, {"fixed": True}, actor="tech1")
    session.commit()
    assert session.get(ProcessInstance, inst.id).status == "completed"
    with pytest.raises(TaskNotOpen, match="already completed by tech1"):
        complete_task(session, task.id, {"fixed": True}, actor="tech2")


def test_two_people_complete_the_same_task_one_wins(session, community, deploy, db_engine):
    """Both load the form at the same instance version; the second save conflicts."""
    deploy("gateways.bpmn")
    inst = start_instance(session, "gateways", community.id, "PO-1")
    session.commit()
    [task] = list_inbox(session, [community.id], ["front_desk"], "x")
    with Session(db_engine) as first, Session(db_engine) as second:
        # Both render the form: each has the instance loaded at the same version.
        v1 = first.get(ProcessInstance, inst.id).lock_version
        v2 = second.get(ProcessInstance, inst.id).lock_version
        assert v1 == v2
        second.commit()  # end the read (SQLite would otherwise hold a shared lock)
        complete_task(first, task.id, {"amount": 10}, actor="li", expected_instance_version=v1)
        first.commit()
        with pytest.raises(ConcurrentUpdate, match="changed by someone else"):
            complete_task(second, task.id, {"amount": 20}, actor="wang",
                          expected_instance_version=v2)
        second.rollback()
    session.expire_all()
    final = session.get(ProcessInstance, inst.id)
    assert final.status == "completed" and final.lock_version == v1 + 1


def test_stale_instance_in_session_conflicts_on_save(session, community, deploy, db_engine):
    """No expected version given: the version loaded in the session is the one checked."""
    deploy("gateways.bpmn")
    inst = start_instance(session, "gateways", community.id, "PO-1")
    session.commit()
    [task] = list_inbox(session, [community.id], ["front_desk"], "x")
    with Session(db_engine) as first, Session(db_engine, expire_on_commit=False) as second:
        # loaded before the other commit and kept (stale) in the identity map
        stale = (second.get(ProcessInstance, inst.id), second.get(type(task), task.id))
        second.commit()
        complete_task(first, task.id, {"amount": 10}, actor="li")
        first.commit()
        with pytest.raises(ConcurrentUpdate):
            complete_task(second, task.id, {"amount": 20}, actor="wang")
        second.rollback()
        assert stale[0].lock_version == 2  # after rollback: the winner's save stands


def test_assignee_expression_gives_the_task_to_one_person(session, community, deploy):
    from app.engine.runtime import start_instance
    from app.engine.tasks import complete_task, list_inbox
    from app.engine.errors import TaskNotOpen

    deploy("assigned.bpmn")
    instance = start_instance(session, "assigned", community.id, "ORDER-9", data={"technician": "tech_a"})
    session.commit()
    [mine] = list_inbox(session, [community.id], ["technician"], "tech_a")
    assert (mine.status, mine.assignee) == ("claimed", "tech_a")
    assert list_inbox(session, [community.id], ["technician"], "tech_b") == []  # not in the team pool
    try:
        complete_task(session, mine.id, {"title": "t", "body": "b"}, "tech_b")
        raise AssertionError("someone else completed an assigned task")
    except TaskNotOpen:
        session.rollback()
    complete_task(session, mine.id, {"title": "t", "body": "b"}, "tech_a")
    session.commit()
    assert session.get(type(instance), instance.id).status == "completed"
