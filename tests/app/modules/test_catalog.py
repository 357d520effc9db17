"""The module menu loads valid entries and names file, line, element and reason for broken ones."""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from app.modules.capabilities import profile_capabilities
from app.modules.catalog import load_catalog, validate_menu_file
from app.settings import PROJECT_ROOT

FIXTURES = Path(__file__).parent / "fixtures" / "catalog"

SHIPPED = {"notice", "fees", "dunning", "repair", "security", "parking", "energy", "visitors",
           "inspection", "renovation", "complaint", "item_pass"}


def test_shipped_catalogue_loads_without_errors(shipped):
    assert [str(e) for e in shipped.errors] == []
    assert set(shipped.modules) == SHIPPED


def test_shipped_entries_carry_domain_defaults_exactly(shipped):
    fees = shipped.modules["fees"]
    assert fees.setting("fee_rate_per_m2").default == Decimal("0.85")
    assert fees.setting("late_fee_daily_rate").default == Decimal("0.0003")
    assert fees.setting("late_fee_grace_days").default == 30
    dunning = shipped.modules["dunning"]
    assert dunning.depends_on == ("fees",)
    assert "door.suspend" in dunning.capabilities
    assert dunning.setting("door_suspension_enabled").default is False
    assert [dunning.setting(n).default for n in
            ("first_reminder_days", "second_reminder_days", "final_reminder_days")] == [7, 15, 30]
    assert shipped.modules["security"].setting("hydrant_min_pressure_mpa").default == Decimal("0.10")
    energy = shipped.modules["energy"].setting("apportionment_method")
    assert [c.value for c in energy.choices] == ["area", "household", "usage"]
    notice = shipped.modules["notice"]
    assert notice.processes == ("bpmn/notice/notice.bpmn",)
    assert notice.title == {"zh": "社区通知", "en": "Community notices"}


def test_every_shipped_setting_has_zh_and_en_help_text(shipped):
    for module in shipped.modules.values():
        for setting in module.settings:
            assert setting.label["zh"] and setting.label["en"]
            assert setting.description["zh"] and setting.description["en"]


def test_repository_menus_load_without_errors():
    catalog = load_catalog(PROJECT_ROOT)
    assert [str(e) for e in catalog.errors] == []
    assert set(catalog.modules) == SHIPPED


def test_every_capability_a_module_needs_is_offered_by_some_device_profile(shipped):
    offered = set().union(*profile_capabilities(PROJECT_ROOT).values())
    if not offered:
        pytest.skip("connectors/profiles not written yet")
    needed = {c for m in shipped.modules.values() for c in m.capabilities}
    assert needed <= offered


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("malformed.yaml", ["menus/malformed.yaml:4: yaml: while parsing a flow mapping "
                            "expected ',' or '}', but got ':'"]),
        ("bad_type.yaml", ["menus/bad_type.yaml:8: settings[ratio].type: unknown setting type "
                           "'float' (expected one of: bool, int, decimal, money, string, choice, "
                           "duration_minutes, duration_hours, days)"]),
        ("out_of_range.yaml", ["menus/out_of_range.yaml:9: settings[sla_hours].default: "
                               "200 is above max 168"]),
        ("no_en.yaml", ["menus/no_en.yaml:3: title.en: missing en text"]),
        ("missing_bpmn.yaml", ["menus/missing_bpmn.yaml:7: processes[0]: "
                               "bpmn/missing_bpmn/gone.bpmn: file does not exist"]),
        ("good.yaml", []),
        # dependencies are a catalogue matter: the file on its own is fine
        ("unknown_dep.yaml", []),
    ],
)
def test_validate_menu_file_names_file_line_element_reason(name, expected):
    errors = validate_menu_file(FIXTURES / "menus" / name, FIXTURES)
    assert [str(e) for e in errors] == expected


def test_catalogue_reports_dependency_problems_and_keeps_the_good_entries():
    catalog = load_catalog(FIXTURES)
    assert set(catalog.modules) == {"good", "needs_good"}
    messages = {str(e) for e in catalog.errors}
    assert "menus/unknown_dep.yaml:8: depends_on[1]: unknown dependency 'nonexistent' " \
           "(no menus/nonexistent.yaml)" in messages
    assert "menus/cycle_a.yaml:6: depends_on[0]: dependency cycle: cycle_a → cycle_b → cycle_a" \
        in messages
    assert "menus/cycle_b.yaml:6: depends_on[0]: dependency cycle: cycle_b → cycle_a → cycle_b" \
        in messages
    broken = {e.file for e in catalog.errors}
    assert broken == {f"menus/{n}.yaml" for n in
                      ("malformed", "bad_type", "out_of_range", "no_en", "unknown_dep",
                       "cycle_a", "cycle_b", "missing_bpmn")}


def _write(root: Path, name: str, text: str) -> Path:
    (root / "menus").mkdir(parents=True, exist_ok=True)
    path = root / "menus" / name
    path.write_text(text, encoding="utf-8")
    return path


HEAD = """\
id: {id}
version: "1.0.0"
title: {{zh: 测试, en: Test}}
description: {{zh: 测试。, en: Test.}}
category: service
"""


def test_id_must_match_file_name_and_unknown_keys_are_named(tmp_path):
    path = _write(tmp_path, "alpha.yaml", HEAD.format(id="beta") + "colour: red\n")
    assert [str(e) for e in validate_menu_file(path, tmp_path)] == [
        "menus/alpha.yaml:6: colour: unknown key",
        "menus/alpha.yaml:1: id: 'beta' does not match the file name 'alpha.yaml'",
    ]


def test_missing_keys_unknown_capability_and_duplicate_settings(tmp_path):
    text = """\
id: alpha
version: "1.0.0"
title: {zh: 测试, en: Test}
capabilities: [door.lock]
settings:
  - {name: n, type: int, default: 1, label: {zh: 甲, en: A}, description: {zh: 甲, en: A}}
  - {name: n, type: bool, default: true, label: {zh: 乙, en: B}, description: {zh: 乙, en: B}}
  - {name: rate, type: money, default: 0.85, label: {zh: 丙, en: C}, description: {zh: 丙, en: C}}
"""
    errors = [str(e) for e in validate_menu_file(_write(tmp_path, "alpha.yaml", text), tmp_path)]
    assert "menus/alpha.yaml:1: description: missing required key" in errors
    assert "menus/alpha.yaml:1: category: missing required key" in errors
    assert any(e.startswith("menus/alpha.yaml:4: capabilities[0]: unknown capability 'door.lock'")
               for e in errors)
    assert "menus/alpha.yaml:7: settings[n].name: duplicate setting name (first at line 6)" \
        in errors
    assert 'menus/alpha.yaml:8: settings[rate].default: write decimals as a quoted string, ' \
           'e.g. "0.85"' in errors


def test_dependency_on_a_broken_entry_is_reported_on_the_dependent(tmp_path):
    _write(tmp_path, "base.yaml", HEAD.format(id="base") + "settings: 3\n")
    _write(tmp_path, "top.yaml", HEAD.format(id="top") + "depends_on: [base]\n")
    catalog = load_catalog(tmp_path)
    assert catalog.modules == {}
    assert "menus/top.yaml:6: depends_on[0]: depends on module 'base', whose menu entry is " \
           "invalid" in {str(e) for e in catalog.errors}
