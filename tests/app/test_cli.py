"""The import commands end to end: a real process against a copy of the demo database."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, func, select

from app.domains.devices.models import Device

DOMAINS = Path(__file__).resolve().parents[1] / "domains"


def _estateflow(db_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "ESTATEFLOW_DATABASE_URL": db_url}
    return subprocess.run([sys.executable, "-m", "app.cli", *args], capture_output=True, text=True, env=env,
                          timeout=120)


def _devices(db_url: str) -> int:
    engine = create_engine(db_url)
    with engine.connect() as conn:
        count = conn.scalar(select(func.count()).select_from(Device))
    engine.dispose()
    return count


def test_import_devices_reports_bad_rows_then_imports_a_good_file(demo_db_url, tmp_path):
    before = _devices(demo_db_url)
    bad = _estateflow(demo_db_url, "import", "devices", "--community", "YC", str(DOMAINS / "devices" / "fixtures" / "devices_bad.csv"))
    assert bad.returncode == 1
    assert f"{DOMAINS / 'devices' / 'fixtures' / 'devices_bad.csv'}:4: profile: unknown profile camera_2000" in bad.stdout
    assert _devices(demo_db_url) == before

    good = tmp_path / "devices.csv"
    good.write_text("code,name,profile,address,location,building_code\n"
                    "WM-CLI-1,CLI 水表,water_meter_dn20,127.0.0.1:5020/30,1号楼,1\n", encoding="utf-8")
    ok = _estateflow(demo_db_url, "import", "devices", "--community", "YC", str(good))
    assert ok.returncode == 0, ok.stderr
    assert "1 devices ok" in ok.stdout and "imported" in ok.stdout
    assert _devices(demo_db_url) == before + 1


def test_unknown_community_is_refused(demo_db_url):
    result = _estateflow(demo_db_url, "import", "households", "--community", "NOPE",
                         str(DOMAINS / "estate" / "fixtures" / "households_good.csv"))
    assert result.returncode != 0 and "unknown community NOPE" in result.stderr
