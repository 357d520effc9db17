"""The worked example of docs/authoring.md in Chromium: the 电梯年检 module folder
(tests/app/modules/fixtures/lift_inspection/, outside the shipped assets) packed with the CLI,
uploaded by the consultant, enabled for 怡翠花园 by its manager (not for 枫香园), walked end to
end through the failing path (fail → fix → inspect again), then version 1.1.0 uploaded while a
1.0.0 instance waits: the community is upgraded, the waiting instance finishes on 1.0.0 with its
1.0.0 forms, and a new instance runs 1.1.0 with its new field.

Runs on SQLite only: what it proves (packages, versions, per-community switches) is covered on
PostgreSQL by the service tests (tests/app/modules/test_packages.py).
"""
from __future__ import annotations

import re
import shutil
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner
from playwright.sync_api import Page, expect
from sqlalchemy import select

pytestmark = [pytest.mark.browser,
              pytest.mark.parametrize("demo_db_url", ["sqlite"], indirect=True, scope="module")]

ROOT = Path(__file__).resolve().parents[2]
LIFT = ROOT / "tests" / "app" / "modules" / "fixtures" / "lift_inspection"
INSPECT = "forms/lift_inspection/inspect.yaml"
BPMN = "bpmn/lift_inspection/lift_inspection.bpmn"


def _pack(folder: Path, out: Path) -> Path:
    """``estateflow validate FOLDER`` then ``estateflow module pack FOLDER -o OUT`` (the CLI, in
    this process)."""
    from app.cli import main

    checked = CliRunner().invoke(main, ["validate", str(folder)])
    assert checked.exit_code == 0 and "all assets valid" in checked.output, checked.output
    result = CliRunner().invoke(main, ["module", "pack", str(folder), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.is_file()
    return out


def _version_2(tmp_path: Path) -> Path:
    """The consultant's next version: a new field on the inspection form, a changed announcement."""
    folder = tmp_path / "lift_inspection_v2"
    shutil.copytree(LIFT, folder)
    menu = folder / "menus" / "lift_inspection.yaml"
    menu.write_text(menu.read_text(encoding="utf-8").replace('version: "1.0.0"', 'version: "1.1.0"'),
                    encoding="utf-8")
    form = folder / INSPECT
    form.write_text(form.read_text(encoding="utf-8") + (
        "  - name: load_test\n"
        "    type: yes_no\n"
        "    label: {zh: 载荷试验合格, en: Load test passed}\n"), encoding="utf-8")
    bpmn = folder / BPMN
    bpmn.write_text(bpmn.read_text(encoding="utf-8").replace(
        "合格，合格证 ${certificate_no}", "年检合格（含载荷试验），合格证 ${certificate_no}"), encoding="utf-8")
    return folder


def _as(login, page: Page, base: str, username: str) -> None:
    page.context.clear_cookies()
    login(page, base, username)


def _upload(page: Page, base: str, package: Path, version: str) -> None:
    page.goto(f"{base}/processes/")
    page.locator("#package-files").set_input_files(str(package))
    with page.expect_navigation():
        page.click("#package-upload-btn")
    expect(page.locator("#package-errors")).to_have_count(0)
    expect(page.locator("#package-ok")).to_contain_text("lift_inspection")
    expect(page.locator("#packages")).to_contain_text(version)


def _start(page: Page, base: str, community: int, key: str) -> int:
    page.goto(f"{base}/instances/{community}/")
    page.select_option("#start-process", value="lift_inspection")
    page.fill("#start-form input[name=business_key]", key)
    with page.expect_navigation():
        page.click("#start-btn")
    found = re.search(r"/instances/show/(\d+)$", page.url)
    assert found, page.url
    return int(found.group(1))


def _open(page: Page, base: str, form_id: str, key: str) -> None:
    page.goto(f"{base}/inbox/")
    card = page.locator(f".ef-task[data-form='{form_id}']").filter(has_text=key)
    expect(card).to_have_count(1)
    with page.expect_navigation():
        card.locator(".claim-btn").click()
    expect(page.locator("#task-form form.ef-form")).to_be_visible()


def _submit(page: Page) -> None:
    with page.expect_navigation():
        page.locator("#task-form button.ef-submit").click()
    assert page.url.rstrip("/").endswith("/inbox"), page.url
    expect(page.locator(".alert-success")).to_be_visible()


def _schedule(page: Page, base: str, key: str, lift: str) -> None:
    _open(page, base, "lift_inspection/schedule", key)
    page.fill("#task-form [name=lift_no]", lift)
    page.fill("#task-form [name=planned_date]", "2026-12-10")
    _submit(page)


def _inspect(page: Page, base: str, key: str, result: str, findings: str = "") -> None:
    _open(page, base, "lift_inspection/inspect", key)
    page.select_option("#task-form select[name=result]", value=result)
    if findings:
        page.fill("#task-form [name=findings]", findings)
    _submit(page)


def _certify(page: Page, base: str, key: str, number: str) -> None:
    _open(page, base, "lift_inspection/certify", key)
    page.fill("#task-form [name=certificate_no]", number)
    _submit(page)


def test_worked_example_packed_uploaded_enabled_walked_and_upgraded(
        page: Page, live_server: str, login, demo_ids, db_scalar, tmp_path: Path):
    from app.engine.models import ProcessInstance, ProcessVersion

    base, yc, fx = live_server, demo_ids["YC"], demo_ids["FX"]
    run = uuid.uuid4().hex[:6]
    first, waiting, second = (f"LIFT-{run}-{n}" for n in ("A", "B", "C"))

    def version_of(instance_id: int) -> int:
        return db_scalar(select(ProcessVersion.version).join(
            ProcessInstance, ProcessInstance.version_id == ProcessVersion.id).where(
            ProcessInstance.id == instance_id))

    def status_of(instance_id: int) -> str:
        return db_scalar(select(ProcessInstance.status).where(ProcessInstance.id == instance_id))

    # 1. the consultant packs the folder with the CLI and uploads the zip
    _as(login, page, base, "consultant")
    _upload(page, base, _pack(LIFT, tmp_path / "lift_inspection-1.0.0.zip"), "1.0.0")

    # 2. the manager of 怡翠花园 enables it with its settings form; 枫香园 does not have it
    _as(login, page, base, "manager_yc")
    page.goto(f"{base}/modules/{yc}/")
    with page.expect_navigation():
        page.locator("#module-lift_inspection .enable-btn").click()
    page.fill("#setting-inspection_hours", "24")
    with page.expect_navigation():
        page.click("#save-settings")
    expect(page.locator("#module-lift_inspection")).to_have_attribute("data-enabled", "yes")

    # 3. end to end through the failing path: fail → fix → inspect again → pass → certificate
    one = _start(page, base, yc, first)
    _schedule(page, base, first, "1号梯")
    _as(login, page, base, "tech_yc2")
    _inspect(page, base, first, "fail", "门锁回路接触不良")
    _open(page, base, "lift_inspection/rectify", first)
    expect(page.locator("#task-form")).to_contain_text("门锁回路接触不良")  # the findings, read-only
    page.fill("#task-form [name=fix_notes]", "更换门锁触点")
    _submit(page)
    _open(page, base, "lift_inspection/inspect", first)
    expect(page.locator("#task-form")).to_contain_text("更换门锁触点")
    page.select_option("#task-form select[name=result]", value="pass")
    _submit(page)
    _as(login, page, base, "frontdesk_yc")
    _certify(page, base, first, "DT-2026-0001")
    assert status_of(one) == "completed"
    page.goto(f"{base}/instances/show/{one}")
    expect(page.locator("body")).to_contain_text("【电梯年检】1号梯 合格，合格证 DT-2026-0001")

    # a second inspection waits for the technician when version 1.1.0 arrives
    _as(login, page, base, "manager_yc")
    old = _start(page, base, yc, waiting)
    _schedule(page, base, waiting, "2号梯")
    _as(login, page, base, "consultant")
    _upload(page, base, _pack(_version_2(tmp_path), tmp_path / "lift_inspection-1.1.0.zip"), "1.1.0")

    # 4. the manager sees what changes and upgrades 怡翠花园
    _as(login, page, base, "manager_yc")
    page.goto(f"{base}/modules/{yc}/")
    notice = page.locator("#module-lift_inspection .module-upgrade")
    expect(notice).to_have_attribute("data-new-version", "1.1.0")
    expect(notice).to_contain_text("load_test")
    with page.expect_navigation():
        notice.locator(".upgrade-btn").click()
    expect(page.locator("#module-lift_inspection .module-version")).to_have_text("v1.1.0")
    new = _start(page, base, yc, second)
    assert version_of(new) == version_of(old) + 1
    _schedule(page, base, second, "3号梯")

    # 5. the waiting instance finishes on 1.0.0 (its form has no new field), the new one on 1.1.0
    _as(login, page, base, "tech_yc2")
    _open(page, base, "lift_inspection/inspect", waiting)
    expect(page.locator("#task-form [name=load_test]")).to_have_count(0)
    page.select_option("#task-form select[name=result]", value="pass")
    _submit(page)
    _open(page, base, "lift_inspection/inspect", second)
    expect(page.locator("#task-form [name=load_test]")).to_have_count(2)  # yes / no
    page.select_option("#task-form select[name=result]", value="pass")
    page.check("#task-form [name=load_test][value=yes]")
    _submit(page)
    _as(login, page, base, "frontdesk_yc")
    _certify(page, base, waiting, "DT-2026-0002")
    _certify(page, base, second, "DT-2026-0003")
    assert (status_of(old), status_of(new)) == ("completed", "completed")
    assert version_of(old) == version_of(one)
    page.goto(f"{base}/instances/show/{old}")
    expect(page.locator("body")).to_contain_text("【电梯年检】2号梯 合格，合格证 DT-2026-0002")
    page.goto(f"{base}/instances/show/{new}")
    expect(page.locator("body")).to_contain_text("【电梯年检】3号梯 年检合格（含载荷试验），合格证 DT-2026-0003")

    # 枫香园 never had it: not enabled, not startable, nothing in its technician's inbox
    _as(login, page, base, "manager_fx")
    page.goto(f"{base}/modules/{fx}/")
    expect(page.locator("#module-lift_inspection")).to_have_attribute("data-enabled", "no")
    page.goto(f"{base}/instances/{fx}/")
    expect(page.locator("#start-process option[value=lift_inspection]")).to_have_count(0)
    _as(login, page, base, "tech_fx1")
    page.goto(f"{base}/inbox/")
    expect(page.locator(".ef-task[data-form^='lift_inspection/']")).to_have_count(0)
