"""The import commands end to end: a real process against a copy of the demo database."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
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


# --------------------------------------------------------------------------- module packages

LIFT = Path(__file__).resolve().parent / "modules" / "fixtures" / "lift_inspection"


@pytest.mark.timeout(1200)  # six CLI processes; slow on a shared machine
def test_module_pack_validate_upload(demo_db_url, tmp_path):
    from app.modules.models import ModulePackage

    def packages() -> int:
        engine = create_engine(demo_db_url)
        with engine.connect() as conn:
            count = conn.scalar(select(func.count()).select_from(ModulePackage))
        engine.dispose()
        return count

    checked = _estateflow(demo_db_url, "validate", str(LIFT))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "all assets valid" in checked.stdout

    archive = tmp_path / "lift.zip"
    packed = _estateflow(demo_db_url, "module", "pack", str(LIFT), "-o", str(archive))
    assert packed.returncode == 0, packed.stdout + packed.stderr
    assert f"packed lift_inspection 1.0.0: {archive}" in packed.stdout

    broken = tmp_path / "lift"
    import shutil

    shutil.copytree(LIFT, broken)
    inspect = broken / "forms" / "lift_inspection" / "inspect.yaml"
    inspect.write_text(inspect.read_text("utf-8").replace("type: choice", "type: colour"), "utf-8")
    refused = _estateflow(demo_db_url, "module", "upload", str(broken))
    assert refused.returncode == 1
    assert f"{broken}/forms/lift_inspection/inspect.yaml:8: fields[0].type: unknown field type 'colour'" in refused.stdout
    assert "nothing stored" in refused.stderr
    assert packages() == 0

    uploaded = _estateflow(demo_db_url, "module", "upload", str(archive))
    assert uploaded.returncode == 0, uploaded.stdout + uploaded.stderr
    assert "uploaded lift_inspection 1.0.0" in uploaded.stdout
    again = _estateflow(demo_db_url, "module", "validate", str(LIFT))
    assert again.returncode == 0 and "valid: lift_inspection 1.0.0" in again.stdout, again.stdout
    inspect.write_text((LIFT / "forms/lift_inspection/inspect.yaml").read_text("utf-8").replace(
        "max_length: 1000", "max_length: 999"), "utf-8")
    immutable = _estateflow(demo_db_url, "module", "upload", str(broken))
    assert immutable.returncode == 1
    assert "menus/lift_inspection.yaml:3: version: version 1.0.0 of module 'lift_inspection' was already " \
           "uploaded with other content" in immutable.stdout
    assert packages() == 1


def test_resident_link_lets_a_family_login_act_for_another_household(demo_db_url):
    ok = _estateflow(demo_db_url, "resident", "link", "--household", "YC-1-102", "--login", "resident_fx",
                     "--name", "女儿")
    assert ok.returncode == 0, ok.stderr
    assert "resident_fx acts for:" in ok.stdout and "YC-1-102" in ok.stdout
    again = _estateflow(demo_db_url, "resident", "link", "--household", "YC-1-102", "--login", "resident_fx")
    assert again.stdout == ok.stdout  # linking twice changes nothing
    refused = _estateflow(demo_db_url, "resident", "link", "--household", "YC-1-102", "--login", "manager_yc")
    assert refused.returncode != 0 and "not a resident login" in refused.stderr
