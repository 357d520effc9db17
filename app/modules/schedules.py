"""A module's ``schedules:`` per community: which flow runs when, for whom.

A menu entry's schedule (``{flow: late_fees, cron: "30 2 * * *"}``) runs its flow for each
community that has the module enabled, at the version that community enabled (an uploaded
package's newer schedules reach a community when it upgrades). Disabling the module stops it.

Two runners read this one list: the worker's own scheduler in the demo and ``estateflow
worker`` (:mod:`app.platform.scheduler`), and ``estateflow schedules sync`` in production, which
turns it into one Prefect deployment per (module, community, flow) and pauses the deployments
of modules that were disabled (:mod:`workflows.deployments`). Cron times are read in the
platform's time zone (``ESTATEFLOW_TIMEZONE``), the clock people in the community live by.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domains.estate.models import Community
from app.modules.catalog import Catalog, ModuleDef
from app.modules.models import ModuleActivation

#: every deployment this platform manages carries this tag (others on the server are left alone)
DEPLOYMENT_TAG = "estateflow-schedule"


@dataclass(frozen=True)
class ScheduledFlow:
    """One schedule of one module in one community."""

    module_id: str
    community_id: int
    community_code: str
    flow: str
    cron: str

    @property
    def key(self) -> str:
        return f"{self.module_id}/{self.community_code}/{self.flow}"

    @property
    def deployment_name(self) -> str:
        """``fees-yc-late_fees``: unique per (module, community, flow), stable across syncs."""
        return re.sub(r"[^a-z0-9_\-]", "-", f"{self.module_id}-{self.community_code}-{self.flow}".lower())

    @property
    def parameters(self) -> dict:
        """What the flow is called with: this community only."""
        return {"communities": [self.community_code]}


@dataclass(frozen=True)
class DeploymentSpec:
    """A Prefect deployment as ``estateflow schedules sync`` wants it on the server."""

    name: str
    flow: str
    cron: str
    timezone: str
    parameters: dict = field(hash=False)
    paused: bool
    tags: tuple[str, ...] = ()


def _module_at(session: Session, catalog: Catalog, row: ModuleActivation) -> ModuleDef | None:
    """The module definition a community runs: its enabled package version, else the catalogue's."""
    module = catalog.get(row.module_id)
    if module is None or module.version == row.version:
        return module
    from app.modules.packages import package_module, package_version

    package = package_version(session, row.module_id, row.version)
    if package is None:
        return module
    return package_module(package)[0] or module


def community_schedules(session: Session, catalog: Catalog, *, enabled: bool = True) -> list[ScheduledFlow]:
    """Every schedule of every module enabled (or, with ``enabled=False``, disabled) in a
    community, ordered by community, module and flow."""
    rows = session.execute(
        select(ModuleActivation, Community.code)
        .join(Community, Community.id == ModuleActivation.community_id)
        .where(ModuleActivation.enabled.is_(enabled))
        .order_by(Community.code, ModuleActivation.module_id)
    ).all()
    out: list[ScheduledFlow] = []
    for row, code in rows:
        module = _module_at(session, catalog, row)
        if module is None:
            continue
        out.extend(ScheduledFlow(module.id, row.community_id, code, s.flow, s.cron)
                   for s in module.schedules)
    return out


def deployment_plan(session: Session, catalog: Catalog) -> list[DeploymentSpec]:
    """The deployments production should have: one per schedule of an enabled module (active),
    and the schedules of disabled modules paused (a re-enable resumes the same deployment)."""
    from app.settings import get_settings

    tz = get_settings().timezone
    active = community_schedules(session, catalog)
    names = {s.deployment_name for s in active}
    paused = [s for s in community_schedules(session, catalog, enabled=False) if s.deployment_name not in names]
    return [DeploymentSpec(name=s.deployment_name, flow=s.flow, cron=s.cron, timezone=tz,
                           parameters=s.parameters, paused=is_paused,
                           tags=(DEPLOYMENT_TAG, f"module:{s.module_id}", f"community:{s.community_code}"))
            for group, is_paused in ((active, False), (paused, True)) for s in group]


def next_run(cron: str, after_utc: datetime) -> datetime:
    """The first time strictly after ``after_utc`` (naive UTC) that ``cron`` names in the
    platform's time zone, as naive UTC."""
    from cronsim import CronSim

    from app.localtime import zone

    local = after_utc.replace(tzinfo=timezone.utc).astimezone(zone())
    return next(CronSim(cron, local)).astimezone(timezone.utc).replace(tzinfo=None)


def cron_error(cron: str) -> str | None:
    """Why ``cron`` is not a valid 5-field cron expression (None when it is)."""
    from cronsim import CronSim, CronSimError

    if len(cron.split()) != 5:
        return "must be a cron expression with 5 fields, e.g. \"0 2 1 * *\""
    try:
        CronSim(cron, datetime(2026, 1, 1, tzinfo=timezone.utc))
    except CronSimError as exc:
        return f"not a valid cron expression ({exc})"
    return None
