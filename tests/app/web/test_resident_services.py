"""住户服务: a resident starts a data-only module (renovation) from the phone pages and fills their
own step on the shared task page; a neighbour of the same community can neither see nor open it."""
from __future__ import annotations

import re

from sqlalchemy import select

from app.db import db
from app.domains.estate.models import Community, Household
from app.engine.history import instance_data
from app.engine.models import TaskRow


def _neighbour(demo_app, login):
    """A second resident login of 怡翠花园, for another household."""
    from app.domains.estate.residents import link_login, require_household

    with demo_app.app_context():
        sm = demo_app.appbuilder.sm
        user = sm.find_user(username="resident_yc")
        own = require_household(db.session, user.id)
        other = db.session.scalar(select(Household).where(Household.community_id == own.community_id,
                                                          Household.id != own.id))
        neighbour = sm.add_user("neighbour_yc", "邻", "居", "neighbour@example.invalid",
                                [sm.find_role("Resident")], password="neighbour-pw-1")
        link_login(db.session, household=other, user_id=neighbour.id, name="邻居", relation="owner")
        db.session.commit()
    return login("neighbour_yc", "neighbour-pw-1")


def test_a_resident_starts_a_service_and_only_they_see_its_steps(demo_app, login):
    resident = login("resident_yc")
    assert 'href="/me/services/"' in resident.get("/me/").get_data(as_text=True)
    page = resident.get("/me/services/").get_data(as_text=True)
    assert {'data-service="renovation"', 'data-service="complaint"', 'data-service="item_pass"'} <= set(
        re.findall(r'data-service="[a-z_]+"', page))
    assert "装修申请" in page  # the module's title, not a process id

    started = resident.post("/me/services/start", data={"process_id": "renovation"})
    assert started.status_code == 302 and "/inbox/task/" in started.headers["Location"]
    task_id = int(re.search(r"/inbox/task/(\d+)", started.headers["Location"]).group(1))
    with demo_app.app_context():
        task = db.session.get(TaskRow, task_id)
        assert (task.assignee, task.element_id, task.status) == ("resident_yc", "apply", "claimed")
        data = instance_data(db.session, task.instance_id)
        household = db.session.get(Household, data["household_id"])
        assert data["applicant"] == "resident_yc"
        assert db.session.get(Community, household.community_id).code == "YC"
    assert resident.get(f"/inbox/task/{task_id}").status_code == 200
    assert f"/inbox/task/{task_id}" in resident.get("/me/services/").get_data(as_text=True)
    assert f"/inbox/task/{task_id}" in resident.get("/inbox/").get_data(as_text=True)

    neighbour = _neighbour(demo_app, login)
    assert f"/inbox/task/{task_id}" not in neighbour.get("/me/services/").get_data(as_text=True)
    assert f"/inbox/task/{task_id}" not in neighbour.get("/inbox/").get_data(as_text=True)
    assert neighbour.get(f"/inbox/task/{task_id}").status_code == 404
    assert neighbour.post(f"/inbox/task/{task_id}", data={}).status_code == 404

    refused = resident.post("/me/services/start", data={"process_id": "dunning"}, follow_redirects=True)
    assert "未开通此项服务" in refused.get_data(as_text=True)  # a staff process is not a resident service


def test_the_item_pass_knows_the_households_owner(demo_app, login):
    """物品放行 declares ``owner`` in its start data: the platform gives the owner's login (here
    the resident is the owner, so the request goes straight to the guard)."""
    resident = login("resident_yc")
    started = resident.post("/me/services/start", data={"process_id": "item_pass"})
    assert started.status_code == 302
    with demo_app.app_context():
        task_id = int(re.search(r"/inbox/task/(\d+)", started.headers["Location"]).group(1))
        data = instance_data(db.session, db.session.get(TaskRow, task_id).instance_id)
        assert (data["applicant"], data["owner"]) == ("resident_yc", "resident_yc")
