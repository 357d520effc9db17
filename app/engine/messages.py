"""Messages from outside (payments, devices, other processes) into instances.

A message is correlated by name and business key (bill number, work order
number, device id) to the instances waiting for it; a process whose start event
catches that message name gets a new instance in the given community.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session
from SpiffWorkflow.bpmn.util import BpmnEvent

from app.engine import store
from app.engine.definitions import PlatformMessageEventDefinition
from app.engine.models import MessageWait, ProcessInstance, ProcessVersion
from app.engine.runtime import start_instance, step
from app.modules.models import ModuleActivation


def send_message(
    session: Session,
    name: str,
    business_key: str | None,
    payload: dict | None = None,
    community_id: int | None = None,
    actor: str = "message",
) -> int:
    """Deliver ``payload`` (merged into task data) to every instance waiting for
    ``name`` with this business key, and start processes whose start event catches
    ``name`` (only when ``community_id`` is given). Returns instances reached.
    Does not commit."""
    payload = dict(payload or {})
    query = select(MessageWait.instance_id).where(
        MessageWait.message_name == name, MessageWait.business_key == business_key
    )
    if community_id is not None:
        query = query.where(MessageWait.community_id == community_id)
    instance_ids = sorted(set(session.scalars(query)))
    for instance_id in instance_ids:
        instance = session.get(ProcessInstance, instance_id)
        expected = instance.lock_version
        wf, definition = store.load_workflow(session, instance)
        wf.catch(BpmnEvent(PlatformMessageEventDefinition(name), payload))
        audit = [store.audit_row(
            actor=actor, action="process.message", target_type="process_instance",
            target_id=instance.id, community_id=instance.community_id,
            after={"message": name, "business_key": business_key})]
        step(session, instance, wf, definition, expected_version=expected, actor=actor,
             audit=audit)
    started = 0
    if community_id is not None:
        for version in _starters(session, name, community_id):
            start_instance(session, version.process_id, community_id, business_key,
                           actor=actor, message=(name, payload), version=version)
            started += 1
    return len(instance_ids) + started


#: ``(session, community_id, newest) -> the version this community runs``; the platform sets
#: it (app.platform.processes.install_hooks) so a message starts the module version a
#: community enabled, not the newest upload
version_for_community = None


def _starters(session: Session, name: str, community_id: int) -> list[ProcessVersion]:
    """The version each process with a message start event for ``name`` runs in this
    community, skipping modules this community has disabled."""
    newest: dict[str, ProcessVersion] = {}
    catching: set[str] = set()  # any version catches it: the one a community runs may be older
    for version in session.scalars(select(ProcessVersion).order_by(ProcessVersion.version)):
        newest[version.process_id] = version
        if name in (version.start_messages or []):
            catching.add(version.process_id)
    disabled = set(session.scalars(
        select(ModuleActivation.module_id).where(
            ModuleActivation.community_id == community_id, ModuleActivation.enabled.is_(False))
    ))
    found = [v for pid, v in newest.items() if pid in catching and v.module_id not in disabled]
    if version_for_community is not None:
        found = [version_for_community(session, community_id, v) for v in found]
    return [v for v in found if name in (v.start_messages or [])]
