"""A failing operation becomes an incident, never a lost instance; retry resumes it."""
from __future__ import annotations

import pytest
from marshmallow import Schema, fields
from sqlalchemy import select

from app.engine.errors import IncidentNotOpen
from app.engine.incidents import list_incidents, retry_incident
from app.engine.models import ProcessInstance
from app.engine.operations import operation, unregister
from app.engine.runtime import start_instance
from app.platform.models import AuditEvent
from app.domains.estate.models import Community

GATEWAY_UP = {"value": False}


class ChargeSchema(Schema):
    amount_cents = fields.Integer(required=True)


@pytest.fixture
def flaky_op():
    @operation("test.flaky", schema=ChargeSchema)
    def charge(params, ctx):
        # a real side effect inside the step: must roll back when the operation fails
        company_id = ctx.session.get(Community, ctx.community_id).company_id
        ctx.session.add(Community(company_id=company_id, code=f"SIDE-{params['amount_cents']}",
                                  name="x"))
        ctx.session.flush()
        if not GATEWAY_UP["value"]:
            raise ConnectionError("payment gateway unreachable")
        return {"charged_cents": params["amount_cents"]}

    GATEWAY_UP["value"] = False
    yield
    unregister("test.flaky")


def test_failing_operation_then_retry_completes(session, community, deploy, open_tasks, flaky_op):
    deploy("flaky.bpmn")
    inst = start_instance(session, "flaky", community.id, "BILL-9", data={"amount_cents": 4200})
    session.commit()
    assert inst.status == "incident"
    assert "payment gateway unreachable" in inst.error
    [incident] = list_incidents(session, [community.id])
    assert (incident.element_id, incident.operation) == ("charge", "test.flaky")
    assert open_tasks(inst.id) == []
    # the failed attempt's own database writes were rolled back
    assert session.scalar(select(Community).where(Community.code == "SIDE-4200")) is None

    retry_incident(session, incident.id, actor="ops")  # still broken
    session.commit()
    assert incident.status == "open" and inst.status == "incident"

    GATEWAY_UP["value"] = True  # the cause is fixed
    retry_incident(session, incident.id, actor="ops")
    session.commit()
    assert incident.status == "resolved" and incident.resolved_by == "ops"
    inst = session.get(ProcessInstance, inst.id)
    assert inst.status == "waiting" and inst.error is None
    [after] = open_tasks(inst.id)
    assert after.element_id == "after"
    assert session.scalar(select(Community).where(Community.code == "SIDE-4200")) is not None
    with pytest.raises(IncidentNotOpen):
        retry_incident(session, incident.id, actor="ops")
    actions = session.scalars(select(AuditEvent.action)).all()
    assert "process.incident" in actions and "incident.retry" in actions


def test_bad_parameters_are_an_incident_too(session, community, deploy, flaky_op):
    deploy("flaky.bpmn")
    inst = start_instance(session, "flaky", community.id, "BILL-10", data={"amount_cents": "lots"})
    session.commit()
    assert inst.status == "incident"
    assert "amount_cents" in inst.error
