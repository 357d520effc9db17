"""Incidents: an operation failed, the instance waits at that service task.

Nothing is lost: the task stays ready in the saved state. After the cause is
fixed (data, a device, a bug), ``retry_incident`` runs the operation again.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.engine import store
from app.engine.errors import IncidentNotOpen
from app.engine.models import Incident, ProcessInstance
from app.engine.runtime import step


def list_incidents(session: Session, community_ids: list[int] | None = None,
                   status: str = "open") -> list[Incident]:
    query = select(Incident).where(Incident.status == status).order_by(Incident.id)
    if community_ids is not None:
        query = query.where(Incident.community_id.in_(list(community_ids)))
    return list(session.scalars(query))


def retry_incident(session: Session, incident_id: int, actor: str) -> Incident:
    """Run the failed operation again; resolved if it succeeds, still open (with
    the new error) if not. Does not commit."""
    incident = session.get(Incident, incident_id)
    if incident is None or incident.status != "open":
        raise IncidentNotOpen(f"incident {incident_id} is not open")
    instance = session.get(ProcessInstance, incident.instance_id)
    expected = instance.lock_version
    wf, definition = store.load_workflow(session, instance)
    audit = [store.audit_row(
        actor=actor, action="incident.retry", target_type="incident",
        target_id=incident.id, community_id=incident.community_id,
        after={"instance_id": instance.id, "element": incident.element_id})]
    step(session, instance, wf, definition, expected_version=expected, actor=actor,
         retry={incident.spiff_task_id: incident}, audit=audit)
    return incident
