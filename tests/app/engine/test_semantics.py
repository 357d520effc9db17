"""Run-time semantics of authored content, on SQLite and PostgreSQL.

A loop without a wait state becomes an incident (never a completed instance), a call
activity calling its own process stops instead of spinning, plain and manual tasks pass
through, and whatever authored content fails while a person submits a form or a message
arrives becomes an incident on its element — the action itself succeeds.
"""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import select

from app.engine.definitions import content_hash
from app.engine.history import instance_data
from app.engine.incidents import list_incidents, retry_incident
from app.engine.messages import send_message
from app.engine.models import (
    COMPLETED,
    DONE,
    INCIDENT,
    ProcessInstance,
    ProcessVersion,
    TaskRow,
)
from app.engine.runtime import start_instance
from app.engine.tasks import claim_task, complete_task
from app.engine.validation import check_bpmn
from app.settings import get_settings

SEMANTICS = Path(__file__).parent / "fixtures" / "semantics"


def _store_unvalidated(session, name: str) -> ProcessVersion:
    """A version as an older platform (or a database edit) might have stored it: the
    runtime must cope with what validation now refuses."""
    data = (SEMANTICS / name).read_bytes()
    process_id = name.removesuffix(".bpmn")
    version = ProcessVersion(process_id=process_id, version=1, module_id="test", filename=name,
                             content_hash=content_hash(data), bpmn=data.decode(),
                             start_messages=[], deployed_by="test")
    session.add(version)
    session.commit()
    return version


def _findings(name: str) -> list:
    return check_bpmn((SEMANTICS / name).read_bytes(), name, {"test/request": {"note"}},
                      set(), {"technician"})


def test_long_loop_becomes_an_incident_and_retry_runs_on(session, community, deploy):
    deploy(SEMANTICS / "long_loop.bpmn")
    bound = get_settings().engine_max_automatic_steps
    instance = start_instance(session, "long_loop", community.id)
    session.commit()
    assert instance.status == INCIDENT
    assert instance.ended_at is None
    (incident,) = list_incidents(session, [community.id])
    assert incident.element_id in {"inc", "more"}
    assert "loop without a wait state" in incident.error and str(bound) in incident.error
    reached = instance_data(session, instance.id)["i"]
    assert 0 < reached < 1000  # stopped part-way, not "completed" without its end event
    # each retry runs another bounded stretch; the loop really ends at i == 1000
    for _ in range(2 * 2000 // bound + 2):
        open_incidents = list_incidents(session, [community.id])
        if not open_incidents:
            break
        retry_incident(session, open_incidents[0].id, "admin")
        session.commit()
    session.refresh(instance)
    assert instance.status == COMPLETED
    assert instance_data(session, instance.id)["i"] == 1000
    assert "end" in instance.projection.get("pruned_elements", []) or instance.status == COMPLETED


def test_self_recursive_call_activity_is_refused_and_cannot_spin(session, community):
    errors = [e for e in _findings("self_call.bpmn") if not e.is_warning]
    assert [(e.line, e.element) for e in errors] == [(14, "call_again")]
    assert "leads back to its own process (inner → inner)" in errors[0].reason
    _store_unvalidated(session, "self_call.bpmn")
    began = time.process_time()
    instance = start_instance(session, "self_call", community.id)
    session.commit()
    assert time.process_time() - began < 5
    assert instance.status == INCIDENT
    (incident,) = list_incidents(session, [community.id])
    assert incident.element_id == "call_again"
    assert "keeps calling itself" in incident.error


def test_plain_and_manual_tasks_pass_through_with_a_warning(session, community, deploy):
    warnings = [(e.element, e.is_warning) for e in _findings("pass_through.bpmn")]
    assert warnings == [("plain", True), ("manual", True)]
    deploy(SEMANTICS / "pass_through.bpmn")
    instance = start_instance(session, "pass_through", community.id)
    session.commit()
    assert instance.status == COMPLETED
    assert instance_data(session, instance.id)["passed"] is True


def test_unnamed_message_is_refused_and_does_not_crash_a_start(session, community):
    errors = [e for e in _findings("unnamed_message.bpmn") if not e.is_warning]
    assert [(e.line, e.element) for e in errors] == [(5, "msg")]
    assert "message has no name" in errors[0].reason
    _store_unvalidated(session, "unnamed_message.bpmn")
    instance = start_instance(session, "unnamed_message", community.id)
    session.commit()
    assert instance.status == "waiting"


def test_gateway_without_outgoing_flow_is_refused_and_an_incident_at_run_time(session, community):
    errors = [e for e in _findings("dead_end_gateway.bpmn") if not e.is_warning]
    assert [(e.line, e.element) for e in errors] == [(7, "nowhere")]
    assert "has no outgoing flow" in errors[0].reason
    _store_unvalidated(session, "dead_end_gateway.bpmn")
    instance = start_instance(session, "dead_end_gateway", community.id)
    session.commit()
    assert instance.status == INCIDENT
    (incident,) = list_incidents(session, [community.id])
    assert incident.element_id == "nowhere"
    assert "Error" not in incident.error.split(":")[0]  # a sentence, not an exception name


def _open_task(session, instance_id):
    return session.scalars(select(TaskRow).where(
        TaskRow.instance_id == instance_id, TaskRow.status.in_(("ready", "claimed")))).one()


def test_broken_gateway_after_a_form_is_an_incident_and_the_submission_stands(
        session, community, deploy):
    findings = _findings("broken_after_task.bpmn")
    assert [e for e in findings if not e.is_warning] == []
    assert any(e.is_warning and e.element == "fail" and "reads 'result'" in e.reason
               for e in findings)
    deploy(SEMANTICS / "broken_after_task.bpmn")
    instance = start_instance(session, "broken_after_task", community.id, business_key="B-1")
    session.commit()
    row = _open_task(session, instance.id)
    claim_task(session, row.id, "tech1")
    complete_task(session, row.id, {"note": "kept"}, "tech1")
    session.commit()
    session.refresh(row)
    assert row.status == DONE and row.completed_by == "tech1"  # not left claimed and stuck
    instance = session.get(ProcessInstance, instance.id)
    assert instance.status == INCIDENT
    (incident,) = list_incidents(session, [community.id])
    assert incident.element_id == "decide"
    assert "result" in incident.error
    assert instance_data(session, instance.id)["note"] == "kept"  # the data a retry needs
    retry_incident(session, incident.id, "admin")  # still failing: open again, no crash
    session.commit()
    assert [i.id for i in list_incidents(session, [community.id])] == [incident.id]


def test_message_that_breaks_a_script_is_an_incident(session, community, deploy):
    deploy(SEMANTICS / "broken_after_task.bpmn")
    instance = start_instance(session, "broken_after_task", community.id, business_key="B-2",
                              data={"result": "ok"})
    session.commit()
    row = _open_task(session, instance.id)
    claim_task(session, row.id, "tech1")
    complete_task(session, row.id, {"note": "x"}, "tech1")
    session.commit()
    assert send_message(session, "test.arrived", "B-2", {"unexpected": 1}) == 1
    session.commit()
    session.refresh(instance)
    assert instance.status == INCIDENT
    (incident,) = list_incidents(session, [community.id])
    assert incident.element_id == "use" and "reading" in incident.error


def test_due_date_that_cannot_be_computed_still_reaches_the_inbox(session, community, deploy):
    deploy(SEMANTICS / "bad_due.bpmn")
    instance = start_instance(session, "bad_due", community.id)
    session.commit()
    row = _open_task(session, instance.id)
    assert row.due_at is None and row.role == "technician"
    (incident,) = list_incidents(session, [community.id])
    assert incident.element_id == "ask" and "deadline" in incident.error
    retry_incident(session, incident.id, "admin")
    session.commit()
    assert list_incidents(session, [community.id]) == []
    claim_task(session, row.id, "tech1")
    complete_task(session, row.id, {}, "tech1")
    session.commit()
    session.refresh(instance)
    assert instance.status == COMPLETED


@pytest.mark.parametrize("bound", [50])
def test_the_bound_is_a_setting(session, community, deploy, monkeypatch, bound):
    monkeypatch.setenv("ESTATEFLOW_ENGINE_MAX_AUTOMATIC_STEPS", str(bound))
    get_settings.cache_clear()
    try:
        deploy(SEMANTICS / "long_loop.bpmn")
        instance = start_instance(session, "long_loop", community.id)
        session.commit()
        assert instance.status == INCIDENT
        assert instance_data(session, instance.id)["i"] <= bound
    finally:
        get_settings.cache_clear()


def test_an_unexpected_failure_while_completing_is_a_clear_engine_error(
        session, community, deploy, monkeypatch):
    from app.engine import store
    from app.engine.errors import EngineError, StepFailed

    deploy(SEMANTICS / "bad_due.bpmn")
    instance = start_instance(session, "bad_due", community.id, data={"deadline": "PT1H"})
    session.commit()
    row = _open_task(session, instance.id)
    claim_task(session, row.id, "tech1")
    session.commit()

    def broken_save(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(store, "save_instance", broken_save)
    with pytest.raises(StepFailed) as caught:
        complete_task(session, row.id, {"note": "typed"}, "tech1")
    assert isinstance(caught.value, EngineError)  # the inbox shows it with the input kept
    assert "nothing was saved" in str(caught.value) and "disk full" not in str(caught.value)
    session.rollback()
    session.refresh(row)
    assert row.status == "claimed" and row.assignee == "tech1"  # theirs to submit again


def test_timer_expression_that_fails_is_an_incident_on_the_timer(session, community, deploy):
    deploy(SEMANTICS / "bad_timer_and_set.bpmn")
    instance = start_instance(session, "bad_timer_and_set", community.id)
    session.commit()
    assert instance.status == INCIDENT
    (incident,) = list_incidents(session, [community.id])
    assert incident.element_id == "wait" and "'delay' is not defined" in incident.error
    retry_incident(session, incident.id, "admin")  # still failing: stays open, not "resolved"
    session.commit()
    assert [i.element_id for i in list_incidents(session, [community.id])] == ["wait"]
