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
