"""Enabling, configuring and disabling modules per community, on SQLite and PostgreSQL."""
from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from app.platform.models import AuditEvent
from app.domains.devices.models import Device
from app.modules.models import ModuleActivation
from app.modules import activation
from app.modules.activation import (
    ModuleError,
    disable_module,
    enable_module,
    module_states,
    update_settings,
)
from app.modules.catalog import load_catalog

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def communities(two_communities):
    return two_communities


def test_enable_dunning_without_fees_is_refused(session, shipped, communities):
    cid, _ = communities
    with pytest.raises(ModuleError) as exc:
        enable_module(session, catalog=shipped, community_id=cid, module_id="dunning",
                      settings={}, actor="admin")
    assert exc.value.code == "dependency_not_enabled"
    assert exc.value.params["missing"] == ["fees"]
    assert "物业费收缴" in exc.value.message("zh")
    assert exc.value.message("en") == (
        "Enable “Property fees” first; module “Arrears reminders” depends on it.")
    assert session.scalars(select(ModuleActivation)).all() == []


def test_enable_fees_then_dunning_and_refuse_disabling_fees(session, shipped, communities):
    cid, other = communities
    enable_module(session, catalog=shipped, community_id=cid, module_id="fees",
                  settings={"fee_rate_per_m2": "0.90"}, actor="admin")
    row = enable_module(session, catalog=shipped, community_id=cid, module_id="dunning",
                        settings={"door_suspension_enabled": True}, actor="admin")
    session.commit()
    assert row.enabled and row.version == "1.0.0"
    assert row.settings["door_suspension_enabled"] is True
    assert row.settings["first_reminder_days"] == 7

    with pytest.raises(ModuleError) as exc:
        disable_module(session, catalog=shipped, community_id=cid, module_id="fees",
                       actor="admin")
    assert exc.value.code == "required_by_enabled"
    assert "“欠费催缴”" in exc.value.message("zh")

    # fees enabled in one community says nothing about another
    with pytest.raises(ModuleError):
        enable_module(session, catalog=shipped, community_id=other, module_id="dunning",
                      settings={}, actor="admin")

    disable_module(session, catalog=shipped, community_id=cid, module_id="dunning", actor="admin")
    disable_module(session, catalog=shipped, community_id=cid, module_id="fees", actor="admin")
    session.commit()
    stored = {r.module_id: r.enabled for r in session.scalars(select(ModuleActivation))}
    assert stored == {"fees": False, "dunning": False}


def test_money_settings_are_stored_as_exact_strings(session, shipped, communities):
    cid, _ = communities
    enable_module(session, catalog=shipped, community_id=cid, module_id="fees",
                  settings={"fee_rate_per_m2": "0.95"}, actor="admin")
    session.commit()
    session.expunge_all()
    stored = session.scalars(select(ModuleActivation)).one().settings
    assert stored["fee_rate_per_m2"] == "0.95"
    assert stored["late_fee_daily_rate"] == "0.0003"
    state = next(s for s in module_states(session, shipped, cid) if s.module.id == "fees")
    assert state.settings["fee_rate_per_m2"] == Decimal("0.95")


def test_invalid_settings_refused_with_messages_per_setting(session, shipped, communities):
    cid, _ = communities
    with pytest.raises(ModuleError) as exc:
        enable_module(session, catalog=shipped, community_id=cid, module_id="notice",
                      settings={"sla_hours": 500, "colour": "red"}, actor="admin")
    assert exc.value.code == "invalid_settings"
    assert exc.value.field_errors("en") == {"sla_hours": ["Must be between 1 and 168."],
                                            "colour": ["Unknown setting."]}
    assert exc.value.field_errors("zh")["colour"] == ["未知的设置项。"]
    assert "社区通知" in exc.value.message("zh")


def test_every_change_is_audited_with_before_and_after(session, shipped, communities):
    cid, _ = communities
    enable_module(session, catalog=shipped, community_id=cid, module_id="notice",
                  settings={}, actor="wang")
    update_settings(session, catalog=shipped, community_id=cid, module_id="notice",
                    settings={"sla_hours": 48}, actor="li")
    disable_module(session, catalog=shipped, community_id=cid, module_id="notice", actor="zhao")
    session.commit()
    session.expunge_all()
    events = session.scalars(select(AuditEvent).where(AuditEvent.action.like("module.%"))
                            .order_by(AuditEvent.id)).all()
    assert [(e.action, e.actor, e.target_id, e.community_id) for e in events] == [
        ("module.enable", "wang", "notice", cid),
        ("module.settings", "li", "notice", cid),
        ("module.disable", "zhao", "notice", cid),
    ]
    enable, change, disable = events
    assert enable.before is None
    assert enable.after == {"enabled": True, "version": "1.0.0",
                            "settings": {"approval_required": True, "sla_hours": 24}}
    assert change.before["settings"]["sla_hours"] == 24
    assert change.after["settings"] == {"approval_required": True, "sla_hours": 48}
    assert disable.before["enabled"] is True and disable.after["enabled"] is False


def test_nothing_is_committed_by_the_functions(session, shipped, communities):
    cid, _ = communities
    session.commit()
    enable_module(session, catalog=shipped, community_id=cid, module_id="notice",
                  settings={}, actor="wang")
    session.rollback()
    assert session.scalars(select(ModuleActivation)).all() == []
    assert session.scalars(select(AuditEvent)).all() == []


def test_re_enable_after_disable_and_refuse_double_enable(session, shipped, communities):
    cid, _ = communities
    enable_module(session, catalog=shipped, community_id=cid, module_id="notice",
                  settings={}, actor="a")
    with pytest.raises(ModuleError) as exc:
        enable_module(session, catalog=shipped, community_id=cid, module_id="notice",
                      settings={}, actor="a")
    assert exc.value.code == "already_enabled"
    disable_module(session, catalog=shipped, community_id=cid, module_id="notice", actor="a")
    row = enable_module(session, catalog=shipped, community_id=cid, module_id="notice",
                        settings={"approval_required": False}, actor="a")
    session.commit()
    assert row.enabled and row.settings["approval_required"] is False
    assert len(session.scalars(select(ModuleActivation)).all()) == 1


def test_hooks_are_called_on_enable_and_disable(session, shipped, communities, monkeypatch):
    cid, _ = communities
    calls = []
    monkeypatch.setattr(activation, "on_enable",
                        [lambda s, c, m, a: calls.append(("enable", c, m.id, a))])
    monkeypatch.setattr(activation, "on_disable",
                        [lambda s, c, m, a: calls.append(("disable", c, m.id, a))])
    enable_module(session, catalog=shipped, community_id=cid, module_id="notice",
                  settings={}, actor="a")
    disable_module(session, catalog=shipped, community_id=cid, module_id="notice", actor="b")
    assert calls == [("enable", cid, "notice", "a"), ("disable", cid, "notice", "b")]


def test_module_states_show_dependencies_and_device_capabilities(session, tmp_path, communities):
    cid, other = communities
    root = tmp_path / "assets"
    shutil.copytree(FIXTURES / "catalog", root)
    catalog = load_catalog(root)
    session.add(Device(community_id=cid, code="D1", name="1号楼门禁", profile="door_controller",
                       address="door-1"))
    session.add(Device(community_id=other, code="C1", name="东门摄像头", profile="ai_camera",
                       address="cam-1"))
    session.flush()

    states = {s.module.id: s for s in module_states(session, catalog, cid)}
    assert states["good"].capabilities == {"door.suspend": True, "camera.alert": False}
    assert states["needs_good"].missing_dependencies == ["good"]
    assert not states["needs_good"].can_enable
    assert states["good"].settings == {"limit": 5}
    others = {s.module.id: s for s in module_states(session, catalog, other)}
    assert others["good"].capabilities == {"door.suspend": False, "camera.alert": True}

    enable_module(session, catalog=catalog, community_id=cid, module_id="good",
                  settings={"limit": 7}, actor="a")
    states = {s.module.id: s for s in module_states(session, catalog, cid)}
    assert states["good"].enabled and states["good"].settings == {"limit": 7}
    assert states["needs_good"].missing_dependencies == []
    assert states["needs_good"].can_enable


def test_capabilities_without_profiles_folder_are_all_missing(session, shipped, communities):
    cid, _ = communities
    session.add(Device(community_id=cid, code="D1", name="门禁", profile="door_controller",
                       address="door-1"))
    session.flush()
    states = {s.module.id: s for s in module_states(session, shipped, cid)}
    assert set(states["security"].capabilities.values()) == {False}
