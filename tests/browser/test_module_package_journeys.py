"""A consultant's module package through a real browser (CSRF on), on SQLite and PostgreSQL.

The consultant uploads the 电梯年检 package (tests/app/modules/fixtures/lift_inspection/) on
/processes/: a copy with one broken form is refused with ``file:line: element: reason`` and
nothing is stored; the good zip is stored. The manager of 怡翠花园 enables the module on the
module menu with its settings form and starts an inspection; the manager schedules it and a
technician completes the inspection from the inbox. 富祥小区 does not see the module enabled,
cannot start its process, and its technician's inbox shows none of its tasks.
"""
from __future__ import annotations

import io
import re
import uuid
import zipfile
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
LIFT = ROOT / "tests" / "app" / "modules" / "fixtures" / "lift_inspection"


def _zip(path: Path, files: dict[str, bytes]) -> Path:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(f"lift_inspection/{name}", data)
    path.write_bytes(buffer.getvalue())
    return path


def _sign_in(login, page: Page, base: str, username: str) -> None:
    page.context.clear_cookies()
    login(page, base, username)


def _upload(page: Page, base: str, package: Path) -> None:
    page.goto(f"{base}/processes/")
    page.locator("#package-files").set_input_files(str(package))
    with page.expect_navigation():
        page.click("#package-upload-btn")


def _claim_and_open(page: Page, base: str, form_id: str, key: str) -> None:
    page.goto(f"{base}/inbox/")
    card = page.locator(f".ef-task[data-form='{form_id}']").filter(has_text=key)
    expect(card).to_have_count(1)
    claim = card.locator(".claim-btn")
    claim.scroll_into_view_if_needed()
    with page.expect_navigation():
        claim.click()
    expect(page.locator("#task-form form.ef-form")).to_be_visible()


def _submit(page: Page) -> None:
    button = page.locator("#task-form button.ef-submit")
    button.scroll_into_view_if_needed()
    with page.expect_navigation():
        button.click()
    assert page.url.rstrip("/").endswith("/inbox"), page.url
    expect(page.locator(".alert-success")).to_be_visible()


def test_consultant_uploads_a_package_one_community_enables_and_runs_it(
        page: Page, live_server: str, login, demo_ids, db_scalar, tmp_path: Path):
    from app.modules.models import ModulePackage
    from app.modules.packages import read_folder

    base = live_server
    key = f"LIFT-{uuid.uuid4().hex[:8]}"
    yc, fx = demo_ids["YC"], demo_ids["FX"]
    files = read_folder(LIFT)
    broken = dict(files)
    broken["forms/lift_inspection/inspect.yaml"] = files["forms/lift_inspection/inspect.yaml"].replace(
        b"type: choice", b"type: colour")

    # the consultant: a broken package is refused whole, the good one is stored
    _sign_in(login, page, base, "consultant")
    _upload(page, base, _zip(tmp_path / "broken.zip", broken))
    errors = page.locator("#package-errors")
    expect(errors).to_be_visible()
    expect(errors).to_contain_text(
        "forms/lift_inspection/inspect.yaml:8: fields[0].type: 未知的字段类型“colour”")
    assert db_scalar(select(func.count()).select_from(ModulePackage)) == 0

    _upload(page, base, _zip(tmp_path / "lift_inspection.zip", files))
    expect(page.locator("#package-errors")).to_have_count(0)
    expect(page.locator("#package-ok")).to_contain_text("lift_inspection")
    expect(page.locator("#packages")).to_contain_text("1.0.0")

    # the manager of 怡翠花园 enables it with its settings form
    _sign_in(login, page, base, "manager_yc")
    page.goto(f"{base}/modules/{yc}/")
    card = page.locator("#module-lift_inspection")
    expect(card).to_contain_text("电梯年检")
    expect(card).to_have_attribute("data-enabled", "no")
    with page.expect_navigation():
        card.locator(".enable-btn").click()
    page.fill("#setting-inspection_hours", "24")
    with page.expect_navigation():
        page.click("#save-settings")
    expect(page.locator("#module-lift_inspection")).to_have_attribute("data-enabled", "yes")

    # ... starts an inspection and schedules it
    page.goto(f"{base}/instances/{yc}/")
    page.select_option("#start-process", value="lift_inspection")
    page.fill("#start-form input[name=business_key]", key)
    with page.expect_navigation():
        page.click("#start-btn")
    assert re.search(r"/instances/show/(\d+)$", page.url), page.url
    _claim_and_open(page, base, "lift_inspection/schedule", key)
    page.fill("#task-form [name=lift_no]", "3号梯")
    page.fill("#task-form [name=planned_date]", "2026-12-10")
    _submit(page)

    # a technician of 怡翠花园 completes the inspection
    _sign_in(login, page, base, "tech_yc1")
    _claim_and_open(page, base, "lift_inspection/inspect", key)
    page.select_option("#task-form select[name=result]", value="pass")
    _submit(page)

    # 富祥小区 sees none of it
    _sign_in(login, page, base, "manager_fx")
    page.goto(f"{base}/modules/{fx}/")
    expect(page.locator("#module-lift_inspection")).to_have_attribute("data-enabled", "no")
    page.goto(f"{base}/instances/{fx}/")
    expect(page.locator("#start-process option[value=lift_inspection]")).to_have_count(0)
    _sign_in(login, page, base, "tech_fx1")
    page.goto(f"{base}/inbox/")
    expect(page.locator(".ef-task[data-form^='lift_inspection/']")).to_have_count(0)
