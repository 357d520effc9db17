"""Restricted evaluator: cost of the common case and the worst case its bounds still allow.

Standalone (no database, no pytest)::

    .venv/bin/python bench/evaluator.py            # full
    .venv/bin/python bench/evaluator.py --quick    # smoke (fewer rounds)
    .venv/bin/python bench/evaluator.py --compare /path/to/old/app/engine/evaluator.py
                                                   # + that evaluator, same rounds (before/after)

Two measurements, each against a baseline taken in the same run:

* **common**: microseconds per gateway condition (typical conditions of our BPMN over small
  task data) through :func:`evaluate_expression`, against plain simpleeval
  (``EvalWithCompoundTypes`` over the pre-parsed tree) and plain ``eval`` of compiled code.
  Interleaved rounds, median of rounds.
* **worst**: every case of ``tests/app/engine/fixtures/costly.yaml`` (attacks at the bounds:
  the largest operands the limits still let through, and the issue's attacks), run through the
  evaluator; wall and thread-CPU time of the slowest, against the evaluation budget
  (``Limits.max_seconds``). The baseline is the issue's attack (``Decimal ** Decimal`` at 2,000
  digits) under plain ``eval``.

The last line is JSON.
"""
from __future__ import annotations

import argparse
import ast
import json
import os
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import simpleeval
import yaml

from app.engine.evaluator import (
    DEFAULT_LIMITS,
    EvaluationError,
    Limits,
    evaluate_expression,
    execute_script,
)

CONDITIONS = [
    "amount > 100 and category == 'lift'",
    "decision == 'approve'",
    "decision == 'propose_suspension' and not suspended",
    "rating_value <= 2",
    "dispatched == True",
    "len(items) > 0 and total >= Decimal('1000')",
    "meter.get('reading', 0) - previous > 50",
    "outcome in ('manager', 'board')",
]
DATA = {
    "amount": Decimal("150.00"), "category": "lift", "decision": "approve", "suspended": False,
    "rating_value": 3, "dispatched": True, "items": [1, 2, 3], "total": Decimal("1200.50"),
    "meter": {"id": "M-7", "reading": 141}, "previous": 80, "outcome": "board",
}
COSTLY = ROOT / "tests" / "app" / "engine" / "fixtures" / "costly.yaml"


def _per_condition_us(run, rounds: int, per_round: int) -> list[tuple[float, float]]:
    """(wall µs, thread-CPU µs) per condition, one sample per round."""
    samples = []
    for _ in range(rounds):
        start, cpu = time.perf_counter(), time.thread_time()
        for _ in range(per_round):
            for condition in CONDITIONS:
                run(condition)
        count = per_round * len(CONDITIONS)
        samples.append(((time.perf_counter() - start) / count * 1e6,
                        (time.thread_time() - cpu) / count * 1e6))
    return samples


def _load(path: str):
    """Another evaluator.py (e.g. the version before a change) as a separate module."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("evaluator_compared", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def common(quick: bool, compare: str | None = None) -> dict:
    compiled = {c: compile(c, "<condition>", "eval") for c in CONDITIONS}
    parsed = {c: ast.parse(c, mode="eval").body for c in CONDITIONS}
    names = dict(DATA)
    functions = {"len": len, "Decimal": Decimal}

    def restricted(c):
        return evaluate_expression(c, DATA)

    def plain_simpleeval(c):
        return simpleeval.EvalWithCompoundTypes(functions=dict(functions), names=names).eval(
            c, previously_parsed=parsed[c])

    def plain_eval(c):
        return eval(compiled[c], {"__builtins__": {}, **functions}, names)

    runs = {"restricted": restricted, "simpleeval": plain_simpleeval, "eval": plain_eval}
    if compare:
        other = _load(compare).evaluate_expression
        runs["compared"] = lambda c: other(c, DATA)
    for c in CONDITIONS:  # same answers, and warm caches
        assert all(run(c) == plain_eval(c) for run in runs.values()), c
    rounds, per_round = (6, 200) if quick else (20, 1000)
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in runs}
    for i in range(rounds):  # interleaved, so all see the same machine load
        order = list(runs) if i % 2 == 0 else list(reversed(runs))
        for name in order:
            results[name] += _per_condition_us(runs[name], 1, per_round)
    wall = {name: statistics.median(w for w, _ in v) for name, v in results.items()}
    cpu = {name: statistics.median(c for _, c in v) for name, v in results.items()}
    out = {
        "common_us": round(wall["restricted"], 2),
        "common_cpu_us": round(cpu["restricted"], 2),
        "simpleeval_us": round(wall["simpleeval"], 2),
        "simpleeval_cpu_us": round(cpu["simpleeval"], 2),
        "eval_us": round(wall["eval"], 2),
        "ratio_to_simpleeval_cpu": round(cpu["restricted"] / cpu["simpleeval"], 2),
    }
    if compare:
        out.update(compared_us=round(wall["compared"], 2),
                   compared_cpu_us=round(cpu["compared"], 2),
                   ratio_to_compared_cpu=round(cpu["restricted"] / cpu["compared"], 2))
    return out


def _data(case: dict) -> dict:
    data = dict(case.get("data") or {})
    if case.get("setup"):  # untimed: builds the operands of the timed operation
        data = execute_script(case["setup"], data, limits=Limits(max_seconds=60))
    return data


def _run_case(case: dict, data: dict) -> tuple[float, float, str]:
    run = execute_script if case.get("kind") == "script" else evaluate_expression
    wall, cpu = time.perf_counter(), time.thread_time()
    try:
        run(case["source"], data)
        outcome = "ok"
    except EvaluationError as err:
        outcome = f"refused: {err}"
    return (time.perf_counter() - wall) * 1000, (time.thread_time() - cpu) * 1000, outcome


def worst(quick: bool) -> dict:
    cases = yaml.safe_load(COSTLY.read_text())["cases"]
    repeat = 1 if quick else 3
    rows = []
    for case in cases:
        data = _data(case)
        best_wall, best_cpu, outcome = min(_run_case(case, data) for _ in range(repeat))
        rows.append({"name": case["name"], "wall_ms": round(best_wall, 2),
                     "cpu_ms": round(best_cpu, 2), "outcome": outcome[:90]})
    rows.sort(key=lambda r: r["cpu_ms"], reverse=True)
    # Baseline: the attack at 2,000 digits under plain eval (unbounded), one run.
    attack = "Decimal('0.'+'9'*2000)**Decimal('0.'+'9'*2000) > 0"
    start = time.perf_counter()
    eval(attack, {"__builtins__": {}, "Decimal": Decimal})
    unbounded_ms = (time.perf_counter() - start) * 1000
    return {
        "budget_ms": DEFAULT_LIMITS.max_seconds * 1000,
        "worst_cpu_ms": rows[0]["cpu_ms"],
        "worst_wall_ms": max(r["wall_ms"] for r in rows),
        "worst_case": rows[0]["name"],
        "cases": len(rows),
        "plain_eval_attack_2000_digits_ms": round(unbounded_ms, 1),
        "top": rows[:8],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (smoke test)")
    parser.add_argument("--compare", metavar="EVALUATOR_PY",
                        help="also time this evaluator.py on the common conditions")
    args = parser.parse_args()
    result = {"bench": "evaluator", "quick": args.quick,
              "load_avg_1m": round(os.getloadavg()[0], 2)}
    result.update(common(args.quick, args.compare))
    if COSTLY.exists():
        top = worst(args.quick)
        for row in top["top"]:
            print(f"  {row['cpu_ms']:8.2f} ms cpu {row['wall_ms']:8.2f} ms wall  "
                  f"{row['name']}: {row['outcome']}")
        result.update(top)
    print(f"common condition: {result['common_us']} µs restricted "
          f"({result['common_cpu_us']} µs CPU), {result['simpleeval_us']} µs simpleeval, "
          f"{result['eval_us']} µs eval"
          + (f", {result['compared_us']} µs compared ({result['compared_cpu_us']} µs CPU)"
             if args.compare else ""))
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
