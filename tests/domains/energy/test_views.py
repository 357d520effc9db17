"""Energy pages over the seeded demo (alembic-migrated; SQLite and PostgreSQL): each demo
finding is shown, a leak became a repair order with the chart, the apportionment previews
and runs once, a resident opens the disclosure."""
from __future__ import annotations

import re

from sqlalchemy import create_engine, delete, select
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


def test_viewing_the_apportionment_preview_writes_nothing(demo_db_url, login):
    """A read-only role (regulator) and the manager open the 公摊 preview of a month nobody derived
    yet: the page shows the plan, and no derived-usage, finding, apportionment or audit row is written."""
    from sqlalchemy import func

    from app.domains.energy.models import EnergyApportionment, EnergyMonthlyUsage
    from app.platform.models import AuditEvent

    engine = create_engine(demo_db_url)

    def counts():
        with Session(engine) as s:
            return {t.__name__: (s.scalar(select(func.count()).select_from(t)), s.scalar(select(func.max(t.id))))
                    for t in (EnergyMonthlyUsage, EnergyFinding, EnergyApportionment, AuditEvent)}

    from app import clock
    from app.domains.energy.models import EnergyDailyUsage
    from app.domains.energy.periods import bounds, previous
    from app.localtime import to_local

    period = previous(f"{to_local(clock.now()):%Y-%m}")  # the demo's readings reach into it
    with Session(engine) as s:  # the demo's detection derived it (days and month): as if nobody had
        start, end = bounds(period)
        s.execute(delete(EnergyMonthlyUsage).where(EnergyMonthlyUsage.period == period))
        s.execute(delete(EnergyDailyUsage).where(EnergyDailyUsage.day >= to_local(start).date(),
                                                 EnergyDailyUsage.day < to_local(end).date()))
        s.commit()
        periods = set(s.scalars(select(EnergyMonthlyUsage.period)))
    assert period not in periods, periods
    before = counts()
    for role in ("regulator", "manager_yc"):
        page = login(role).get(f"/energy/apportion?kind=electricity&period={period}")
        assert page.status_code == 200, role
        text_ = page.get_data(as_text=True)
        assert 'id="preview"' in text_ or "没有" in text_ or "nothing" in text_.lower(), text_[:300]
    assert counts() == before
    engine.dispose()
