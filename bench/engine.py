"""Engine throughput and latency, side by side with bare SpiffWorkflow (the floor).

Measures, in one run:
* lifecycles/s on SQLite: start -> user task -> save (task row + audit) -> commit;
  load -> complete with form data -> run to the end -> save -> commit;
* the floor: bare SpiffWorkflow doing the same, JSON (spec included, as Spiff
  serializes by default) saved with plain sqlite3. Engine and floor run interleaved
  in chunks (alternating which goes first) so both see the same load from other
  processes; wall-clock rates are the headline, CPU-time rates are printed too;
* deep completion: p95 ms to complete a user task in an instance with N prior steps;
* inbox p50/p95 ms on PostgreSQL with many task rows (skipped if unreachable).

Usage: python bench/engine.py [--quick]. Last line of output is one JSON object.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lxml import etree  # noqa: E402
from sqlalchemy import create_engine, event, select, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

LIFECYCLE_BPMN = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="t">
  <bpmn:process id="bench_life" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:userTask id="fill" name="Fill" camunda:formKey="bench/fill" camunda:candidateGroups="front_desk" />
    <bpmn:scriptTask id="calc"><bpmn:script>total = amount * 2</bpmn:script></bpmn:scriptTask>
    <bpmn:endEvent id="end" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="fill" />
    <bpmn:sequenceFlow id="f2" sourceRef="fill" targetRef="calc" />
    <bpmn:sequenceFlow id="f3" sourceRef="calc" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>"""

LOOP_BPMN = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:camunda="http://camunda.org/schema/1.0/bpmn" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  id="d" targetNamespace="t">
  <bpmn:process id="bench_loop" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:scriptTask id="init"><bpmn:script>n = 0</bpmn:script></bpmn:scriptTask>
    <bpmn:userTask id="work" name="Work" camunda:formKey="bench/fill" camunda:candidateGroups="technician" />
    <bpmn:scriptTask id="count"><bpmn:script>n = n + 1</bpmn:script></bpmn:scriptTask>
    <bpmn:exclusiveGateway id="more" default="again" />
    <bpmn:endEvent id="end" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="init" />
    <bpmn:sequenceFlow id="f2" sourceRef="init" targetRef="work" />
    <bpmn:sequenceFlow id="f3" sourceRef="work" targetRef="count" />
    <bpmn:sequenceFlow id="f4" sourceRef="count" targetRef="more" />
    <bpmn:sequenceFlow id="done" sourceRef="more" targetRef="end">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">stop == True</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="again" sourceRef="more" targetRef="work" />
  </bpmn:process>
</bpmn:definitions>"""

FORMS = {"bench/fill"}


def _setup_sqlite(path: str):
    from app.platform.discovery import import_all_models

    engine = create_engine(f"sqlite:///{path}")

    @event.listens_for(engine, "connect")
    def _pragmas(conn, _):  # the embedded default a one-machine install would use
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")

    import_all_models().create_all(engine)
    return engine


def _community(session: Session) -> int:
    from app.domains.estate.models import Community, PropertyCompany

    company = PropertyCompany(name=f"bench-{uuid.uuid4().hex[:6]}")
    c = Community(company=company, code=uuid.uuid4().hex[:10], name="bench")
    session.add_all([company, c])
    session.commit()
    return c.id


class _EngineSide:
    """The engine: a lifecycle is two sessions (two transactions) through the public API."""

    def __init__(self, tmp: str) -> None:
        from app.engine.deploy import deploy_process

        self.engine = _setup_sqlite(os.path.join(tmp, "engine.db"))
        with Session(self.engine) as s:
            self.cid = _community(s)
            deploy_process(s, "bench_life.bpmn", LIFECYCLE_BPMN, "bench", "bench", FORMS)
            s.commit()
        self.i = 0

    def run(self, n: int) -> None:
        from app.engine.runtime import start_instance
        from app.engine.tasks import complete_task

        engine, cid = self.engine, self.cid
        for i in range(self.i, self.i + n):
            with Session(engine) as s:
                inst = start_instance(s, "bench_life", cid, f"B-{i}", actor="bench")
                task_id = next(iter(inst.projection["tasks"].values()))
                s.commit()
            with Session(engine) as s:
                done = complete_task(s, task_id, {"amount": i}, actor="bench")
                assert done.status == "completed"
                s.commit()
        self.i += n

    def close(self) -> None:
        self.engine.dispose()


class _FloorSide:
    """Bare SpiffWorkflow, its default JSON (spec included) saved with plain sqlite3."""

    def __init__(self, tmp: str) -> None:
        from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
        from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser
        from SpiffWorkflow.camunda.serializer import DEFAULT_CONFIG

        parser = CamundaParser()
        parser.add_bpmn_xml(etree.ElementTree(etree.fromstring(LIFECYCLE_BPMN)), "x.bpmn")
        self.spec = parser.get_spec("bench_life")
        self.serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(DEFAULT_CONFIG))
        self.db = sqlite3.connect(os.path.join(tmp, "floor.db"))
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("CREATE TABLE wf (id INTEGER PRIMARY KEY, state TEXT)")
        self.i = 0

    def run(self, n: int) -> None:
        from SpiffWorkflow.bpmn import BpmnWorkflow
        from SpiffWorkflow.util.task import TaskState

        db, spec, serializer = self.db, self.spec, self.serializer
        for i in range(self.i, self.i + n):
            wf = BpmnWorkflow(spec)
            wf.do_engine_steps()
            cur = db.execute("INSERT INTO wf (state) VALUES (?)", (serializer.serialize_json(wf),))
            db.commit()
            row_id = cur.lastrowid
            state = db.execute("SELECT state FROM wf WHERE id = ?", (row_id,)).fetchone()[0]
            wf = serializer.deserialize_json(state)
            task = wf.get_tasks(state=TaskState.READY, manual=True)[0]
            task.data["amount"] = i
            task.run()
            wf.do_engine_steps()
            assert wf.is_completed()
            db.execute("UPDATE wf SET state = ? WHERE id = ?", (serializer.serialize_json(wf), row_id))
            db.commit()
        self.i += n

    def close(self) -> None:
        self.db.close()


def bench_lifecycles(n: int, rounds: int = 10) -> dict:
    """Engine and floor, interleaved in ``rounds`` chunks so both see the same machine load
    (other processes on a shared machine come and go). Rates use wall time; the ``_cpu``
    figures use this process's CPU time, which other processes disturb much less."""
    chunk = max(1, n // rounds)
    wall = {"engine": 0.0, "floor": 0.0}
    cpu = {"engine": 0.0, "floor": 0.0}
    ratios = []
    with tempfile.TemporaryDirectory() as tmp:
        sides = {"engine": _EngineSide(tmp), "floor": _FloorSide(tmp)}
        try:
            for side in sides.values():  # warm caches and imports for both sides
                side.run(20)
            # Long-lived objects (imports, parsed specs) out of the cyclic GC's full scans,
            # as a preloading server would do: otherwise a full collection over them
            # (0.1-0.5 s on a busy machine) lands in whichever side happens to run.
            gc.collect()
            gc.freeze()
            for r in range(rounds):
                order = ("engine", "floor") if r % 2 == 0 else ("floor", "engine")
                took = {}
                for name in order:
                    w0, c0 = time.perf_counter(), time.process_time()
                    sides[name].run(chunk)
                    took[name] = time.perf_counter() - w0
                    wall[name] += took[name]
                    cpu[name] += time.process_time() - c0
                ratios.append(took["floor"] / took["engine"])
        finally:
            for side in sides.values():
                side.close()
    total = chunk * rounds
    return {
        "lifecycles": total,
        "lifecycles_per_s": round(total / wall["engine"], 1),
        "floor_lifecycles_per_s": round(total / wall["floor"], 1),
        "ratio_to_floor": round(wall["floor"] / wall["engine"], 3),
        "ratio_to_floor_median_round": round(statistics.median(ratios), 3),
        "lifecycles_per_cpu_s": round(total / cpu["engine"], 1),
        "floor_lifecycles_per_cpu_s": round(total / cpu["floor"], 1),
        "ratio_to_floor_cpu": round(cpu["floor"] / cpu["engine"], 3),
    }


def bench_deep(steps: int, samples: int) -> tuple[float, float]:
    """p50/p95 ms of complete_task (with commit) after ``steps`` prior completions."""
    from app.engine.deploy import deploy_process
    from app.engine.models import ProcessInstance
    from app.engine.runtime import start_instance
    from app.engine.tasks import complete_task

    with tempfile.TemporaryDirectory() as tmp:
        engine = _setup_sqlite(os.path.join(tmp, "deep.db"))
        with Session(engine) as s:
            cid = _community(s)
            deploy_process(s, "bench_loop.bpmn", LOOP_BPMN, "bench", "bench", FORMS)
            inst = start_instance(s, "bench_loop", cid, "DEEP", actor="bench")
            s.commit()
            inst_id = inst.id
        times = []
        for i in range(steps + samples):
            with Session(engine) as s:
                inst = s.get(ProcessInstance, inst_id)
                task_id = next(iter(inst.projection["tasks"].values()))
                t0 = time.perf_counter()
                complete_task(s, task_id, {"stop": False}, actor="bench")
                s.commit()
                if i >= steps:
                    times.append((time.perf_counter() - t0) * 1000)
        engine.dispose()
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


def bench_inbox(rows: int, queries: int) -> dict | None:
    """Inbox latency on PostgreSQL over ``rows`` task rows (5% open)."""
    admin_url = os.environ.get("ESTATEFLOW_TEST_PG_URL",
                               "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    name = f"ef_bench_{uuid.uuid4().hex[:8]}"
    try:
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001
        print(f"inbox: PostgreSQL not reachable ({exc.__class__.__name__}); skipped", file=sys.stderr)
        return None
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    engine = create_engine(url)
    try:
        from app.domains.estate.models import Community, PropertyCompany
        from app.engine.models import ProcessInstance, ProcessVersion
        from app.engine.tasks import list_inbox
        from app.platform.discovery import import_all_models

        import_all_models().create_all(engine)
        communities = 200
        roles = ["manager", "accountant", "technician", "guard", "front_desk"]
        with Session(engine) as s:
            company = PropertyCompany(name="bench")
            s.add(company)
            s.flush()
            s.add_all([Community(company_id=company.id, code=f"C{i}", name=f"c{i}")
                       for i in range(communities)])
            s.flush()
            v = ProcessVersion(process_id="p", version=1, filename="p", content_hash="h",
                               bpmn="", start_messages=[])
            s.add(v)
            s.flush()
            first_cid = s.scalar(select(Community.id).order_by(Community.id))
            inst = ProcessInstance(version_id=v.id, process_id="p", spec_hash="h",
                                   community_id=first_cid,
                                   status="waiting", lock_version=1, projection={})
            s.add(inst)
            s.commit()
            inst_id = inst.id
        rnd = random.Random(7)
        t0 = time.perf_counter()
        raw = engine.raw_connection()
        try:
            cur = raw.cursor()
            with cur.copy("COPY wf_task (instance_id, spiff_task_id, element_id, community_id, role, "
                          "assignee, form_id, title, due_at, business_key, status, created_at) "
                          "FROM STDIN") as copy:
                for i in range(rows):
                    open_ = rnd.random() < 0.05
                    status = "ready" if open_ else "completed"
                    assignee = None
                    if open_ and rnd.random() < 0.2:
                        status, assignee = "claimed", f"user{rnd.randrange(500)}"
                    copy.write_row((inst_id, str(uuid.UUID(int=i)), "task", first_cid + rnd.randrange(communities),
                                    rnd.choice(roles), assignee, "f/x", f"Task {i}",
                                    f"2026-03-{1 + rnd.randrange(28):02d} 09:00:00", f"BK-{i}",
                                    status, "2026-03-01 08:00:00"))
            raw.commit()
        finally:
            raw.close()
        with engine.connect() as conn:
            conn.execute(text("ANALYZE wf_task"))
            conn.commit()
        load_s = time.perf_counter() - t0
        times = []
        with Session(engine) as s:
            for _ in range(queries):
                cids = [first_cid + rnd.randrange(communities) for _ in range(5)]
                q0 = time.perf_counter()
                list_inbox(s, cids, rnd.sample(roles, 2), f"user{rnd.randrange(500)}", limit=50)
                times.append((time.perf_counter() - q0) * 1000)
        times.sort()
        return {"inbox_rows": rows, "inbox_load_s": round(load_s, 1),
                "inbox_p50_ms": round(statistics.median(times), 2),
                "inbox_p95_ms": round(times[int(len(times) * 0.95) - 1], 2)}
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small run (CI smoke)")
    args = ap.parse_args()
    n = 200 if args.quick else 2000
    deep_steps, deep_samples = (200, 40) if args.quick else (1000, 100)
    inbox_rows, inbox_queries = (50_000, 100) if args.quick else (1_000_000, 300)

    life = bench_lifecycles(n)
    print(f"lifecycles/s: engine {life['lifecycles_per_s']:.0f}, floor "
          f"{life['floor_lifecycles_per_s']:.0f} ({life['ratio_to_floor']:.0%}; median round "
          f"{life['ratio_to_floor_median_round']:.0%}); per CPU-second: engine "
          f"{life['lifecycles_per_cpu_s']:.0f}, floor {life['floor_lifecycles_per_cpu_s']:.0f} "
          f"({life['ratio_to_floor_cpu']:.0%})", file=sys.stderr)
    p50, p95 = bench_deep(deep_steps, deep_samples)
    print(f"complete after {deep_steps} steps: p50 {p50:.1f} ms, p95 {p95:.1f} ms", file=sys.stderr)
    result = {
        "quick": args.quick,
        **life,
        "deep_steps": deep_steps,
        "deep_complete_p50_ms": round(p50, 2),
        "deep_complete_p95_ms": round(p95, 2),
    }
    inbox = bench_inbox(inbox_rows, inbox_queries)
    if inbox:
        result.update(inbox)
        print(f"inbox over {inbox_rows} rows: p50 {inbox['inbox_p50_ms']} ms, "
              f"p95 {inbox['inbox_p95_ms']} ms", file=sys.stderr)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
