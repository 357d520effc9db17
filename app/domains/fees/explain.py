"""A bill line in words a resident reads: "建筑面积 89.3 ㎡ × 0.85 元/㎡/月 = 75.91 元".

The billing run stores each line's inputs, formula and rounding (``BillLine.explanation``) for
audits and disputes; resident pages show this instead: the basis of the charge in words and
numbers, meter readings with their 阶梯 tiers and prices, the parts of a repair charge. No
formula, exact result or rounding rule appears here (staff pages keep those details).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from app.domains.fees.money import yuan

_TEXT = {
    "area": {"zh": "建筑面积 {area} ㎡ × {rate} 元/㎡/月 = {amount} 元",
             "en": "Floor area {area} m² × {rate} yuan/m²/month = {amount} yuan"},
    "fixed": {"zh": "每户每月 {amount} 元", "en": "{amount} yuan per household per month"},
    "permit": {"zh": "{quantity} 个 × {price} 元/月 = {amount} 元",
               "en": "{quantity} × {price} yuan/month = {amount} yuan"},
    "times": {"zh": "{quantity} × {price} 元 = {amount} 元", "en": "{quantity} × {price} yuan = {amount} yuan"},
    "meter": {"zh": "表 {meter}：上次读数 {start}（{start_at}），本次读数 {end}（{end_at}），用量 {usage} {unit}",
              "en": "Meter {meter}: last reading {start} ({start_at}), this reading {end} ({end_at}), "
                    "used {usage} {unit}"},
    "tier": {"zh": "第 {tier} 阶梯：{quantity} {unit} × {price} 元 = {amount} 元",
             "en": "Tier {tier}: {quantity} {unit} × {price} yuan = {amount} yuan"},
    "tier_period_year": {"zh": "阶梯按全年累计用量计算", "en": "Tiers count this year's total use"},
    "tier_period_month": {"zh": "阶梯按当月用量计算", "en": "Tiers count this month's use"},
    "repair": {"zh": "材料费 {materials} 元 + 人工费 {labour} 元 = {amount} 元",
               "en": "Materials {materials} yuan + labour {labour} yuan = {amount} yuan"},
    "repair_order": {"zh": "维修工单 {order}（您已确认报价）：{what}", "en": "Repair order {order} (quote you accepted): {what}"},
    "late_fee": {"zh": "逾期未缴 {base} 元 × 每日 {rate}% × {days} 天 = {amount} 元",
                 "en": "Overdue {base} yuan × {rate}% a day × {days} days = {amount} yuan"},
    "late_cap": {"zh": "已达上限：不超过欠费的 {cap}%", "en": "Capped at {cap}% of the amount overdue"},
    "late_grace": {"zh": "到期日 {due}，{grace} 天宽限期后开始计算",
                   "en": "Due {due}; counted from the end of a {grace}-day grace period"},
}


@dataclass
class LineWords:
    """What a resident reads about one line: its name and one sentence per fact."""

    title: str
    sentences: list[str] = field(default_factory=list)


def _t(key: str, locale: str, **values: Any) -> str:
    texts = _TEXT[key]
    return (texts.get(locale[:2]) or texts["en"]).format(**values)


def plain(value: Any) -> str:
    """``Decimal('89.300')`` → ``'89.3'``; ``'0.8500'`` → ``'0.85'``; junk → as given."""
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    if not number.is_finite():
        return str(value)
    return format(number.normalize(), "f")


def money(value: Any) -> str:
    """Yuan with two decimals from a decimal string or Decimal (``'60'`` → ``'60.00'``)."""
    try:
        number = Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError):
        return str(value)
    return yuan(int(number * 100))


def _percent(rate: Any) -> str:
    try:
        return plain(Decimal(str(rate)) * 100)
    except (InvalidOperation, ValueError):
        return str(rate)


def line_words(line, locale: str = "zh", labels: dict[str, dict[str, str]] | None = None) -> LineWords:
    """The words for a :class:`~app.domains.fees.models.BillLine` (or anything with its fields).

    ``labels``: fee item id → {zh, en} (``menus/fees/items.yaml``), for the line's title in
    the reader's language; the stored description (Chinese) otherwise.
    """
    explanation: dict = line.explanation if isinstance(line.explanation, dict) else {}
    inputs: dict = explanation.get("inputs") if isinstance(explanation.get("inputs"), dict) else {}
    amount = yuan(line.amount_cents)
    label = (labels or {}).get(line.item)
    title = line.description
    if locale[:2] != "zh":
        if "materials_cost_cents" in explanation:
            title = f"Repair {explanation.get('order', '')}".strip()
        elif label:
            period = line.description.split(" ")[-1] if " " in line.description else ""
            title = f"{label.get('en') or label.get('zh')} {period}".strip()
    words = LineWords(title=title)
    say = words.sentences.append

    if "materials_cost_cents" in explanation:  # a repair charge the resident accepted
        what = explanation.get("materials") or ""
        if explanation.get("order"):
            say(_t("repair_order", locale, order=explanation["order"], what=what).rstrip("：: "))
        say(_t("repair", locale, materials=yuan(int(explanation.get("materials_cost_cents") or 0)),
               labour=yuan(int(explanation.get("labour_cost_cents") or 0)), amount=amount))
    elif line.kind == "late_fee" or line.item == "late_fee":
        say(_t("late_fee", locale, base=money(inputs.get("outstanding_principal", "0")),
               rate=_percent(inputs.get("daily_rate", line.unit_price)), days=plain(line.quantity), amount=amount))
        if inputs.get("due_date"):
            say(_t("late_grace", locale, due=inputs["due_date"], grace=inputs.get("grace_days", 0)))
        if explanation.get("capped"):
            say(_t("late_cap", locale, cap=plain(inputs.get("cap_percent", ""))))
    elif "reading_start" in explanation:  # a metered utility, with its tiers
        start, end = explanation.get("reading_start") or {}, explanation.get("reading_end") or {}
        unit = explanation.get("unit") or ""
        say(_t("meter", locale, meter=explanation.get("meter", ""), start=start.get("value", ""),
               start_at=str(start.get("at", ""))[:10], end=end.get("value", ""), end_at=str(end.get("at", ""))[:10],
               usage=plain(inputs.get("usage", line.quantity)), unit=unit))
        for tier in explanation.get("tiers") or []:
            say(_t("tier", locale, tier=tier.get("tier"), quantity=plain(tier.get("quantity")), unit=unit,
                   price=money(tier.get("price")), amount=money(tier.get("amount"))))
        if explanation.get("tier_period") in ("year", "month") and explanation.get("tiers"):
            say(_t(f"tier_period_{explanation['tier_period']}", locale))
        if not explanation.get("tiers"):
            say(_t("times", locale, quantity=plain(line.quantity), price=money(line.unit_price), amount=amount))
    elif "area_m2" in inputs or "area_m2" in explanation:
        area = inputs.get("area_m2", explanation.get("area_m2", line.quantity))
        say(_t("area", locale, area=plain(area), rate=plain(line.unit_price), amount=amount))
    elif "permits" in inputs:
        say(_t("permit", locale, quantity=plain(line.quantity), price=money(line.unit_price), amount=amount))
    elif "charge_id" in explanation or "quantity" in inputs:
        if explanation.get("note"):
            say(str(explanation["note"]))
        say(_t("times", locale, quantity=plain(line.quantity), price=money(line.unit_price), amount=amount))
    elif explanation.get("formula") and Decimal(str(line.quantity or 1)) == 1:
        say(_t("fixed", locale, amount=amount))
    else:
        say(_t("times", locale, quantity=plain(line.quantity), price=money(line.unit_price), amount=amount))
    return words


def item_labels(community_code: str | None = None) -> dict[str, dict[str, str]]:
    """Fee item id → {zh, en} label, for line titles (empty if the items file cannot be read)."""
    from app.assets.errors import AssetInvalid
    from app.domains.fees.fee_items import load_items

    labels = {"late_fee": {"zh": "滞纳金", "en": "Late fee"}}
    try:
        labels.update({item.id: dict(item.label) for item in load_items(community_code).items})
    except (AssetInvalid, OSError):
        pass
    return labels
