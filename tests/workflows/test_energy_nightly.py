"""The nightly energy flow: partitions ahead, months derived, findings opened (SQLite and PostgreSQL)."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app import clock
from app.domains.energy.models import EnergyFinding, EnergyMonthlyUsage
from app.localtime import to_local
from tests.support.energy_estate import build, write_series
from workflows.energy_nightly import nightly


def test_nightly_derives_the_month_and_opens_a_leak_finding(session, db_engine, tmp_path, monkeypatch):
    from app.settings import get_settings

    monkeypatch.setenv("ESTATEFLOW_VAR_DIR", str(tmp_path))
    get_settings.cache_clear()
    estate = build(session)
    start = clock.now().replace(minute=0, second=0, microsecond=0) - timedelta(days=2)
    write_series(session, estate.meters["w0"], start, 47, lambda t: 0.03)  # a steady flow, night too
    session.commit()
    out = nightly(db_engine.url.render_as_string(hide_password=False))
    assert out[estate.community.code]["opened"] >= 1
    session.expire_all()
    assert session.scalar(select(EnergyFinding.kind).where(EnergyFinding.community_id == estate.community.id)) == "leak"
    assert session.scalar(select(EnergyMonthlyUsage.period).where(
        EnergyMonthlyUsage.meter_id == estate.meters["w0"].id).order_by(EnergyMonthlyUsage.period.desc()).limit(1)) \
        == f"{to_local(clock.now()):%Y-%m}"
    get_settings.cache_clear()
