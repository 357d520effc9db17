"""Fee items: declarative formulas that turn a household's inputs into bill lines.

The items live in ``menus/fees/items.yaml`` (data, validated with file and line by
``estateflow validate``). Each item has a *basis* that says where its inputs come from
(floor area, meter usage, permits, one-off charges, or nothing for a fixed fee), *params*
(quoted decimals or ``setting:<name>`` of the community's fees settings) and a *formula*
evaluated by the platform's restricted evaluator with ``Decimal`` values: no free code.

Rounding rule (one place, :data:`ROUNDING`): each line's exact result is rounded
``ROUND_HALF_UP`` to 0.01 yuan (1 分) and stored as integer cents; a bill is the sum of its
rounded lines. Every line carries an explanation: inputs, formula, exact result, rounding.

Evaluation is vectorised: when a formula is plain arithmetic over its variables (the usual
case), it is evaluated **once** with a pandas column of Decimals per input, so a run over
100,000 households costs one evaluation per item, not one per household. Anything else
(conditionals, ``min``/``max``...) is evaluated once per distinct combination of inputs.
A formula that divides by zero, names an unknown variable or yields something that is not
a number raises :class:`FeeFormulaError` naming item, household and reason.
"""
from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pandas as pd

from app.assets.errors import AssetError, AssetInvalid
from app.assets.yaml_lines import LineDict, load_yaml_file
from app.engine.evaluator import (
    EvaluationError,
    evaluate_expression,
    validate_expression,
)

ROUNDING = "ROUND_HALF_UP 0.01"
"""The rounding rule as each line's explanation states it: half up, to 0.01 yuan (1 分), per line."""
CENT = Decimal("0.01")

BASIS_VARIABLES: dict[str, tuple[str, ...]] = {
    "fixed": (),
    "area": ("area_m2",),
    "usage": ("usage", "prior_usage"),
    "permit": ("permits",),
    "charge": ("quantity", "unit_price"),
}
"""Per basis, the per-household variables its formula may use (besides its params)."""

TIER_PERIODS = ("year", "month")
_ITEM_KEYS_REQUIRED = ("id", "label", "basis", "formula")
_ITEM_KEYS_OPTIONAL = ("params", "quantity", "unit_price", "tiers", "meter_profile", "unit")
_ITEM_FUNCTIONS = ("tiered",)
# Nodes of a formula that is evaluated column-wise: arithmetic is element-wise on pandas
# columns; anything that asks a truth value (comparisons, if/else, and/or, min/max) is not.
_VECTOR_NODES = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Name, ast.Load, ast.Constant,
                 ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow,
                 ast.USub, ast.UAdd, ast.Call)
_VECTOR_CALLS = ("tiered", "Decimal")


class FeeFormulaError(ValueError):
    """A fee item could not be computed; nothing is billed. ``str()`` is the English text."""

    def __init__(self, item: str, reason: str, household: str | None = None,
                 formula: str | None = None):
        self.item, self.reason, self.household, self.formula = item, reason, household, formula
        where = f" for household {household}" if household else ""
        text = f"fee item '{item}'{where}: {reason}"
        if formula:
            text += f" (formula: {formula})"
        super().__init__(text)

    def message(self, locale: str = "zh") -> str:
        if locale != "zh":
            return str(self)
        where = f"（住户 {self.household}）" if self.household else ""
        text = f"收费项目“{self.item}”{where}无法计算：{_zh_reason(self.reason)}"
        if self.formula:
            text += f"（公式：{self.formula}）"
        return text


def _zh_reason(reason: str) -> str:
    if reason == "division by zero":
        return "除数为零"
    if reason.startswith("unknown variable"):
        return "未知变量 " + reason.split(" ", 2)[2]
    return reason


@dataclass(frozen=True)
class Tiers:
    """阶梯 prices: ``prices[i]`` applies between ``bounds[i-1]`` and ``bounds[i]``."""

    period: str
    bounds: tuple[Decimal, ...]
    prices: tuple[Decimal, ...]

    def cost(self, total: Decimal) -> Decimal:
        return sum((part["amount"] for part in self.split(Decimal(0), total)), Decimal(0))

    def split(self, prior: Decimal, usage: Decimal) -> list[dict[str, Any]]:
        """The usage ``(prior, prior + usage]`` cut into tiers: quantity, price, amount each."""
        parts = []
        lower = Decimal(0)
        start, end = prior, prior + usage
        for i, price in enumerate(self.prices):
            upper = self.bounds[i] if i < len(self.bounds) else None
            lo = max(start, lower)
            hi = end if upper is None else min(end, upper)
            if hi > lo:
                parts.append({"tier": i + 1, "from": lo, "to": hi, "quantity": hi - lo,
                              "price": price, "amount": (hi - lo) * price})
            if upper is not None:
                lower = upper
        return parts

    def charge(self, usage: Decimal, prior: Decimal) -> Decimal:
        return sum((p["amount"] for p in self.split(prior, usage)), Decimal(0))


@dataclass(frozen=True)
class FeeItem:
    id: str
    label: dict[str, str]
    basis: str
    formula: str
    params: dict[str, Any] = field(default_factory=dict)  # Decimal, or "setting:<name>"
    quantity: str | None = None
    unit_price: str | None = None
    tiers: Tiers | None = None
    meter_profile: str | None = None
    unit: str | None = None

    @property
    def variables(self) -> tuple[str, ...]:
        return BASIS_VARIABLES[self.basis]


@dataclass(frozen=True)
class FeeItemSet:
    items: tuple[FeeItem, ...]
    due_days: int = 15
    source: str = ""

    def get(self, item_id: str) -> FeeItem | None:
        return next((i for i in self.items if i.id == item_id), None)


# ------------------------------------------------------------------------ loading and checks


def default_items_path() -> Path:
    from app.settings import get_settings

    return Path(get_settings().assets_dir) / "menus" / "fees" / "items.yaml"


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or isinstance(value, float):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _names(tree: ast.AST) -> set[str]:
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in called}


def _check_expression(errors: list[AssetError], file: str, line: int, element: str, text: Any,
                      allowed: set[str], functions: dict) -> None:
    if not isinstance(text, str) or not text.strip():
        errors.append(AssetError(file, line, element, "must be an expression"))
        return
    try:
        tree = validate_expression(text, functions)
    except EvaluationError as exc:
        errors.append(AssetError(file, line, element, exc.message))
        return
    unknown = sorted(_names(tree) - allowed)
    if unknown:
        errors.append(AssetError(file, line, element,
                                 f"unknown variable {', '.join(unknown)} (known: "
                                 f"{', '.join(sorted(allowed)) or 'none'})"))


def _parse_item(raw: Any, index: int, line: int, file: str, errors: list[AssetError]) -> FeeItem | None:
    element = f"items[{index}]"
    if not isinstance(raw, LineDict):
        errors.append(AssetError(file, line, element, "must be a mapping"))
        return None
    before = len(errors)
    if isinstance(raw.get("id"), str):
        element = f"items[{raw['id']}]"
    for key in _ITEM_KEYS_REQUIRED:
        if key not in raw:
            errors.append(AssetError(file, raw.line, f"{element}.{key}", "missing required key"))
    for key in raw:
        if key not in _ITEM_KEYS_REQUIRED + _ITEM_KEYS_OPTIONAL:
            errors.append(AssetError(file, raw.line_of(key), f"{element}.{key}", "unknown key"))
    if len(errors) > before:
        return None
    item_id = raw["id"]
    if not isinstance(item_id, str) or not item_id.replace("_", "").isalnum():
        errors.append(AssetError(file, raw.line_of("id"), f"{element}.id", "must be an identifier"))
    label = raw["label"]
    if not isinstance(label, dict) or not all(isinstance(label.get(k), str) and label.get(k)
                                              for k in ("zh", "en")):
        errors.append(AssetError(file, raw.line_of("label"), f"{element}.label",
                                 "must be a mapping {zh: ..., en: ...}"))
    basis = raw["basis"]
    if basis not in BASIS_VARIABLES:
        errors.append(AssetError(file, raw.line_of("basis"), f"{element}.basis",
                                 f"unknown basis {basis!r} (expected one of: {', '.join(BASIS_VARIABLES)})"))
        return None
    params: dict[str, Any] = {}
    raw_params = raw.get("params") or {}
    if not isinstance(raw_params, dict):
        errors.append(AssetError(file, raw.line_of("params"), f"{element}.params", "must be a mapping"))
        raw_params = {}
    for name, value in raw_params.items():
        pline = raw_params.line_of(name) if isinstance(raw_params, LineDict) else raw.line_of("params")
        if not isinstance(name, str) or not name.isidentifier() or name in BASIS_VARIABLES[basis]:
            errors.append(AssetError(file, pline, f"{element}.params.{name}",
                                     "must be an identifier that is not an input variable"))
        elif isinstance(value, str) and value.startswith("setting:"):
            params[name] = value
        elif isinstance(value, float):
            errors.append(AssetError(file, pline, f"{element}.params.{name}",
                                     f'write decimals as a quoted string, e.g. "{value}"'))
        elif _decimal(value) is None:
            errors.append(AssetError(file, pline, f"{element}.params.{name}",
                                     'must be a decimal string such as "0.85" or "setting:<name>"'))
        else:
            params[name] = _decimal(value)
    tiers = None
    if "tiers" in raw:
        tiers = _parse_tiers(raw["tiers"], raw.line_of("tiers"), f"{element}.tiers", file, errors)
    elif basis == "usage" and "tiered(" in str(raw["formula"]):
        errors.append(AssetError(file, raw.line_of("formula"), f"{element}.formula",
                                 "tiered() needs the item's tiers"))
    if basis == "usage" and not isinstance(raw.get("meter_profile"), str):
        errors.append(AssetError(file, raw.line, f"{element}.meter_profile",
                                 "a usage item names the meter profile it reads"))
    allowed = set(BASIS_VARIABLES[basis]) | set(params)
    functions = {"tiered": lambda *a: None}
    for key in ("formula", "quantity", "unit_price"):
        if key in raw:
            _check_expression(errors, file, raw.line_of(key), f"{element}.{key}", raw[key],
                              allowed, functions)
    if len(errors) > before:
        return None
    return FeeItem(id=item_id, label=dict(label), basis=basis, formula=raw["formula"].strip(),
                   params=params, quantity=raw.get("quantity"), unit_price=raw.get("unit_price"),
                   tiers=tiers, meter_profile=raw.get("meter_profile"), unit=raw.get("unit"))


def _parse_tiers(raw: Any, line: int, element: str, file: str, errors: list[AssetError]) -> Tiers | None:
    if not isinstance(raw, dict):
        errors.append(AssetError(file, line, element, "must be a mapping {period, bounds, prices}"))
        return None
    period = raw.get("period")
    if period not in TIER_PERIODS:
        errors.append(AssetError(file, line, f"{element}.period",
                                 f"must be one of: {', '.join(TIER_PERIODS)}"))
    bounds = [_decimal(v) if not isinstance(v, float) else None for v in raw.get("bounds") or []]
    prices = [_decimal(v) if not isinstance(v, float) else None for v in raw.get("prices") or []]
    if None in bounds or None in prices or not prices:
        errors.append(AssetError(file, line, element, "bounds and prices are quoted decimal strings"))
        return None
    if len(prices) != len(bounds) + 1:
        errors.append(AssetError(file, line, element, "needs one more price than bounds"))
        return None
    if any(b <= a for a, b in zip([Decimal(0), *bounds], bounds)):
        errors.append(AssetError(file, line, f"{element}.bounds", "must be positive and increasing"))
        return None
    if any(p < 0 for p in prices):
        errors.append(AssetError(file, line, f"{element}.prices", "must not be negative"))
        return None
    return Tiers(period=period, bounds=tuple(bounds), prices=tuple(prices))


def _parse_file(path: Path) -> tuple[LineDict | None, list[AssetError]]:
    try:
        data = load_yaml_file(path)
    except AssetInvalid as exc:
        return None, list(exc.errors)
    if not isinstance(data, LineDict):
        return None, [AssetError(str(path), 1, "file", "must be a mapping with `items:`")]
    return data, []


def _parse_items(data: LineDict, file: str, errors: list[AssetError]) -> list[FeeItem]:
    raw_items = data.get("items")
    if not isinstance(raw_items, list) or not raw_items:
        errors.append(AssetError(file, data.line_of("items"), "items", "must be a non-empty list"))
        return []
    items = []
    seen = set()
    for i, raw in enumerate(raw_items):
        item = _parse_item(raw, i, raw_items.line_of(i), file, errors)
        if item is None:
            continue
        if item.id in seen:
            errors.append(AssetError(file, raw_items.line_of(i), f"items[{item.id}]", "duplicate id"))
        seen.add(item.id)
        items.append(item)
    return items


def validate_items_file(path: Path) -> list[AssetError]:
    """Every problem in a fee items file (``estateflow validate`` calls this)."""
    file = str(path)
    data, errors = _parse_file(path)
    if data is None:
        return errors
    for key in data:
        if key not in ("items", "due_days", "overrides"):
            errors.append(AssetError(file, data.line_of(key), key, "unknown key"))
    due = data.get("due_days", 15)
    if isinstance(due, bool) or not isinstance(due, int) or not 0 <= due <= 365:
        errors.append(AssetError(file, data.line_of("due_days"), "due_days", "must be 0–365 days"))
    items = {i.id: i for i in _parse_items(data, file, errors)}
    overrides = data.get("overrides") or {}
    if not isinstance(overrides, dict):
        errors.append(AssetError(file, data.line_of("overrides"), "overrides", "must be a mapping"))
        return errors
    for code, per_item in overrides.items():
        line = overrides.line_of(code) if isinstance(overrides, LineDict) else 0
        if not isinstance(per_item, dict):
            errors.append(AssetError(file, line, f"overrides.{code}", "must be a mapping"))
            continue
        for item_id, change in per_item.items():
            iline = per_item.line_of(item_id) if isinstance(per_item, LineDict) else line
            element = f"overrides.{code}.{item_id}"
            if item_id not in items:
                errors.append(AssetError(file, iline, element, f"unknown fee item {item_id!r}"))
                continue
            if not isinstance(change, dict) or set(change) - {"params", "enabled"}:
                errors.append(AssetError(file, iline, element, "may set only params and enabled"))
                continue
            for name, value in (change.get("params") or {}).items():
                if name not in items[item_id].params:
                    errors.append(AssetError(file, iline, f"{element}.params.{name}", "unknown param"))
                elif not (isinstance(value, str) and value.startswith("setting:")) and (
                        isinstance(value, float) or _decimal(value) is None):
                    errors.append(AssetError(file, iline, f"{element}.params.{name}",
                                             "must be a quoted decimal string"))
    return errors


def load_items(community_code: str | None = None, path: Path | None = None) -> FeeItemSet:
    """The fee items for a community (shipped defaults plus that community's overrides).

    Raises ``AssetInvalid`` if the file has any error: a broken tariff never bills anyone.
    """
    path = path or default_items_path()
    errors = validate_items_file(path)
    if errors:
        raise AssetInvalid(errors)
    data, _ = _parse_file(path)
    items = _parse_items(data, str(path), [])
    changes = ((data.get("overrides") or {}).get(community_code) or {}) if community_code else {}
    result = []
    for item in items:
        change = changes.get(item.id) or {}
        if change.get("enabled") is False:
            continue
        if change.get("params"):
            params = dict(item.params)
            for name, value in change["params"].items():
                params[name] = value if isinstance(value, str) and value.startswith("setting:") \
                    else _decimal(value)
            item = FeeItem(**{**item.__dict__, "params": params})
        result.append(item)
    return FeeItemSet(items=tuple(result), due_days=int(data.get("due_days", 15)), source=str(path))


# ------------------------------------------------------------------------------ evaluation


def resolve_params(item: FeeItem, settings: Mapping[str, Any]) -> dict[str, Decimal]:
    """Params with ``setting:<name>`` replaced by the community's setting value."""
    values = {}
    for name, value in item.params.items():
        if isinstance(value, str):
            key = value.split(":", 1)[1]
            if key not in settings:
                raise FeeFormulaError(item.id, f"param {name} names unknown setting {key!r}")
            setting = settings[key]
            value = setting if isinstance(setting, Decimal) else _decimal(setting)
            if value is None:
                raise FeeFormulaError(item.id, f"setting {key!r} is not a number")
        values[name] = value
    return values


def round_cents(value: Decimal) -> int:
    """The rounding rule: ROUND_HALF_UP to 0.01 yuan, as integer cents."""
    return int((value * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _functions(item: FeeItem) -> dict[str, Any]:
    tiers = item.tiers

    def tiered(usage: Any, prior: Any = Decimal(0)) -> Any:
        if tiers is None:
            raise EvaluationError(f"fee item '{item.id}' has no tiers")
        if isinstance(usage, pd.Series):
            prior_s = prior if isinstance(prior, pd.Series) else pd.Series([prior] * len(usage),
                                                                           index=usage.index)
            return pd.Series([tiers.charge(u, p) for u, p in zip(usage, prior_s)],
                             index=usage.index, dtype=object)
        return tiers.charge(usage, prior)

    return {"tiered": tiered}


def _is_vectorisable(formula: str) -> bool:
    tree = ast.parse(formula, mode="eval")
    for node in ast.walk(tree):
        if not isinstance(node, _VECTOR_NODES):
            return False
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in _VECTOR_CALLS or node.keywords:
                return False
            if node.func.id == "Decimal" and not all(isinstance(a, ast.Constant) for a in node.args):
                return False
    return True


def _failure(item: FeeItem, formula: str, exc: EvaluationError, household: str | None) -> FeeFormulaError:
    cause = exc.__cause__
    if isinstance(cause, ZeroDivisionError) or "DivisionByZero" in exc.message \
            or "division by zero" in exc.message:
        reason = "division by zero"
    elif exc.message.startswith("name '") and exc.message.endswith("is not defined"):
        reason = f"unknown variable {exc.message.split(chr(39))[1]}"
    elif isinstance(cause, InvalidOperation) or "InvalidOperation" in exc.message:
        reason = "invalid decimal operation (e.g. 0/0)"
    else:
        reason = exc.message
    return FeeFormulaError(item.id, reason, household, formula)


def _check_number(item: FeeItem, formula: str, value: Any, household: str | None) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise FeeFormulaError(item.id, f"result is {type(value).__name__}, not a number "
                              "(floats are not money)", household, formula)
    value = Decimal(value)
    if not value.is_finite():
        raise FeeFormulaError(item.id, "result is not a finite number", household, formula)
    return value


def evaluate_column(item: FeeItem, expression: str, inputs: pd.DataFrame, params: Mapping[str, Decimal],
                    household_codes: pd.Series | None = None) -> pd.Series:
    """Evaluate ``expression`` for every row of ``inputs`` (one row per line to bill).

    ``inputs`` holds the basis variables as object columns of Decimals. Returns a Series of
    Decimals aligned with ``inputs``. Raises :class:`FeeFormulaError` naming the first
    household whose inputs fail.
    """
    functions = _functions(item)
    variables = list(item.variables)
    if inputs.empty:
        return pd.Series([], dtype=object, index=inputs.index)
    if _is_vectorisable(expression):
        data: dict[str, Any] = dict(params)
        data.update({v: inputs[v] for v in variables if v in inputs})
        try:
            result = evaluate_expression(expression, data, functions)
        except EvaluationError as exc:
            if _failure(item, expression, exc, None).reason.startswith("unknown variable"):
                raise _failure(item, expression, exc, None) from exc
            result = None  # find the household it fails for, row by row below
        if result is not None:
            if not isinstance(result, pd.Series):
                result = pd.Series([result] * len(inputs), index=inputs.index, dtype=object)
            bad = result.map(lambda v: isinstance(v, bool) or not isinstance(v, (int, Decimal))).astype(bool)
            if bad.any():
                pos = int(bad.to_numpy().nonzero()[0][0])
                code = None if household_codes is None else household_codes.iloc[pos]
                _check_number(item, expression, result.iloc[pos], code)
            return result.map(Decimal) if result.map(type).ne(Decimal).any() else result
    # one evaluation per distinct combination of inputs
    present = [v for v in variables if v in inputs]
    keys = inputs[present].astype(str).agg("|".join, axis=1) if present else \
        pd.Series([""] * len(inputs), index=inputs.index)
    cache: dict[str, Decimal] = {}
    out = []
    for pos, key in enumerate(keys):
        if key not in cache:
            row = {v: inputs[v].iloc[pos] for v in present}
            code = None if household_codes is None else household_codes.iloc[pos]
            try:
                value = evaluate_expression(expression, {**params, **row}, functions)
            except EvaluationError as exc:
                raise _failure(item, expression, exc, code) from exc
            cache[key] = _check_number(item, expression, value, code)
        out.append(cache[key])
    return pd.Series(out, index=inputs.index, dtype=object)


def compute_item(item: FeeItem, inputs: pd.DataFrame, settings: Mapping[str, Any],
                 household_codes: pd.Series | None = None) -> pd.DataFrame:
    """Lines of one item for the rows of ``inputs``: amount, quantity, unit price, explanation.

    Returns columns ``raw`` (exact Decimal), ``amount_cents`` (int), ``quantity`` and
    ``unit_price`` (Decimal), ``explanation`` (dict) aligned with ``inputs``.
    """
    params = resolve_params(item, settings)
    raw = evaluate_column(item, item.formula, inputs, params, household_codes)
    negative = raw.map(lambda v: v < 0).astype(bool)
    if negative.any():
        pos = int(negative.to_numpy().nonzero()[0][0])
        code = None if household_codes is None else household_codes.iloc[pos]
        raise FeeFormulaError(item.id, f"negative amount {raw.iloc[pos]}", code, item.formula)
    cents = raw.map(round_cents)
    quantity = (evaluate_column(item, item.quantity, inputs, params, household_codes)
                if item.quantity else pd.Series([Decimal(1)] * len(inputs), index=inputs.index, dtype=object))
    if item.unit_price:
        unit_price = evaluate_column(item, item.unit_price, inputs, params, household_codes)
    else:
        unit_price = pd.Series([(r / q).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP) if q else r
                                for r, q in zip(raw, quantity)], index=inputs.index, dtype=object)
    present = [v for v in item.variables if v in inputs]
    param_text = {k: str(v) for k, v in params.items()}
    columns = {v: inputs[v].map(str).tolist() for v in present}
    extra = inputs["_explain"].tolist() if "_explain" in inputs else None
    explanations = []
    shared: dict[tuple, dict] = {}  # identical inputs share one explanation object
    for pos, (r, c) in enumerate(zip(raw.tolist(), cents.tolist())):
        values = tuple(columns[v][pos] for v in present)
        explanation = shared.get((values, r)) if extra is None or not extra[pos] else None
        if explanation is None:
            explanation = {
                "inputs": {**dict(zip(present, values)), **param_text},
                "formula": item.formula,
                "result": str(r),
                "rounding": ROUNDING,
                "amount": f"{Decimal(c) / 100:.2f}",
            }
            if extra is not None and extra[pos]:
                explanation.update(extra[pos])
            else:
                shared[(values, r)] = explanation
        explanations.append(explanation)
    return pd.DataFrame({"raw": raw, "amount_cents": cents, "quantity": quantity,
                         "unit_price": unit_price, "explanation": explanations}, index=inputs.index)


def tier_breakdown(item: FeeItem, usage: Decimal, prior: Decimal) -> list[dict[str, str]]:
    """The tiers a usage falls in, as text for a line's explanation."""
    if item.tiers is None:
        return []
    return [{"tier": str(p["tier"]), "quantity": plain_decimal(p["quantity"]), "price": str(p["price"]),
             "amount": plain_decimal(p["amount"])}
            for p in item.tiers.split(prior, usage)]


def plain_decimal(value: Decimal) -> str:
    """``Decimal('10.000')`` → ``'10'``; ``Decimal('12.50')`` → ``'12.5'`` (no exponent)."""
    return format(value.normalize(), "f")


def _register_validator() -> None:
    """``estateflow validate`` checks ``menus/fees/*.yaml`` with :func:`validate_items_file`."""
    from app.assets.validate import DATA_VALIDATORS

    DATA_VALIDATORS.setdefault("fees", validate_items_file)


_register_validator()
