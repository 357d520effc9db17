"""Issue #20's journey through a real browser (CSRF on), on SQLite and PostgreSQL.

A consultant builds a small new module from an empty studio only through the studio's controls
(no file upload, no typed XML): a new module, two forms (one gets a field from the form editor's
palette), a process drawn in the modeler — a front-desk request, a gateway with a condition, the
manager's approval on one branch and a timer on the other — with form, role, condition and
timer set in the properties panel. A broken condition is flagged on its flow as it is typed and
after the save, and refuses the publish; fixed, the module is linted clean, test-run on both
branches (firing the timer on demand), compared with the (absent) published version and
published. A manager enables it on the module menu and, with the front desk, completes it.
"""
from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

pytestmark = pytest.mark.browser

MODULE = "door_fix"
PROCESS = f"bpmn/{MODULE}/{MODULE}.bpmn"
CANVAS = "#studio-canvas"


def _sign_in(login, page: Page, base: str, username: str) -> None:
    page.context.clear_cookies()
    login(page, base, username)


# --------------------------------------------------------------------------- the modeler's controls


def _shape(page: Page, element_id: str):
    return page.locator(f'{CANVAS} g.djs-element.djs-shape[data-element-id="{element_id}"]')


def _selection(page: Page) -> list[str]:
    return page.evaluate("() => window.studioModeler.modeler.get('selection').get().map(e => e.id)")


def _select(page: Page, element_id: str) -> None:
    """Click the shape (again when the first click only ended an edit in the properties panel)."""
    shape = _shape(page, element_id)
    for _ in range(3):
        if _selection(page) == [element_id]:
            break
        shape.click()
        page.wait_for_timeout(200)
    expect(page.locator("#bio-properties-panel-id")).to_have_value(element_id)


def _pad(page: Page, action: str) -> None:
    page.locator(f'.djs-context-pad.open .entry[data-action="{action}"]').click()


def _replace(page: Page, target: str) -> None:
    _pad(page, "replace")
    page.locator(f'.djs-popup .entry[data-id="replace-with-{target}"]').click()


def _set_id(page: Page, new_id: str) -> None:
    """The new element is selected: give it a readable id in the properties panel."""
    field = page.locator("#bio-properties-panel-id")
    field.fill(new_id)
    field.press("Tab")
    expect(page.locator(f'{CANVAS} g.djs-element[data-element-id="{new_id}"]')).to_have_count(1)


def _append(page: Page, source: str, action: str, new_id: str, replace: str | None = None) -> None:
    _select(page, source)
    _pad(page, action)
    if replace:
        _replace(page, replace)
    _set_id(page, new_id)


def _task_settings(page: Page, form: str, role: str) -> None:
    page.locator('[data-entry-id="studio-form"] select').select_option(form)
    page.locator('[data-entry-id="studio-role"] select').select_option(role)


def _click_flow(page: Page, source: str, target: str) -> None:
    """Click the sequence flow source → target on the canvas (a point of its last segment)."""
    page.locator(CANVAS).scroll_into_view_if_needed()
    found = page.evaluate("""([source, target]) => {
        const registry = window.studioModeler.modeler.get('elementRegistry');
        const flow = registry.filter(e => e.type === 'bpmn:SequenceFlow' && e.source.id === source
                                          && e.target.id === target)[0];
        const g = registry.getGraphics(flow);
        const pts = flow.waypoints, a = pts[pts.length - 2], b = pts[pts.length - 1];
        const at = new DOMPoint(a.x + (b.x - a.x) * 0.4, a.y + (b.y - a.y) * 0.4);
        const p = at.matrixTransform(g.querySelector('.djs-visual').getScreenCTM());
        return {id: flow.id, x: p.x, y: p.y};
    }""", [source, target])
    for _ in range(3):
        if _selection(page) == [found["id"]]:
            break
        page.mouse.click(found["x"], found["y"])
        page.wait_for_timeout(200)
    expect(page.locator('[data-entry-id="studio-condition-expression"] input')).to_be_visible()


def _condition(page: Page, text: str) -> None:
    field = page.locator('[data-entry-id="studio-condition-expression"] input')
    field.fill(text)
    field.press("Tab")


def _save_diagram(page: Page) -> None:
    page.click("#studio-modeler-save")
    expect(page.locator("#studio-modeler-status")).to_have_attribute("data-state", "saved")


# --------------------------------------------------------------------------- the test run's controls


def _run(page: Page, note: str, steps) -> None:
    page.click("#studio-open-testrun")
    expect(page.locator("#studio-testrun-panel")).to_be_visible()
    page.select_option("#testrun-process", PROCESS)
    page.click("#testrun-start")
    ask = page.locator('#testrun-tasks .testrun-task[data-element="ask"]')
    expect(ask).to_have_attribute("data-role", "front_desk")
    ask.click()
    form = page.locator("#testrun-form form")
    expect(form).to_be_visible()
    form.locator('[name="note"]').fill(note)
    form.locator(".ef-submit").click()
    steps()
    expect(page.locator("#studio-testrun-panel")).to_have_attribute("data-status", "completed")


def test_a_consultant_builds_tests_and_publishes_a_module_a_manager_runs_it(
        page: Page, live_server: str, login, demo_ids, db_scalar):
    from app.engine.models import ProcessInstance
    from app.modules.models import ModulePackage

    base = live_server
    yc = demo_ids["YC"]
    page.set_viewport_size({"width": 1280, "height": 1400})  # the modeler's popup menus open below shapes
    _sign_in(login, page, base, "consultant")

    # an empty studio → a new module with a valid menu entry
    page.goto(f"{base}/studio/")
    page.fill("#new-module-id", MODULE)
    page.fill("#new-name-zh", "门禁报修")
    page.fill("#new-name-en", "Door repair")
    with page.expect_navigation():
        page.click("#studio-new-btn")
    assert page.url.endswith(f"/studio/{MODULE}/"), page.url
    expect(page.locator("#studio-findings .studio-clean")).to_be_visible()
    page.fill("#menu-description-zh", "前台登记门禁故障，项目经理审批维修")
    page.fill("#menu-description-en", "The front desk reports a broken door; the manager approves the repair")
    page.select_option("#menu-category", "service")
    page.click("#studio-menu-save")
    expect(page.locator("#studio-status")).to_have_text("已保存。")

    # two forms and the process, from the file list's controls; the menu entry lists them
    for kind, name in (("form", "ask"), ("form", "approve"), ("process", MODULE)):
        page.fill("#studio-new-name", name)
        page.click(f"#studio-add-{kind}")
        expect(page.locator(f'#studio-file-list li[data-path$="/{name}.{"bpmn" if kind == "process" else "yaml"}"]')
               ).to_have_count(1)
    page.locator("#studio-file-list a", has_text="menus/").click()
    expect(page.locator("#menu-forms")).to_contain_text(f"forms/{MODULE}/approve.yaml")
    expect(page.locator("#menu-processes")).to_contain_text(PROCESS)

    # the approval form gets a yes/no field from the form editor's palette
    page.locator("#studio-file-list a", has_text=f"forms/{MODULE}/approve.yaml").click()
    editor = page.locator("#studio-form-editor")
    expect(editor).to_have_attribute("data-palette", "ready")
    editor.locator("textarea.sf-text").click()
    page.keyboard.press("Control+End")
    editor.locator('.sf-palette button[data-type="yes_no"]').click()
    expect(editor.locator(".sf-preview-body [data-field='new_yes_no']")).to_have_count(1)
    editor.locator(".sf-save").click()
    expect(editor.locator(".sf-status")).not_to_have_text("")

    # the process in the modeler (the page again, so the properties panel lists the new forms)
    page.reload()
    page.locator("#studio-file-list a", has_text=PROCESS).click()
    expect(page.locator("#studio-process")).to_have_attribute("data-loaded", PROCESS)
    _select(page, "end")
    _pad(page, "delete")
    _append(page, "start", "append.append-task", "ask", replace="user-task")
    _task_settings(page, f"{MODULE}/ask", "front_desk")
    _append(page, "ask", "append.gateway", "check")
    _append(page, "check", "append.append-task", "approve", replace="user-task")
    _task_settings(page, f"{MODULE}/approve", "manager")
    _append(page, "approve", "append.end-event", "done")
    _append(page, "check", "append.intermediate-event", "wait", replace="timer-intermediate-catch")
    page.locator(".studio-iso-amount").fill("2")
    page.locator(".studio-iso-apply").click()
    expect(page.locator("#bio-properties-panel-studio-timer-value")).to_have_value(re.compile(r"^PT?\d"))
    _append(page, "wait", "append.end-event", "small")
    _click_flow(page, "check", "wait")
    _condition(page, "note != 'big'")

    # a broken condition: flagged as it is typed, on the flow after the save, and refuses publishing
    _click_flow(page, "check", "approve")
    _condition(page, "note ==")
    expect(page.locator(".studio-expression-error")).to_be_visible()
    _save_diagram(page)
    approve_flow = page.evaluate("""() => window.studioModeler.modeler.get('elementRegistry')
        .filter(e => e.type === 'bpmn:SequenceFlow' && e.target.id === 'approve')[0].id""")
    expect(page.locator(f'{CANVAS} g.djs-element[data-element-id="{approve_flow}"]')).to_have_class(
        re.compile("studio-finding-error"))
    expect(page.locator(f'#studio-findings .studio-finding.error[data-element="{approve_flow}"]')).to_have_count(1)
    page.click("#studio-publish-btn")
    expect(page.locator("#studio-publish-result")).to_contain_text(approve_flow)
    assert db_scalar(select(ModulePackage.id).where(ModulePackage.module_id == MODULE)) is None

    # fixed: linted clean
    _click_flow(page, "check", "approve")
    _condition(page, "note == 'big'")
    expect(page.locator(".studio-expression-error")).to_have_count(0)
    _save_diagram(page)
    expect(page.locator("#studio-findings .studio-finding.error")).to_have_count(0)
    expect(page.locator(f'{CANVAS} g.djs-element.studio-finding-error')).to_have_count(0)

    # test runs: the big branch (front desk, then the manager), the small one (the timer fired now)
    def approve_as_manager():
        task = page.locator('#testrun-tasks .testrun-task[data-element="approve"]')
        expect(task).to_have_attribute("data-role", "manager")
        task.click()
        form = page.locator("#testrun-form form")
        expect(form).to_be_visible()
        form.locator('input[name="new_yes_no"][value="yes"]').check()
        form.locator(".ef-submit").click()

    def fire_timer():
        expect(page.locator('#testrun-tasks .testrun-task')).to_have_count(0)
        page.click('#testrun-timers .testrun-timer[data-element="wait"]')

    _run(page, "big", approve_as_manager)
    expect(page.locator("#testrun-path")).to_contain_text("approve")
    _run(page, "small", fire_timer)
    expect(page.locator("#testrun-path")).to_contain_text("wait")
    expect(page.locator("#testrun-path")).not_to_contain_text("approve")

    # diff (a new module: every file added) and publish
    page.click("#studio-diff-btn")
    expect(page.locator(f'#studio-diff-list li[data-path="{PROCESS}"]')).to_have_attribute("data-change", "added")
    page.click("#studio-publish-btn")
    expect(page.locator("#studio-published-version")).to_have_attribute("data-version", "1.0.0")
    assert db_scalar(select(ModulePackage.version).where(ModulePackage.module_id == MODULE)) == "1.0.0"

    # the manager enables it for 怡翠花园 and starts it; the front desk asks, the manager approves
    key = f"DOOR-{uuid.uuid4().hex[:6]}"
    _sign_in(login, page, base, "manager_yc")
    page.goto(f"{base}/modules/{yc}/")
    card = page.locator(f"#module-{MODULE}")
    expect(card).to_contain_text("门禁报修")
    with page.expect_navigation():
        card.locator(".enable-btn").click()
    with page.expect_navigation():
        page.click("#save-settings")
    expect(page.locator(f"#module-{MODULE}")).to_have_attribute("data-enabled", "yes")
    page.goto(f"{base}/instances/{yc}/")
    page.select_option("#start-process", value=MODULE)
    page.fill("#start-form input[name=business_key]", key)
    with page.expect_navigation():
        page.click("#start-btn")

    for username, form_id, fill in (("frontdesk_yc", f"{MODULE}/ask", lambda: page.fill("#task-form [name=note]", "big")),
                                    ("manager_yc", f"{MODULE}/approve",
                                     lambda: page.check("#task-form input[name=new_yes_no][value=yes]"))):
        _sign_in(login, page, base, username)
        page.goto(f"{base}/inbox/")
        card = page.locator(f".ef-task[data-form='{form_id}']").filter(has_text=key)
        expect(card).to_have_count(1)
        with page.expect_navigation():
            card.locator(".claim-btn").click()
        fill()
        with page.expect_navigation():
            page.click("#task-form button.ef-submit")
        expect(page.locator(".alert-success")).to_be_visible()
    assert db_scalar(select(ProcessInstance.status).where(ProcessInstance.business_key == key)) == "completed"


def test_the_studio_fits_a_phone_and_other_roles_are_refused(phone_page: Page, live_server: str, login):
    page = phone_page
    base = live_server
    _sign_in(login, page, base, "consultant")
    page.goto(f"{base}/studio/")
    page.fill("#new-module-id", "phone_check")
    page.fill("#new-name-zh", "手机检查")
    page.fill("#new-name-en", "Phone check")
    with page.expect_navigation():
        page.click("#studio-new-btn")
    page.fill("#studio-new-name", "visit")
    page.click("#studio-add-process")
    expect(page.locator("#studio-process")).to_have_attribute("data-loaded", "bpmn/phone_check/visit.bpmn")
    for url in (f"{base}/studio/", f"{base}/studio/phone_check/"):
        page.goto(url)
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, (url, overflow)
    _sign_in(login, page, base, "manager_yc")
    for url in (f"{base}/studio/", f"{base}/studio/phone_check/", f"{base}/studio/api/phone_check/draft"):
        assert page.request.get(url, max_redirects=0).status == 403, url
