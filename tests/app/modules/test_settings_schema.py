"""Module settings are validated by a schema built from the menu entry; money stays exact."""
from __future__ import annotations

import json
from decimal import Decimal

import pytest
from marshmallow import ValidationError

from app.modules.settings_schema import (
    build_settings_schema,
    settings_from_json,
    settings_to_json,
)


def test_defaults_fill_missing_settings(shipped):
    loaded = build_settings_schema(shipped.modules["fees"]).load({})
    assert loaded == {
        "fee_rate_per_m2": Decimal("0.85"),
        "billing_day": 1,
        "late_fee_daily_rate": Decimal("0.0003"),
        "late_fee_grace_days": 30,
        "late_fee_cap_percent": Decimal("30"),
        "arrears_attention": Decimal("500.00"),
    }


def test_unknown_setting_is_refused_by_name_in_both_languages(shipped):
    notice = shipped.modules["notice"]
    with pytest.raises(ValidationError) as zh:
        build_settings_schema(notice, "zh").load({"colour": "red"})
    assert zh.value.messages == {"colour": ["未知的设置项。"]}
    with pytest.raises(ValidationError) as en:
        build_settings_schema(notice, "en").load({"colour": "red"})
    assert en.value.messages == {"colour": ["Unknown setting."]}


def test_out_of_range_values_are_refused(shipped):
    notice = shipped.modules["notice"]
    with pytest.raises(ValidationError) as exc:
        build_settings_schema(notice, "en").load({"sla_hours": 169})
    assert exc.value.messages == {"sla_hours": ["Must be between 1 and 168."]}
    with pytest.raises(ValidationError) as exc:
        build_settings_schema(notice, "zh").load({"sla_hours": 0})
    assert exc.value.messages == {"sla_hours": ["应在 1 到 168 之间。"]}
    fees = shipped.modules["fees"]
    with pytest.raises(ValidationError) as exc:
        build_settings_schema(fees, "en").load({"fee_rate_per_m2": "-0.01"})
    assert exc.value.messages == {"fee_rate_per_m2": ["Must be between 0 and 100."]}


def test_wrong_types_are_refused(shipped):
    fees = shipped.modules["fees"]
    schema = build_settings_schema(fees, "en")
    with pytest.raises(ValidationError) as exc:
        schema.load({"fee_rate_per_m2": 0.85, "billing_day": 1.5,
                     "late_fee_daily_rate": "abc"})
    assert set(exc.value.messages) == {"fee_rate_per_m2", "billing_day", "late_fee_daily_rate"}
    assert "strings" in exc.value.messages["fee_rate_per_m2"][0]
    with pytest.raises(ValidationError) as exc:
        schema.load({"fee_rate_per_m2": "0.855"})
    assert exc.value.messages == {
        "fee_rate_per_m2": ["Money has at most 2 decimal places (fen)."]}


def test_choice_setting_lists_the_choices(shipped):
    energy = shipped.modules["energy"]
    assert build_settings_schema(energy).load({"apportionment_method": "usage"})[
        "apportionment_method"] == "usage"
    with pytest.raises(ValidationError) as exc:
        build_settings_schema(energy, "en").load({"apportionment_method": "random"})
    assert exc.value.messages["apportionment_method"] == [
        "Must be one of: By floor area (area), Per household (household), By usage (usage)."]


def test_decimals_round_trip_exactly_through_json(shipped):
    fees = shipped.modules["fees"]
    typed = build_settings_schema(fees).load(
        {"fee_rate_per_m2": "0.90", "late_fee_daily_rate": "0.00025", "billing_day": "5"})
    stored = settings_to_json(fees, typed)
    assert stored["fee_rate_per_m2"] == "0.90"
    assert stored["late_fee_daily_rate"] == "0.00025"
    assert stored["billing_day"] == 5
    assert not any(isinstance(v, float) for v in stored.values())
    back = settings_from_json(fees, json.loads(json.dumps(stored)))
    assert back == typed
    assert back["fee_rate_per_m2"] == Decimal("0.90")


def test_from_json_fills_settings_added_by_a_newer_version(shipped):
    fees = shipped.modules["fees"]
    back = settings_from_json(fees, {"fee_rate_per_m2": "1.10", "retired_setting": 1})
    assert back["fee_rate_per_m2"] == Decimal("1.10")
    assert back["late_fee_grace_days"] == 30
    assert "retired_setting" not in back
