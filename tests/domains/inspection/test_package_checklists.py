"""Module packages can carry patrol checklists (``forms/<module>/checklists/*.yaml``, issue #16):
checked at upload and by ``estateflow validate`` with file and line (an unknown item type), an
id a shipped checklist has refused; once uploaded, a point of a community where the package's
module is enabled uses it, and a check-in walks its items (a failure opens a rectification with
the package's clause). SQLite and PostgreSQL."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from app.domains.inspection import checklists, runs
from app.domains.inspection.models import InspectionFinding, InspectionPoint
from app.modules.models import ModuleActivation
from app.modules.packages import check_package, read_folder, upload_package

LIFT = Path(__file__).resolve().parents[2] / "app" / "modules" / "fixtures" / "lift_inspection"
ESCALATOR = (Path(__file__).parent / "fixtures" / "escalator.yaml").read_bytes()
REL = "forms/lift_inspection/checklists/escalator.yaml"
BAD = ESCALATOR.replace(b"type: number", b"type: slider")


def _package(checklist: bytes = ESCALATOR, rel: str = REL) -> dict[str, bytes]:
    return {**read_folder(LIFT), rel: checklist}


def test_a_bad_checklist_in_a_package_is_named_with_file_and_line(tmp_path):
    assert [str(e) for e in check_package(_package(BAD)).errors] == [
        f"{REL}:11: item handrail_speed: unknown item type 'slider' (expected one of yes_no, number, photo, text)"]
    clash = check_package(_package(ESCALATOR.replace(b"id: escalator", b"id: fire_lanes"),
                                   "forms/lift_inspection/checklists/fire_lanes.yaml"))
    assert [str(e) for e in clash.errors] == [
        "forms/lift_inspection/checklists/fire_lanes.yaml:1: id: checklist 'fire_lanes' already exists "
        "(forms/inspection/checklists/fire_lanes.yaml); choose another file name"]
    folder = tmp_path / "lift_inspection"
    shutil.copytree(LIFT, folder)
    (folder / REL).parent.mkdir(parents=True)
    (folder / REL).write_bytes(BAD)
    from app.cli import main

    out = CliRunner().invoke(main, ["validate", str(folder)])
    assert out.exit_code == 1
    assert f"{folder}/{REL}:11: item handrail_speed: unknown item type 'slider'" in out.output


def test_an_uploaded_packages_checklist_is_walked_at_a_point(session, patrol):
    result = upload_package(session, _package(), actor="consultant")
    assert result.errors == [] and result.created
    found = checklists.all_checklists(session)
    assert found["escalator"].module == "lift_inspection" and "escalator" not in checklists.all_checklists()
    cid = patrol.community.id
    with pytest.raises(PermissionError):  # the package's module is not enabled here yet
        checklists.usable_in(session, "escalator", cid)
    with pytest.raises(LookupError):
        checklists.usable_in(session, "nope", cid)
    session.add(ModuleActivation(community_id=cid, module_id="lift_inspection", version="1.0.0", enabled=True,
                                 settings={}))
    session.add(InspectionPoint(community_id=cid, code="ES-01", name="商业区扶梯", kind="lift", location="",
                                checklist="escalator"))
    patrol.route.point_codes = "FL-01 FH-01 ER-01 ES-01"
    session.flush()
    assert checklists.usable_in(session, "escalator", cid).module == "lift_inspection"
    run = runs.start_run(session, patrol.route, actor="mgr")
    point = runs.point_for_checkin(session, run, "ES-01")
    checkin = runs.check_in(session, run, point, {"stop_button": False, "handrail_speed": "1.5"}, by="guard1")
    assert (checkin.items_checked, checkin.items_failed) == (2, 1)
    finding = session.scalar(select(InspectionFinding).where(InspectionFinding.checkin_id == checkin.id))
    assert finding.item == "stop_button" and finding.severity == "high" and "第三十九条" in finding.clause
