"""Energy pages over the seeded demo (alembic-migrated; SQLite and PostgreSQL): each demo
finding is shown, a leak became a repair order with the chart, the apportionment previews
and runs once, a resident opens the disclosure."""
from __future__ import annotations

import re

from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from app.domains.energy.models import EnergyFinding


def test_demo_findings_orders_apportionment_and_disclosure(demo_db_url, login):
    engine = create_engine(demo_db_url)
    with Session(engine) as s:
        kinds = {f.kind: f for f in s.scalars(select(EnergyFinding).where(EnergyFinding.status == "open"))}
    engine.dispose()
    assert {"leak", "stuck", "lighting", "loss"} <= set(kinds)
    assert kinds["loss"].detail["loss_percent"] == "12.0"
    assert kinds["leak"].work_order  # repair is enabled in YC: an inspection order
    manager = login("manager_yc")
    page = manager.get("/energy/").get_data(as_text=True)
    assert kinds["leak"].work_order in page and "夜间持续流量" in page
    detail = manager.get(f"/energy/finding/{kinds['leak'].id}").get_data(as_text=True)
    assert 'id="readings-chart"' in detail and re.search(r'points="[\d., ]+"', detail)
    trends = manager.get(f"/energy/trends?kind=water&meter_id={kinds['leak'].meter_id}").get_data(as_text=True)
    assert 'id="daily-chart"' in trends and "<rect" in trends
    saving = re.search(r'class="saving"><strong>([\d.]+)%', trends)  # the demo's LED retrofit
    assert saving and 25 <= float(saving.group(1)) <= 35, saving
    preview = manager.get("/energy/apportion?kind=electricity").get_data(as_text=True)
    assert 'id="preview"' in preview or 'id="apportion-done"' in preview
    r = manager.post("/energy/apportion", data={"kind": "electricity"}, follow_redirects=True)
    assert r.status_code == 200
    again = manager.post("/energy/apportion", data={"kind": "electricity"}, follow_redirects=True)
    assert "不会重复分摊" in again.get_data(as_text=True) or "not repeated" in again.get_data(as_text=True)
    assert login("regulator").post("/energy/apportion", data={"kind": "electricity"}).status_code in (302, 403)
    resident = login("resident_yc")
    listing = resident.get("/me/disclosure/").get_data(as_text=True)
    link = re.search(r'href="(/me/disclosure/\d+)"', listing)
    assert link, listing[:500]
    shown = resident.get(link.group(1)).get_data(as_text=True)
    assert "停车" in shown and 'id="owners-share"' in shown
