"""The dashboard page, its export and its API over the demo estate; the manager's "today" home."""
from __future__ import annotations

import io
import re

import openpyxl


def test_manager_dashboard_levels_and_links(login):
    client = login("manager_yc")
    page = client.get("/dashboard/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for tile in ("fees.collection", "repair.response", "repair.backlog", "devices.health", "engine.staff"):
        assert f'data-tile="{tile}"' in html
    assert not re.search(r"\bnan\b", html, re.IGNORECASE)
    assert "vendor/echarts.min.js" in html and "cdn" not in html.lower()
    community = client.get("/api/v1/dashboard/").get_json()
    assert community["level"] == "company" and community["tiles"]
    cid = community["community_ids"][0]
    one = client.get(f"/dashboard/?community_id={cid}&months=12")
    assert one.status_code == 200 and 'data-level="community"' in one.get_data(as_text=True)
    buildings = client.get(f"/api/v1/estate/communities/{cid}/buildings").get_json()["result"]
    building = client.get(f"/dashboard/?building_id={buildings[0]['id']}").get_data(as_text=True)
    assert 'data-level="building"' in building and 'id="tile-security-alerts"' in building
    assert building.count("ef-help\">整个小区的数据") == 4  # security, staff, energy and inspection: not per building
    # every figure link answers
    links = set(re.findall(r'class="ef-figure-value" href="([^"]+)"', one.get_data(as_text=True)))
    assert links
    for href in links:
        assert client.get(href.replace("&amp;", "&")).status_code == 200, href


def test_other_community_is_404_and_export_reads_back(login):
    client = login("manager_fx")
    yc = client.get("/api/v1/dashboard/").get_json()["community_ids"]
    assert len(yc) == 1
    assert client.get(f"/dashboard/?community_id={yc[0] + 100}").status_code == 404
    data = client.get("/dashboard/export.xlsx")
    assert data.status_code == 200
    ws = openpyxl.load_workbook(io.BytesIO(data.data)).active
    assert ws.freeze_panes == "A3"
    headers = [c.value for c in ws[2]]
    assert headers[0] in ("板块", "Tile")


def test_manager_home_is_today(login):
    html = login("manager_yc").get("/").get_data(as_text=True)
    assert 'id="today"' in html and 'data-item="repair.overdue"' in html
    assert 'id="today"' not in login("accountant_yc").get("/").get_data(as_text=True)


def test_audit_pack_entry_and_documents(login):
    client = login("manager_yc")
    cid = client.get("/api/v1/dashboard/").get_json()["community_ids"][0]
    args = f"community_id={cid}&before_from=2025-01&before_to=2025-06&after_from=2026-07&after_to=2026-12"
    page = client.get(f"/dashboard/audit/?{args}")
    assert page.status_code == 200 and 'data-outcome="fee_collection"' in page.text
    bad = client.post("/dashboard/audit/enter", data={"community_id": cid, "outcome": "fee_collection",
                                                      "period_from": "2025-01", "period_to": "2025-06",
                                                      "value": "sixty", "source": "台账"})
    assert bad.status_code == 422 and 'id="audit-error"' in bad.text
    saved = client.post("/dashboard/audit/enter", data={"community_id": cid, "outcome": "fee_collection",
                                                        "period_from": "2025-01", "period_to": "2025-06",
                                                        "value": "65", "source": "2025 年纸质台账",
                                                        "before_from": "2025-01", "before_to": "2025-06",
                                                        "after_from": "2026-07", "after_to": "2026-12"})
    assert saved.status_code == 302
    assert "2025 年纸质台账" in client.get(f"/dashboard/audit/?{args}").text
    book = openpyxl.load_workbook(io.BytesIO(client.get(f"/dashboard/audit/pack.xlsx?{args}").data))
    assert book.active["B4"].value == 0.65 and book.active["B4"].number_format == "0.0%"
    pdf = client.get(f"/dashboard/audit/pack.pdf?{args}")
    assert pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    assert login("accountant_yc").get(f"/dashboard/audit/?{args}").status_code in (302, 403)


def test_company_level_staff_figure_links_to_its_records(login):
    client = login("admin")  # sees every community: the company level
    html = client.get("/dashboard/").text
    tile = html[html.index('data-tile="engine.staff"'):]
    href = re.search(r'class="ef-figure-value" href="([^"]+)"', tile).group(1).replace("&amp;", "&")
    assert href.startswith("/dashboard/staff/")
    page = client.get(href)
    assert page.status_code == 200 and 'id="staff-rows"' in page.text
    assert re.search(r'href="/instances?/\d+/"', page.text) or "完成任务数" in page.text
    assert login("regulator").get(href).status_code == 200  # read-only role may read it
    assert client.get("/dashboard/staff/?since=2026-12-01&until=2026-01-01").status_code == 400


def test_company_level_says_how_fresh_its_rolled_up_figures_are(login, demo_app):
    from workflows.kpi_rollup import refresh

    client = login("admin")
    before = client.get("/api/v1/dashboard/").get_json()
    assert all(t["as_of"] is None for t in before["tiles"])  # never rolled up: read live
    refresh(demo_app.config["SQLALCHEMY_DATABASE_URI"], fresh_minutes=0)
    after = client.get("/api/v1/dashboard/").get_json()
    rolled = {t["id"] for t in after["tiles"] if t["as_of"]}
    # the big tiles read the roll-ups; "open orders now" the flow's snapshot over several communities
    assert rolled == {t["id"] for t in after["tiles"] if t["id"] in (
        "fees.collection", "repair.response", "devices.health", "security.alerts", "engine.staff")
        or (t["id"] == "repair.backlog" and len(t["community_ids"]) > 1)}
    assert {"devices.health", "engine.staff"} <= rolled
    for tile in before["tiles"]:  # the same figures, now from the roll-ups
        assert [f["value"] for f in tile["figures"]] == [
            f["value"] for f in next(t for t in after["tiles"] if t["id"] == tile["id"])["figures"]], tile["id"]
    html = client.get("/dashboard/").text
    assert html.count("data-as-of") == len(rolled) and "汇总于" in html and "分钟前" in html
    one = client.get(f"/dashboard/?community_id={after['community_ids'][0]}").text
    assert "data-as-of" in one and "汇总于" in one  # one community: its roll-ups too, said how fresh
    building = db_building(demo_app, after["community_ids"][0])
    by_building = client.get(f"/api/v1/dashboard/?building_id={building}").get_json()["tiles"]
    # a building's figures are read live; a tile that shows the whole community may be rolled up
    assert all(t["as_of"] is None for t in by_building if not t["whole_community"])
    assert any(not t["whole_community"] for t in by_building)


def db_building(app, community_id: int) -> int:
    from sqlalchemy import select

    from app.db import db
    from app.domains.estate.models import Building

    with app.app_context():
        return db.session.scalar(select(Building.id).where(Building.community_id == community_id).limit(1))
