"""Production schedules: one Prefect deployment per (module, community, flow).

``estateflow schedules sync`` (run it from the installation folder, after enabling or
disabling modules, or from a cron job) reads :func:`app.modules.schedules.deployment_plan`
and makes the Prefect server match it: every schedule of an enabled module becomes (or stays)
an active deployment that calls its flow with ``communities=[code]``; the deployments of a
module disabled in a community are paused (enabling it again resumes them); a deployment of
ours (tag ``estateflow-schedule``) that the plan no longer names is paused, never deleted, so
its run history stays. Deployments without our tag are left alone.
"""
from __future__ import annotations

from pathlib import Path

from app.modules.schedules import DEPLOYMENT_TAG, DeploymentSpec

INSTALLATION = Path(__file__).resolve().parents[1]


def to_pause(plan: list[DeploymentSpec], live: dict[str, bool]) -> list[str]:
    """Names of our live deployments (name -> paused) that must be paused: not in the plan,
    or paused in it, and not paused yet."""
    wanted = {spec.name: spec.paused for spec in plan}
    return sorted(name for name, paused in live.items() if not paused and wanted.get(name, True))


def sync(plan: list[DeploymentSpec], work_pool: str = "estateflow") -> dict[str, list[str]]:
    """Apply the plan on the Prefect server (``PREFECT_API_URL``); returns what changed."""
    from prefect import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterTags
    from prefect.schedules import Cron

    from app.platform.scheduler import load_flow_objects

    flows = load_flow_objects()
    applied: list[str] = []
    for spec in plan:
        if spec.paused:
            continue
        deployment = flows[spec.flow].to_deployment(
            spec.name, schedules=[Cron(spec.cron, timezone=spec.timezone)], parameters=spec.parameters,
            tags=list(spec.tags), paused=False, work_pool_name=work_pool,
            # the process worker runs each flow in the installation folder, where its entrypoint
            # (workflows/<flow>.py) and the app are; otherwise it starts in a temporary folder
            job_variables={"working_dir": str(INSTALLATION)})
        deployment.apply(work_pool_name=work_pool)
        applied.append(spec.name)
    with get_client(sync_client=True) as client:
        ours = client.read_deployments(
            deployment_filter=DeploymentFilter(tags=DeploymentFilterTags(all_=[DEPLOYMENT_TAG])))
        by_name = {d.name: d for d in ours}
        paused = to_pause(plan, {name: bool(d.paused) for name, d in by_name.items()})
        for name in paused:
            client.pause_deployment(by_name[name].id)
    return {"applied": applied, "paused": paused}
