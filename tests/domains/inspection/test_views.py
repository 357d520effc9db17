"""Inspection pages through the test client on the demo estate (SQLite: the services are proved
on both databases in test_runs.py): the guard's check-in by typed code with every refusal as a
message and nothing written, the manager's label sheet and monthly report, the regulator's
read-only view and spot check, another community's run a 404."""
from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from app.domains.estate.models import Community
from app.domains.inspection.models import InspectionCheckIn, InspectionFinding, InspectionRoute, InspectionRun

pytestmark = pytest.mark.parametrize("demo_db_url", ["sqlite"], indirect=True, scope="module")


@pytest.fixture(scope="module")
def db(demo_app):
    engine = create_engine(demo_app.config["SQLALCHEMY_DATABASE_URI"])
    yield lambda: Session(engine)
    engine.dispose()


def _count(db, model) -> int:
    with db() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_guard_checks_in_by_code_with_clear_refusals(login, db):
    manager, guard = login("manager_yc"), login("guard_yc")
    with db() as s:
        route = s.scalar(select(InspectionRoute).where(InspectionRoute.name == "日间消防巡查"))
    page = manager.get("/inspection/")
    assert page.status_code == 200 and "日间消防巡查" in page.get_data(as_text=True)
    started = manager.post(f"/inspection/routes/{route.id}/start")
    assert started.status_code == 302
    run_url = started.headers["Location"]
    run_id = int(run_url.rstrip("/").rsplit("/", 1)[1])
    assert guard.get(run_url).status_code == 200
    before = _count(db, InspectionCheckIn)
    for code, message in (("NOPE", "没有编码为"), ("EFP:FX:FX-01", "其他小区")):
        response = guard.get(f"/inspection/runs/{run_id}/scan", query_string={"code": code}, follow_redirects=True)
        assert message in response.get_data(as_text=True), code
    to_point = guard.get(f"/inspection/runs/{run_id}/scan", query_string={"code": "YC-FL-01"})
    assert "/point/" in to_point.headers["Location"]
    form = guard.get(to_point.headers["Location"])
    assert "消防车通道无车辆" in form.get_data(as_text=True) and "《消防法》第二十八条" in form.get_data(as_text=True)
    # the fire lane needs a photo: without one nothing is written and the form says why
    answers = {"lane_clear": "yes", "exits_clear": "yes", "signs_present": "yes"}
    refused = guard.post(to_point.headers["Location"], data=answers)
    assert refused.status_code == 422 and _count(db, InspectionCheckIn) == before
    phone_time = (datetime.now(timezone.utc) + timedelta(minutes=2)).replace(microsecond=0)
    png = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4"
           b"\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84\x00\x00\x00\x00IEND"
           b"\xaeB`\x82")
    done = guard.post(to_point.headers["Location"], data={**answers, "photo": (io.BytesIO(png), "lane.png"),
                                                          "checked_at": phone_time.isoformat()},
                      content_type="multipart/form-data", follow_redirects=True)
    assert "YC-FL-01 已打卡" in done.get_data(as_text=True)
    with db() as s:
        checkin = s.scalar(select(InspectionCheckIn).where(InspectionCheckIn.run_id == run_id))
        assert checkin.at == phone_time.replace(tzinfo=None) != checkin.received_at  # the phone's time, UTC
    again = guard.get(f"/inspection/runs/{run_id}/scan", query_string={"code": "YC-FL-01"}, follow_redirects=True)
    assert "不能重复打卡" in again.get_data(as_text=True)
    assert guard.post(f"/inspection/runs/{run_id}/close", data={"note": "下雨"}).status_code == 302
    closed = guard.get(f"/inspection/runs/{run_id}/scan", query_string={"code": "YC-FH-01"}, follow_redirects=True)
    assert "本次巡查已结束" in closed.get_data(as_text=True)
    with db() as s:
        run = s.get(InspectionRun, run_id)
        assert run.status == "closed" and len(run.missed_point_ids) == 5
    # another community's manager sees nothing of it
    assert login("manager_fx").get(run_url).status_code == 404


def test_labels_report_and_the_regulators_spot_check(login, db):
    manager, regulator = login("manager_yc"), login("regulator")
    labels = manager.get("/inspection/labels.pdf")
    assert labels.status_code == 200 and labels.data.startswith(b"%PDF")
    with db() as s:
        yc = s.scalar(select(Community.id).where(Community.code == "YC"))
    xlsx = regulator.get(f"/inspection/compliance/{yc}/report.xlsx")
    import openpyxl

    assert openpyxl.load_workbook(io.BytesIO(xlsx.data)).sheetnames == ["汇总", "点位", "问题整改", "自查计划"]
    assert regulator.get(f"/inspection/compliance/{yc}/report.pdf").data.startswith(b"%PDF")
    overview = regulator.get("/inspection/compliance/").get_data(as_text=True)
    assert "怡翠花园" in overview and "spot-check-link" in overview
    assert "spot-check-link" not in manager.get("/inspection/compliance/").get_data(as_text=True)
    recorded = regulator.post(f"/inspection/spot-check/{yc}", data={
        "summary": "抽查消防通道", "problems": "东门通道停放电动车", "severity": "high", "role": "guard",
        "point_code": "YC-FL-01"}, follow_redirects=True)
    text = recorded.get_data(as_text=True)
    assert "已记录" in text and "东门通道停放电动车" in text
    with db() as s:
        finding = s.scalar(select(InspectionFinding).where(InspectionFinding.source == "spot_check"))
        assert finding.role == "guard" and finding.instance_id
    assert regulator.post(f"/inspection/spot-check/{yc}", data={"summary": ""}).status_code == 422


def test_manager_adds_a_point_and_a_route_unknown_codes_refused(login, db):
    from app.domains.inspection.models import InspectionPoint

    manager = login("manager_yc")
    with db() as s:
        yc = s.scalar(select(Community.id).where(Community.code == "YC"))
    assert "fire_lanes" in manager.get("/inspection/points/add").get_data(as_text=True)
    added = manager.post("/inspection/points/add", data={
        "community": yc, "code": "YC-PR-01", "name": "水泵房", "kind": "pump_room", "location": "地下一层",
        "checklist": "electrical_room", "active": "y"})
    assert added.status_code == 302, added.get_data(as_text=True)[:500]
    with db() as s:
        assert s.scalar(select(InspectionPoint.kind).where(InspectionPoint.code == "YC-PR-01")) == "pump_room"
    refused = manager.post("/inspection/routes/add", data={
        "community": yc, "name": "夜间巡查", "point_codes": "YC-PR-01 YC-NOPE", "frequency": "daily",
        "shift": "night", "start_time": "21:00", "role": "guard", "active": "y"}, follow_redirects=True)
    assert "路线点位有误：YC-NOPE" in refused.get_data(as_text=True)
    with db() as s:
        assert s.scalar(select(func.count()).select_from(InspectionRoute).where(InspectionRoute.name == "夜间巡查")) == 0
    ok = manager.post("/inspection/routes/add", data={
        "community": yc, "name": "夜间巡查", "point_codes": "YC-PR-01 YC-FL-01", "frequency": "daily",
        "shift": "night", "start_time": "21:00", "role": "guard", "active": "y"})
    assert ok.status_code == 302
    listing = manager.get("/inspection/routes/list/").get_data(as_text=True)
    assert "夜班" in listing and "夜间巡查" in listing


def test_the_run_task_in_the_inbox_links_the_run_page(login, db):
    """The technician's inbox card of a patrol run: route, progress, deadline, and the run page
    (where the points are scanned) one tap away; another community's technician has no such card."""
    with db() as s:
        route = s.scalar(select(InspectionRoute).where(InspectionRoute.name == "月度电梯检查"))
    started = login("manager_yc").post(f"/inspection/routes/{route.id}/start")
    run_path = "/inspection/runs/" + started.headers["Location"].rstrip("/").rsplit("/", 1)[1]
    technician = login("tech_yc2")
    inbox = technician.get("/inbox/").get_data(as_text=True)
    card = inbox[inbox.index(f'href="{run_path}"') - 600:inbox.index(f'href="{run_path}"') + 200]
    assert "打开巡查页面" in card and "月度电梯检查 · 0 / 1" in card
    assert technician.get(run_path).status_code == 200
    assert f'href="{run_path}"' not in login("tech_fx1").get("/inbox/").get_data(as_text=True)


def test_manager_and_regulator_see_the_monthly_plan(login, db):
    with db() as s:
        yc = s.scalar(select(Community.id).where(Community.code == "YC"))
    for who in ("manager_yc", "regulator"):
        compliance_page = login(who).get("/inspection/compliance/").get_data(as_text=True)
        assert f"/inspection/plan/{yc}?period=" in compliance_page, who
        page = login(who).get(f"/inspection/plan/{yc}")
        text = page.get_data(as_text=True)
        assert page.status_code == 200 and "自查计划" in text and "日间消防巡查" in text and "消防通道畅通" in text, who
        assert "《消防法》第二十八条" in text
    assert login("manager_fx").get(f"/inspection/plan/{yc}").status_code == 404


def test_the_dashboard_and_the_managers_home_show_late_runs_and_missed_points(login, db):
    manager = login("manager_yc")
    dashboard = manager.get("/dashboard/")
    text = dashboard.get_data(as_text=True)
    assert dashboard.status_code == 200 and "超时巡查" in text and "漏检点位" in text
    assert "/inspection/?flag=late" in text and "/inspection/?flag=missed" in text
    home = manager.get("/").get_data(as_text=True)
    assert "今日超时巡查" in home and "今日漏检点位" in home
    late = manager.get("/inspection/?flag=late").get_data(as_text=True)
    assert "仅显示超时的巡查" in late
