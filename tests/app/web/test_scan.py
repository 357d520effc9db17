"""The staff scanner: a visitor pass (token or 6-digit code) shows its check, a patrol point's
label opens its check-in, anything else is refused clearly; the staff PWA's worker and offline page."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app import clock
from app.db import db
from app.domains.estate.models import Community
from app.domains.inspection.models import InspectionPoint, InspectionRoute
from app.domains.visitors import passes as svc
from app.domains.visitors.models import VisitorPass


def _demo_pass(app) -> tuple[str, str, str]:
    with app.app_context():
        vp = db.session.scalar(select(VisitorPass).where(VisitorPass.visitor_name == "张阿姨（演示）"))
        community = db.session.get(Community, vp.community_id)
        return vp.short_code, svc.make_token(app.config["SECRET_KEY"], vp, community.code), vp.visitor_name


def test_a_guard_scans_a_pass_code_and_its_token(demo_app, login):
    code, token, visitor = _demo_pass(demo_app)
    guard = login("guard_yc")
    assert 'id="ef-scan"' in guard.get("/inspection/").text  # the top bar's scanner button
    page = guard.get("/scan/")
    assert page.status_code == 200 and 'id="code-form"' in page.text and "inspection/scan.js" in page.text
    for typed in (code, token, f"https://wy.example.com/v/{token}"):
        shown = guard.get("/scan/go", query_string={"code": typed})
        assert shown.status_code == 200, typed
        assert 'data-ok="1"' in shown.text and visitor in shown.text and "可以放行" in shown.text
    with demo_app.app_context():  # a check is not an entry: the door counts those
        assert db.session.scalar(select(VisitorPass.entries_used).where(VisitorPass.short_code == code)) == 0


def test_a_forged_token_an_unknown_code_and_a_resident_are_refused(demo_app, login):
    _, token, _ = _demo_pass(demo_app)
    guard = login("guard_yc")
    body, sig = token.split(".")
    forged = guard.get("/scan/go", query_string={"code": f"{body}.{sig[:-2]}AA"})
    assert 'data-ok="0"' in forged.text and "二维码无效" in forged.text
    unknown = guard.get("/scan/go", query_string={"code": "hello-world"})
    assert unknown.status_code == 404 and "hello-world" in unknown.text
    resident = login("resident_yc")
    assert resident.get("/scan/").status_code in (302, 403)
    assert 'id="ef-scan"' not in resident.get("/me/").text


def test_an_expired_pass_says_so(demo_app, login):
    code, _, _ = _demo_pass(demo_app)
    with demo_app.app_context():
        vp = db.session.scalar(select(VisitorPass).where(VisitorPass.short_code == code))
        vp.valid_until, saved = clock.now() - timedelta(minutes=1), vp.valid_until
        token = svc.make_token(demo_app.config["SECRET_KEY"], vp, "YC")
        pass_id = vp.id
        db.session.commit()
    try:
        shown = login("frontdesk_yc").get("/scan/go", query_string={"code": token})
        assert 'data-ok="0"' in shown.text and "已过期" in shown.text
    finally:
        with demo_app.app_context():
            db.session.get(VisitorPass, pass_id).valid_until = saved
            db.session.commit()


def test_a_point_label_opens_the_check_in_of_an_open_run(demo_app, login):
    guard = login("guard_yc")
    with demo_app.app_context():
        route = db.session.scalar(select(InspectionRoute).where(InspectionRoute.name == "日间消防巡查"))
        point_code = route.point_codes.split()[0]
        community = db.session.get(Community, route.community_id).code
    label = f"EFP:{community}:{point_code}"
    before = guard.get("/scan/go", query_string={"code": label})
    assert before.status_code == 200 and "先开始一次巡检" in before.text  # no run yet
    started = login("manager_yc").post(f"/inspection/routes/{route.id}/start")  # managers start runs
    run_id = int(started.headers["Location"].rstrip("/").split("/")[-1])
    went = guard.get("/scan/go", query_string={"code": label})
    assert went.status_code == 302 and went.headers["Location"].startswith(f"/inspection/runs/{run_id}/scan?code=")
    point = guard.get(went.headers["Location"])
    with demo_app.app_context():
        point_id = db.session.scalar(select(InspectionPoint.id).where(InspectionPoint.code == point_code,
                                                                      InspectionPoint.community_id == route.community_id))
    assert point.headers["Location"].endswith(f"/inspection/runs/{run_id}/point/{point_id}")
    other = guard.get("/scan/go", query_string={"code": f"EFP:NOPE:{point_code}"})
    assert "不属于您的小区" in other.text


def test_the_staff_worker_caches_only_the_shell(demo_app, login):
    client = demo_app.test_client()
    sw = client.get("/sw.js")
    assert sw.status_code == 200 and sw.mimetype == "application/javascript"
    assert sw.headers["Service-Worker-Allowed"] == "/"
    assert "'/inspection/'" in sw.text and '"/offline"' in sw.text
    assert "cache.put" not in sw.text and "c.put" not in sw.text  # no page is ever stored
    offline = client.get("/offline")
    assert offline.status_code == 200 and "没有网络" in offline.text and "No network" in offline.text
    assert 'src="/static/pwa.js' in login("tech_yc1").get("/inbox/").text
