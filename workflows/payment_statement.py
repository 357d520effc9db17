"""Prefect flow: read yesterday's bill file of each online gateway and list the differences
with our books for the accountant (daily; ``app.domains.fees.statements``).

The file is the merchant's, not a community's: every run compares the whole file (re-reading a
day replaces its differences, so the per-community schedules running it in turn are harmless);
``communities`` only narrows the counts it reports.
"""
from __future__ import annotations

from datetime import date, timedelta

from prefect import flow
from sqlalchemy import create_engine, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.domains.fees.gateways import GatewayError, get_gateway
from app.domains.fees.gateways.settings import get_payment_settings
from app.domains.fees.statements import StatementUnreadable, read_statement, reconcile_statement
from app.platform.discovery import import_all_models
from app.settings import get_settings
from workflows._log import run_logger

STATEMENT_GATEWAYS = ("wechatpay", "alipay")


def statement(database_url: str | None = None, bill_date: date | None = None, gateways: list[str] | None = None,
              communities: list[str] | None = None) -> dict:
    import_all_models()
    from app.domains.estate.models import Community
    from app.domains.fees.models import StatementDifference, StatementRun
    from app.localtime import local_today

    day = bill_date or local_today() - timedelta(days=1)
    names = gateways if gateways is not None else [g for g in (get_payment_settings().gateway,)
                                                    if g in STATEMENT_GATEWAYS]
    engine = create_engine(database_url or get_settings().database_url)
    outcome: dict = {"bill_date": day.isoformat(), "gateways": {}}
    try:
        with Session(engine) as session:
            ids = None
            if communities is not None:
                ids = list(session.scalars(select(Community.id).where(Community.code.in_(communities))))
            for name in names:
                try:
                    rows = read_statement(get_gateway(name), day)
                    run = reconcile_statement(session, name, day, rows)
                    session.commit()
                except (GatewayError, StatementUnreadable) as exc:
                    session.rollback()
                    outcome["gateways"][name] = {"error": str(exc)[:300]}
                    continue
                except IntegrityError:  # another community's run read the same file at the same moment
                    session.rollback()
                    run = session.scalar(select(StatementRun).where(StatementRun.gateway == name,
                                                                    StatementRun.bill_date == day))
                query = select(func.count(StatementDifference.id)).where(StatementDifference.run_id == run.id)
                if ids is not None:
                    query = query.where(StatementDifference.community_id.in_(ids)
                                        | StatementDifference.community_id.is_(None))
                outcome["gateways"][name] = {"rows": run.gateway_rows, "matched": run.matched,
                                             "differences": session.scalar(query)}
    finally:
        engine.dispose()
    return outcome


@flow(name="payment_statement")
def payment_statement(database_url: str | None = None, communities: list[str] | None = None,
                      bill_date: str | None = None) -> dict:
    """``bill_date`` (YYYY-MM-DD): default yesterday, local time."""
    outcome = statement(database_url, date.fromisoformat(bill_date) if bill_date else None, communities=communities)
    run_logger().info("payment statement: %s", outcome)
    return outcome
