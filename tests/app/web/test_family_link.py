"""A family member's login linked to an elderly resident's household from a page: by the
household's owner (``/me/family/``) or the property office (``/family/``), by username or mobile
number; removed again; audited; other communities' households out of reach. And the
elderly-friendly mode on every resident page, not only the home screen."""
from __future__ import annotations

from sqlalchemy import select

from app.db import db
from app.domains.estate.models import Household, Resident, UserCommunity
from app.domains.estate.residents import find_login
from app.platform.models import AuditEvent


def _make_resident_login(app, username: str) -> int:
    with app.app_context():
        sm = app.appbuilder.sm
        user = sm.find_user(username=username) or sm.add_user(
            username, "小", "明", f"{username}@example.com", sm.find_role("Resident"), "demo1234")
        return user.id


def _links(app, code: str) -> dict[int, str]:
    with app.app_context():
        household = db.session.scalar(select(Household).where(Household.code == code))
        return {r.user_id: r.relation for r in household.residents if r.user_id}


def test_the_owner_links_and_removes_a_family_login(demo_app, login):
    son = _make_resident_login(demo_app, "son_family")
    owner = login("resident_yc")
    home = owner.get("/me/").text
    assert 'id="family-link-page"' in home
    page = owner.get("/me/family/")
    assert page.status_code == 200 and 'id="family-link"' in page.text and "户主" in page.text
    refused = owner.post("/me/family/", data={"login": "tech_yc1", "relation": "child"}, follow_redirects=True)
    assert "只能关联住户账号" in refused.text and son not in _links(demo_app, "YC-1-101")
    unknown = owner.post("/me/family/", data={"login": "nobody-here"}, follow_redirects=True)
    assert "没有找到这个账号" in unknown.text
    assert owner.post("/me/family/", data={"login": "son_family", "relation": "child"}).status_code == 302
    assert _links(demo_app, "YC-1-101")[son] == "child"

    son_client = login("son_family")
    assert 'data-household="YC-1-101"' in son_client.get("/me/").text  # he now acts for it
    assert son_client.get("/me/bills/").status_code == 200
    mine = son_client.get("/me/family/")
    assert 'id="family-not-owner"' in mine.text and 'id="family-link"' not in mine.text
    assert son_client.post("/me/family/", data={"login": "resident_yc"}).status_code == 403

    with demo_app.app_context():
        resident_id = db.session.scalar(select(Resident.id).where(Resident.user_id == son))
        owner_row = db.session.scalar(select(Resident.id).join(Household).where(
            Household.code == "YC-1-101", Resident.relation == "owner"))
        actions = list(db.session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("household.family%"))))
    assert actions == ["household.family_link"]
    cannot = owner.post("/me/family/", data={"resident_id": owner_row}, follow_redirects=True)
    assert "户主不能解除" in cannot.text
    assert owner.post("/me/family/", data={"resident_id": resident_id}).status_code == 302
    assert son not in _links(demo_app, "YC-1-101")
    with demo_app.app_context():
        assert db.session.scalar(select(UserCommunity).where(UserCommunity.user_id == son)) is None
        assert "household.family_unlink" in set(db.session.scalars(select(AuditEvent.action)))
    assert 'data-household="YC-1-101"' not in login("son_family").get("/me/").text


def test_the_office_links_by_mobile_number_in_its_own_communities_only(demo_app, login):
    daughter = _make_resident_login(demo_app, "daughter_family")
    with demo_app.app_context():  # her own household's record carries her mobile number
        other = db.session.scalar(select(Household).where(Household.code == "YC-1-102"))
        db.session.add(Resident(community_id=other.community_id, household_id=other.id, user_id=daughter,
                                name="女儿", phone="13911112222", relation="owner"))
        db.session.commit()
        assert find_login(db.session, "13911112222").id == daughter
    manager = login("manager_yc")
    page = manager.get("/family/", query_string={"household": "YC-1-101"})
    assert page.status_code == 200 and 'id="family-link"' in page.text
    assert manager.post("/family/YC-1-101", data={"login": "13911112222", "relation": "child"}).status_code == 302
    assert _links(demo_app, "YC-1-101")[daughter] == "child"
    home = login("daughter_family").get("/me/").text  # her own household and her mother's
    assert 'id="household-select"' in home and "YC-1-101" in home and "YC-1-102" in home
    with demo_app.app_context():
        fx_code = db.session.scalar(select(Household.code).where(Household.code.like("FX-%")))
    assert login("manager_fx").post("/family/YC-1-101", data={"login": "daughter_family"}).status_code == 404
    elsewhere = manager.get("/family/", query_string={"household": fx_code}).text
    assert 'id="family-link"' not in elsewhere and 'id="family-household"' not in elsewhere
    assert login("tech_yc1").get("/family/").status_code in (302, 403)


def test_the_elderly_mode_reaches_every_resident_page(demo_app, login):
    client = login("resident_yc")
    client.post("/me/mode", data={"elderly": "on"})
    try:
        for path in ("/me/", "/me/bills/", "/me/repairs/", "/me/visitors/", "/me/notices", "/me/family/",
                     "/notifications/"):
            page = client.get(path)
            assert page.status_code == 200, path
            assert 'id="ef-elderly-css"' in page.text, path
        visitors = client.get("/me/visitors/").text
        assert 'class="form-group ef-elderly-less"><label for="entries"' in visitors  # fewer fields
        assert client.get("/static/css/elderly.css").status_code == 200
    finally:
        client.post("/me/mode", data={"elderly": "off"})
    assert 'id="ef-elderly-css"' not in client.get("/me/bills/").text
