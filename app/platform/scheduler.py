"""The worker's own cron scheduler (the demo and ``estateflow worker``): runs the enabled
modules' ``schedules:`` per community, without a Prefect server.

Each tick reads what should run (:func:`app.modules.schedules.community_schedules`): a
schedule seen for the first time is due at its next cron time after that moment (a worker
started at 02:45 does not catch up the 02:30 run it missed); a due one runs its flow for that
community only (``communities=[code]``) and waits for its next time; a schedule whose module
was disabled, or upgraded to a version without it, is dropped at once. A failing flow is
logged and the others go on. Production uses Prefect deployments instead
(``estateflow schedules sync``); in production the worker leaves them to it
(setting ``worker_schedules``).
"""
from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session

from app import clock
from app.modules.catalog import Catalog
from app.modules.schedules import ScheduledFlow, community_schedules, next_run
from app.settings import PROJECT_ROOT

log = logging.getLogger(__name__)

Runner = Callable[[ScheduledFlow], object]


def load_flow_objects() -> dict[str, object]:
    """Every Prefect flow of ``workflows/`` by its name (imports ``prefect``: worker and CLI only)."""
    flows: dict[str, object] = {}
    for path in sorted((PROJECT_ROOT / "workflows").glob("*.py")):
        if path.stem.startswith("_"):
            continue
        module = importlib.import_module(f"workflows.{path.stem}")  # by name: flows use the domains
        for value in vars(module).values():
            name, fn = getattr(value, "name", None), getattr(value, "fn", None)
            if isinstance(name, str) and callable(fn) and type(value).__name__ == "Flow":
                flows[name] = value
    return flows


def load_flows() -> dict[str, Callable]:
    """Every flow of ``workflows/`` by name, as the plain function it wraps (the worker calls it
    directly: no Prefect server, no flow-run overhead)."""
    return {name: flow.fn for name, flow in load_flow_objects().items()}


def flow_runner(database_url: str | None = None, flows: dict[str, Callable] | None = None) -> Runner:
    """Runs a scheduled flow for its community (``communities=[code]``)."""
    table = flows if flows is not None else load_flows()

    def run(item: ScheduledFlow):
        return table[item.flow](communities=[item.community_code], database_url=database_url)

    return run


class Scheduler:
    """Cron times per (module, community, flow), kept in memory between ticks."""

    def __init__(self, runner: Runner, now: Callable[[], datetime] = clock.now):
        self.runner = runner
        self.now = now
        self.due: dict[str, datetime] = {}

    def due_now(self, session: Session, catalog: Catalog) -> list[ScheduledFlow]:
        """The schedules due now (their next time is moved on); forgets dropped schedules."""
        current = self.now()
        items = {s.key: s for s in community_schedules(session, catalog)}
        for key in list(self.due):
            if key not in items:
                del self.due[key]
                log.info("schedule %s stopped (module disabled or changed)", key)
        due: list[ScheduledFlow] = []
        for key, item in items.items():
            if key not in self.due:
                self.due[key] = next_run(item.cron, current)
            elif current >= self.due[key]:
                self.due[key] = next_run(item.cron, current)
                due.append(item)
        return due

    def run(self, items: list[ScheduledFlow]) -> None:
        for item in items:
            try:
                self.runner(item)
                log.info("schedule %s ran", item.key)
            except Exception:  # noqa: BLE001 - one failing flow must not stop the others
                log.exception("schedule %s failed", item.key)

    def tick(self, session: Session, catalog: Catalog) -> list[ScheduledFlow]:
        """Run what is due now; returns the schedules that ran (successfully or not)."""
        due = self.due_now(session, catalog)
        self.run(due)
        return due
