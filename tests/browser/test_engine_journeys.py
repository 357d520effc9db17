"""Engine journeys through a real browser (CSRF on), on SQLite and on PostgreSQL.

a. the community notice end to end on a phone: a manager starts it, front desk claims the
   draft, is told beside the field that the text is missing (the typed title kept), fixes it;
   the manager approves; the instance page shows completed, who did what, and the diagram;
b. a consultant uploads through /processes/: a broken copy of notice.bpmn is refused with
   ``file:line: element: reason`` and no new version; a changed copy becomes version N+1;
   an instance started before the upload finishes on version N, a new one starts on N+1;
c. two browsers as the same front desk user submit the same task: the second one is told
   that nothing of theirs was saved, and the stored data is the first one's.

The live server is module-scoped, so the journeys of this file share one database per
backend: every journey uses its own business keys and never relies on task titles
(journey b deploys a notice version with a different review title).
"""
from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import func, select

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
NOTICE_BPMN = ROOT / "bpmn" / "notice" / "notice.bpmn"
VIEWER_JS = ROOT / "app" / "static" / "vendor" / "bpmn-navigated-viewer.production.min.js"
CONFLICT = re.compile(r"未保存|nothing of yours was saved")
REVIEW_TITLE_V2 = "Review notice (revised) 审核通知（修订）"


def _key(prefix: str) -> str:
    """A business key unique to this run (the database is shared by the file's journeys)."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# ---------------------------------------------------------------------------
# signing in: once through the login form per user and backend, then by its cookie
# ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def _session_cookies(live_server: str) -> dict[str, list]:
    return {}


@pytest.fixture
def sign_in(_session_cookies: dict[str, list], login):
    """``sign_in(page, base, username)``: switch the page's browser context to that user.

    The first time (per backend) goes through FAB's login form; later journeys reuse that
    session's cookie, which keeps the file well inside its time budget (a form login costs
    ~2 s of password hashing and page loads)."""

    def _sign_in(page: Page, base: str, username: str) -> None:
        context = page.context
        context.clear_cookies()
        cookies = _session_cookies.get(username)
        if cookies is None:
            login(page, base, username)
            _session_cookies[username] = context.cookies()
        else:
            context.add_cookies(cookies)

    return _sign_in


# ---------------------------------------------------------------------------
# page helpers
# ---------------------------------------------------------------------------

def _start_notice(page: Page, base: str, community_id: int, business_key: str) -> int:
    """On the community's instances page: start ``notice`` with a business key; the instance id."""
    page.goto(f"{base}/instances/{community_id}/")
    expect(page.locator("#start-process")).to_be_visible()
    page.select_option("#start-process", value="notice")
    page.fill("#start-form input[name=business_key]", business_key)
    with page.expect_navigation():
        page.click("#start-btn")
    match = re.search(r"/instances/show/(\d+)$", page.url)
    assert match, f"starting a notice should open its instance page, got {page.url}"
    expect(page.locator("#instance-status")).to_be_visible()
    expect(page.locator("p.ef-help").first).to_contain_text(business_key)
    return int(match.group(1))


def _task_card(page: Page, form_id: str, business_key: str):
    return page.locator(f".ef-task[data-form='{form_id}']").filter(has_text=business_key)


def _claim_from_inbox(page: Page, base: str, form_id: str, business_key: str) -> int:
    """Inbox → the card of this business key → Claim; lands on the task page. The task id."""
    page.goto(f"{base}/inbox/")
    card = _task_card(page, form_id, business_key)
    expect(card).to_have_count(1)
    task_id = int(card.get_attribute("data-task"))
    claim = card.locator(".claim-btn")
    claim.scroll_into_view_if_needed()
    with page.expect_navigation():
        claim.click()
    assert page.url.endswith(f"/inbox/task/{task_id}"), page.url
    expect(page.locator("#task-form form.ef-form")).to_be_visible()
    return task_id


def _submit_task_form(page: Page) -> None:
    button = page.locator("#task-form button.ef-submit")
    button.scroll_into_view_if_needed()
    with page.expect_navigation():
        button.click()


def _draft(page: Page, title: str, body: str) -> None:
    page.fill("#task-form [name=title]", title)
    page.fill("#task-form [name=body]", body)
    _submit_task_form(page)


def _approve(page: Page, base: str, business_key: str) -> int:
    task_id = _claim_from_inbox(page, base, "notice/review", business_key)
    page.select_option("#task-form select[name=decision]", value="approve")
    _submit_task_form(page)
    assert page.url.rstrip("/").endswith("/inbox"), page.url
    expect(page.locator(".alert-success")).to_be_visible()
    return task_id


def _versions_of(page: Page, process_id: str) -> list[int]:
    """Version numbers listed for ``process_id`` in the /processes/ table ``#versions``."""
    rows = page.locator("#versions tr").filter(has=page.locator("td:first-child", has_text=re.compile(
        rf"^\s*{re.escape(process_id)}\s*$")))
    return sorted(int(rows.nth(i).locator("td").nth(1).inner_text().strip()) for i in range(rows.count()))


def _instance_version(page: Page, base: str, instance_id: int) -> int:
    page.goto(f"{base}/instances/show/{instance_id}")
    small = page.locator("h2 small").first
    expect(small).to_have_text(re.compile(r"^v\d+$"))
    return int(small.inner_text().strip()[1:])


# ---------------------------------------------------------------------------
# a. the notice on a phone, with a refused then a fixed draft
# ---------------------------------------------------------------------------

def test_notice_on_a_phone_from_start_to_published(phone_page: Page, live_server: str, sign_in,
                                                   demo_ids):
    page, base = phone_page, live_server
    key = _key("N-PHONE")
    title = f"停水通知 {key}"

    # the manager starts a notice
    sign_in(page, base, "manager_yc")
    instance_id = _start_notice(page, base, demo_ids["YC"], key)
    expect(page.locator("#instance-status")).not_to_have_attribute("data-status", "completed")

    # front desk claims the draft on the phone
    sign_in(page, base, "frontdesk_yc")
    task_id = _claim_from_inbox(page, base, "notice/draft", key)
    task_url = page.url

    # the body left empty (the browser's own check switched off: the server must refuse it)
    page.fill("#task-form [name=title]", title)
    page.fill("#task-form [name=body]", "")
    page.eval_on_selector("#task-form form.ef-form", "f => { f.noValidate = true; }")
    _submit_task_form(page)
    assert page.url == task_url, "a refused draft must stay on the task page"
    body_field = page.locator("#task-form .ef-field[data-field=body]")
    expect(body_field).to_have_class(re.compile(r"\bef-invalid\b"))
    expect(body_field.locator(".ef-error")).to_be_visible()
    expect(page.locator("#f-body")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#f-body")).to_have_attribute("aria-describedby", re.compile(r"\bf-body-error\b"))
    # only the body is flagged, and what was typed is still there
    expect(page.locator("#task-form .ef-error")).to_have_count(1)
    expect(page.locator("#f-title")).not_to_have_attribute("aria-invalid", "true")
    expect(page.locator("#f-title")).to_have_value(title)
    box = body_field.locator(".ef-error").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, box

    # fixed: done, back to the inbox, the draft is gone from it
    page.fill("#task-form [name=body]", "3号楼周三 9:00-12:00 停水检修。")
    _submit_task_form(page)
    assert page.url.rstrip("/").endswith("/inbox"), page.url
    expect(page.locator(".alert-success")).to_be_visible()
    expect(page.locator(f".ef-task[data-task='{task_id}']")).to_have_count(0)

    # the manager sees the review task (with the draft as context) and approves
    sign_in(page, base, "manager_yc")
    page.goto(f"{base}/inbox/")
    expect(_task_card(page, "notice/review", key)).to_have_count(1)
    _approve(page, base, key)

    # the instance: completed, who did what, and the diagram
    page.goto(f"{base}/instances/show/{instance_id}")
    expect(page.locator("#instance-status")).to_have_attribute("data-status", "completed")
    history = page.locator("#task-history")
    expect(history).to_contain_text("frontdesk_yc")
    expect(history).to_contain_text("manager_yc")
    expect(history).to_contain_text(key)  # the draft's data (its title carries the key)
    expect(page.locator("#path-taken")).to_contain_text("draft")
    expect(page.locator("#path-taken")).to_contain_text("review")
    if VIEWER_JS.exists():
        expect(page.locator("#diagram")).to_have_attribute("data-rendered", "yes")
        expect(page.locator("#diagram svg").first).to_be_attached()
    # the diagram's XML is a plain-text download (issue #12, item 2): fetch() still reads it
    reply = page.request.get(base + page.locator("#diagram").get_attribute("data-bpmn-url"))
    assert reply.ok and reply.headers["content-type"].startswith("text/plain")
    assert reply.headers["content-disposition"].startswith("attachment")
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert "<bpmn:definitions" in reply.text()


# ---------------------------------------------------------------------------
# b. the consultant uploads a broken, then a changed notice process
# ---------------------------------------------------------------------------

def _bpmn_variants(tmp_path: Path) -> tuple[Path, int, Path]:
    """(broken copy, line of its bad element, changed valid copy), both named notice.bpmn."""
    original = NOTICE_BPMN.read_text(encoding="utf-8")
    assert 'camunda:formKey="notice/draft"' in original
    assert 'name="审核通知"' in original

    broken = original.replace('camunda:formKey="notice/draft"', 'camunda:formKey="notice/nope"', 1)
    line = next(i for i, text in enumerate(broken.splitlines(), start=1) if 'formKey="notice/nope"' in text)
    (tmp_path / "broken").mkdir()
    broken_path = tmp_path / "broken" / "notice.bpmn"
    broken_path.write_text(broken, encoding="utf-8")

    changed = original.replace('name="审核通知"', f'name="{REVIEW_TITLE_V2}"', 1)
    (tmp_path / "changed").mkdir()
    changed_path = tmp_path / "changed" / "notice.bpmn"
    changed_path.write_text(changed, encoding="utf-8")
    return broken_path, line, changed_path


def _upload(page: Page, base: str, bpmn: Path, module_id: str) -> None:
    page.goto(f"{base}/processes/")
    form = page.locator("#upload-form")
    form.locator("input[type=file][name=bpmn]").set_input_files(str(bpmn))
    form.locator("input[name=module_id]").fill(module_id)
    with page.expect_navigation():
        page.click("#upload-btn")


def test_consultant_uploads_a_new_notice_version(page: Page, live_server: str, sign_in, demo_ids,
                                                 tmp_path: Path, db_scalar):
    from app.engine.models import TaskRow

    base = live_server
    broken, bad_line, changed = _bpmn_variants(tmp_path)
    old_key, new_key = _key("N-OLD"), _key("N-NEW")

    # an instance started before the upload
    sign_in(page, base, "manager_yc")
    old_id = _start_notice(page, base, demo_ids["YC"], old_key)
    old_version = _instance_version(page, base, old_id)

    sign_in(page, base, "consultant")
    page.goto(f"{base}/processes/")
    expect(page.locator("#upload-form")).to_be_visible()
    before = _versions_of(page, "notice")
    assert before and max(before) == old_version, (before, old_version)

    # a broken copy: refused with file:line: element: reason, nothing deployed
    _upload(page, base, broken, "notice")
    errors = page.locator("#upload-errors")
    expect(errors).to_be_visible()
    expect(errors).to_contain_text(re.compile(
        rf"notice\.bpmn:{bad_line}: draft: 未知的表单“notice/nope”"))
    expect(page.locator("#upload-ok")).to_have_count(0)
    assert _versions_of(page, "notice") == before
    page.goto(f"{base}/processes/")
    assert _versions_of(page, "notice") == before

    # a changed copy: a new version
    _upload(page, base, changed, "notice")
    expect(page.locator("#upload-errors")).to_have_count(0)
    ok = page.locator("#upload-ok")
    expect(ok).to_be_visible()
    new_version = max(before) + 1
    expect(ok).to_contain_text("notice")
    expect(ok).to_contain_text(str(new_version))
    assert _versions_of(page, "notice") == sorted([*before, new_version])
    page.goto(f"{base}/processes/")
    assert _versions_of(page, "notice") == sorted([*before, new_version])

    # the old instance runs on to the end on its own version
    sign_in(page, base, "frontdesk_yc")
    _claim_from_inbox(page, base, "notice/draft", old_key)
    _draft(page, f"旧版本通知 {old_key}", "按旧版本流程完成。")
    assert page.url.rstrip("/").endswith("/inbox"), page.url

    sign_in(page, base, "manager_yc")
    review_task = _approve(page, base, old_key)
    assert db_scalar(select(TaskRow.title).where(TaskRow.id == review_task)) == "审核通知", \
        "the old instance's review step must come from its old version"
    assert _instance_version(page, base, old_id) == old_version
    expect(page.locator("#instance-status")).to_have_attribute("data-status", "completed")

    # the upload is the notice module's next patch version: 怡翠花园 still starts the old one...
    page.goto(f"{base}/instances/{demo_ids['YC']}/")
    expect(page.locator("#start-process option[value=notice]")).to_have_text(f"notice v{old_version}")
    # ...until the manager upgrades it on the module menu
    page.goto(f"{base}/modules/{demo_ids['YC']}/")
    upgrade = page.locator("#module-notice .module-upgrade")
    expect(upgrade).to_be_visible()
    with page.expect_navigation():
        upgrade.locator(".upgrade-btn").click()
    # a new instance starts on the new version
    page.goto(f"{base}/instances/{demo_ids['YC']}/")
    expect(page.locator("#start-process option[value=notice]")).to_have_text(f"notice v{new_version}")
    new_id = _start_notice(page, base, demo_ids["YC"], new_key)
    assert _instance_version(page, base, new_id) == new_version
    # the new instance waits at its draft, untouched by the old one
    assert db_scalar(select(func.count()).select_from(TaskRow).where(TaskRow.instance_id == new_id)) == 1


# ---------------------------------------------------------------------------
# c. the same task submitted from two browsers
# ---------------------------------------------------------------------------

def test_second_submit_of_the_same_task_gets_a_conflict(page: Page, browser: Browser, live_server: str,
                                                       sign_in, login, demo_ids, db_scalar):
    from app.engine.models import TaskRow

    base = live_server
    key = _key("N-TWICE")

    sign_in(page, base, "manager_yc")
    instance_id = _start_notice(page, base, demo_ids["YC"], key)

    # the first browser claims the draft
    sign_in(page, base, "frontdesk_yc")
    task_id = _claim_from_inbox(page, base, "notice/draft", key)
    task_url = page.url

    # a second browser, same login, opens the same claimed task
    other_context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800})
    try:
        other_context.set_default_timeout(15_000)
        other = other_context.new_page()
        login(other, base, "frontdesk_yc")
        other.goto(f"{base}/inbox/")
        open_btn = _task_card(other, "notice/draft", key).locator(".open-btn")
        expect(open_btn).to_be_visible()
        with other.expect_navigation():
            open_btn.click()
        assert other.url == task_url, other.url
        expect(other.locator("#task-form form.ef-form")).to_be_visible()

        # both type; the first submits
        other.fill("#task-form [name=title]", "第二个窗口的标题")
        other.fill("#task-form [name=body]", "第二个窗口的内容")
        _draft(page, "第一个窗口的标题", "第一个窗口的内容")
        assert page.url.rstrip("/").endswith("/inbox"), page.url
        expect(page.locator(".alert-success")).to_be_visible()

        # the second submits: a clear conflict, nothing of theirs saved
        _submit_task_form(other)
        alert = other.locator(".alert-danger")
        expect(alert).to_be_visible()
        expect(alert).to_contain_text(CONFLICT)
    finally:
        other_context.close()

    data = db_scalar(select(TaskRow.data).where(TaskRow.id == task_id))
    assert data == {"title": "第一个窗口的标题", "body": "第一个窗口的内容"}, data
    assert db_scalar(select(TaskRow.completed_by).where(TaskRow.id == task_id)) == "frontdesk_yc"
    # the process moved on once: exactly one review task
    reviews = db_scalar(select(func.count()).select_from(TaskRow).where(
        TaskRow.instance_id == instance_id, TaskRow.element_id == "review"))
    assert reviews == 1, reviews
