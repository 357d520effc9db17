"""Bill lines in words a resident reads (zh and en), from the explanations the billing run
really stores: no formula, exact result or rounding rule on the resident's page."""
from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pandas as pd

from app.domains.fees.explain import item_labels, line_words
from app.domains.fees.fee_items import compute_item, load_items, tier_breakdown

LABELS = item_labels("YC")


def _line(item_id, computed, description, kind="charge"):
    row = computed.iloc[0]
    return SimpleNamespace(item=item_id, kind=kind, description=description, quantity=row["quantity"],
                           unit_price=row["unit_price"], amount_cents=int(row["amount_cents"]),
                           explanation=row["explanation"])


def _no_internals(words):
    text = " ".join([words.title, *words.sentences])
    for internal in ("formula", "ROUND", "area_m2", "rate", "result", "_cents", "*"):
        assert internal not in text, f"{internal!r} shown to a resident: {text}"


def test_property_fee_reads_area_times_rate():
    item = load_items("YC").get("property_fee")
    computed = compute_item(item, pd.DataFrame({"area_m2": pd.Series([Decimal("89.30")], dtype=object)}),
                            {"fee_rate_per_m2": Decimal("0.85")})
    line = _line("property_fee", computed, "物业费 2026-11")
    zh, en = line_words(line, "zh", LABELS), line_words(line, "en", LABELS)
    assert zh.title == "物业费 2026-11" and zh.sentences == ["建筑面积 89.3 ㎡ × 0.85 元/㎡/月 = 75.91 元"]
    assert en.title == "Property fee 2026-11"
    assert en.sentences == ["Floor area 89.3 m² × 0.85 yuan/m²/month = 75.91 yuan"]
    _no_internals(zh)
    _no_internals(en)


def test_water_reads_the_readings_and_each_tier_with_its_price():
    item = load_items("YC").get("water")
    usage, prior = Decimal("30"), Decimal("160")  # 20 m³ left in tier 1, then 10 m³ in tier 2
    extra = {"meter": "WM-1-101", "reading_start": {"value": "1200", "at": "2026-10-31 23:00"},
             "reading_end": {"value": "1230", "at": "2026-11-30 23:00"}, "unit": "m³", "tier_period": "year",
             "tiers": tier_breakdown(item, usage, prior)}
    frame = pd.DataFrame({"usage": pd.Series([usage], dtype=object), "prior_usage": pd.Series([prior], dtype=object),
                          "_explain": pd.Series([extra], dtype=object)})
    line = _line("water", compute_item(item, frame, {}), "水费 2026-11")
    zh = line_words(line, "zh", LABELS)
    assert zh.sentences == [
        "表 WM-1-101：上次读数 1200（2026-10-31），本次读数 1230（2026-11-30），用量 30 m³",
        "第 1 阶梯：20 m³ × 5.00 元 = 100.00 元",
        "第 2 阶梯：10 m³ × 7.00 元 = 70.00 元",
        "阶梯按全年累计用量计算",
    ]
    assert line.amount_cents == 17000
    en = line_words(line, "en", LABELS)
    assert en.title == "Water 2026-11" and en.sentences[1] == "Tier 1: 20 m³ × 5.00 yuan = 100.00 yuan"
    _no_internals(zh)
    _no_internals(en)


def test_repair_charge_reads_materials_and_labour_in_yuan():
    line = SimpleNamespace(item="repair", kind="charge", description="维修 YC-R-20261125-0001 水电",
                           quantity=Decimal(1), unit_price=Decimal("65.50"), amount_cents=6550,
                           explanation={"order": "YC-R-20261125-0001", "materials": "PPR 管 2 米",
                                        "materials_cost_cents": 2550, "labour_cost_cents": 4000})
    zh, en = line_words(line, "zh", LABELS), line_words(line, "en", LABELS)
    assert zh.sentences[-1] == "材料费 25.50 元 + 人工费 40.00 元 = 65.50 元"
    assert "PPR 管 2 米" in zh.sentences[0]
    assert en.title == "Repair YC-R-20261125-0001"
    assert en.sentences[-1] == "Materials 25.50 yuan + labour 40.00 yuan = 65.50 yuan"
    _no_internals(zh)
    _no_internals(en)


def test_late_fee_reads_base_rate_and_days():
    line = SimpleNamespace(item="late_fee", kind="late_fee", description="滞纳金 2026-10", quantity=Decimal(12),
                           unit_price=Decimal("0.0005"), amount_cents=45,
                           explanation={"inputs": {"outstanding_principal": "75.91", "daily_rate": "0.0005",
                                                   "grace_days": 15, "cap_percent": "30",
                                                   "due_date": "2026-11-15"},
                                        "formula": "base * rate * days", "capped": False,
                                        "rounding": "ROUND_HALF_UP 0.01"})
    zh = line_words(line, "zh", LABELS)
    assert zh.sentences[0] == "逾期未缴 75.91 元 × 每日 0.05% × 12 天 = 0.45 元"
    assert line_words(line, "en", LABELS).title == "Late fee 2026-10"
    _no_internals(zh)
