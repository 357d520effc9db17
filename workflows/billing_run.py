"""Prefect flow: the monthly billing run (menus/fees.yaml schedules it on the 1st at 02:00).

Bills last month for every community where the fees module is enabled (or the ones named),
each community in its own transaction through ``app.domains.fees.billing_cli.execute``; a
community that is refused (anomalies, already billed) is reported and does not stop the rest.
Anomalies are never accepted automatically: an accountant reviews them on the billing page.
"""
from __future__ import annotations

from prefect import flow
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from app.domains.estate.models import Community
from app.domains.fees.billing import BillingError, previous_period
from app.domains.fees.billing_cli import execute
from app.modules.models import ModuleActivation
from app.settings import get_settings
from workflows._log import run_logger


def communities_with_fees(database_url: str | None = None) -> list[str]:
    engine = create_engine(database_url or get_settings().database_url)
    try:
        with Session(engine) as session:
            return list(session.scalars(
                select(Community.code).join(ModuleActivation, ModuleActivation.community_id == Community.id)
                .where(ModuleActivation.module_id == "fees", ModuleActivation.enabled.is_(True))
                .order_by(Community.code)))
    finally:
        engine.dispose()


def run_all(period: str | None = None, communities: list[str] | None = None, database_url: str | None = None,
            preview_only: bool = False) -> dict[str, dict]:
    """Per community code: the run's summary, or ``{"error": code, "message": ...}``."""
    period = period or previous_period()
    results: dict[str, dict] = {}
    for code in communities or communities_with_fees(database_url):
        try:
            results[code] = execute(code, period, actor="billing_flow", preview_only=preview_only,
                                    database_url=database_url)
        except BillingError as exc:
            results[code] = {"error": exc.code, "message": exc.message("en")}
    return results


@flow(name="billing_run")
def billing_run(period: str | None = None, communities: list[str] | None = None,
                database_url: str | None = None, preview_only: bool = False) -> dict[str, dict]:
    results = run_all(period, communities, database_url, preview_only)
    log = run_logger()
    for code, result in results.items():
        if "error" in result:
            log.warning("%s: %s", code, result["message"])
        else:
            log.info("%s %s: %s bills, %.2f yuan", code, result["period"], result["bills"],
                     result["total_cents"] / 100)
    return results


def accrue_all(as_of=None, communities: list[str] | None = None, database_url: str | None = None) -> dict[str, dict]:
    """Bring late fees up to date in every community with fees (one transaction each)."""
    from app.domains.fees.late_fees import accrue_late_fees

    engine = create_engine(database_url or get_settings().database_url)
    results: dict[str, dict] = {}
    try:
        for code in communities or communities_with_fees(database_url):
            with Session(engine) as session:
                community_id = session.scalar(select(Community.id).where(Community.code == code))
                result = accrue_late_fees(session, community_id, as_of, actor="late_fee_flow")
                session.commit()
                results[code] = {"bills": result.bills, "added_cents": result.added_cents}
    finally:
        engine.dispose()
    return results


@flow(name="late_fees")
def late_fees(as_of=None, communities: list[str] | None = None, database_url: str | None = None) -> dict[str, dict]:
    """Daily: late fees accrue per bill per day (idempotent, see app/domains/fees/late_fees.py)."""
    results = accrue_all(as_of, communities, database_url)
    for code, result in results.items():
        run_logger().info("%s: late fees on %d bills, +%.2f yuan", code, result["bills"],
                              result["added_cents"] / 100)
    return results


if __name__ == "__main__":
    billing_run()
