"""The studio's test run through a real browser (CSRF on), on SQLite and PostgreSQL.

A consultant opens the draft of a small module (tests/app/studio/fixtures/trial: a request, a
gateway on its amount, a manager's approval with a reminder timer), starts a test run, completes
the resident's task and then the manager's with the task page's own forms, fires the reminder
now, sees the path on the diagram and the data of each step, and saves the run as a test case
of the draft. Nothing of it reaches a real community; an administrator's home does not list the
scratch community.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
TRIAL = ROOT / "tests" / "app" / "studio" / "fixtures" / "trial"


@pytest.fixture
def trial_draft(db):
    """The trial module as a studio draft (what the editor's controls would have built)."""
    from app.modules.packages import read_folder
    from app.studio.models import StudioDraft

    files = {p: d.decode("utf-8") for p, d in read_folder(TRIAL).items()}
    draft = db.scalar(select(StudioDraft).where(StudioDraft.module_id == "trial"))
    if draft is None:
        db.add(StudioDraft(module_id="trial", files=files, updated_by="consultant"))
    else:
        draft.files = files
    db.commit()
    return "trial"


def _real_instances(db) -> int:
    from app.domains.estate.models import Community
    from app.engine.models import ProcessInstance
    from app.studio.scratch import SCRATCH_COMMUNITY_CODE

    return db.scalar(select(func.count()).select_from(ProcessInstance).join(
        Community, Community.id == ProcessInstance.community_id).where(Community.code != SCRATCH_COMMUNITY_CODE))


def _complete(page: Page, element: str, fill) -> None:
    page.click(f'#testrun-tasks .testrun-task[data-element="{element}"]')
    form = page.locator("#testrun-form form")
    expect(form).to_be_visible()
    fill(form)
    form.locator(".ef-submit").click()


def test_a_consultant_test_runs_a_draft_as_two_roles(page: Page, live_server, login, db, trial_draft):
    before = _real_instances(db)
    login(page, live_server, "consultant")
    page.goto(f"{live_server}/studio/{trial_draft}/")
    page.click("#studio-open-testrun")
    panel = page.locator("#studio-testrun-panel")
    expect(panel).to_be_visible()
    page.select_option("#testrun-process", "bpmn/trial/request.bpmn")
    page.click("#testrun-start")
    ask = page.locator('#testrun-tasks .testrun-task[data-element="ask"]')
    expect(ask).to_be_visible()
    expect(ask).to_have_attribute("data-role", "resident")
    expect(ask).to_contain_text("住户")  # the role's label, not its code

    # the form validates like the task page: a reason is required (the browser's own check is off)
    page.click('#testrun-tasks .testrun-task[data-element="ask"]')
    form = page.locator("#testrun-form form")
    form.evaluate("f => f.noValidate = true")
    form.locator('input[name="amount"]').fill("900")
    form.locator(".ef-submit").click()
    expect(page.locator('#testrun-form .testrun-field-error[data-field="reason"]')).to_be_visible()

    # as the resident: a large amount
    form.locator('input[name="amount"]').fill("900")
    form.locator('[name="reason"]').fill("新的单元门")
    form.locator(".ef-submit").click()
    approve = page.locator('#testrun-tasks .testrun-task[data-element="approve"]')
    expect(approve).to_have_attribute("data-role", "manager")
    expect(approve).not_to_contain_text("manager")

    # the reminder fires now
    page.click('#testrun-timers .testrun-timer[data-element="reminder"]')
    expect(page.locator('#testrun-steps li[data-action="timer"]')).to_have_count(1)
    expect(page.locator('#testrun-steps li[data-element="note_late"], #testrun-path')).not_to_have_count(0)
    expect(page.locator("#testrun-path")).to_contain_text("reminder → note_late")

    # as the manager
    _complete(page, "approve", lambda f: f.locator('input[name="approved"][value="yes"]').check())
    expect(panel).to_have_attribute("data-status", "completed")
    expect(page.locator("#testrun-tasks .testrun-task")).to_have_count(0)

    # the path on the diagram, the data at each step
    diagram = page.locator("#testrun-diagram")
    expect(diagram).to_have_attribute("data-rendered", "yes")
    for element in ("ask", "size", "reminder", "note_late", "approve", "record", "done"):
        expect(diagram.locator(f'g.djs-element.ef-done[data-element-id="{element}"]')).to_have_count(1)
    steps = page.locator("#testrun-steps li")
    expect(steps).to_have_count(4)
    last = steps.nth(3)
    last.locator("details").nth(1).locator("summary").click()
    expect(last.locator(".testrun-data-after")).to_contain_text('"recorded": "yes"')
    expect(steps.nth(1).locator("pre").first).to_contain_text('"amount": 900')

    # save as a test case of the draft
    page.fill("#testrun-case-name", "large amount")
    page.click("#testrun-save")
    expect(page.locator("#testrun-saved")).to_have_attribute("data-path", "tests/trial/large_amount.yaml")
    from app.studio.models import StudioDraft

    db.expire_all()
    draft = db.scalar(select(StudioDraft).where(StudioDraft.module_id == "trial"))
    assert "tests/trial/large_amount.yaml" in draft.files
    assert "task: approve" in draft.files["tests/trial/large_amount.yaml"]
    # the draft's findings stay clean: the saved case replays
    expect(page.locator("#studio-findings .studio-finding.error")).to_have_count(0)

    assert _real_instances(db) == before  # no real community got an instance

    # an administrator's home lists the real communities, never the scratch one
    page.context.clear_cookies()
    login(page, live_server, "admin")
    expect(page.locator("#communities")).to_be_visible()
    expect(page.locator("#communities")).not_to_contain_text("工作室试运行")


def test_a_manager_cannot_reach_the_test_run(page: Page, live_server, login, trial_draft):
    """Read routes are refused too (the write routes are walked by tests/app/security)."""
    login(page, live_server, "manager_yc")
    response = page.request.get(f"{live_server}/studio/run/{trial_draft}/1", max_redirects=0)
    assert response.status in (302, 401, 403, 404)
    assert response.status != 302 or "/login" in response.headers.get("location", "")


def test_the_test_run_panel_fits_a_phone(phone_page: Page, live_server, login, trial_draft):
    page = phone_page
    login(page, live_server, "consultant")
    page.goto(f"{live_server}/studio/{trial_draft}/")
    page.click("#studio-open-testrun")
    page.click("#testrun-start")
    expect(page.locator('#testrun-tasks .testrun-task[data-element="ask"]')).to_be_visible()
    page.click('#testrun-tasks .testrun-task[data-element="ask"]')
    expect(page.locator("#testrun-form form")).to_be_visible()
    wide = page.evaluate("""() => Array.from(document.querySelectorAll('#studio-testrun-panel *'))
        .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
        .map(e => e.tagName + '#' + e.id + '.' + e.className).slice(0, 5)""")
    assert wide == []  # nothing of the panel sticks out sideways at 390 px
