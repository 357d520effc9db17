"""Visitor passes: limits from the module settings, signed tokens, validation at the door
(window, entries, forged, expired, other community, unknown door), the host is told, walk-in
approval through the process, QR image."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from app import clock
from app.domains.notifications.models import Notification
from app.domains.visitors import passes as vp_svc
from app.domains.visitors.models import PassCheck
from app.engine import complete_task
from app.engine.models import ProcessInstance, TaskRow

AT = datetime(2026, 5, 4, 6, 0)
SECRET = "s" * 64




@pytest.fixture
def estate(session, build_estate):
    clock.freeze(AT)
    yield build_estate(session)
    clock.reset()


def _key(estate, device="door-1"):
    return vp_svc.device_key(SECRET, estate.community.code, device)


def _validate(session, estate, token, device="door-1", key=None, community=None):
    return vp_svc.validate(session, secret=SECRET, community_code=community or estate.community.code,
                           device_id=device, token=token, key=key if key is not None else _key(estate, device))


def test_invite_admits_within_window_and_entries_and_tells_the_host(session, estate):
    host = estate.households[0]
    vp = vp_svc.invite(session, household=host, visitor_name="张阿姨", visitor_phone="13900000000", hours=3,
                       entries=2, actor="resident")
    assert vp.number == f"VP-{estate.community.code}-{vp.id:06d}" and vp.valid_until == AT + timedelta(hours=3)
    token = vp_svc.make_token(SECRET, vp, estate.community.code)
    first = _validate(session, estate, token)
    assert first.ok and first.as_json()["entries_left"] == 1 and first.as_json()["credential"] == f"pass:{vp.number}"
    note = session.scalar(select(Notification).where(Notification.template == "visitors.arrived"))
    assert note.household_id == host.id and "张阿姨" in note.title and "1号楼单元门禁" in note.body
    assert _validate(session, estate, token, device="door-2", key=_key(estate, "door-2")).ok
    third = _validate(session, estate, token)
    assert (third.ok, third.reason) == (False, "used_up")
    assert vp.entries_used == 2


def test_expired_forged_other_community_and_bad_door_are_refused_with_a_reason(session, estate, build_estate):
    vp = vp_svc.invite(session, household=estate.households[0], visitor_name="快递", hours=1, entries=2, actor="r")
    token = vp_svc.make_token(SECRET, vp, estate.community.code)
    body, sig = token.split(".")
    forged = vp_svc.make_token("another secret" * 4, vp, estate.community.code)
    assert _validate(session, estate, forged).reason == "bad_signature"
    assert _validate(session, estate, body + ".AAAA").reason == "bad_signature"
    assert _validate(session, estate, "not a token").reason == "malformed"
    assert _validate(session, estate, token, key="0" * 32).reason == "bad_device_key"
    assert _validate(session, estate, token, device="door-9").reason == "unknown_device"
    other = build_estate(session)
    assert _validate(session, other, token).reason == "wrong_community"
    clock.advance(timedelta(hours=1, seconds=1))
    assert _validate(session, estate, token).reason == "expired"
    vp_svc.revoke(session, vp, "r")
    assert _validate(session, estate, token).reason == "not_active"
    reasons = [c.reason for c in session.scalars(select(PassCheck).order_by(PassCheck.id))]
    assert reasons == ["bad_signature", "bad_signature", "malformed", "bad_device_key", "unknown_device",
                       "wrong_community", "expired", "not_active"]
    assert vp.entries_used == 0


def test_limits_come_from_the_module_settings(session, estate):
    host = estate.households[0]
    with pytest.raises(vp_svc.PassError) as err:
        vp_svc.invite(session, household=host, visitor_name="x", hours=25, entries=1, actor="r")
    assert err.value.code == "hours_range" and "24" in err.value.message("zh")
    with pytest.raises(vp_svc.PassError, match="Entries must be 1 to 2"):
        vp_svc.invite(session, household=host, visitor_name="x", hours=1, entries=3, actor="r")
    with pytest.raises(vp_svc.PassError, match="name"):
        vp_svc.invite(session, household=host, visitor_name="  ", hours=1, entries=1, actor="r")
    with pytest.raises(vp_svc.PassError, match="phone"):
        vp_svc.invite(session, household=host, visitor_name="x", visitor_phone="call me", hours=1, entries=1, actor="r")
    later = vp_svc.invite(session, household=host, visitor_name="明天的客人", valid_from=AT + timedelta(days=1),
                          hours=2, entries=1, actor="r")
    assert _validate(session, estate, vp_svc.make_token(SECRET, later, estate.community.code)).reason == "not_yet_valid"


def test_walk_in_needs_the_hosts_approval(session, estate):
    host = estate.households[1]
    vp = vp_svc.register_walk_in(session, community_id=estate.community.id, household_id=host.id,
                                 visitor_name="维修师傅", visitor_phone="13700000000", actor="frontdesk")
    assert vp.status == "pending_approval"
    assert _validate(session, estate, vp_svc.make_token(SECRET, vp, estate.community.code)).reason == "not_active"
    asked = session.scalar(select(Notification).where(Notification.template == "visitors.approval_needed"))
    assert asked.household_id == host.id
    clock.advance(timedelta(minutes=3))
    vp_svc.host_decide(session, vp, "approve", "resident_t")
    assert vp.status == "active" and vp.valid_from == AT + timedelta(minutes=3)
    assert _validate(session, estate, vp_svc.make_token(SECRET, vp, estate.community.code)).ok
    instance = session.scalar(select(ProcessInstance).where(ProcessInstance.business_key == vp.number))
    assert instance.status == "completed"
    # the host answered: the front desk's task went away
    assert session.scalar(select(TaskRow.status).where(TaskRow.instance_id == instance.id)) == "cancelled"


def test_a_walk_in_visitors_car_is_let_in_once_the_host_approves(session, estate):
    host, cid = estate.households[1], estate.community.id
    vp = vp_svc.register_walk_in(session, community_id=cid, household_id=host.id, visitor_name="送货",
                                 actor="frontdesk", plate="京C·66 666")
    assert vp.plate == "京C66666"
    assert vp_svc.pass_for_plate(session, cid, "京C66666") is None  # not before the host's answer
    vp_svc.host_decide(session, vp, "approve", "resident_t")
    assert vp_svc.pass_for_plate(session, cid, "京C66666")["number"] == vp.number
    with pytest.raises(vp_svc.PassError, match="plate"):  # a malformed plate: nothing registered
        vp_svc.register_walk_in(session, community_id=cid, household_id=host.id, visitor_name="x",
                                actor="frontdesk", plate="#?!")


def test_walk_in_the_front_desk_records_the_hosts_answer_by_phone(session, estate):
    vp = vp_svc.register_walk_in(session, community_id=estate.community.id, household_id=estate.households[0].id,
                                 visitor_name="送水", actor="frontdesk")
    task = session.scalar(select(TaskRow).where(TaskRow.status == "ready"))
    assert task.role == "front_desk" and task.form_id == "visitors/call_host" and "送水" in task.title
    assert task.due_at == AT + timedelta(minutes=15)  # the module's approval deadline
    complete_task(session, task.id, {"decision": "reject", "call_note": "电话无人接"}, "frontdesk")
    assert vp.status == "rejected"
    with pytest.raises(vp_svc.PassError):
        vp_svc.host_decide(session, vp, "approve", "late resident")


def test_qr_image_is_a_png():
    png = vp_svc.qr_png("abc.def")
    assert png.startswith(b"\x89PNG") and len(png) > 200


def test_mainland_mobile_numbers_are_accepted_in_the_usual_spellings_and_others_refused():
    for typed, stored in (("13912345678", "13912345678"), ("139 1234 5678", "13912345678"),
                          ("+86 139-1234-5678", "13912345678"), ("", None), (None, None)):
        assert vp_svc.check_phone(typed) == stored
    for typed in ("12345", "12912345678", "1391234567", "139123456789", "010-12345678", "call me"):
        with pytest.raises(vp_svc.PassError) as err:
            vp_svc.check_phone(typed)
        assert err.value.code == "bad_phone" and "11 位手机号码" in err.value.message("zh")
        assert "11-digit" in err.value.message("en")


def test_six_digit_code_opens_like_the_token_and_guessing_is_stopped(session, estate, build_estate, monkeypatch):
    host = estate.households[0]
    vp = vp_svc.invite(session, household=host, visitor_name="王叔叔", hours=2, entries=2, actor="r")
    assert len(vp.short_code) == 6 and vp.short_code.isdigit()
    first = _validate(session, estate, vp.short_code)
    assert first.ok and first.as_json()["entries_left"] == 1
    # the token and the code share the entries
    assert _validate(session, estate, vp_svc.make_token(SECRET, vp, estate.community.code)).ok
    assert _validate(session, estate, vp.short_code).reason == "used_up"
    # unique among the community's live passes: a code already held is drawn again
    draws = iter([vp.short_code, vp.short_code, "000042"])
    monkeypatch.setattr(vp_svc.secrets, "randbelow", lambda n: int(next(draws)))
    second = vp_svc.invite(session, household=host, visitor_name="李阿姨", hours=1, entries=1, actor="r")
    assert second.short_code == "000042"
    monkeypatch.undo()
    # another community's door does not know this community's code
    other = build_estate(session)
    assert _validate(session, other, second.short_code).reason == "unknown_code"
    # an expired pass's code no longer opens
    clock.advance(timedelta(hours=2, seconds=1))
    assert _validate(session, estate, vp.short_code).reason == "unknown_code"
    # ten wrong codes from one door in five minutes: refused even for a right code, for a while
    fresh = vp_svc.invite(session, household=host, visitor_name="快递员", hours=1, entries=1, actor="r")
    wrong = next(c for c in ("111111", "222222") if c != fresh.short_code)
    for _ in range(vp_svc.CODE_ATTEMPTS - 1):  # the expired code above was the first wrong one
        assert _validate(session, estate, wrong).reason == "unknown_code"
    assert _validate(session, estate, fresh.short_code).reason == "too_many_attempts"
    assert _validate(session, estate, fresh.short_code, device="door-2", key=_key(estate, "door-2")).ok
    clock.advance(vp_svc.CODE_WINDOW + timedelta(seconds=1))
    fresh2 = vp_svc.invite(session, household=host, visitor_name="快递员", hours=1, entries=1, actor="r")
    assert _validate(session, estate, fresh2.short_code).ok
