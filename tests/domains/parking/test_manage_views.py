"""The office's parking page on the demo estate: a manager adds spaces, creates, renews and
cancels permits (the waiting list is served), assigns a fixed space and serves the waiting list
by hand; bad input is a clear message that writes nothing; the regulator reads but cannot
write; another community's manager gets 404 for these records."""
from __future__ import annotations

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from app.domains.parking.models import ParkingPermit, ParkingSpace, ParkingWaitlist
from app.platform.models import AuditEvent

pytestmark = pytest.mark.parametrize("demo_db_url", ["sqlite"], indirect=True)


def _db(demo_app):
    return Session(create_engine(demo_app.config["SQLALCHEMY_DATABASE_URI"]))


def _permit(s, plate):
    return s.scalar(select(ParkingPermit).where(ParkingPermit.plate == plate, ParkingPermit.status == "active")
                    .order_by(ParkingPermit.id.desc()))


def test_the_office_manages_spaces_permits_and_the_waiting_list(demo_app, login):
    manager = login("manager_yc")
    page = manager.get("/parking/manage/")
    assert page.status_code == 200 and 'id="manage-permits"' in page.text and "京A12345" in page.text
    assert manager.post("/parking/manage/spaces", data={"code": "P-99", "kind": "fixed"}).status_code == 302
    dup = manager.post("/parking/manage/spaces", data={"code": "P-99", "kind": "fixed"})
    assert dup.status_code == 422 and "已有车位 P-99" in dup.text
    bad = manager.post("/parking/manage/permits", data={"household_code": "YC-1-101", "plate": "ABC", "kind": "monthly"})
    assert bad.status_code == 422 and "车牌号码格式不正确" in bad.text
    nobody = manager.post("/parking/manage/permits", data={"household_code": "NO-1", "plate": "京M11111",
                                                           "kind": "monthly"})
    assert nobody.status_code == 422
    with _db(demo_app) as s:
        before = s.scalar(select(func.count(ParkingPermit.id)))
        spaces = s.scalar(select(func.count(ParkingSpace.id)).where(ParkingSpace.active.is_(True)))
        used = s.scalar(select(func.count(ParkingPermit.id)).where(ParkingPermit.status == "active"))
    assert manager.post("/parking/manage/permits", data={"household_code": "YC-1-101", "plate": "京M11111",
                                                         "kind": "monthly"}).status_code == 302
    with _db(demo_app) as s:
        assert s.scalar(select(func.count(ParkingPermit.id))) == before + 1
        first = _permit(s, "京M11111")
        assert first.bill_number and first.price_cents == 15000
        p99 = s.scalar(select(ParkingSpace.id).where(ParkingSpace.code == "P-99"))
    # a fixed space for it, then renewal keeps the space and starts the day after
    assert manager.post(f"/parking/manage/permits/{first.id}/space", data={"space_id": p99}).status_code == 302
    assert manager.post(f"/parking/manage/permits/{first.id}/renew").status_code == 302
    with _db(demo_app) as s:
        renewed = _permit(s, "京M11111")
        assert renewed.id != first.id and renewed.starts_on == first.ends_on.__class__.fromordinal(
            first.ends_on.toordinal() + 1) and renewed.space_id == p99
    # fill the lot: the next plate goes on the waiting list
    for i in range(spaces - used - 1):  # 京M11111 and its renewal hold one space (P-99)
        assert manager.post("/parking/manage/permits", data={"household_code": "YC-1-101", "plate": f"京M2{i:04d}",
                                                             "kind": "monthly"}).status_code == 302
    full = manager.post("/parking/manage/permits", data={"household_code": "YC-1-101", "plate": "京M99999",
                                                         "kind": "annual"}, follow_redirects=True)
    assert "排队" in full.text and 'data-waiting="京M99999"' in full.text
    with _db(demo_app) as s:
        entry = s.scalar(select(ParkingWaitlist).where(ParkingWaitlist.plate == "京M99999"))
    no_space = manager.post(f"/parking/manage/waiting/{entry.id}/serve")
    assert no_space.status_code == 422 and "仍无空余车位" in no_space.text
    # cancelling a permit gives its space to the first in line
    with _db(demo_app) as s:
        shared = _permit(s, "京M20000")
    cancelled = manager.post(f"/parking/manage/permits/{shared.id}/cancel", follow_redirects=True)
    assert "京M99999" in cancelled.text
    with _db(demo_app) as s:
        assert s.get(ParkingWaitlist, entry.id).status == "granted"
        assert _permit(s, "京M99999").kind == "annual"
        assert s.scalar(select(AuditEvent.id).where(AuditEvent.action == "parking.permit_cancelled"))
    again = manager.post(f"/parking/manage/permits/{shared.id}/cancel")
    assert again.status_code == 422 and "已取消" in again.text
    # a space out of use is offered to nobody
    assert manager.post(f"/parking/manage/spaces/{p99}/active", data={"active": "0"}).status_code == 302
    with _db(demo_app) as s:
        assert s.get(ParkingSpace, p99).active is False


def test_the_regulator_reads_and_another_community_gets_404(demo_app, login):
    with _db(demo_app) as s:
        permit = s.scalar(select(ParkingPermit).where(ParkingPermit.plate == "京A12345"))
    regulator = login("regulator")
    page = regulator.get("/parking/manage/")
    assert page.status_code == 200 and "京A12345" in page.text and 'id="manage-permit-form"' not in page.text
    assert regulator.post(f"/parking/manage/permits/{permit.id}/cancel").status_code in (302, 403)
    other = login("manager_fx")
    assert other.post(f"/parking/manage/permits/{permit.id}/cancel").status_code == 404
    assert other.post(f"/parking/manage/permits/{permit.id}/renew").status_code == 404
    with _db(demo_app) as s:
        assert s.get(ParkingPermit, permit.id).status == "active"
