"""Several ``estateflow worker`` processes on one PostgreSQL database, one of them killed with
SIGKILL mid-run: every due timer fires exactly once (the audit log proves it) and every
instance reaches its end."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from app import clock
from app.engine.models import ProcessInstance, TimerRow
from app.migrate import upgrade
from app.platform.models import AuditEvent
from tests.conftest import _drop_pg_database, _make_pg_database

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = Path(__file__).parent / "fixtures"
INSTANCES = 600  # bench-size runs (10,000) are for bench/, not the suite


@pytest.fixture
def pg_db_url():
    name, url = _make_pg_database()
    upgrade(url)
    yield url
    _drop_pg_database(name)


def _counts(engine) -> tuple[int, int, int, int]:
    with Session(engine) as s:
        pending = s.scalar(select(func.count()).select_from(TimerRow).where(TimerRow.status == "pending"))
        fired = s.scalar(select(func.count()).select_from(TimerRow).where(TimerRow.status == "fired"))
        audit = s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "timer.fire"))
        done = s.scalar(select(func.count()).select_from(ProcessInstance)
                        .where(ProcessInstance.status == "completed"))
    return pending, fired, audit, done


def _worker(url: str, tmp_path: Path, name: str) -> subprocess.Popen:
    env = {**os.environ, "ESTATEFLOW_DATABASE_URL": url, "ESTATEFLOW_VAR_DIR": str(tmp_path),
           "ESTATEFLOW_METER_POLL_SECONDS": "0"}
    log = (tmp_path / f"{name}.log").open("w")
    return subprocess.Popen([sys.executable, "-m", "app.cli", "worker", "--interval", "0.05"],
                            env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)


@pytest.mark.timeout(600)
def test_workers_fire_each_due_timer_once_even_when_one_is_killed(pg_db_url, tmp_path):
    from app.domains.estate.models import Community, PropertyCompany
    from app.engine.deploy import deploy_process
    from app.engine.runtime import start_instance

    engine = create_engine(pg_db_url)
    clock.freeze(datetime(2026, 3, 2, 9, 0))  # timers due a day later: long past for the workers
    try:
        with Session(engine) as s:
            company = PropertyCompany(name="和平物业")
            community = Community(company=company, code="HP-W", name="和平里小区")
            s.add_all([company, community])
            s.flush()
            deploy_process(s, "wait_timer.bpmn", (FIXTURES / "wait_timer.bpmn").read_bytes(), "test",
                           "consultant", set())
            for i in range(INSTANCES):
                start_instance(s, "wait_timer", community.id, f"W-{i}")
            s.commit()
    finally:
        clock.reset()
    assert _counts(engine)[:2] == (INSTANCES, 0)

    workers = [_worker(pg_db_url, tmp_path, "a"), _worker(pg_db_url, tmp_path, "b")]
    try:
        deadline = time.monotonic() + 240
        while _counts(engine)[1] == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        workers[0].send_signal(signal.SIGKILL)  # mid-run: its open batch rolls back
        assert _counts(engine)[0] > 0, "the kill came after the last timer: not a mid-run kill"
        workers[0].wait(timeout=30)
        workers.append(_worker(pg_db_url, tmp_path, "c"))
        while _counts(engine)[0] and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.terminate()
                worker.wait(timeout=30)
    pending, fired, audit, done = _counts(engine)
    engine.dispose()
    assert (pending, fired, audit, done) == (0, INSTANCES, INSTANCES, INSTANCES), (
        (tmp_path / "b.log").read_text()[-2000:])
