"""Tests for the restricted evaluator: escape corpus, positive cases, SpiffWorkflow round trip.

The escape corpus is data (fixtures/escapes.yaml); every case must be refused with an
EvaluationError that says why, and finish quickly (pytest-timeout guards against a hang).
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.parser import BpmnParser
from SpiffWorkflow.bpmn.script_engine import python_environment
from SpiffWorkflow.bpmn.script_engine.python_environment import TaskDataEnvironment
from SpiffWorkflow.bpmn.specs.event_definitions.message import (
    CorrelationProperty,
    MessageEventDefinition,
)

from app.engine.evaluator import (
    EvaluationError,
    Limits,
    RestrictedEnvironment,
    RestrictedScriptEngine,
    evaluate_expression,
    execute_script,
    validate_expression,
)

FIXTURES = Path(__file__).parent / "fixtures"
CORPUS = yaml.safe_load((FIXTURES / "escapes.yaml").read_text())


def corpus_data() -> dict[str, Any]:
    return {"x": 1, "s": "abc", "info": {"a": 1}, "items": [1, 2, 3]}


def _ids(cases: list[dict[str, str]]) -> list[str]:
    return [(case["source"].splitlines() or ["<empty>"])[0][:40] for case in cases]


# ---------------------------------------------------------------------------------------------
# Escape corpus


@pytest.mark.timeout(10)
@pytest.mark.parametrize("case", CORPUS["expressions"], ids=_ids(CORPUS["expressions"]))
def test_expression_escape_is_refused(case: dict[str, str]) -> None:
    with pytest.raises(EvaluationError) as refused:
        evaluate_expression(case["source"], corpus_data())
    assert case["refused"].lower() in str(refused.value).lower()


@pytest.mark.timeout(10)
@pytest.mark.parametrize("case", CORPUS["scripts"], ids=_ids(CORPUS["scripts"]))
def test_script_escape_is_refused(case: dict[str, str]) -> None:
    data = corpus_data()
    with pytest.raises(EvaluationError) as refused:
        execute_script(case["source"], data)
    assert case["refused"].lower() in str(refused.value).lower()
    assert data == corpus_data()  # all or nothing: a refused script changes nothing


GENERATED = {
    "parens_5000_expression": ("expression", "(" * 5000 + "1" + ")" * 5000, "too long"),
    "parens_5000_script": ("script", "y = " + "(" * 5000 + "1" + ")" * 5000, "nested parentheses"),
    "unary_5000_script": ("script", "y = " + "-" * 5000 + "1", "nested too deeply"),
    "not_3000_script": ("script", "y = " + "not " * 3000 + "x", "nested too deeply"),
    "lists_150_script": ("script", "y = " + "[" * 150 + "]" * 150, "nested"),
    "sum_3000_terms_script": ("script", "y = " + "x+" * 3000 + "x", "nested too deeply"),
    "brackets_60_expression": ("expression", "[" * 60 + "]" * 60, "nested too deeply"),
    "calls_60_expression": ("expression", "abs(" * 60 + "1" + ")" * 60, "nested too deeply"),
    "many_nodes_script": ("script", "\n".join("y=[x,x,x,x,x,x,x,x,x]" for _ in range(400)),
                          "too complex"),
    "many_statements_script": ("script", "\n".join("y = 1" for _ in range(600)),
                               "too many statements"),
    "too_long_expression": ("expression", "x" + " or x" * 500, "too long"),
    "null_byte_expression": ("expression", "x\x00", "null bytes"),
}


@pytest.mark.timeout(10)
@pytest.mark.parametrize("kind, source, refused", GENERATED.values(), ids=list(GENERATED))
def test_generated_escape_is_refused(kind: str, source: str, refused: str) -> None:
    run = evaluate_expression if kind == "expression" else execute_script
    with pytest.raises(EvaluationError) as err:
        run(source, corpus_data())
    assert refused in str(err.value)


@pytest.mark.timeout(10)
def test_wall_time_bound_stops_long_evaluation() -> None:
    data = {"rows": list(range(99))}
    with pytest.raises(EvaluationError, match="took longer than 0.001 s"):
        evaluate_expression("sum(a * b for a in rows for b in rows)", data,
                            limits=Limits(max_seconds=0.001))


def test_wall_time_bound_covers_whole_script() -> None:
    script = "\n".join("y = sum(a for a in rows for b in rows)" for _ in range(50))
    with pytest.raises(EvaluationError, match="took longer than"):
        execute_script(script, {"rows": list(range(50))}, limits=Limits(max_seconds=0.005))


def test_refusal_names_the_line() -> None:
    with pytest.raises(EvaluationError) as err:
        execute_script("y = 1\nz = 2\nw = x.__class__", {"x": 1})
    assert err.value.lineno == 3


def test_dangerous_extra_function_is_rejected() -> None:
    with pytest.raises(ValueError, match="cannot be offered"):
        evaluate_expression("e('1')", {}, functions={"e": eval})
    with pytest.raises(ValueError, match="cannot be offered"):
        evaluate_expression("1", {}, functions={"_hidden": len})


# ---------------------------------------------------------------------------------------------
# What process models can do


@pytest.mark.parametrize("amount, category, expected", [
    (150, "lift", True), (150, "roof", False), (100, "lift", False), (Decimal("100.01"), "lift", True),
])
def test_gateway_condition_over_task_data(amount: Any, category: str, expected: bool) -> None:
    data = {"amount": amount, "category": category}
    assert evaluate_expression("amount > 100 and category == 'lift'", data) is expected


def test_decimal_arithmetic_is_exact() -> None:
    data = {"rent": Decimal("812.40"), "share": Decimal("0.1"), "units": 3}
    assert evaluate_expression("rent * units", data) == Decimal("2437.20")
    assert evaluate_expression("Decimal('0.1') + Decimal('0.2') == Decimal('0.3')", data) is True
    assert evaluate_expression(
        "(rent * share).quantize(Decimal('0.01'), rounding='ROUND_HALF_UP')", data
    ) == Decimal("81.24")
    assert evaluate_expression("round(rent / 7, 2)", data) == Decimal("116.06")
    assert evaluate_expression("sum([rent, rent], Decimal('0'))", data) == Decimal("1624.80")
    assert evaluate_expression("sum(r['amount'] for r in rows)",
                               {"rows": [{"amount": Decimal("1.10")}, {"amount": Decimal("2.20")}]}
                               ) == Decimal("3.30")


def test_dict_get_and_safe_methods() -> None:
    data = {"meter": {"id": "M-7", "reading": 41}, "name": "  Lift A "}
    assert evaluate_expression("meter.get('reading', 0) + 1", data) == 42
    assert evaluate_expression("meter.get('missing', 'n/a')", data) == "n/a"
    assert evaluate_expression("meter['id'].lower().startswith('m-')", data) is True
    assert evaluate_expression("name.strip().replace(' ', '_')", data) == "Lift_A"
    assert evaluate_expression("', '.join(sorted(meter.keys()))", data) == "id, reading"
    assert evaluate_expression("f'{meter[\"reading\"]:>5}|'", data) == "   41|"
    assert evaluate_expression("[k for k, v in meter.items() if v == 41]", data) == ["reading"]
    assert evaluate_expression("any(c.isdigit() for c in meter['id'])", data) is True
    assert evaluate_expression("max(len(name), 3) if name else 0", data) == 9


def test_dates_and_platform_clock() -> None:
    from app import clock

    clock.freeze(datetime(2025, 3, 1, 9, 30))
    try:
        assert evaluate_expression("now()", {}) == datetime(2025, 3, 1, 9, 30)
        assert evaluate_expression("today() + timedelta(days=14)", {}) == date(2025, 3, 15)
        assert evaluate_expression("(due - today()).days", {"due": date(2025, 3, 11)}) == 10
        assert evaluate_expression("now().date().isoformat()", {}) == "2025-03-01"
        assert evaluate_expression("date(2025, 1, 31).replace(day=1).weekday()", {}) == 2
    finally:
        clock.reset()


def test_missing_names_and_keys_are_evaluation_errors() -> None:
    with pytest.raises(EvaluationError, match="name 'amount' is not defined"):
        evaluate_expression("amount > 1", {})
    with pytest.raises(EvaluationError, match="key 'b' not found"):
        evaluate_expression("info['b']", {"info": {}})
    with pytest.raises(EvaluationError, match="ZeroDivisionError"):
        evaluate_expression("1 / x", {"x": 0})


def test_extra_functions_are_callable() -> None:
    assert evaluate_expression("vat(x)", {"x": Decimal("10")},
                               functions={"vat": lambda v: v * Decimal("1.19")}) == Decimal("11.90")


def test_script_assignments_return_updated_variables() -> None:
    data = {"amount": Decimal("1200"), "order": {"id": 7}, "counts": {"open": 1}, "tmp": 1}
    script = (
        "total = (amount * Decimal('1.19')).quantize(Decimal('0.01'))\n"
        "order['status'] = 'priced'\n"
        "counts['open'] += 1\n"
        "low, high = min(amount, total), max(amount, total)\n"
        "if total > 1000:\n"
        "    tier = 'board'\n"
        "elif total > 100:\n"
        "    tier = 'manager'\n"
        "else:\n"
        "    pass\n"
        "del tmp\n"
    )
    result = execute_script(script, data)
    assert result == {
        "amount": Decimal("1200"), "order": {"id": 7, "status": "priced"}, "counts": {"open": 2},
        "total": Decimal("1428.00"), "low": Decimal("1200"), "high": Decimal("1428.00"),
        "tier": "board",
    }
    assert data == {"amount": Decimal("1200"), "order": {"id": 7}, "counts": {"open": 1}, "tmp": 1}


def test_failing_script_changes_nothing() -> None:
    data = {"order": {"id": 7}}
    with pytest.raises(EvaluationError, match="name 'nope' is not defined"):
        execute_script("order['status'] = 'x'\nflag = True\ny = nope", data)
    assert data == {"order": {"id": 7}}


def test_external_context_is_readable_not_writable() -> None:
    result = execute_script("y = obj['n'] + 1\nobj2 = obj", {}, external={"obj": {"n": 1}})
    assert result == {"y": 2, "obj2": {"n": 1}}


def test_validate_expression_refuses_before_running() -> None:
    validate_expression("a > 1 and b.get('c')")
    with pytest.raises(EvaluationError, match="'__class__'"):
        validate_expression("a.__class__")


# ---------------------------------------------------------------------------------------------
# SpiffWorkflow integration


@pytest.fixture
def no_plain_eval(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if SpiffWorkflow's TaskDataEnvironment reaches eval/exec at all."""
    def forbidden(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("plain eval/exec reached")

    monkeypatch.setattr(python_environment, "eval", forbidden, raising=False)
    monkeypatch.setattr(python_environment, "exec", forbidden, raising=False)


def _workflow(name: str, process_id: str, **data: Any) -> BpmnWorkflow:
    parser = BpmnParser()
    parser.add_bpmn_file(str(FIXTURES / f"evaluator_{name}.bpmn"))
    workflow = BpmnWorkflow(parser.get_spec(process_id), script_engine=RestrictedScriptEngine())
    workflow.get_tasks()[0].data.update(data)
    return workflow


@pytest.mark.usefixtures("no_plain_eval")
@pytest.mark.parametrize("amount, category, branch, tier", [
    (Decimal("1200"), "lift", "lift", "board"),
    (Decimal("50"), "lift", "general", "manager"),
    (Decimal("5000"), "roof", "general", "board"),
])
def test_bpmn_round_trip(amount: Decimal, category: str, branch: str, tier: str) -> None:
    workflow = _workflow("gateway", "evaluator_gateway", amount=amount, category=category,
                         order={"id": 7})
    workflow.do_engine_steps()
    assert workflow.is_completed()
    assert workflow.data["branch"] == branch
    assert workflow.data["tier"] == tier
    assert workflow.data["total"] == (amount * Decimal("1.19")).quantize(Decimal("0.01"))
    assert workflow.data["order"] == {"id": 7, "status": "priced"}
    finished = {t.task_spec.name for t in workflow.get_tasks() if t.has_state(64)}  # COMPLETED
    assert ("lift_contractor" in finished) is (branch == "lift")


@pytest.mark.timeout(10)
@pytest.mark.usefixtures("no_plain_eval")
def test_malicious_script_task_fails_with_evaluation_error() -> None:
    workflow = _workflow("malicious", "evaluator_malicious")
    with pytest.raises(WorkflowTaskException) as err:
        workflow.do_engine_steps()
    assert "attribute access to '__" in str(err.value)
    assert isinstance(err.value.__cause__, EvaluationError)
    assert err.value.line_number == 2
    assert "__subclasses__" in err.value.error_line
    task = workflow.get_tasks(spec_name="escape")[0]
    assert "note" not in task.data  # nothing from the refused script was written


@pytest.mark.timeout(10)
@pytest.mark.usefixtures("no_plain_eval")
def test_malicious_gateway_condition_fails_with_evaluation_error() -> None:
    workflow = _workflow("condition_escape", "evaluator_condition_escape")
    with pytest.raises(WorkflowTaskException) as err:
        workflow.do_engine_steps()
    assert "is not allowed" in str(err.value) or "is not defined" in str(err.value)
    assert isinstance(err.value.__cause__, EvaluationError)


@pytest.mark.usefixtures("no_plain_eval")
def test_engine_paths_used_by_timers_multi_instance_and_correlation() -> None:
    engine = RestrictedScriptEngine()
    task = _workflow("gateway", "evaluator_gateway", units=["A", "B"], order={"id": 7}).get_tasks()[0]
    assert engine.evaluate(task, "'PT1H'") == "PT1H"  # timer expressions are quoted ISO strings
    assert engine.evaluate(task, "len(units)") == 2  # multi-instance cardinality
    assert engine.evaluate(task, "x + 1", external_context={"x": 1}) == 2  # data objects
    correlations = MessageEventDefinition("m").calculate_correlations(
        engine, [CorrelationProperty("order_id", "order['id']", ["k"])], task.data)
    assert correlations == {"k": {"order_id": 7}}
    assert engine.environment.evaluate("units[0]", task.data) == "A"  # ad-hoc/conditional paths
    with pytest.raises(EvaluationError):
        engine.environment.evaluate("().__class__", task.data)
    with pytest.raises(WorkflowTaskException, match="name 'open' is not defined"):
        engine.evaluate(task, "open('/etc/passwd')")
    with pytest.raises(EvaluationError):
        engine.validate("__import__('os')")


def test_execute_writes_back_into_task_data() -> None:
    engine = RestrictedScriptEngine()
    task = SimpleNamespace(data={"a": 1, "gone": 2})
    assert engine.execute(task, "b = a + 1\ndel gone") is True
    assert task.data == {"a": 1, "b": 2}


def test_environment_cannot_be_swapped_for_plain_eval() -> None:
    engine = RestrictedScriptEngine()
    with pytest.raises(TypeError, match="RestrictedEnvironment"):
        engine.environment = TaskDataEnvironment()
    with pytest.raises(TypeError, match="RestrictedEnvironment"):
        RestrictedScriptEngine(environment=TaskDataEnvironment())  # type: ignore[arg-type]
    assert isinstance(RestrictedScriptEngine(functions={"f": abs}).environment, RestrictedEnvironment)


def test_garbage_collection_does_not_count_against_the_time_budget():
    import gc

    from app.engine.evaluator import gc_seconds

    before = gc_seconds()
    garbage = [[i] for i in range(200_000)]
    gc.collect()
    del garbage
    assert gc_seconds() > before
