"""Security and visitor pages over the demo estate: who sees what, community isolation,
resident invite → pass with QR, the door validation endpoint, walk-in registration."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.domains.devices.models import Device
from app.domains.estate.models import Community
from app.domains.security.models import SecurityIncident
from app.domains.visitors.models import PassCheck, VisitorPass


@pytest.fixture
def db(demo_app):
    """A session on the demo database outside any app context (requests of the test client
    must get their own app context, or ``g`` — and the per-request community scope — leaks)."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    engine = create_engine(demo_app.config["SQLALCHEMY_DATABASE_URI"])
    with Session(engine, expire_on_commit=False) as s:
        yield s
    engine.dispose()


def _ids(db, code):
    return db.scalar(select(Community.id).where(Community.code == code))


def test_guard_manager_and_regulator_see_the_security_pages(login):
    for user in ("guard_yc", "manager_yc", "regulator"):
        client = login(user)
        for path in ("/security/", "/security/hydrants/", "/security/doors/", "/security/kpis/",
                     "/security/access/"):
            assert client.get(path).status_code == 200, (user, path)
    assert login("resident_yc").get("/security/").status_code in (302, 403)
    assert login("accountant_yc").get("/security/doors/").status_code in (302, 403)


def test_regulator_cannot_sync_doors(login, demo_app, db):
    yc = _ids(db, "YC")
    response = login("regulator").post(f"/security/access/{yc}/sync")
    assert response.status_code in (302, 403)
    assert "/security/access" not in response.headers.get("Location", "")


def test_hydrant_page_draws_the_history_chart_and_isolation_holds(login, db):
    hydrant = db.scalar(select(Device).where(Device.profile == "hydrant_pressure_sensor",
                                             Device.community_id == _ids(db, "YC")))
    page = login("guard_yc").get(f"/security/hydrants/{hydrant.id}?days=7").get_data(as_text=True)
    assert 'id="pressure-chart"' in page and "<polyline" in page
    assert login("guard_fx").get(f"/security/hydrants/{hydrant.id}").status_code == 404


def test_door_events_search(login):
    client = login("guard_yc")
    page = client.get("/security/doors/?granted=no").get_data(as_text=True)
    assert "UNKNOWN-42" in page and 'data-granted="yes"' not in page
    page = client.get("/security/doors/?q=YC-1-101").get_data(as_text=True)
    assert 'data-granted="yes"' in page and "UNKNOWN-42" not in page
    assert "UNKNOWN-42" not in login("guard_fx").get("/security/doors/").get_data(as_text=True)


def test_incident_detail_is_scoped_to_the_community(login, db, demo_app):
    from app.domains.security import alerts

    yc = _ids(db, "YC")
    cam = db.scalar(select(Device).where(Device.community_id == yc, Device.profile == "ai_camera"))
    alert = alerts.record_alert(db, community_id=yc, device=cam, device_code=cam.code, event_id="web-test-1",
                                kind="loitering", confidence=__import__("decimal").Decimal("0.8"))
    db.commit()
    incident = db.get(SecurityIncident, alert.incident_id)
    page = login("guard_yc").get(f"/security/incident/{incident.id}").get_data(as_text=True)
    assert incident.number in page and cam.location in page and 'id="open-task"' in page
    assert incident.number in login("guard_yc").get("/security/").get_data(as_text=True)
    assert login("guard_fx").get(f"/security/incident/{incident.id}").status_code == 404
    assert incident.number not in login("guard_fx").get("/security/").get_data(as_text=True)


def test_resident_invites_and_the_door_validates(login, db, demo_app):
    from app.domains.visitors.passes import device_key

    client = login("resident_yc")
    assert "访客" in client.get("/me/").get_data(as_text=True)
    bad = client.post("/me/visitors/", data={"visitor_name": "王叔叔", "hours": "999", "entries": "1"})
    assert bad.status_code == 422 and "有效期须为 1 到 24 小时" in bad.get_data(as_text=True)
    response = client.post("/me/visitors/", data={"visitor_name": "王叔叔", "visitor_phone": "13911112222",
                                                  "hours": "2", "entries": "1"})
    assert response.status_code == 302
    pass_page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'id="pass-qr"' in pass_page and "data:image/png;base64," in pass_page
    pass_id = int(re.search(r"/me/visitors/pass/(\d+)", response.headers["Location"]).group(1))
    token = client.get(f"/me/visitors/pass/{pass_id}/token").get_data(as_text=True)
    door = db.scalar(select(Device).where(Device.community_id == _ids(db, "YC"), Device.profile == "door_controller"))
    key = device_key(demo_app.config["SECRET_KEY"], "YC", door.address)
    api = demo_app.test_client()
    ok = api.post("/api/v1/access/validate", json={"community": "YC", "device": door.address, "token": token},
                  headers={"X-Device-Key": key}).get_json()
    assert ok["ok"] is True and ok["credential"].startswith("pass:VP-YC-")
    again = api.post("/api/v1/access/validate", json={"community": "YC", "device": door.address, "token": token},
                     headers={"X-Device-Key": key}).get_json()
    assert again == {"ok": False, "reason": "used_up"}
    assert api.post("/api/v1/access/validate", data="nope").status_code == 400
    # the FX resident cannot see the YC pass
    assert login("resident_fx").get(f"/me/visitors/pass/{pass_id}").status_code == 404
    # the refusal was logged with its reason
    db.expire_all()
    assert db.scalar(select(PassCheck.reason).order_by(PassCheck.id.desc()).limit(1)) == "used_up"


def test_front_desk_registers_a_walk_in_and_the_host_approves(login, db):
    desk = login("frontdesk_yc")
    refused = desk.post("/visitors/", data={"household_code": "FX-1-101", "visitor_name": "送水"})
    assert refused.status_code == 422
    assert desk.post("/visitors/", data={"household_code": "YC-1-101", "visitor_name": "送水师傅",
                                         "visitor_phone": "13700000000", "hours": "1"}).status_code == 302
    db.expire_all()
    vp = db.scalar(select(VisitorPass).where(VisitorPass.visitor_name == "送水师傅"))
    assert vp.status == "pending_approval"
    resident = login("resident_yc")
    assert "送水师傅" in resident.get("/me/visitors/").get_data(as_text=True)
    assert resident.post(f"/me/visitors/pass/{vp.id}/decide", data={"decision": "approve"}).status_code == 302
    db.expire_all()
    assert db.get(VisitorPass, vp.id).status == "active"
