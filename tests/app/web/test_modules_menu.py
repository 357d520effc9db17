"""Module menu through the web app: cards, enable with settings, errors, audit."""
from __future__ import annotations

from sqlalchemy import select

from app.db import db
from app.platform.models import AuditEvent
from app.domains.estate.models import Community
from app.modules.models import ModuleActivation


def _community_id(app, code: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Community.id).where(Community.code == code))


def test_menu_shows_catalogue_cards_with_capability_availability(demo_app, login):
    client = login("manager_yc")
    yc = _community_id(demo_app, "YC")
    page = client.get(f"/modules/{yc}/")
    assert page.status_code == 200
    for module_id in ("fees", "dunning", "repair", "security", "energy", "visitors"):
        assert f'id="module-{module_id}"' in page.text
    assert "报事报修" in page.text  # zh is the default language


def test_out_of_range_setting_is_refused_and_keeps_what_was_typed(demo_app, login):
    client = login("manager_fx")  # the demo enables modules in YC only
    yc = _community_id(demo_app, "FX")
    response = client.post(f"/modules/{yc}/repair/settings", data={"response_minutes": "99999"})
    assert response.status_code == 200
    assert 'data-field="response_minutes"' in response.text
    assert 'value="99999"' in response.text
    with demo_app.app_context():
        assert db.session.scalar(
            select(ModuleActivation).where(ModuleActivation.community_id == yc, ModuleActivation.module_id == "repair")
        ) is None


def test_dependency_enforced_then_enable_is_audited(demo_app, login):
    client = login("manager_fx")  # the demo enables modules in YC only
    yc = _community_id(demo_app, "FX")
    refused = client.post(f"/modules/{yc}/dunning/settings", data={})
    assert refused.status_code == 200 and 'id="settings-error"' in refused.text

    enabled = client.post(f"/modules/{yc}/fees/settings", data={"fee_rate_per_m2": "0.90"})
    assert enabled.status_code == 302
    with demo_app.app_context():
        row = db.session.scalar(
            select(ModuleActivation).where(ModuleActivation.community_id == yc, ModuleActivation.module_id == "fees")
        )
        assert row.enabled and row.settings["fee_rate_per_m2"] == "0.90"
        event = db.session.scalar(
            select(AuditEvent).where(AuditEvent.action == "module.enable", AuditEvent.target_id == "fees",
                                    AuditEvent.community_id == yc)
        )
        assert event.actor == "manager_fx" and event.community_id == yc
    audit_page = client.get("/audit/list/")
    assert "模块 · 已启用" in audit_page.text  # the action in words (module.enable), never the code


def test_other_community_menu_is_not_reachable(demo_app, login):
    client = login("manager_yc")
    fx = _community_id(demo_app, "FX")
    assert client.get(f"/modules/{fx}/").status_code == 404
    assert client.post(f"/modules/{fx}/fees/settings", data={}).status_code == 404


def test_technician_cannot_open_the_menu(demo_app, login):
    client = login("tech_yc1")
    yc = _community_id(demo_app, "YC")
    assert client.get(f"/modules/{yc}/").status_code in (302, 403)
