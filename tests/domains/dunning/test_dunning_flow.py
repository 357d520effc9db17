"""The dunning process end to end on the real engine: timers on the controllable clock,
reminders, the front-desk call, the manager review, suspension with approval against a
simulated door on the real broker, and payment ending it all and restoring access."""
from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app import clock
from app.domains.dunning import ladder as dunning
from app.domains.dunning.models import DoorSuspension
from app.domains.fees.ledger import ledger_problems
from app.domains.fees.payments import record_offline_payment
from app.domains.notifications.models import Notification
from app.domains.security import door_access
from app.engine import complete_task, fire_due_timers
from app.engine.models import OPEN_TASK, ProcessInstance, TaskRow, TimerRow
from app.platform.models import AuditEvent

from tests.support import fees_estate as fe

DUE = date(2026, 10, 31)


@pytest.fixture(autouse=True)
def frozen():
    clock.freeze(datetime(2026, 11, 1, 2, 0))  # 10:00 Beijing, the day after the due date
    yield
    clock.reset()


def open_tasks(session, instance_id):
    return list(session.scalars(select(TaskRow).where(TaskRow.instance_id == instance_id,
                                                      TaskRow.status.in_(OPEN_TASK)).order_by(TaskRow.id)))


def move_to(session, day: date, hour_utc: int = 2):
    clock.freeze(datetime(day.year, day.month, day.day, hour_utc, 0))
    fired = fire_due_timers(session)
    session.commit()
    return fired


def notes(session, household, template):
    return session.scalar(select(func.count()).select_from(Notification).where(
        Notification.household_id == household.id, Notification.template == template))


def test_reminders_on_setting_days_then_call_then_review_and_payment_ends(session):
    community, (home, other, _) = fe.make_estate(session, dunning_settings={
        "first_reminder_days": 3, "second_reminder_days": 10, "final_reminder_days": 20})
    bill = fe.make_bill(session, home, 8500, due=DUE)
    paid_bill = fe.make_bill(session, other, 5000, due=date(2026, 12, 31), period="2026-11")
    session.commit()

    started = dunning.start_overdue(session, community_id=community.id)
    session.commit()
    assert [i.business_key for i in started] == [bill.number]  # not overdue yet: not started
    assert dunning.start_overdue(session, community_id=community.id) == []  # idempotent
    instance = started[0]

    assert move_to(session, DUE + timedelta(days=2)) == 0
    assert notes(session, home, "dunning.reminder.first") == 0
    move_to(session, DUE + timedelta(days=3))
    assert notes(session, home, "dunning.reminder.first") == 1
    assert notes(session, home, "dunning.reminder.second") == 0
    move_to(session, DUE + timedelta(days=10))
    assert notes(session, home, "dunning.reminder.second") >= 1
    sms = session.scalars(select(Notification).where(Notification.template == "dunning.reminder.second",
                                                     Notification.channel == "sms")).all()
    # the household's resident has no login, so nobody agreed to SMS: in the app only (the
    # consenting resident's SMS is tested in tests/domains/notifications/test_channels.py)
    assert sms == []
    move_to(session, DUE + timedelta(days=20))
    assert notes(session, home, "dunning.reminder.final") >= 1
    [call] = open_tasks(session, instance.id)
    assert (call.element_id, call.role) == ("call_household", "front_desk")
    complete_task(session, call.id, {"call_outcome": "promised", "call_note": "下周缴"}, "frontdesk")
    session.commit()
    [review] = open_tasks(session, instance.id)
    assert (review.element_id, review.role) == ("manager_review", "manager")
    complete_task(session, review.id, {"decision": "keep_waiting"}, "manager")
    session.commit()
    assert open_tasks(session, instance.id) == []
    assert session.scalar(select(func.count()).select_from(TimerRow).where(
        TimerRow.instance_id == instance.id, TimerRow.status == "pending")) == 1  # follow-up in 30 days

    record_offline_payment(session, household_id=home.id, bill_ids=[bill.id], amount_cents=8500,
                           method="cash", actor="accountant")
    session.commit()
    session.refresh(instance)
    assert instance.status == "completed"
    assert session.scalar(select(func.count()).select_from(TimerRow).where(
        TimerRow.instance_id == instance.id, TimerRow.status == "pending")) == 0
    actions = set(session.scalars(select(AuditEvent.action).where(AuditEvent.community_id == community.id)))
    assert {"dunning.reminder.first", "dunning.reminder.second", "dunning.reminder.final",
            "process.message", "task.complete"} <= actions
    assert paid_bill.status == "open"
    assert ledger_problems(session) == []


def test_payment_before_first_reminder_ends_instance_quietly(session):
    community, (home, *_) = fe.make_estate(session)
    bill = fe.make_bill(session, home, 1000, due=DUE)
    session.commit()
    [instance] = dunning.start_overdue(session, community_id=community.id)
    session.commit()
    record_offline_payment(session, household_id=home.id, bill_ids=[bill.id], amount_cents=1000,
                           method="cash", actor="accountant")
    session.commit()
    session.refresh(instance)
    assert instance.status == "completed"
    move_to(session, DUE + timedelta(days=40))
    assert notes(session, home, "dunning.reminder.first") == 0
    # a paid bill never gets a new instance
    assert dunning.start_overdue(session, community_id=community.id) == []


def _to_review(session, instance, due=DUE):
    move_to(session, due + timedelta(days=30))
    [call] = open_tasks(session, instance.id)
    complete_task(session, call.id, {"call_outcome": "refused"}, "frontdesk")
    session.commit()
    [review] = open_tasks(session, instance.id)
    return review


def test_suspension_off_by_default_and_exemptions_block_it(session):
    community, (home, elderly, _) = fe.make_estate(session)
    elderly.elderly_alone = True
    b1 = fe.make_bill(session, home, 1000, due=DUE)
    session.commit()
    [instance] = dunning.start_overdue(session, community_id=community.id)
    session.commit()
    review = _to_review(session, instance)
    complete_task(session, review.id, {"decision": "propose_suspension"}, "manager")
    session.commit()
    # setting off (the default): no approval task, back to follow-up; the reason is recorded
    assert open_tasks(session, instance.id) == []
    check = session.scalars(select(AuditEvent).where(AuditEvent.action == "dunning.suspension_check")).one()
    assert check.after["allowed"] is False and "not enabled" in check.after["reason"]

    from app.modules.activation import update_settings
    from app.modules.catalog import load_catalog

    update_settings(session, catalog=load_catalog(fe.ROOT), community_id=community.id, module_id="dunning",
                    settings={"door_suspension_enabled": True}, actor="manager")
    session.commit()
    check = dunning.check_suspension(session, community_id=community.id, household_id=elderly.id)
    assert check["suspension_allowed"] is False and "exempt" in check["suspension_block_reason"]
    check = dunning.check_suspension(session, community_id=community.id, household_id=home.id)
    assert check["suspension_allowed"] is True
    assert b1.status == "open"


def test_no_utility_cut_option_anywhere():
    """Civil Code art. 944: the platform never offers cutting water, power, heat or gas."""
    root = fe.ROOT
    texts = [p.read_text(encoding="utf-8") for p in
             [*root.glob("bpmn/dunning/*.bpmn"), *root.glob("forms/dunning/*.yaml"), root / "menus/dunning.yaml"]]
    from app.engine.operations import known_operations
    from app.platform.discovery import load_operations
    load_operations()  # registers every operation before validation

    assert not [op for op in known_operations() if any(w in op for w in ("water", "power", "gas", "heat", "utility"))]
    for text in texts:
        for bad in ("water.cut", "power.cut", "utility.suspend", "value: cut_water", "value: cut_power"):
            assert bad not in text


@pytest.fixture
def door():
    """A simulated door on the real broker under a unique topic root, and our connector."""
    from connectors.mqtt.client import MqttConnector
    from connectors.simulators.devices import SimulatedDoor

    root = f"eftest{uuid.uuid4().hex[:8]}"
    sim = SimulatedDoor("PY", "door-py-1", root=root).start()
    connector = MqttConnector("mqtt://127.0.0.1:1883", client_id=f"t-{root}", root=root, persistent=False).start()
    door_access.use_connector(connector)
    try:
        yield sim, connector
    finally:
        door_access.use_connector(None)
        connector.stop()
        sim.stop()


def test_suspension_approved_announced_suspends_then_payment_restores(session, door):
    sim, connector = door
    community, (home, *_) = fe.make_estate(session, dunning_settings={"door_suspension_enabled": True,
                                                                      "suspension_notice_days": 5})
    card = fe.card_of(session, home)
    assert connector.send_command("PY", "door-py-1", "grant", {"credential": card, "kind": "card"}).ok
    bill = fe.make_bill(session, home, 12000, due=DUE)
    session.commit()
    [instance] = dunning.start_overdue(session, community_id=community.id)
    session.commit()
    review = _to_review(session, instance)
    complete_task(session, review.id, {"decision": "propose_suspension"}, "manager")
    session.commit()
    [approve] = open_tasks(session, instance.id)
    assert (approve.element_id, approve.role) == ("approve_suspension", "manager")
    today = (clock.now() + timedelta(hours=8)).date()
    # asks for tomorrow: the notice period (5 days) wins
    complete_task(session, approve.id, {"approve": True, "suspend_on": (today + timedelta(days=1)).isoformat(),
                                        "approval_note": "长期欠费"}, "manager_py")
    session.commit()
    row = session.scalar(select(DoorSuspension).where(DoorSuspension.bill_number == bill.number))
    assert row.status == "scheduled" and row.approved_by == "manager_py"
    assert row.suspend_at == datetime.combine(today + timedelta(days=5), datetime.min.time()) + timedelta(hours=1)
    assert notes(session, home, "dunning.suspension_notice") >= 1
    assert sim.present(card) is True  # not before the announced date

    move_to(session, today + timedelta(days=5), hour_utc=0)
    assert session.get(DoorSuspension, row.id).status == "scheduled"
    move_to(session, today + timedelta(days=5), hour_utc=2)
    session.refresh(row)
    assert row.status == "active", session.get(ProcessInstance, instance.id).error
    assert sim.present(card) is False  # the door refuses the card

    record_offline_payment(session, household_id=home.id, bill_ids=[bill.id], amount_cents=12000,
                           method="cash", actor="accountant")
    session.commit()
    session.refresh(row)
    session.refresh(instance)
    assert row.status == "restored" and instance.status == "completed"
    assert sim.present(card) is True
    actions = set(session.scalars(select(AuditEvent.action).where(AuditEvent.community_id == community.id)))
    assert {"dunning.suspension_check", "dunning.suspension_scheduled", "door.suspend", "door.restore"} <= actions
    assert ledger_problems(session) == []


def test_command_to_offline_door_goes_to_outbox(session, door):
    sim, connector = door
    from connectors.models import DeviceCommand

    community, (home, *_) = fe.make_estate(session, dunning_settings={"door_suspension_enabled": True})
    sim.stop()  # graceful offline: retained state says offline
    deadline = datetime.now() + timedelta(seconds=5)
    while connector.is_online("PY", "door-py-1") is not False and datetime.now() < deadline:
        __import__("time").sleep(0.05)
    results = door_access.send_door_command(session, community.id, "door.suspend", [fe.card_of(session, home)])
    assert [r.status for r in results] == ["queued"]
    assert session.scalar(select(func.count()).select_from(DeviceCommand).where(
        DeviceCommand.status == "pending", DeviceCommand.command == "suspend")) == 1
