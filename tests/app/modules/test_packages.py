"""Module packages: a consultant's module (menu + BPMN + forms + templates) validated as one
unit, stored in the database, immutable per version, enabled per community like a shipped
module. Service level, on SQLite and PostgreSQL (``session``)."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.assets.validate import validate_paths
from app.engine import complete_task
from app.engine.models import ProcessInstance, ProcessVersion, TaskRow
from app.forms.models import ProcessFormPin
from app.modules.activation import disable_module, enable_module, module_states
from app.modules.catalog import load_catalog
from app.modules.models import ModulePackage
from app.modules.packages import (
    check_package,
    pack_folder,
    read_folder,
    read_uploads,
    read_zip,
    upload_package,
    with_packages,
)
from app.platform.authoring import upload_process
from app.platform.processes import ProcessNotAllowed, start_process, startable_processes
from app.settings import PROJECT_ROOT

LIFT = Path(__file__).parent / "fixtures" / "lift_inspection"
MENU = "menus/lift_inspection.yaml"
INSPECT = "forms/lift_inspection/inspect.yaml"


@pytest.fixture
def files() -> dict[str, bytes]:
    return read_folder(LIFT)


@pytest.fixture
def communities(two_communities):
    return two_communities


def _catalog(session):
    return with_packages(session, load_catalog(PROJECT_ROOT))


def _counts(session) -> tuple[int, int, int]:
    return (session.scalar(select(func.count()).select_from(ModulePackage)),
            session.scalar(select(func.count()).select_from(ProcessVersion)),
            session.scalar(select(func.count()).select_from(ProcessFormPin)))


def test_the_fixture_package_is_valid_as_one_unit(files):
    assert sorted(files) == [
        "bpmn/lift_inspection/lift_inspection.bpmn",
        "forms/lift_inspection/certify.yaml", "forms/lift_inspection/escalate.yaml",
        "forms/lift_inspection/inspect.yaml", "forms/lift_inspection/rectify.yaml",
        "forms/lift_inspection/schedule.yaml", MENU, "menus/notifications/lift_inspection.yaml",
    ]
    check = check_package(files)
    assert check.errors == []
    assert check.module.id == "lift_inspection" and check.module.version == "1.0.0"
    assert check.processes == {"bpmn/lift_inspection/lift_inspection.bpmn": "lift_inspection"}


def test_validate_a_consultants_folder_outside_the_installation(tmp_path):
    """No ESTATEFLOW_ASSETS_DIR: shipped forms and operations plus the folder's own."""
    assert validate_paths([LIFT]) == []
    folder = tmp_path / "lift"
    shutil.copytree(LIFT, folder)
    (folder / "forms/lift_inspection/inspect.yaml").write_text(
        (LIFT / INSPECT).read_text("utf-8").replace("type: choice", "type: colour"), "utf-8")
    errors = [str(e) for e in validate_paths([folder / "bpmn"])]
    assert any(e.startswith(f"{folder}/forms/lift_inspection/inspect.yaml:8: fields[0].type: unknown field type")
               for e in errors), errors
    assert not any("ef-package" in e or "/tmp/ef-" in e for e in errors), errors


def test_upload_enable_in_one_community_and_walk_it_through(session, communities, files):
    one, two = communities
    result = upload_package(session, files, actor="consultant")
    assert result.errors == [] and result.created
    session.commit()
    [version] = session.scalars(select(ProcessVersion)).all()
    assert (version.process_id, version.module_id, version.version) == ("lift_inspection", "lift_inspection", 1)
    pinned = set(session.scalars(select(ProcessFormPin.form_id)))
    assert pinned == {"lift_inspection/schedule", "lift_inspection/inspect", "lift_inspection/rectify",
                      "lift_inspection/escalate", "lift_inspection/certify"}

    catalog = _catalog(session)
    module = catalog.get("lift_inspection")
    assert module is not None and module.package_id == result.package.id
    assert module.title == {"zh": "电梯年检", "en": "Lift annual inspection"}
    assert [s.name for s in module.settings] == ["inspection_hours"]

    # not enabled anywhere yet: startable nowhere
    with pytest.raises(ProcessNotAllowed):
        start_process(session, community_id=one, process_id="lift_inspection", actor="manager_yc")
    enable_module(session, catalog=catalog, community_id=one, module_id="lift_inspection",
                  settings={"inspection_hours": 24}, actor="manager_yc")
    session.commit()
    states = {s.module.id: s for s in module_states(session, catalog, one)}
    assert states["lift_inspection"].enabled and states["lift_inspection"].version == "1.0.0"
    assert not {s.module.id: s for s in module_states(session, catalog, two)}["lift_inspection"].enabled
    assert "lift_inspection" in {v.process_id for v in startable_processes(session, one)}
    assert "lift_inspection" not in {v.process_id for v in startable_processes(session, two)}
    with pytest.raises(ProcessNotAllowed):
        start_process(session, community_id=two, process_id="lift_inspection", actor="manager_fx")

    instance = start_process(session, community_id=one, process_id="lift_inspection", actor="manager_yc",
                             business_key="LIFT-2026-01")
    session.commit()

    def open_task(element: str) -> TaskRow:
        row = session.scalar(select(TaskRow).where(TaskRow.instance_id == instance.id,
                                                   TaskRow.status == "ready"))
        assert row is not None and row.element_id == element, row and row.element_id
        return row

    row = open_task("schedule")
    assert row.role == "manager" and row.community_id == one
    complete_task(session, row.id, {"lift_no": "L-3", "planned_date": "2026-12-10"}, "manager_yc")
    row = open_task("inspect")
    assert row.role == "technician" and row.title == "Inspect lift 电梯检验 L-3"
    complete_task(session, row.id, {"result": "fail", "findings": "门锁磨损"}, "tech_yc1")
    row = open_task("rectify")  # the failing path loops back through rectify to inspect
    complete_task(session, row.id, {"fix_notes": "更换门锁"}, "tech_yc1")
    row = open_task("inspect")
    complete_task(session, row.id, {"result": "pass"}, "tech_yc1")
    row = open_task("certify")
    assert row.role == "front_desk"
    complete_task(session, row.id, {"certificate_no": "TS-2026-88"}, "frontdesk_yc")
    session.commit()
    assert session.get(ProcessInstance, instance.id).status == "completed"

    disable_module(session, catalog=catalog, community_id=one, module_id="lift_inspection", actor="admin")
    with pytest.raises(ProcessNotAllowed):
        start_process(session, community_id=one, process_id="lift_inspection", actor="manager_yc")


def test_a_version_is_immutable(session, files):
    first = upload_package(session, files, actor="consultant")
    session.commit()
    again = upload_package(session, files, actor="consultant")
    assert again.errors == [] and not again.created and again.package.id == first.package.id

    changed = dict(files)
    changed[INSPECT] = files[INSPECT].replace(b"max_length: 1000", b"max_length: 900")
    before = _counts(session)
    refused = upload_package(session, changed, actor="consultant")
    assert [str(e) for e in refused.errors] == [
        "menus/lift_inspection.yaml:3: version: version 1.0.0 of module 'lift_inspection' was already "
        "uploaded with other content; an uploaded version never changes: raise the version "
        "(e.g. \"1.0.1\") and upload again"]
    assert _counts(session) == before

    changed[MENU] = files[MENU].replace(b'version: "1.0.0"', b'version: "1.0.1"')
    newer = upload_package(session, changed, actor="consultant")
    assert newer.errors == [] and newer.created
    session.commit()
    assert _catalog(session).get("lift_inspection").version == "1.0.1"


def test_a_broken_package_stores_nothing(session, files):
    broken = dict(files)
    broken[INSPECT] = files[INSPECT].replace(b"type: choice", b"type: colour")
    result = upload_package(session, broken, actor="consultant")
    assert result.package is None
    errors = [str(e) for e in result.errors]
    assert errors[0].startswith("forms/lift_inspection/inspect.yaml:8: fields[0].type: unknown field type 'colour'")
    # the process naming the broken form is refused too, with its real line
    assert "bpmn/lift_inspection/lift_inspection.bpmn:32: inspect: unknown form 'lift_inspection/inspect'" in errors
    assert _counts(session) == (0, 0, 0)


@pytest.mark.parametrize("change, expected", [
    (lambda f: f.pop("menus/lift_inspection.yaml"),
     "menus/<id>.yaml:0: file: the package has no menu entry (menus/<id>.yaml)"),
    (lambda f: f.__setitem__("bpmn/other/x.bpmn", f["bpmn/lift_inspection/lift_inspection.bpmn"]),
     "bpmn/other/x.bpmn:0: file: belongs to module 'other', but this package is module 'lift_inspection'"),
    (lambda f: f.__setitem__("README.md", b"hi"),
     "README.md:0: file: not part of a module package"),
    (lambda f: f.__setitem__("forms/lift_inspection/extra.yaml",
                             b"id: lift_inspection/extra\ntitle: {zh: x, en: x}\nfields: []\n"),
     "forms/lift_inspection/extra.yaml:1: file: not listed under forms: in menus/lift_inspection.yaml"),
    (lambda f: f.__setitem__("menus/lift_inspection.yaml", f["menus/lift_inspection.yaml"].replace(
        b"schedules: []", b"schedules:\n  - {flow: energy_analysis, cron: \"0 3 * * *\"}")),
     "menus/lift_inspection.yaml:19: schedules[0].flow: unknown flow 'energy_analysis'"),
    (lambda f: f.__setitem__("menus/lift_inspection.yaml", f["menus/lift_inspection.yaml"].replace(
        b"depends_on: []", b"depends_on: [lifts]")),
     "menus/lift_inspection.yaml:9: depends_on[0]: unknown module 'lifts'"),
    (lambda f: f.__setitem__("menus/notifications/lift_inspection.yaml",
                             b"task.assigned:\n  title: {zh: a, en: a}\n  body: {zh: b, en: b}\n"),
     "menus/notifications/lift_inspection.yaml:1: task.assigned: a package's templates are named lift_inspection.<name>"),
])
def test_package_mistakes_each_get_one_precise_message(files, change, expected):
    change(files)
    errors = [str(e) for e in check_package(files).errors]
    assert any(e.startswith(expected) for e in errors), errors


def test_a_package_cannot_replace_a_shipped_module(files):
    notice = {p.replace("lift_inspection", "notice"): d.replace(b"id: lift_inspection\n", b"id: notice\n")
              for p, d in files.items()}
    errors = [str(e) for e in check_package(notice).errors]
    assert any(e.startswith("menus/notice.yaml:2: id: module 'notice' ships with the installation") for e in errors)


def test_zip_and_multi_file_picker_carry_the_same_package(files, tmp_path):
    zipped, errors = read_zip(pack_folder(LIFT))
    assert errors == [] and zipped == files
    # a zip with a top folder, as an archiver makes it
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for rel, data in files.items():
            archive.writestr(f"lift_inspection/{rel}", data)
    assert read_zip(buffer.getvalue())[0] == files
    # bare names from a multi-file picker are placed by content
    picked, errors = read_uploads([(Path(p).name, d) for p, d in files.items()
                                   if not p.startswith("menus/notifications/")])
    assert errors == []
    assert picked == {p: d for p, d in files.items() if not p.startswith("menus/notifications/")}
    unsafe, errors = read_zip(_zip({"../evil.yaml": b"x"}))
    assert unsafe == {} and "unsafe path" in str(errors[0])


def _zip(entries: dict[str, bytes]) -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_a_process_upload_must_name_a_module_that_owns_it(session, files):
    notice = (PROJECT_ROOT / "bpmn/notice/notice.bpmn").read_bytes()

    def upload(module_id, data=notice):
        return [str(e) for e in upload_process(session, bpmn_name="notice.bpmn", bpmn_data=data, forms={},
                                               module_id=module_id, actor="consultant").errors]

    assert upload("lifts")[0].startswith("notice.bpmn:0: module: unknown module 'lifts'")
    assert upload(None)[0].startswith("notice.bpmn:0: module: name the module this process belongs to")
    assert upload("notice") == []
    assert upload("repair") == ["notice.bpmn:0: notice: process id 'notice' belongs to module 'notice', not "
                                "'repair'; a process id belongs to one module"]
    upload_package(session, files, actor="consultant")
    lift = files["bpmn/lift_inspection/lift_inspection.bpmn"]
    assert upload("lift_inspection", lift) == []  # the package's own process, unchanged: nothing new
    assert session.scalar(select(func.count()).select_from(ModulePackage)) == 1


def test_a_package_cannot_take_another_modules_process_id(session, files):
    stolen = dict(files)
    stolen["bpmn/lift_inspection/lift_inspection.bpmn"] = (PROJECT_ROOT / "bpmn/notice/notice.bpmn").read_bytes()
    upload_process(session, bpmn_name="notice.bpmn", bpmn_data=stolen["bpmn/lift_inspection/lift_inspection.bpmn"],
                   forms={}, module_id="notice", actor="init")
    errors = [str(e) for e in upload_package(session, stolen, actor="consultant").errors]
    assert "bpmn/lift_inspection/lift_inspection.bpmn:1: notice: process id 'notice' belongs to module 'notice'; " \
           "a process id belongs to one module (rename the process)" in errors
    assert session.scalar(select(func.count()).select_from(ModulePackage)) == 0


def test_a_process_without_a_module_starts_nowhere(session, communities):
    from app.engine import deploy_process
    from app.forms.definitions import FormRegistry

    one, _ = communities
    data = (PROJECT_ROOT / "bpmn/notice/notice.bpmn").read_bytes()
    deploy_process(session, "notice.bpmn", data, None, "x", set(FormRegistry(PROJECT_ROOT / "forms").ids()))
    with pytest.raises(ProcessNotAllowed):
        start_process(session, community_id=one, process_id="notice", actor="x")
    assert startable_processes(session, one) == []


def test_a_package_modules_settings_are_read_like_a_shipped_ones(session, communities, files):
    from app.platform.module_settings import module_settings

    one, two = communities
    upload_package(session, files, actor="consultant")
    enable_module(session, catalog=_catalog(session), community_id=one, module_id="lift_inspection",
                  settings={"inspection_hours": 12}, actor="manager_yc")
    assert module_settings(session, one, "lift_inspection") == {"inspection_hours": 12}
    assert module_settings(session, two, "lift_inspection") == {"inspection_hours": 48}


def _version_two(files: dict[str, bytes]) -> dict[str, bytes]:
    v2 = dict(files)
    v2[MENU] = files[MENU].replace(b'version: "1.0.0"', b'version: "1.1.0"')
    v2["bpmn/lift_inspection/lift_inspection.bpmn"] = files["bpmn/lift_inspection/lift_inspection.bpmn"].replace(
        b'name="Record certificate', b'name="Record the certificate')
    v2["forms/lift_inspection/certify.yaml"] = files["forms/lift_inspection/certify.yaml"] + (
        b"  - name: inspector\n    type: text\n    label: {zh: \xe6\xa3\x80\xe9\xaa\x8c\xe5\x91\x98, en: Inspector}\n"
        b"    max_length: 40\n")
    return v2


def test_a_new_version_reaches_a_community_only_when_it_upgrades(session, communities, files):
    from app.modules.activation import upgrade_module

    one, two = communities
    upload_package(session, files, actor="consultant")
    for cid in (one, two):
        enable_module(session, catalog=_catalog(session), community_id=cid, module_id="lift_inspection",
                      actor="manager")
    old = start_process(session, community_id=one, process_id="lift_inspection", actor="m", business_key="OLD")
    session.commit()

    assert upload_package(session, _version_two(files), actor="consultant").errors == []
    session.commit()
    catalog = _catalog(session)
    assert catalog.get("lift_inspection").version == "1.1.0"
    state = {s.module.id: s for s in module_states(session, catalog, one)}["lift_inspection"]
    assert state.version == "1.0.0" and state.upgrade_available
    assert [c["en"] for c in state.upgrade_changes] == [
        "process lift_inspection changed", "form lift_inspection/certify changed (fields added: inspector)"]
    # no community runs 1.1.0 yet
    for cid in (one, two):
        assert {v.process_id: v.version for v in startable_processes(session, cid)} == {"lift_inspection": 1}
        assert start_process(session, community_id=cid, process_id="lift_inspection", actor="m").version_id == \
            old.version_id

    upgrade_module(session, catalog=catalog, community_id=one, module_id="lift_inspection", actor="manager_yc")
    session.commit()
    assert {s.module.id: s for s in module_states(session, catalog, one)}["lift_inspection"].upgrade_changes is None
    new = start_process(session, community_id=one, process_id="lift_inspection", actor="m", business_key="NEW")
    assert session.get(ProcessVersion, new.version_id).version == 2
    assert {v.process_id: v.version for v in startable_processes(session, two)} == {"lift_inspection": 1}

    # the instance started on 1.0.0 keeps its process version
    session.commit()
    assert session.get(ProcessInstance, old.id).version_id != new.version_id


def test_a_call_activity_cycle_across_files_is_refused_with_file_line_and_id(files):
    cycle = Path(__file__).parent / "fixtures" / "call_cycle"
    package = dict(files)
    for name in ("ping", "pong"):
        package[f"bpmn/lift_inspection/{name}.bpmn"] = (cycle / f"{name}.bpmn").read_bytes()
    package[MENU] = files[MENU].replace(
        b"processes: [bpmn/lift_inspection/lift_inspection.bpmn]",
        b"processes: [bpmn/lift_inspection/lift_inspection.bpmn, bpmn/lift_inspection/ping.bpmn, "
        b"bpmn/lift_inspection/pong.bpmn]")
    errors = [str(e) for e in check_package(package).errors]
    assert errors == [
        "bpmn/lift_inspection/ping.bpmn:8: call_pong: call activity 'Call pong' calls 'pong' (in "
        "bpmn/lift_inspection/pong.bpmn), which leads back to its own process (ping → pong → ping): "
        "an instance would start copies of itself without end",
        "bpmn/lift_inspection/pong.bpmn:8: call_ping: call activity 'Call ping' calls 'ping' (in "
        "bpmn/lift_inspection/ping.bpmn), which leads back to its own process (pong → ping → pong): "
        "an instance would start copies of itself without end",
    ]


def test_notify_uses_the_templates_of_the_package_version_the_instance_runs(session, communities, files):
    from flask_appbuilder.security.sqla.models import User

    from app.domains.notifications.models import Notification

    one, _ = communities
    session.add(User(first_name="Wang", last_name="Li", username="manager_yc", email="m@example.com", active=True))
    package = dict(files)
    bpmn = "bpmn/lift_inspection/lift_inspection.bpmn"
    package[bpmn] = files[bpmn].replace(b'camunda:topic="notify.log"', b'camunda:topic="notify.send"').replace(
        b'<camunda:inputParameter name="channel">notice_board</camunda:inputParameter>',
        b'<camunda:inputParameter name="template">lift_inspection.certified</camunda:inputParameter>'
        b'<camunda:inputParameter name="to_users">manager_yc</camunda:inputParameter>').replace(
        "<camunda:inputParameter name=\"message\">【电梯年检】${lift_no} 合格，合格证 ${certificate_no}"
        "</camunda:inputParameter>".encode(), b"")
    assert upload_package(session, package, actor="consultant").errors == []
    enable_module(session, catalog=_catalog(session), community_id=one, module_id="lift_inspection",
                  actor="manager_yc")
    instance = start_process(session, community_id=one, process_id="lift_inspection", actor="manager_yc")
    for values in ({"lift_no": "L-3", "planned_date": "2026-12-10"}, {"result": "pass"},
                   {"certificate_no": "TS-2026-88"}):
        row = session.scalar(select(TaskRow).where(TaskRow.instance_id == instance.id, TaskRow.status == "ready"))
        complete_task(session, row.id, values, "manager_yc")
    session.commit()
    assert session.get(ProcessInstance, instance.id).status == "completed"
    [sent] = session.scalars(select(Notification).where(Notification.template == "lift_inspection.certified"))
    assert (sent.status, sent.title) == ("sent", "电梯年检合格：L-3")
    assert sent.body == "电梯 L-3 年检合格，合格证 TS-2026-88。"


def test_a_device_profile_from_a_package_can_be_chosen_when_a_device_is_added(session, communities, files):
    from app.domains.devices.registry import check_device_fields, mqtt_profile_lookup, profile_of
    from app.domains.devices.models import Device

    one, _ = communities
    shipped = (PROJECT_ROOT / "connectors/profiles/hydrant_pressure_sensor.yaml").read_bytes()
    package = dict(files)
    package["connectors/profiles/lift_monitor_x1.yaml"] = shipped.replace(
        b"name: hydrant_pressure_sensor", b"name: lift_monitor_x1")
    with pytest.raises(ValueError, match="unknown device profile 'lift_monitor_x1'"):
        check_device_fields("lift_monitor_x1", "LM-1", session)
    assert upload_package(session, package, actor="consultant").errors == []
    session.commit()
    assert check_device_fields("lift_monitor_x1", "LM-1", session).protocol == "mqtt"
    device = Device(community_id=one, code="LM-1", name="1号梯监测", profile="lift_monitor_x1", address="LM-1")
    session.add(device)
    session.commit()
    assert profile_of(device).name == "lift_monitor_x1"
    assert mqtt_profile_lookup(session)("YC", "LM-1").name == "lift_monitor_x1"
    # the module menu counts what the new model provides (security needs pressure.read)
    states = {s.module.id: s for s in module_states(session, _catalog(session), one)}
    assert states["security"].capabilities["pressure.read"] is True
    # a package never redefines a shipped model
    clash = dict(files)
    clash["connectors/profiles/hydrant_pressure_sensor.yaml"] = shipped
    clash[MENU] = files[MENU].replace(b'version: "1.0.0"', b'version: "1.0.1"')
    assert "connectors/profiles/hydrant_pressure_sensor.yaml:1: name: device profile 'hydrant_pressure_sensor' " \
           "ships with the installation" in " ".join(str(e) for e in check_package(clash).errors)


def test_a_version_that_changes_only_a_form_reaches_new_instances(session, communities, files):
    """1.0.1 changes a form and not the BPMN: the unchanged process still gets a new process
    version pinned to the new form (else new instances would keep the old one); the instance
    started before keeps its form."""
    from app.forms.definitions import FormRegistry
    from app.forms.versions import form_for_task
    from app.modules.activation import upgrade_module

    one, _ = communities
    upload_package(session, files, actor="consultant")
    enable_module(session, catalog=_catalog(session), community_id=one, module_id="lift_inspection",
                  actor="manager")
    old = start_process(session, community_id=one, process_id="lift_inspection", actor="m", business_key="OLD")
    session.commit()
    v101 = dict(files)
    v101[MENU] = files[MENU].replace(b'version: "1.0.0"', b'version: "1.0.1"')
    v101["forms/lift_inspection/certify.yaml"] = _version_two(files)["forms/lift_inspection/certify.yaml"]
    assert v101["bpmn/lift_inspection/lift_inspection.bpmn"] == files["bpmn/lift_inspection/lift_inspection.bpmn"]
    assert upload_package(session, v101, actor="consultant").errors == []
    upgrade_module(session, catalog=_catalog(session), community_id=one, module_id="lift_inspection", actor="mgr")
    session.commit()
    new = start_process(session, community_id=one, process_id="lift_inspection", actor="m", business_key="NEW")
    session.commit()
    assert new.version_id != old.version_id

    def certify_fields(instance):
        form = form_for_task(session, instance.version_id, "lift_inspection/certify",
                             FormRegistry(PROJECT_ROOT / "forms"))
        return [f.name for f in form.fields]

    assert "inspector" in certify_fields(new) and "inspector" not in certify_fields(old)
