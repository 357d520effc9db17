"""Restricted evaluation of BPMN gateway conditions, expressions and script tasks.

Process models are written by consultants and tenants' administrators, not by us, so their
text is untrusted input. SpiffWorkflow's default ``PythonScriptEngine`` hands that text to
``eval``/``exec``; trimming ``__builtins__`` around ``exec`` is not a boundary (``().__class__``
walks back to everything). Here nothing reaches ``eval``/``exec``: the text is parsed with
``ast``, checked against a whitelist *before* anything runs (node types, nesting depth, size,
names of functions and attributes), then interpreted node by node by simpleeval's
``EvalWithCompoundTypes`` with our own handlers for names, calls, attributes, f-strings and
arithmetic, each bounded (number size, string/collection size, wall time).

The wall-time bound is checked between nodes, so it cannot stop one long C call (``Decimal **
Decimal`` of 8,000-digit operands, formatting a huge list...). Every such call therefore has
its *operands* bounded before it runs (integer bit length, Decimal digits and exponent,
repeat counts, estimated result size, items handed to a builtin) so that no single step can
outlast the budget; ``bench/evaluator.py`` measures the worst case the bounds still allow
(see docs/security.md, "Sandbox limits").

Public API:

* :class:`EvaluationError`: every refusal and every failure of the user's text.
* :func:`evaluate_expression`: one expression over task data.
* :func:`execute_script`: a script task (assignments, expression statements, ``if``).
* :class:`RestrictedEnvironment` / :class:`RestrictedScriptEngine`: the SpiffWorkflow glue;
  pass ``BpmnWorkflow(spec, script_engine=RestrictedScriptEngine())``.
"""
from __future__ import annotations

import ast
import copy
import decimal
import functools
import gc
import math
import threading
import time
import types
from collections import ChainMap, Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import simpleeval
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine.python_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import (
    BasePythonScriptEngineEnvironment,
)
from SpiffWorkflow.exceptions import SpiffWorkflowException

__all__ = [
    "EvaluationError",
    "LimitError",
    "Limits",
    "DEFAULT_LIMITS",
    "SAFE_FUNCTIONS",
    "evaluate_expression",
    "execute_script",
    "validate_expression",
    "validate_script",
    "RestrictedEnvironment",
    "RestrictedScriptEngine",
]


class EvaluationError(Exception):
    """The expression or script was refused, or failed while running.

    ``str(err)`` says what and why (``"attribute access to '__class__' is not allowed"``) so
    a modeller can fix the BPMN; ``expression`` and ``lineno`` locate it.
    """

    def __init__(self, message: str, expression: str | None = None, lineno: int | None = None):
        super().__init__(message)
        self.message = message
        self.expression = expression
        self.lineno = lineno


class LimitError(EvaluationError):
    """A size or time bound refused the evaluation (too large a number, string, collection...).

    Raised *before* the costly operation runs wherever the size is known beforehand. The static
    check raises it too when a constant part of the text already exceeds a bound.
    """


@dataclass(frozen=True)
class Limits:
    """Bounds on one evaluation; the defaults suit gateway conditions and short scripts."""

    max_expression_length: int = 2_000
    """Characters in one expression (a condition, a timer, a correlation)."""
    max_script_length: int = 20_000
    """Characters in one script task."""
    max_statements: int = 500
    """Statements in one script task, counting those inside ``if`` blocks."""
    max_nodes: int = 5_000
    """AST nodes in one expression or script: bounds the work before anything runs."""
    max_depth: int = 40
    """AST nesting depth; the interpreter recurses per level, so this bounds the stack."""
    max_seconds: float = 0.2
    """CPU time of the evaluating thread for one expression or script, without the time the
    garbage collector spends in that thread (a full collection of a big process measured
    170 ms; a busy machine does not count against it either; an endless computation still
    stops)."""
    max_int_bits: int = 4_096
    """Largest integer result (about 1,230 decimal digits)."""
    max_power_exponent: int = 1_000
    """Largest exponent of ``**``."""
    max_decimal_exponent: int = 1_000
    """Largest |adjusted exponent| of a Decimal result, so int()/format stay small."""
    max_string_length: int = 100_000
    """Longest string a script may build."""
    max_value_size: int = 1_000_000
    """Largest collection a script may build, counted in elements plus string characters."""
    max_format_width: int = 3
    """Digits allowed in an f-string width or precision (``{x:>999}`` at most)."""
    max_decimal_digits: int = 100
    """Significant digits of a Decimal operand (arithmetic rounds to 28): ``Decimal ** Decimal``
    works at the precision of its base, so 8,000 digits took 6 s; 100 digits take < 1 ms."""
    max_call_items: int = 100_000
    """Items in a container handed to a function (``sum``, ``set``, ``min``...) or to ``in``."""
    max_sort_items: int = 10_000
    """Items ``sorted`` may order (n log n comparisons of possibly tuples or Decimals)."""


DEFAULT_LIMITS = Limits()


# --------------------------------------------------------------------------------------------
# Functions and attributes available to process models


def _now() -> datetime:
    """Platform time (naive UTC) from ``app.clock`` so tests and the demo can move time."""
    try:
        from app.clock import now  # lazy: the clock pulls in the database module
    except ImportError:  # pragma: no cover - app.clock is part of the platform
        return datetime.now(timezone.utc).replace(tzinfo=None)
    return now()


def _today() -> date:
    """Platform date, see :func:`_now`."""
    return _now().date()


def _decimal(value: Any = "0") -> Decimal:
    """``Decimal`` for money; refuses floats, whose binary rounding is not money-safe."""
    if isinstance(value, float):
        raise EvaluationError("Decimal() from a float is inexact: pass a string like Decimal('0.10')")
    if not isinstance(value, (str, int, Decimal)):
        raise EvaluationError(f"Decimal() takes a string or an integer, not {type(value).__name__}")
    if isinstance(value, str) and len(value) > _DECIMAL_TEXT_MAX:
        raise LimitError(f"Decimal() of a string of {len(value)} characters (at most "
                         f"{_DECIMAL_TEXT_MAX})")
    return Decimal(value)


_DECIMAL_TEXT_MAX = 160
"""Characters of a string ``Decimal()`` converts: 100 digits, sign, point, exponent, spaces."""

_DECIMAL_CONTEXT = decimal.Context(
    prec=28, rounding=decimal.ROUND_HALF_EVEN, Emin=-999_999, Emax=999_999, capitals=1,
    clamp=0, flags=[], traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow],
)
"""Python's default context, pinned for every evaluation: the operand bounds were measured at
precision 28, and a process-wide ``getcontext().prec = 10**6`` must not widen them."""


def _sum(iterable: Iterable[Any], start: Any = 0) -> Any:
    """``sum`` of numbers only: summing lists with ``sum(x, [])`` is quadratic."""
    if isinstance(start, bool) or not isinstance(start, (int, Decimal)):
        raise EvaluationError("sum() start must be a number")
    return sum(iterable, start)


def _int(*args: Any, **kwargs: Any) -> int:
    """``int`` that refuses long digit strings before converting (int('9' * 10**5) is quadratic)."""
    if args and isinstance(args[0], str) and len(args[0]) > _INT_TEXT_MAX:
        raise LimitError(f"int() of a string of {len(args[0])} characters (at most "
                         f"{_INT_TEXT_MAX})")
    return int(*args, **kwargs)


_INT_TEXT_MAX = 1_300
"""Characters of a string ``int()`` converts: the 1,234 digits of ``max_int_bits`` and some."""


def _round(number: Any, ndigits: int | None = None) -> Any:
    """``round`` with a bounded ``ndigits`` (``round(10**999, -10**9)`` would compute 10**10**9)."""
    if ndigits is not None and (not isinstance(ndigits, int) or abs(ndigits) > 100):
        raise EvaluationError("round() ndigits must be an integer between -100 and 100")
    return round(number, ndigits) if ndigits is not None else round(number)


SAFE_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "len": len,
    "min": min,
    "max": max,
    "sum": _sum,
    "abs": abs,
    "round": _round,
    "int": _int,
    "str": str,
    "bool": bool,
    "Decimal": _decimal,
    "sorted": sorted,
    "any": any,
    "all": all,
    "date": date,
    "datetime": datetime,
    "timedelta": timedelta,
    "now": _now,
    "today": _today,
    # EvalWithCompoundTypes adds list, tuple, dict and set.
}
"""Functions a process model may call by name. ``float`` is deliberately absent: money is Decimal."""
_DEFAULT_FUNCTIONS: dict[str, Any] = {**SAFE_FUNCTIONS, "list": list, "tuple": tuple, "dict": dict,
                                      "set": set}

_DATE_ATTRS = {"year", "month", "day", "weekday", "isoweekday", "isoformat", "replace", "strftime"}
SAFE_ATTRIBUTES: dict[type, frozenset[str]] = {
    str: frozenset({
        "lower", "upper", "strip", "lstrip", "rstrip", "startswith", "endswith", "split",
        "rsplit", "splitlines", "title", "capitalize", "casefold", "count", "find", "rfind",
        "index", "rindex", "isdigit", "isalpha", "isalnum", "isspace", "isdecimal",
        "isnumeric", "islower", "isupper", "removeprefix", "removesuffix", "partition",
        "rpartition", "replace", "join",
    }),
    dict: frozenset({"get", "keys", "values", "items"}),
    list: frozenset({"index", "count"}),
    tuple: frozenset({"index", "count"}),
    date: frozenset(_DATE_ATTRS),
    datetime: frozenset(_DATE_ATTRS | {"hour", "minute", "second", "date"}),
    timedelta: frozenset({"days", "seconds", "total_seconds"}),
    Decimal: frozenset({"quantize", "to_integral_value", "is_zero", "is_signed", "copy_abs"}),
}
"""Per exact type, the attributes a model may read. Only non-mutating ones, and none that can
pad a string to an arbitrary size (``ljust``, ``center``, ``zfill``, ``format``...)."""

_ALL_SAFE_ATTRIBUTES = frozenset().union(*SAFE_ATTRIBUTES.values())


# --------------------------------------------------------------------------------------------
# Static checks: run before anything is evaluated

_EXPRESSION_NODES: frozenset[type] = frozenset({
    ast.Expression, ast.Expr, ast.Constant, ast.Name, ast.Load, ast.Store,
    ast.UnaryOp, ast.UAdd, ast.USub, ast.Not,
    ast.BinOp, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow,
    ast.BitOr, ast.BitAnd, ast.BitXor,
    ast.BoolOp, ast.And, ast.Or,
    ast.Compare, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn,
    ast.Is, ast.IsNot,
    ast.IfExp, ast.Call, ast.keyword, ast.Subscript, ast.Attribute, ast.Slice,
    ast.JoinedStr, ast.FormattedValue,
    ast.Dict, ast.List, ast.Tuple, ast.Set,
    ast.ListComp, ast.GeneratorExp, ast.DictComp, ast.comprehension,
})
_SCRIPT_NODES: frozenset[type] = _EXPRESSION_NODES | {
    ast.Module, ast.Assign, ast.AugAssign, ast.If, ast.Pass, ast.Delete, ast.Del,
}

_LABELS: dict[type, str] = {
    ast.Lambda: "lambda",
    ast.FunctionDef: "function definition ('def')",
    ast.AsyncFunctionDef: "function definition ('async def')",
    ast.ClassDef: "class definition ('class')",
    ast.Import: "'import'",
    ast.ImportFrom: "'import'",
    ast.While: "loop ('while')",
    ast.For: "loop ('for')",
    ast.AsyncFor: "loop ('async for')",
    ast.With: "'with'",
    ast.AsyncWith: "'async with'",
    ast.Try: "'try'",
    ast.Raise: "'raise'",
    ast.Assert: "'assert'",
    ast.Return: "'return'",
    ast.Global: "'global'",
    ast.Nonlocal: "'nonlocal'",
    ast.NamedExpr: "assignment expression (':=')",
    ast.Starred: "unpacking ('*')",
    ast.SetComp: "set comprehension",
    ast.Yield: "'yield'",
    ast.YieldFrom: "'yield'",
    ast.Await: "'await'",
    ast.LShift: "operator '<<'",
    ast.RShift: "operator '>>'",
    ast.Invert: "operator '~'",
    ast.MatMult: "operator '@'",
    ast.Assign: "assignment",
    ast.AugAssign: "assignment",
    ast.AnnAssign: "annotated assignment",
    ast.If: "'if' statement",
    ast.Attribute: "an attribute",
    ast.Delete: "'del'",
    ast.Pass: "'pass'",
}
if hasattr(ast, "Match"):
    _LABELS[ast.Match] = "'match'"


def _label(node: ast.AST) -> str:
    return _LABELS.get(type(node), type(node).__name__)


def _parse(text: Any, mode: str, limits: Limits) -> ast.AST:
    """Parse ``text`` bounded in size; the CPython parser itself overflows on deep nesting."""
    if not isinstance(text, str):
        raise EvaluationError(f"expected text to evaluate, got {type(text).__name__}")
    kind = "expression" if mode == "eval" else "script"
    limit = limits.max_expression_length if mode == "eval" else limits.max_script_length
    if len(text) > limit:
        raise EvaluationError(f"{kind} is too long ({len(text)} characters, at most {limit})", text)
    source = text.strip() if mode == "eval" else text
    if not source.strip():
        raise EvaluationError(f"{kind} is empty", text)
    try:
        return ast.parse(source, mode=mode)
    except SyntaxError as err:
        raise EvaluationError(f"syntax error: {err.msg}", text, err.lineno) from None
    except (RecursionError, MemoryError):
        raise EvaluationError(f"{kind} is nested too deeply", text) from None
    except ValueError as err:  # e.g. null bytes
        raise EvaluationError(f"cannot parse {kind}: {err}", text) from None


def _check_tree(tree: ast.AST, allowed: frozenset[type], functions: Mapping[str, Any],
                text: str, limits: Limits) -> None:
    """Refuse anything outside the whitelist before evaluating a single node.

    Iterative (no recursion of our own), so a hostile tree cannot blow the stack here.
    """
    def refuse(message: str, node: ast.AST) -> EvaluationError:
        return EvaluationError(message, text, getattr(node, "lineno", None))

    count = 0
    stack: list[tuple[ast.AST, int]] = [(tree, 0)]
    nodes: list[ast.AST] = []
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > limits.max_nodes:
            raise refuse(f"too complex (more than {limits.max_nodes} syntax nodes)", node)
        if depth > limits.max_depth:
            raise refuse(f"nested too deeply (more than {limits.max_depth} levels)", node)
        if type(node) not in allowed:
            raise refuse(f"{_label(node)} is not allowed", node)
        nodes.append(node)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))

    for node in nodes:
        if isinstance(node, ast.Name) and node.id.startswith("_"):
            raise refuse(f"name '{node.id}' is not allowed (names starting with '_' are reserved)", node)
        elif isinstance(node, ast.Attribute):
            if node.attr.startswith("_"):
                raise refuse(f"attribute access to '{node.attr}' is not allowed", node)
            if node.attr not in _ALL_SAFE_ATTRIBUTES:
                raise refuse(f"attribute access to '{node.attr}' is not allowed", node)
            if isinstance(node.ctx, (ast.Store, ast.Del)):
                raise refuse(f"assigning to attribute '{node.attr}' is not allowed", node)
        elif isinstance(node, ast.Call):
            if isinstance(node.func, ast.Name):
                if node.func.id not in functions:
                    raise refuse(f"name '{node.func.id}' is not defined", node)
            elif not isinstance(node.func, ast.Attribute):
                raise refuse("calling the result of an expression is not allowed", node)
            for keyword in node.keywords:
                if keyword.arg is None:
                    raise refuse("unpacking ('**') in calls is not allowed", node)
        elif isinstance(node, ast.comprehension) and node.is_async:
            raise refuse("async comprehensions are not allowed", node)
        elif isinstance(node, ast.FormattedValue) and node.format_spec is not None:
            spec = node.format_spec
            if not (isinstance(spec, ast.JoinedStr)
                    and all(isinstance(v, ast.Constant) for v in spec.values)):
                raise refuse("format specs must be constant", node)
            _check_format_spec("".join(v.value for v in spec.values), limits, text)
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
            for target in targets:
                _check_target(target, refuse, allow_tuple=isinstance(node, ast.Assign))
        elif isinstance(node, ast.Constant) and type(node.value) is int:
            if node.value.bit_length() > limits.max_int_bits:
                raise LimitError(f"number too large ({node.value.bit_length()} bits, at most "
                                 f"{limits.max_int_bits})", text, getattr(node, "lineno", None))
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow) \
                and isinstance(node.right, ast.Constant) \
                and type(node.right.value) in (int, float) \
                and abs(node.right.value) > limits.max_power_exponent:
            raise LimitError(f"number too large (exponent of '**' above "
                             f"{limits.max_power_exponent})", text, getattr(node, "lineno", None))
    _check_constants(tree, functions, text, limits)


_PURE_FUNCTIONS = frozenset({
    "len", "min", "max", "sum", "abs", "round", "int", "str", "bool", "Decimal", "sorted", "any",
    "all", "date", "datetime", "timedelta", "list", "tuple", "dict", "set",
})
"""Functions whose result depends only on their arguments (not ``now``/``today``, not the
platform's extra functions), so a call with constant arguments can be evaluated at upload."""
_FOLDABLE: frozenset[type] = frozenset({
    ast.Constant, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.IfExp, ast.Tuple,
    ast.List, ast.Set, ast.Dict, ast.JoinedStr, ast.FormattedValue, ast.Subscript, ast.Slice,
    ast.Attribute, ast.keyword,
})
_OPERATOR_NODES = (ast.operator, ast.unaryop, ast.cmpop, ast.boolop, ast.expr_context)


def _check_constants(tree: ast.AST, functions: Mapping[str, Any], text: str,
                     limits: Limits) -> None:
    """Evaluate the constant parts of the text now, so what can be known statically is refused
    at upload: ``Decimal('0.' + '9' * 8000) ** 2`` or ``'a' * 10**6`` never reach a workflow.

    Constant parts are runs of literals, operators and pure functions (no task data, no
    clock). They run in the bounded evaluator itself, so the static verdict and the runtime one
    are the same code; only bound refusals (:class:`LimitError`) count, anything else
    (``1 / 0``) is left to runtime. Recursion depth is bounded by the check that runs first.
    """
    def pure(name: str) -> bool:
        return name in _PURE_FUNCTIONS and functions.get(name) is _DEFAULT_FUNCTIONS.get(name)

    deadline = time.thread_time() + limits.max_seconds
    evaluator: _Evaluator | None = None

    def evaluate(node: ast.AST) -> None:
        nonlocal evaluator
        if isinstance(node, (ast.Constant, ast.Attribute, ast.keyword, ast.Slice,
                             *_OPERATOR_NODES)):
            return
        if evaluator is None:
            evaluator = _Evaluator({}, dict(functions), limits, deadline)
            evaluator.expr = text
        try:
            with decimal.localcontext(_DECIMAL_CONTEXT):
                evaluator._eval(node)
        except LimitError as err:
            err.expression = text
            err.lineno = err.lineno or getattr(node, "lineno", None)
            raise
        except Exception as err:  # anything but a bound is for runtime to report
            refused = _refusal(err, text)
            if isinstance(refused, LimitError):
                refused.lineno = getattr(node, "lineno", None)
                raise refused from err

    def constant(node: ast.AST) -> bool:
        children = list(ast.iter_child_nodes(node))
        flags = [constant(child) for child in children]
        if isinstance(node, ast.Call):
            func = node.func
            ok = all(flags[1:]) and (pure(func.id) if isinstance(func, ast.Name) else flags[0])
        elif isinstance(node, _OPERATOR_NODES):
            ok = True
        elif type(node) in _FOLDABLE:
            ok = all(flags)
        else:  # names, comprehensions, statements
            ok = False
        if not ok:
            for child, flag in zip(children, flags):
                if flag:
                    evaluate(child)
        return ok

    if constant(tree):
        evaluate(tree)


def _check_target(target: ast.AST, refuse: Callable[[str, ast.AST], EvaluationError],
                  allow_tuple: bool) -> None:
    """Scripts write to task data names or items of task data, nothing else."""
    if isinstance(target, ast.Name):
        return
    if isinstance(target, ast.Subscript):
        return
    if allow_tuple and isinstance(target, (ast.Tuple, ast.List)):
        for element in target.elts:
            _check_target(element, refuse, allow_tuple=False)
        return
    raise refuse(f"assigning to {_label(target)} is not allowed", target)


def _check_format_spec(spec: str, limits: Limits, text: str) -> None:
    """``f'{x:>1000000000}'`` would allocate a gigabyte; ``{``/``}`` would re-enter format."""
    if "{" in spec or "}" in spec or len(spec) > 64:
        raise EvaluationError(f"format spec {spec!r} is not allowed", text)
    digits = ""
    for char in spec + " ":
        if char.isdigit():
            digits += char
            continue
        if len(digits) > limits.max_format_width:
            raise EvaluationError(f"format spec {spec!r} is too wide", text)
        digits = ""


def validate_expression(expression: str, functions: Mapping[str, Any] | None = None,
                        limits: Limits = DEFAULT_LIMITS) -> ast.Expression:
    """Parse and statically check an expression without evaluating it (for model upload)."""
    tree = _parse(expression, "eval", limits)
    _check_tree(tree, _EXPRESSION_NODES, _functions(functions), expression, limits)
    return tree  # type: ignore[return-value]


def validate_script(script: str, functions: Mapping[str, Any] | None = None,
                    limits: Limits = DEFAULT_LIMITS) -> ast.Module:
    """Parse and statically check a script task without running it (for model upload)."""
    tree = _parse(script, "exec", limits)
    _check_tree(tree, _SCRIPT_NODES, _functions(functions), script, limits)
    statements = sum(isinstance(node, ast.stmt) for node in ast.walk(tree))
    if statements > limits.max_statements:
        raise EvaluationError(f"script has too many statements ({statements}, at most "
                              f"{limits.max_statements})", script)
    return tree  # type: ignore[return-value]


# Parsed and checked trees by (mode, text, limits, function names): a workflow evaluates the
# same few conditions and scripts over and over, and parsing plus the static check cost more
# than evaluating. The check depends on nothing else, and trees are never mutated.
_CHECKED: dict[tuple, ast.AST] = {}
_CHECKED_MAX = 4096


def _checked(text: Any, mode: str, funcs: dict[str, Any], limits: Limits) -> ast.AST:
    """``_parse`` + ``_check_tree`` (+ the statement count for scripts), cached on success."""
    key = (mode, text, limits, tuple(funcs)) if isinstance(text, str) else None
    tree = _CHECKED.get(key) if key is not None else None
    if tree is not None:
        return tree
    tree = _parse(text, mode, limits)
    if mode == "eval":
        _check_tree(tree, _EXPRESSION_NODES, funcs, text, limits)
    else:
        _check_tree(tree, _SCRIPT_NODES, funcs, text, limits)
        statements = sum(isinstance(node, ast.stmt) for node in ast.walk(tree))
        if statements > limits.max_statements:
            raise EvaluationError(f"script has too many statements ({statements}, at most "
                                  f"{limits.max_statements})", text)
    if key is not None:
        if len(_CHECKED) >= _CHECKED_MAX:
            _CHECKED.clear()
        _CHECKED[key] = tree
    return tree


def _functions(extra: Mapping[str, Any] | None) -> dict[str, Any]:
    if not extra and _BASE_FUNCTIONS:
        return _BASE_FUNCTIONS  # shared, never mutated (the common case: no extra functions)
    functions = dict(SAFE_FUNCTIONS)
    functions.update(list=list, tuple=tuple, dict=dict, set=set)
    if extra:
        for name, func in extra.items():
            if name.startswith("_") or not callable(func) or func in simpleeval.DISALLOW_FUNCTIONS:
                raise ValueError(f"function {name!r} cannot be offered to process models")
        functions.update(extra)
    return functions


_BASE_FUNCTIONS: dict[str, Any] = {}
_BASE_FUNCTIONS = _functions(None)


# --------------------------------------------------------------------------------------------
# Runtime: simpleeval with bounded handlers


_SCALARS = frozenset({int, bool, float, Decimal, type(None), date, datetime, timedelta})


def _size(value: Any, limit: int, deadline: float | None = None) -> int:
    """Elements plus string characters of ``value``, counted until ``limit`` is passed.

    Shared references count each time: ``str()`` of ``[big] * n`` expands them all. With a
    ``deadline`` (thread time) the walk itself stops when the evaluation budget is spent.
    """
    total = 0
    stack = [value]
    steps = 0
    while stack:
        steps += 1
        if deadline is not None and not steps & 0x3FFF and time.thread_time() > deadline:
            raise LimitError("value too large to measure within the time limit")
        item = stack.pop()
        if type(item) in _SCALARS:
            total += 1
            if total > limit:
                break
            continue
        if isinstance(item, (str, bytes)):
            total += len(item)
        elif isinstance(item, Mapping):
            total += len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            total += len(item)
            kinds = set(map(type, item))  # one C pass: flat lists need no walk element by element
            if kinds <= _SCALARS:
                total += len(item)
            elif kinds <= _SCALARS_AND_STR:  # rows of (text, number...): still one C pass each
                strings = list(filter(_IS_STR, item))
                total += len(item) - len(strings) + sum(map(len, strings))
            else:
                counts = Counter(map(id, item))  # C speed; ``[row] * n`` repeats one object
                if len(counts) * 2 > len(item):
                    stack.extend(item)
                    continue
                objects = dict(zip(map(id, item), item))
                for key, times in counts.items():
                    element = objects[key]
                    try:
                        each = _size(element, (limit - total) // times + 1, deadline)
                    except RecursionError:
                        raise LimitError("value nested too deeply to measure") from None
                    total += times * each
                    if total > limit:
                        break
        else:
            total += 1
        if total > limit:
            break
    return total


_SCALARS_AND_STR = _SCALARS | {str}
_RESHAPING = (sorted, list, tuple, set, dict, min, max)
"""Builtins whose container result only rearranges elements of their (length-bounded) argument."""
_IS_STR = str.__instancecheck__


def _repr_size(value: Any, limit: int, deadline: float | None = None) -> int:
    """Upper estimate of ``len(str(value))``, counted until ``limit`` is passed.

    ``str([10**1200] * 10**5)`` is one C call producing 120 MB; this is what the f-string and
    ``str()`` handlers check before making the call. Integers count their decimal digits,
    Decimals their digits plus exponent, containers their separators.
    """
    total = 0
    stack = [value]
    steps = 0
    while stack:
        steps += 1
        if deadline is not None and not steps & 0x3FFF and time.thread_time() > deadline:
            raise LimitError("value too large to format within the time limit")
        item = stack.pop()
        kind = type(item)
        if kind is str:
            total += len(item) + 2
        elif kind is bool or item is None:
            total += 5
        elif kind is int:
            total += item.bit_length() * 3 // 10 + 2
        elif kind is Decimal:
            total += _decimal_text_size(item)
        elif kind is float:
            total += 24
        elif isinstance(item, Mapping):
            total += 4 * len(item) + 2
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            total += 2 * len(item) + 12
            stack.extend(item)
        else:  # dates, times and whatever else task data holds: a short repr
            total += 64
        if total > limit:
            break
    return total


def _decimal_text_size(value: Decimal) -> int:
    """Longest text of a Decimal in any format (``'f'`` writes out the exponent as zeros)."""
    if not value.is_finite():
        return 24
    _sign, digits, exponent = value.as_tuple()
    return len(digits) + abs(exponent) + 24


class _GcClock(threading.local):
    """Thread CPU seconds spent in garbage collection, per thread (GC runs in the thread
    that allocates), so evaluation budgets can leave them out."""

    spent = 0.0
    started = 0.0


_GC = _GcClock()


def _on_gc(phase: str, info: dict) -> None:
    if phase == "start":
        _GC.started = time.thread_time()
    else:
        _GC.spent += time.thread_time() - _GC.started


gc.callbacks.append(_on_gc)


def gc_seconds() -> float:
    """Thread CPU seconds this thread has spent in the garbage collector so far."""
    return _GC.spent


class _Evaluator(simpleeval.EvalWithCompoundTypes):
    """simpleeval with our names, calls, attributes, arithmetic and a wall-time bound."""

    def __init__(self, names: Mapping[str, Any], functions: dict[str, Any], limits: Limits,
                 deadline: float):
        self.limits = limits
        self.deadline = deadline
        self.gc_at_start = gc_seconds()
        operators = dict(simpleeval.DEFAULT_OPERATORS)
        operators.update({
            ast.Add: self._add, ast.Mult: self._mult, ast.Pow: self._pow, ast.Mod: self._mod,
            ast.In: self._in, ast.NotIn: self._not_in,
        })
        for op_type in (ast.LShift, ast.RShift, ast.Invert):
            operators.pop(op_type, None)
        super().__init__(operators=operators, functions=functions, names=names,
                         allowed_attrs=None)
        self.functions = functions  # the parent added list/tuple/dict/set to a copy we own
        self._sizes: dict[int, tuple[Any, int, int]] = {}
        self.ATTR_INDEX_FALLBACK = False

    # -- bounds -------------------------------------------------------------------------------

    def _eval(self, node: ast.AST) -> Any:
        if time.thread_time() > self.deadline and \
                time.thread_time() - gc_seconds() + self.gc_at_start > self.deadline:
            raise LimitError(f"expression took longer than {self.limits.max_seconds:g} s",
                             self.expr)
        return super()._eval(node)

    def _check_disallowed_items(self, item: Any) -> None:
        """Replace simpleeval's per-node deep walk of every value (recursive, O(size of data)).

        Names come from task data, calls only from the function table and whitelisted methods,
        so the only way a callable or module could surface as a value is a bug: refuse it.
        """
        if callable(item) or isinstance(item, types.ModuleType):
            raise EvaluationError("functions and modules cannot be used as values", self.expr)

    def _bounded(self, value: Any) -> Any:
        """Refuse results too large to keep: big ints, huge Decimals, long strings, big lists."""
        limits = self.limits
        kind = type(value)
        if kind is bool:
            return value
        if kind is int or kind is Decimal:
            return self._operand(value)
        if isinstance(value, int):
            if value.bit_length() > limits.max_int_bits:
                raise LimitError("number too large", self.expr)
        elif isinstance(value, Decimal):
            self._operand(value)
        elif isinstance(value, str):
            if len(value) > limits.max_string_length:
                raise LimitError(f"string too long (more than {limits.max_string_length} "
                                 "characters)", self.expr)
        elif isinstance(value, (list, tuple, set, frozenset, dict)):
            if self._measure(value, limits.max_value_size) > limits.max_value_size:
                raise LimitError(f"value too large (more than {limits.max_value_size} "
                                 "elements and characters)", self.expr)
        return value

    def _measure(self, value: Any, limit: int) -> int:
        """:func:`_size` of ``value``, remembered for this evaluation (``l + l`` walks ``l`` once).

        Values are only mutated by a script's item assignment or ``del``, which clear this.
        Holding the value keeps its ``id`` from being reused while it is remembered.
        """
        if type(value) is str:
            return len(value)
        known = self._sizes.get(id(value))
        if known is not None and known[0] is value and (known[1] <= known[2] or known[2] >= limit):
            return known[1]
        size = _size(value, limit, self.deadline)
        if len(self._sizes) > 256:
            self._sizes.clear()
        self._sizes[id(value)] = (value, size, limit)
        return size

    def _operand(self, value: Any) -> Any:
        """Refuse a number too large to compute with, *before* it reaches a C call.

        Results are bounded by the same rule, so in practice this refuses what task data or a
        literal brings in: an int of more than ``max_int_bits``, a Decimal of more than
        ``max_decimal_digits`` digits or an adjusted exponent beyond ``max_decimal_exponent``.
        """
        kind = type(value)
        if kind is int:
            if value.bit_length() > self.limits.max_int_bits:
                raise LimitError(f"number too large ({value.bit_length()} bits, at most "
                                 f"{self.limits.max_int_bits})", self.expr)
        elif kind is Decimal and value.is_finite():
            limits = self.limits
            if abs(value.adjusted()) > limits.max_decimal_exponent:
                raise LimitError(f"number too large (Decimal exponent {value.adjusted()}, at "
                                 f"most {limits.max_decimal_exponent})", self.expr)
            digits = len(value.as_tuple().digits)
            if digits > limits.max_decimal_digits:
                raise LimitError(f"Decimal has too many digits ({digits}, at most "
                                 f"{limits.max_decimal_digits})", self.expr)
        return value

    def _argument(self, value: Any) -> Any:
        """Bound one argument of a call: numbers by :meth:`_operand`, containers by item count."""
        kind = type(value)
        if kind is int or kind is Decimal:
            return self._operand(value)
        if kind in (list, tuple, dict, set, frozenset, str):
            if len(value) > self.limits.max_call_items and kind is not str:
                raise LimitError(f"too many items to pass to a function ({len(value)}, at most "
                                 f"{self.limits.max_call_items})", self.expr)
        elif isinstance(value, (int, Decimal)):
            return self._operand(value)
        return value

    def _apply(self, op_type: type, left: Any, right: Any) -> Any:
        """One binary operator over bounded operands, with a bounded result."""
        try:
            operator = self.operators[op_type]
        except KeyError:
            raise EvaluationError(f"operator {op_type.__name__} is not allowed", self.expr) from None
        self._operand(left)
        self._operand(right)
        return self._bounded(operator(left, right))

    def _add(self, a: Any, b: Any) -> Any:
        if isinstance(a, (str, list, tuple)) and isinstance(b, (str, list, tuple)):
            total = (self._measure(a, self.limits.max_value_size)
                     + self._measure(b, self.limits.max_value_size))
            if total > self.limits.max_value_size or (
                    isinstance(a, str) and total > self.limits.max_string_length):
                raise EvaluationError("result too long", self.expr)
        return a + b

    def _mult(self, a: Any, b: Any) -> Any:
        if type(a) is int and type(b) is int:
            if a.bit_length() + b.bit_length() > self.limits.max_int_bits + 1:
                raise LimitError("number too large", self.expr)
            return a * b
        for seq, times in ((a, b), (b, a)):
            if isinstance(seq, (str, list, tuple)) and isinstance(times, int):
                limit = (self.limits.max_string_length if isinstance(seq, str)
                         else self.limits.max_value_size)
                if times > 0 and self._measure(seq, limit + 1) * times > limit:
                    raise LimitError("result too long", self.expr)
        return a * b

    def _in(self, item: Any, container: Any) -> bool:
        if type(container) is not str and hasattr(container, "__len__") \
                and len(container) > self.limits.max_call_items:
            raise LimitError(f"'in' over too many items ({len(container)}, at most "
                             f"{self.limits.max_call_items})", self.expr)
        return item in container

    def _not_in(self, item: Any, container: Any) -> bool:
        return not self._in(item, container)

    def _pow(self, base: Any, exponent: Any) -> Any:
        limits = self.limits
        if isinstance(exponent, (int, float, Decimal)) and not isinstance(exponent, bool):
            if abs(exponent) > limits.max_power_exponent:
                raise LimitError(f"number too large (exponent of '**' above "
                                 f"{limits.max_power_exponent})", self.expr)
            if isinstance(base, int) and isinstance(exponent, int) and abs(base) > 1:
                if exponent * math.log2(abs(base)) > limits.max_int_bits:
                    raise LimitError("number too large", self.expr)
        return base**exponent

    def _mod(self, a: Any, b: Any) -> Any:
        if isinstance(a, (str, bytes)):
            raise EvaluationError("'%' string formatting is not allowed: use f-strings", self.expr)
        return a % b

    # -- names, calls, attributes -------------------------------------------------------------

    def _eval_name(self, node: ast.Name) -> Any:
        try:
            return self.names[node.id]
        except KeyError:
            pass
        if node.id in self.functions:
            raise EvaluationError(f"function '{node.id}' can only be called, not used as a value",
                                  self.expr)
        raise EvaluationError(f"name '{node.id}' is not defined", self.expr)

    def _eval_binop(self, node: ast.BinOp) -> Any:
        return self._apply(type(node.op), self._eval(node.left), self._eval(node.right))

    def _eval_unaryop(self, node: ast.UnaryOp) -> Any:
        try:
            operator = self.operators[type(node.op)]
        except KeyError:
            raise EvaluationError(f"operator {type(node.op).__name__} is not allowed",
                                  self.expr) from None
        return self._bounded(operator(self._operand(self._eval(node.operand))))

    def _eval_list(self, node: ast.List) -> Any:
        return self._bounded(super()._eval_list(node))

    def _eval_tuple(self, node: ast.Tuple) -> Any:
        return self._bounded(super()._eval_tuple(node))

    def _eval_set(self, node: ast.Set) -> Any:
        return self._bounded(super()._eval_set(node))

    def _eval_dict(self, node: ast.Dict) -> Any:
        return self._bounded(super()._eval_dict(node))

    def _eval_comprehension(self, node: ast.AST) -> Any:
        """simpleeval's comprehension, with the size bound applied while it is built.

        ``[s + 'x' for a in items]`` over a 100,000-character ``s`` would allocate a new string
        per element; checking the list only at the end let it reach a gigabyte first.
        """
        result: Any = {} if isinstance(node, ast.DictComp) else []
        limit = self.limits.max_value_size
        total = 0
        extra: dict[str, Any] = {}
        previous = self.nodes[ast.Name]

        def name(n: ast.Name) -> Any:
            if n.id in extra:
                return extra[n.id]
            return previous(n)

        def bind(target: ast.AST, value: Any) -> None:
            if isinstance(target, ast.Name):
                extra[target.id] = value
            else:
                values = list(value)
                if len(values) != len(target.elts):  # type: ignore[attr-defined]
                    raise EvaluationError("wrong number of values to unpack", self.expr)
                for t, v in zip(target.elts, values):  # type: ignore[attr-defined]
                    bind(t, v)

        def generate(index: int) -> None:
            nonlocal total
            generator = node.generators[index]  # type: ignore[attr-defined]
            for item in self._eval(generator.iter):
                self._max_count += 1
                if self._max_count > simpleeval.MAX_COMPREHENSION_LENGTH:
                    raise LimitError("comprehension too long (more than "
                                     f"{simpleeval.MAX_COMPREHENSION_LENGTH} iterations)",
                                     self.expr)
                bind(generator.target, item)
                if not all(self._eval(condition) for condition in generator.ifs):
                    continue
                if index + 1 < len(node.generators):  # type: ignore[attr-defined]
                    generate(index + 1)
                    continue
                if isinstance(result, dict):
                    key = self._eval(node.key)  # type: ignore[attr-defined]
                    value = self._eval(node.value)  # type: ignore[attr-defined]
                    result[key] = value
                    total += _size(key, limit, self.deadline) + _size(value, limit, self.deadline)
                else:
                    value = self._eval(node.elt)  # type: ignore[attr-defined]
                    result.append(value)
                    total += 1 + (0 if type(value) in _SCALARS
                                  else _size(value, limit, self.deadline))
                if total > limit:
                    raise LimitError(f"value too large (more than {limit} elements and "
                                     "characters)", self.expr)

        self.nodes[ast.Name] = name
        try:
            generate(0)
        finally:
            self.nodes[ast.Name] = previous
        return result

    def _eval_joinedstr(self, node: ast.JoinedStr) -> Any:
        return self._bounded(super()._eval_joinedstr(node))

    def _eval_formattedvalue(self, node: ast.FormattedValue) -> Any:
        value = self._formattable(self._eval(node.value))
        if node.format_spec is None:
            return value
        spec = "".join(v.value for v in node.format_spec.values)  # constant, checked statically
        return format(value, spec)

    def _formattable(self, value: Any) -> Any:
        """Refuse, before formatting, a value whose text would exceed ``max_string_length``."""
        if type(value) is str:
            return value
        self._operand(value)
        limit = self.limits.max_string_length
        if _repr_size(value, limit, self.deadline) > limit:
            raise LimitError(f"value too large to format (its text would exceed {limit} "
                             "characters)", self.expr)
        return value

    def _method(self, node: ast.Attribute) -> Any:
        """Resolve ``obj.attr`` if ``attr`` is whitelisted for the exact type of ``obj``."""
        obj = self._argument(self._eval(node.value))
        if node.attr not in SAFE_ATTRIBUTES.get(type(obj), ()):
            raise EvaluationError(f"attribute access to '{node.attr}' is not allowed on "
                                  f"{type(obj).__name__}", self.expr)
        if type(obj) is str and node.attr == "replace":
            return functools.partial(self._str_replace, obj)
        if type(obj) is str and node.attr == "join":
            return functools.partial(self._str_join, obj)
        return getattr(obj, node.attr)

    def _eval_attribute(self, node: ast.Attribute) -> Any:
        value = self._method(node)
        if callable(value):
            raise EvaluationError(f"method '{node.attr}' can only be called", self.expr)
        return value

    def _eval_call(self, node: ast.Call) -> Any:
        if isinstance(node.func, ast.Attribute):
            func = self._method(node.func)
        elif isinstance(node.func, ast.Name) and node.func.id in self.functions:
            func = self.functions[node.func.id]
        else:  # the static check refuses these; never fall through to evaluating a callee
            raise EvaluationError("calling this is not allowed", self.expr)
        args = [self._argument(self._eval(arg)) for arg in node.args]
        kwargs = {kw.arg: self._argument(self._eval(kw.value)) for kw in node.keywords}
        if func is str or func is _int:
            for arg in args[:1]:
                self._formattable(arg)
        reshaping = any(func is f for f in _RESHAPING)
        if reshaping and args and type(args[0]) is str \
                and len(args[0]) > self.limits.max_call_items:
            raise LimitError(f"too many items to pass to a function (a string of {len(args[0])} "
                             f"characters, at most {self.limits.max_call_items})", self.expr)
        if func is sorted and args and hasattr(args[0], "__len__") \
                and len(args[0]) > self.limits.max_sort_items:
            raise LimitError(f"sorted() of too many items ({len(args[0])}, at most "
                             f"{self.limits.max_sort_items})", self.expr)
        result = func(*args, **kwargs)
        if reshaping and isinstance(result, (list, tuple, set, frozenset, dict)):
            # a new container of the argument's elements: new memory is its length, and the
            # argument's length was bounded above; walking it again would cost more than the call
            if len(result) > self.limits.max_value_size:
                raise LimitError(f"value too large (more than {self.limits.max_value_size} "
                                 "elements)", self.expr)
            return result
        return self._bounded(result)

    def _str_replace(self, text: str, old: str, new: str, count: int = -1) -> str:
        if not isinstance(old, str) or not isinstance(new, str):
            raise EvaluationError("replace() takes strings", self.expr)
        hits = text.count(old) if count < 0 else min(count, text.count(old))
        if old == "":  # '' matches between every character
            hits = len(text) + 1 if count < 0 else min(count, len(text) + 1)
        if len(text) + hits * (len(new) - len(old)) > self.limits.max_string_length:
            raise EvaluationError("result too long", self.expr)
        return text.replace(old, new, count)

    def _str_join(self, separator: str, items: Iterable[Any]) -> str:
        items = list(items)
        total = sum(len(i) if isinstance(i, str) else 0 for i in items)
        if total + len(separator) * len(items) > self.limits.max_string_length:
            raise EvaluationError("result too long", self.expr)
        return separator.join(items)


def _refusal(err: Exception, text: str) -> EvaluationError:
    """Translate whatever escaped the interpreter into an :class:`EvaluationError`."""
    if isinstance(err, EvaluationError):
        if err.expression is None:
            err.expression = text
        return err
    limit = False
    if isinstance(err, (simpleeval.NumberTooHigh, decimal.Overflow)):
        message, limit = "number too large", True
    elif isinstance(err, simpleeval.IterableTooLong):
        message, limit = f"result too long: {err}", True
    elif isinstance(err, simpleeval.FunctionNotDefined):
        message = f"name '{err.func_name}' is not defined"
    elif isinstance(err, simpleeval.NameNotDefined):
        message = f"name '{err.name}' is not defined"
    elif isinstance(err, simpleeval.InvalidExpression):
        message = str(err)
    elif isinstance(err, RecursionError):
        message = "nested too deeply"
    elif isinstance(err, MemoryError):
        message, limit = "result too large", True
    elif isinstance(err, KeyError):
        message = f"key {err} not found"
    else:
        message = f"{type(err).__name__}: {err}"
    refused = (LimitError if limit else EvaluationError)(message, text)
    refused.__cause__ = err
    return refused


def evaluate_expression(expression: str, data: Mapping[str, Any],
                        functions: Mapping[str, Any] | None = None,
                        limits: Limits = DEFAULT_LIMITS) -> Any:
    """Evaluate one expression with the keys of ``data`` as variables.

    Raises :class:`EvaluationError` for anything refused or failing (missing names included).
    """
    funcs = _functions(functions)
    tree = _checked(expression, "eval", funcs, limits)
    evaluator = _take_evaluator(data, funcs, limits, expression)
    try:
        if _context_is_measured():
            return evaluator._eval(tree.body)  # type: ignore[attr-defined]
        with decimal.localcontext(_DECIMAL_CONTEXT):
            return evaluator._eval(tree.body)  # type: ignore[attr-defined]
    except Exception as err:  # noqa: BLE001 - every failure becomes a modeller-facing error
        refused = _refusal(err, expression)
        if refused is err:
            raise
        raise refused from err
    finally:
        _give_back(evaluator)


_IDLE = threading.local()
"""Per thread, evaluators ready for reuse (by ``id`` of their Limits): building simpleeval's
node table took a third of a gateway condition's time."""


def _take_evaluator(names: Mapping[str, Any], funcs: dict[str, Any], limits: Limits,
                    text: str) -> _Evaluator:
    deadline = time.thread_time() + limits.max_seconds
    idle = _IDLE.__dict__.get(id(limits)) if funcs is _BASE_FUNCTIONS else None
    evaluator = idle.pop() if idle else None
    if evaluator is None or evaluator.limits is not limits:
        evaluator = _Evaluator(names, funcs, limits, deadline)
    else:
        evaluator.names = names
        evaluator.deadline = deadline
        evaluator._max_count = 0
        evaluator._sizes.clear()
    evaluator.expr = text
    return evaluator


def _give_back(evaluator: _Evaluator) -> None:
    """Keep the evaluator for the next evaluation in this thread (without its task data)."""
    if evaluator.functions is not _BASE_FUNCTIONS:
        return
    evaluator.names = {}
    evaluator._sizes.clear()
    idle = _IDLE.__dict__.setdefault(id(evaluator.limits), [])
    if len(idle) < 4:
        idle.append(evaluator)


def _context_is_measured() -> bool:
    """True when the thread's decimal context is no wider than the one the bounds were measured
    in (precision 28, exponents within 999,999); otherwise evaluation pins that context."""
    context = decimal.getcontext()
    return context.prec <= 28 and context.Emax <= 999_999 and context.Emin >= -999_999


def execute_script(script: str, data: Mapping[str, Any], functions: Mapping[str, Any] | None = None,
                   external: Mapping[str, Any] | None = None,
                   limits: Limits = DEFAULT_LIMITS) -> dict[str, Any]:
    """Run a script task over a copy of ``data`` and return the updated variables.

    Allowed: ``name = expr``, ``a, b = x, y``, ``data['k'] = expr``, ``name += expr``,
    ``del name``, expression statements, ``if``/``elif``/``else`` and ``pass``. ``data`` is
    not touched (all or nothing); ``external`` (data objects) is readable, not writable.
    """
    funcs = _functions(functions)
    tree = _checked(script, "exec", funcs, limits)
    variables: dict[str, Any] = copy.deepcopy(dict(data))
    names = ChainMap(variables, copy.deepcopy(dict(external))) if external else variables
    evaluator = _take_evaluator(names, funcs, limits, script)
    statement: ast.stmt | None = None

    def assign(target: ast.AST, value: Any) -> None:
        if isinstance(target, ast.Name):
            variables[target.id] = value
        elif isinstance(target, ast.Subscript):
            container = evaluator._eval(target.value)
            if type(container) not in (dict, list):
                raise EvaluationError(f"cannot assign into a {type(container).__name__}", script)
            container[evaluator._eval(target.slice)] = value
            evaluator._sizes.clear()  # a container changed: remembered sizes may be stale
        else:  # Tuple/List of names or subscripts (checked statically)
            values = list(value)
            if len(values) != len(target.elts):  # type: ignore[attr-defined]
                raise EvaluationError("wrong number of values to unpack", script)
            for element, item in zip(target.elts, values):  # type: ignore[attr-defined]
                assign(element, item)

    def run(statements: list[ast.stmt]) -> None:
        nonlocal statement
        for statement in statements:
            if isinstance(statement, ast.Assign):
                value = evaluator._eval(statement.value)
                for target in statement.targets:
                    assign(target, value)
            elif isinstance(statement, ast.AugAssign):
                current = evaluator._eval(_as_load(statement.target))
                value = evaluator._apply(type(statement.op), current,
                                         evaluator._eval(statement.value))
                assign(statement.target, value)
            elif isinstance(statement, ast.Expr):
                evaluator._eval(statement.value)
            elif isinstance(statement, ast.If):
                run(statement.body if evaluator._eval(statement.test) else statement.orelse)
            elif isinstance(statement, ast.Delete):
                for target in statement.targets:
                    if isinstance(target, ast.Name):
                        if target.id not in variables:
                            raise EvaluationError(f"name '{target.id}' is not defined", script)
                        del variables[target.id]
                    elif isinstance(target, ast.Subscript):
                        container = evaluator._eval(target.value)
                        if type(container) not in (dict, list):
                            raise EvaluationError(
                                f"cannot delete from a {type(container).__name__}", script)
                        del container[evaluator._eval(target.slice)]
                        evaluator._sizes.clear()
                    else:
                        raise EvaluationError(f"'del' of {_label(target)} is not allowed", script)
            elif isinstance(statement, ast.Pass):
                continue
            else:  # the static check refuses everything else
                raise EvaluationError(f"{_label(statement)} is not allowed", script)

    try:
        if _context_is_measured():
            run(tree.body)
        else:
            with decimal.localcontext(_DECIMAL_CONTEXT):
                run(tree.body)
    except Exception as err:  # noqa: BLE001 - every failure becomes a modeller-facing error
        refused = _refusal(err, script)
        if statement is not None and refused.lineno is None:
            refused.lineno = statement.lineno
        if refused is err:
            raise
        raise refused from err
    finally:
        _give_back(evaluator)
    return variables


def _as_load(target: ast.AST) -> ast.AST:
    """Read the current value of an augmented-assignment target."""
    if isinstance(target, ast.Name):
        return ast.Name(id=target.id, ctx=ast.Load())
    if isinstance(target, ast.Subscript):
        return ast.Subscript(value=target.value, slice=target.slice, ctx=ast.Load())
    raise EvaluationError(f"assigning to {_label(target)} is not allowed")


# --------------------------------------------------------------------------------------------
# SpiffWorkflow glue


class RestrictedEnvironment(BasePythonScriptEngineEnvironment):
    """SpiffWorkflow environment that evaluates with the restricted interpreter.

    SpiffWorkflow 3.2 calls ``script_engine.environment.evaluate`` directly (ad-hoc subprocess
    completion conditions, conditional paths, message correlation retrieval expressions), so
    restricting only the engine would leave those on plain ``eval``.
    """

    def __init__(self, functions: Mapping[str, Any] | None = None,
                 limits: Limits = DEFAULT_LIMITS):
        super().__init__(environment_globals={})
        self.functions: dict[str, Any] = dict(functions or {})
        _functions(self.functions)  # fail fast on a bad function table
        self.limits = limits

    def evaluate(self, expression: str, context: Mapping[str, Any],
                 external_context: Mapping[str, Any] | None = None) -> Any:
        """Task data first, then external context (data objects, DMN input)."""
        if not isinstance(context, Mapping):
            raise EvaluationError(f"cannot evaluate over a {type(context).__name__}", expression)
        names: Mapping[str, Any] = ChainMap(context, external_context) \
            if external_context else context
        return evaluate_expression(expression, names, self.functions, self.limits)

    def execute(self, script: str, context: dict[str, Any],
                external_context: Mapping[str, Any] | None = None) -> bool:
        """Run the script and write the result back into ``context`` (the task data)."""
        result = execute_script(script, context, self.functions, external_context, self.limits)
        for key in [k for k in context if k not in result]:
            del context[key]
        context.update(result)
        return True

    def call_service(self, context: Mapping[str, Any], **kwargs: Any) -> Any:
        """Service tasks are not scripts: the engine wires services explicitly."""
        raise NotImplementedError("service tasks are not handled by the restricted environment")


class RestrictedScriptEngine(PythonScriptEngine):
    """SpiffWorkflow script engine that never reaches ``eval``/``exec``.

    Overrides ``evaluate`` (gateway conditions, timers, multi-instance cardinality and
    completion, conditional events, message payloads, DMN), ``execute`` (script tasks, spiff
    pre/post scripts), ``validate`` (DMN parse check) and guards ``environment`` so it cannot
    be swapped for SpiffWorkflow's ``TaskDataEnvironment``.
    """

    def __init__(self, environment: RestrictedEnvironment | None = None,
                 functions: Mapping[str, Any] | None = None, limits: Limits = DEFAULT_LIMITS):
        if environment is not None and functions is not None:
            raise ValueError("pass functions to the environment or the engine, not both")
        super().__init__(environment or RestrictedEnvironment(functions, limits))

    @property
    def environment(self) -> RestrictedEnvironment:
        return self._environment

    @environment.setter
    def environment(self, environment: BasePythonScriptEngineEnvironment) -> None:
        if not isinstance(environment, RestrictedEnvironment):
            raise TypeError("RestrictedScriptEngine needs a RestrictedEnvironment; "
                            f"{type(environment).__name__} would evaluate with eval/exec")
        self._environment = environment

    def validate(self, expression: str) -> None:
        """Parse and statically check (DMN calls this when loading tables)."""
        validate_expression(expression, self.environment.functions, self.environment.limits)

    def evaluate(self, task: Any, expression: str,
                 external_context: Mapping[str, Any] | None = None) -> Any:
        """Evaluate over ``task.data``; keep the EvaluationError message in the wrapper."""
        try:
            return self.environment.evaluate(expression, task.data, external_context)
        except SpiffWorkflowException as err:
            err.add_note(f"Error evaluating expression '{expression}'")
            raise
        except Exception as err:
            raise WorkflowTaskException(f"Error evaluating expression '{expression}': {err}",
                                        task=task, exception=err) from err

    def execute(self, task: Any, script: str,
                external_context: Mapping[str, Any] | None = None) -> bool:
        """Run a script task over ``task.data``; the wrapper names the failing line."""
        try:
            return self.environment.execute(script, task.data, external_context or {})
        except EvaluationError as err:
            line = err.lineno or 0
            lines = script.splitlines()
            error_line = lines[line - 1] if 0 < line <= len(lines) else ""
            raise WorkflowTaskException(f"EvaluationError: {err}", task=task, exception=err,
                                        line_number=line, error_line=error_line) from err
        except Exception as err:
            raise self.create_task_exec_exception(task, script, err) from err
