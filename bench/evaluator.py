"""Restricted evaluator: cost of the common case and the worst case its bounds still allow.

Standalone (no database, no pytest)::

    .venv/bin/python bench/evaluator.py            # full
    .venv/bin/python bench/evaluator.py --quick    # smoke (fewer rounds)

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

import simpleeval  # noqa: E402
import yaml  # noqa: E402

from app.engine.evaluator import (  # noqa: E402
    DEFAULT_LIMITS,
    EvaluationError,
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


def _per_condition_us(run, rounds: int, per_round: int) -> list[float]:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(per_round):
            for condition in CONDITIONS:
                run(condition)
        samples.append((time.perf_counter() - start) / (per_round * len(CONDITIONS)) * 1e6)
    return samples


def common(quick: bool) -> dict:
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
        return eval(compiled[c], {"__builtins__": {}, **functions}, names)  # noqa: S307

    for c in CONDITIONS:  # same answers, and warm caches
        assert restricted(c) == plain_simpleeval(c) == plain_eval(c), c
    rounds, per_round = (5, 200) if quick else (15, 1000)
    results: dict[str, list[float]] = {"restricted": [], "simpleeval": [], "eval": []}
    runs = {"restricted": restricted, "simpleeval": plain_simpleeval, "eval": plain_eval}
    for i in range(rounds):  # interleaved, so all three see the same machine load
        order = list(runs) if i % 2 == 0 else list(reversed(runs))
        for name in order:
            results[name] += _per_condition_us(runs[name], 1, per_round)
    med = {name: statistics.median(v) for name, v in results.items()}
    return {
        "common_us": round(med["restricted"], 2),
        "common_us_min": round(min(results["restricted"]), 2),
        "simpleeval_us": round(med["simpleeval"], 2),
        "eval_us": round(med["eval"], 2),
        "ratio_to_simpleeval": round(med["restricted"] / med["simpleeval"], 2),
    }


def _run_case(case: dict) -> tuple[float, float, str]:
    run = execute_script if case.get("kind") == "script" else evaluate_expression
    wall, cpu = time.perf_counter(), time.thread_time()
    try:
        run(case["source"], dict(case.get("data") or {}))
        outcome = "ok"
    except EvaluationError as err:
        outcome = f"refused: {err}"
    return (time.perf_counter() - wall) * 1000, (time.thread_time() - cpu) * 1000, outcome


def worst(quick: bool) -> dict:
    cases = yaml.safe_load(COSTLY.read_text())["cases"]
    repeat = 1 if quick else 3
    rows = []
    for case in cases:
        best_wall, best_cpu, outcome = min(_run_case(case) for _ in range(repeat))
        rows.append({"name": case["name"], "wall_ms": round(best_wall, 2),
                     "cpu_ms": round(best_cpu, 2), "outcome": outcome[:90]})
    rows.sort(key=lambda r: r["cpu_ms"], reverse=True)
    # Baseline: the attack at 2,000 digits under plain eval (unbounded), one run.
    attack = "Decimal('0.'+'9'*2000)**Decimal('0.'+'9'*2000) > 0"
    start = time.perf_counter()
    eval(attack, {"__builtins__": {}, "Decimal": Decimal})  # noqa: S307
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
    args = parser.parse_args()
    result = {"bench": "evaluator", "quick": args.quick, "load_avg_1m": os.getloadavg()[0]}
    result.update(common(args.quick))
    if COSTLY.exists():
        top = worst(args.quick)
        for row in top["top"]:
            print(f"  {row['cpu_ms']:8.2f} ms cpu {row['wall_ms']:8.2f} ms wall  "
                  f"{row['name']}: {row['outcome']}")
        result.update(top)
    print(f"common condition: {result['common_us']} µs restricted, {result['simpleeval_us']} µs "
          f"simpleeval, {result['eval_us']} µs eval")
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
