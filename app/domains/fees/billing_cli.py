"""Billing runs outside a web request: ``estateflow billing run`` and the Prefect flow.

``execute`` opens its own sessions (it is the caller, like a flow): the preview is committed
first so the run's row exists, then the issue runs in one transaction while a second
connection records progress on the run's row (PostgreSQL; SQLite allows one writer, so
there the row shows progress when the run commits). A refused or failed run leaves no bills
and marks the row ``failed``.

Usage (wired by the CLI as ``estateflow billing run``)::

    billing run --community YC --period 2026-11 [--preview] [--accept-anomalies]
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from sqlalchemy import create_engine, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from app.domains.estate.models import Community
from app.domains.fees import billing
from app.domains.fees.billing import BillingError
from app.domains.fees.models import BillingRun


def _progress_writer(engine: Engine, run_id: int):
    if engine.dialect.name == "sqlite":
        return None

    def write(done: int, total: int) -> None:
        with engine.begin() as conn:
            conn.execute(update(BillingRun).where(BillingRun.id == run_id)
                         .values(status="running", progress=done, total=total))

    return write


def _mark_failed(engine: Engine, run_id: int) -> None:
    with engine.begin() as conn:
        conn.execute(update(BillingRun).where(BillingRun.id == run_id, BillingRun.status != "issued")
                     .values(status="failed"))


def execute(community_code: str, period: str, *, actor: str = "billing", preview_only: bool = False,
            accept_anomalies: bool = False, database_url: str | None = None) -> dict[str, Any]:
    """Preview (and unless ``preview_only``, issue) one community's period; returns the summary.

    Raises ``BillingError`` (nothing written) when refused.
    """
    from app.settings import get_settings

    engine = create_engine(database_url or get_settings().database_url)
    try:
        with Session(engine) as session:
            community = session.scalar(select(Community).where(Community.code == community_code))
            if community is None:
                raise BillingError("not_enabled")
            existing = billing.get_run(session, community.id, period)
            if existing is not None and existing.status == "issued":
                billing.issue(session, community.id, period, actor)  # raises already_billed
            summary = billing.preview(session, community.id, period, actor).summary()
            session.commit()
            if preview_only:
                return {**summary, "status": "preview"}
            run_id = billing.get_run(session, community.id, period).id
        with Session(engine) as session:
            try:
                run = billing.issue(session, community.id, period, actor, accept_anomalies=accept_anomalies,
                                    on_progress=_progress_writer(engine, run_id))
                result = {**run.summary, "run_id": run.id, "status": run.status}
                session.commit()
            except BillingError:
                session.rollback()  # refused (e.g. anomalies): the run stays a preview
                raise
            except Exception:
                session.rollback()
                _mark_failed(engine, run_id)
                raise
        return result
    finally:
        engine.dispose()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="estateflow billing run",
                                     description="Preview or issue a community's bills for a month.")
    parser.add_argument("--community", required=True, help="community code, e.g. YC")
    parser.add_argument("--period", help="YYYY-MM (default: last month)")
    parser.add_argument("--preview", action="store_true", help="only compute and show the preview")
    parser.add_argument("--accept-anomalies", action="store_true",
                        help="issue even with anomalies (the affected charges are left out)")
    parser.add_argument("--database-url", help="default: ESTATEFLOW_DATABASE_URL")
    parser.add_argument("--lang", choices=["zh", "en"], default="en")
    return parser


def main(argv: list[str] | None = None) -> int:
    """CLI entry: prints a summary and, as the last line, the summary as JSON. Exit 1 if refused."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["run"]:
        argv = argv[1:]
    args = _parser().parse_args(argv)
    period = args.period or billing.previous_period()
    try:
        summary = execute(args.community, period, actor="cli", preview_only=args.preview,
                          accept_anomalies=args.accept_anomalies, database_url=args.database_url)
    except BillingError as exc:
        print(exc.message(args.lang), file=sys.stderr)
        print(json.dumps({"community": args.community, "period": period, "error": exc.code}))
        return 1
    verb = "preview" if args.preview else "issued"
    print(f"{args.community} {period} {verb}: {summary['bills']} bills, "
          f"{summary['total_cents'] / 100:.2f} yuan, {len(summary['anomalies'])} anomalies")
    for building in summary["per_building"]:
        print(f"  building {building['building']}: {building['households']} households, "
              f"{building['bills']} bills, {building['cents'] / 100:.2f} yuan, {building['anomalies']} anomalies")
    for anomaly in summary["anomalies"][:50]:
        print(f"  anomaly: {anomaly['kind']} {anomaly['household']} {anomaly.get('device', '')} "
              f"{anomaly.get('detail', '')}")
    print(json.dumps({"community": args.community, "period": period, **summary}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
