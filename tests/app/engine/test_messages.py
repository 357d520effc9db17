"""Messages correlate by name and business key; message start events start instances."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from app.engine.history import instance_data
from app.engine.messages import send_message
from app.engine.models import ProcessInstance
from app.engine.runtime import start_instance
from app.engine.tasks import list_inbox
from app.modules.models import ModuleActivation


def test_payment_message_reaches_only_the_matching_bill(session, community, deploy):
    deploy("payment_wait.bpmn")
    a = start_instance(session, "payment_wait", community.id, "BILL-1")
    b = start_instance(session, "payment_wait", community.id, "BILL-2")
    session.commit()
    assert send_message(session, "payment.received", "BILL-3", {"amount_cents": 500}) == 0
    assert send_message(session, "payment.received", "BILL-1", {"amount_cents": 12345}) == 1
    session.commit()
    assert session.get(ProcessInstance, a.id).status == "completed"
    assert session.get(ProcessInstance, b.id).status == "waiting"
    assert instance_data(session, a.id)["settled"] is True
    assert instance_data(session, a.id)["amount_cents"] == 12345
    # delivered once: the wait is gone
    assert send_message(session, "payment.received", "BILL-1", {"amount_cents": 1}) == 0


def test_message_start_event_starts_an_instance(session, community, deploy):
    deploy("camera_alert.bpmn")
    n = send_message(session, "camera.alert", "CAM-07", {"camera": "东门"}, community_id=community.id)
    session.commit()
    assert n == 1
    inst = session.scalars(select(ProcessInstance)).one()
    assert (inst.process_id, inst.business_key, inst.status) == ("camera_alert", "CAM-07", "waiting")
    [task] = list_inbox(session, [community.id], ["guard"], "g1")
    assert task.title == "Check camera 东门"


def test_message_start_skips_communities_that_disabled_the_module(session, community, deploy):
    deploy("camera_alert.bpmn")
    session.add(ModuleActivation(community_id=community.id, module_id="test", version="1",
                                 enabled=False))
    session.commit()
    assert send_message(session, "camera.alert", "CAM-07", {}, community_id=community.id) == 0


def test_event_based_gateway_takes_the_message_or_the_timer(session, community, deploy):
    from datetime import timedelta

    from app import clock
    from app.engine.timers import fire_due_timers

    deploy("payment_or_timeout.bpmn")
    paid = start_instance(session, "payment_or_timeout", community.id, "BILL-P")
    late = start_instance(session, "payment_or_timeout", community.id, "BILL-L")
    session.commit()
    assert send_message(session, "payment.received", "BILL-P", {"amount_cents": 100}) == 1
    session.commit()
    assert instance_data(session, paid.id)["outcome"] == "paid"
    clock.advance(timedelta(days=3, minutes=1))
    assert fire_due_timers(session) >= 1
    session.commit()
    assert instance_data(session, late.id)["outcome"] == "late"
    # the paid one's timer went away with the branch not taken: nothing more fires
    assert session.get(ProcessInstance, paid.id).status == "completed"
    assert send_message(session, "payment.received", "BILL-L", {}) == 0


def test_a_message_starts_the_version_the_community_enabled_not_the_newest_upload(
        session, community, deploy, monkeypatch):
    from app.engine import messages
    from app.modules.models import ModulePackage
    from app.platform.processes import community_version

    monkeypatch.setattr(messages, "version_for_community", community_version)  # as install_hooks() does
    v1 = deploy("camera_alert.bpmn")
    session.add_all([ModulePackage(module_id="test", version="1.0.0", content_hash="x", files={},
                                   processes={"camera_alert": v1.version}),
                     ModuleActivation(community_id=community.id, module_id="test", version="1.0.0", enabled=True)])
    session.commit()
    v2 = deploy("camera_alert.bpmn", (Path(__file__).parent / "fixtures" / "camera_alert.bpmn").read_bytes() + b"<!-- 1.0.1 -->")
    assert v2.version == v1.version + 1
    assert send_message(session, "camera.alert", "CAM-07", {"camera": "东门"}, community_id=community.id) == 1
    assert session.scalars(select(ProcessInstance)).one().version_id == v1.id
