"""Fee items: declarative formulas, Decimal, the rounding rule, tiers, clear errors."""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from app.assets.errors import AssetInvalid
from app.domains.fees.fee_items import (
    FeeFormulaError,
    Tiers,
    compute_item,
    load_items,
    round_cents,
    validate_items_file,
)

SHIPPED = Path(__file__).resolve().parents[3] / "menus" / "fees" / "items.yaml"


def col(*values):
    return pd.Series([Decimal(v) for v in values], dtype=object)


def write(tmp_path, body: str) -> Path:
    path = tmp_path / "items.yaml"
    path.write_text(body, encoding="utf-8")
    return path


def test_shipped_items_are_valid_and_fx_overrides_waste_fee():
    assert validate_items_file(SHIPPED) == []
    yc, fx = load_items("YC", SHIPPED), load_items("FX", SHIPPED)
    assert [i.id for i in yc.items] == ["property_fee", "waste_fee", "water", "parking", "one_off", "shared_energy"]
    assert yc.get("waste_fee").params["amount"] == Decimal("3.00")
    assert fx.get("waste_fee").params["amount"] == Decimal("2.50")
    assert yc.get("water").tiers == Tiers("year", (Decimal(180), Decimal(260)),
                                          (Decimal("5.00"), Decimal("7.00"), Decimal("9.00")))


def test_rounding_rule_is_half_up_to_the_fen():
    assert round_cents(Decimal("0.005")) == 1
    assert round_cents(Decimal("0.0049")) == 0
    assert round_cents(Decimal("64.175")) == 6418
    assert round_cents(Decimal("2.345")) == 235  # banker's rounding would give 234


def test_beijing_water_tiers():
    tiers = load_items("YC", SHIPPED).get("water").tiers
    assert tiers.charge(Decimal(100), Decimal(0)) == Decimal(500)
    assert tiers.charge(Decimal(100), Decimal(150)) == 30 * 5 + 70 * 7
    assert tiers.charge(Decimal(300), Decimal(0)) == 180 * 5 + 80 * 7 + 40 * 9
    assert tiers.cost(Decimal(260)) == 180 * 5 + 80 * 7


def test_line_explains_inputs_formula_and_rounding():
    item = load_items("YC", SHIPPED).get("property_fee")
    lines = compute_item(item, pd.DataFrame({"area_m2": col("75.50")}), {"fee_rate_per_m2": Decimal("0.85")})
    row = lines.iloc[0]
    assert row["amount_cents"] == 6418 and row["quantity"] == Decimal("75.50") and row["unit_price"] == Decimal("0.85")
    assert row["explanation"] == {"inputs": {"area_m2": "75.50", "rate": "0.85"}, "formula": "area_m2 * rate",
                                  "result": "64.1750", "rounding": "ROUND_HALF_UP 0.01",
                                  "amount": "64.18"}


def test_validation_names_file_line_and_reason(tmp_path):
    path = write(tmp_path, (
        "items:\n"
        "  - id: a\n"
        "    label: {zh: 甲, en: A}\n"
        "    basis: area\n"
        "    formula: \"area_m2 * price\"\n"
        "  - id: b\n"
        "    label: {zh: 乙, en: B}\n"
        "    basis: fixed\n"
        "    params: {amount: 3.5}\n"
        "    formula: \"amount\"\n"
        "  - id: c\n"
        "    label: {zh: 丙, en: C}\n"
        "    basis: rent\n"
        "    formula: \"1\"\n"
        "  - id: d\n"
        "    label: {zh: 丁, en: D}\n"
        "    basis: fixed\n"
        "    formula: \"__import__('os')\"\n"))
    errors = [str(e) for e in validate_items_file(path)]
    assert f"{path}:5: items[a].formula: unknown variable price (known: area_m2)" in errors
    assert any(e.startswith(f"{path}:9: items[b].params.amount: write decimals as a quoted string") for e in errors)
    assert any(e.startswith(f"{path}:13: items[c].basis: unknown basis 'rent'") for e in errors)
    assert any(e.startswith(f"{path}:18: items[d].formula:") for e in errors)
    with pytest.raises(AssetInvalid):
        load_items(path=path)


def test_division_by_zero_names_item_and_household(tmp_path):
    path = write(tmp_path, "items:\n  - {id: share, label: {zh: 分摊, en: Share}, basis: area,"
                           " params: {total: \"100\"}, formula: \"total / (area_m2 - 50)\"}\n")
    item = load_items(path=path).get("share")
    codes = pd.Series(["H-1", "H-2"])
    with pytest.raises(FeeFormulaError) as exc:
        compute_item(item, pd.DataFrame({"area_m2": col("60", "50")}), {}, codes)
    assert exc.value.reason == "division by zero" and exc.value.household == "H-2"
    assert "fee item 'share' for household H-2: division by zero (formula: total / (area_m2 - 50))" == str(exc.value)
    assert "除数为零" in exc.value.message("zh")


def test_unknown_setting_and_unknown_variable_at_run_time(tmp_path):
    path = write(tmp_path, "items:\n  - {id: f, label: {zh: 费, en: Fee}, basis: area,"
                           " params: {rate: \"setting:no_such\"}, formula: \"area_m2 * rate\"}\n")
    with pytest.raises(FeeFormulaError, match="unknown setting 'no_such'"):
        compute_item(load_items(path=path).get("f"), pd.DataFrame({"area_m2": col("1")}), {})
    # a variable the basis does not provide (caught statically by validate, and at run time too)
    from app.domains.fees.fee_items import FeeItem, evaluate_column

    item = FeeItem(id="g", label={"zh": "g", "en": "g"}, basis="fixed", formula="area_m2 * 2")
    with pytest.raises(FeeFormulaError) as exc:
        evaluate_column(item, item.formula, pd.DataFrame({"x": col("1")}), {})
    assert exc.value.reason == "unknown variable area_m2"


def test_conditional_formula_is_evaluated_per_distinct_input(tmp_path):
    path = write(tmp_path, "items:\n  - {id: f, label: {zh: 费, en: Fee}, basis: area,"
                           " formula: \"Decimal('30') if area_m2 < 70 else max(area_m2 * Decimal('0.5'), Decimal('40'))\"}\n")
    lines = compute_item(load_items(path=path).get("f"), pd.DataFrame({"area_m2": col("60", "90", "60", "100")}), {})
    assert lines["amount_cents"].tolist() == [3000, 4500, 3000, 5000]


def test_non_numeric_result_is_refused(tmp_path):
    path = write(tmp_path, "items:\n  - {id: f, label: {zh: 费, en: Fee}, basis: area, formula: \"area_m2 > 1\"}\n")
    with pytest.raises(FeeFormulaError, match="not a number"):
        compute_item(load_items(path=path).get("f"), pd.DataFrame({"area_m2": col("60")}), {}, pd.Series(["H"]))
