"""住户服务 in Chromium: a resident files a complaint from the phone (a module written only as
data), the front desk assigns it to the guards, a guard answers, and the resident rates the
answer from the same 办事 page — every step through the pages people use."""
from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from app.engine.models import ProcessInstance, TaskRow
from tests.browser.conftest import logout

# The services behind it run on both databases in tests/modules/ and tests/app/web/.
pytestmark = pytest.mark.parametrize("demo_db_url", ["sqlite"], indirect=True)


def _submit(page: Page) -> None:
    button = page.locator("#task-form button.ef-submit")
    button.scroll_into_view_if_needed()
    with page.expect_navigation():
        button.click()


def _claim(page: Page, base: str, form_id: str) -> None:
    page.goto(f"{base}/inbox/")
    card = page.locator(f".ef-task[data-form='{form_id}']")
    expect(card).to_have_count(1)
    with page.expect_navigation():
        card.locator(".claim-btn").click()
    expect(page.locator("#task-form form.ef-form")).to_be_visible()


def test_a_resident_files_a_complaint_and_rates_the_answer(phone_page: Page, live_server: str, login, db):
    page, base = phone_page, live_server
    login(page, base, "resident_yc")
    with page.expect_navigation():
        page.click("#tile-services")
    with page.expect_navigation():
        page.click("[data-service=complaint]")
    page.select_option("#task-form select[name=kind]", value="complaint")
    page.select_option("#task-form select[name=category]", value="noise")
    page.fill("#task-form [name=description]", "楼上每晚 11 点后装修噪音")
    _submit(page)
    instance_id = db.scalar(select(TaskRow.instance_id).where(TaskRow.element_id == "submit",
                                                              TaskRow.assignee == "resident_yc"))
    assert instance_id is not None
    logout(page, base)

    login(page, base, "frontdesk_yc")
    _claim(page, base, "complaint/assign")
    page.select_option("#task-form select[name=department]", value="guard")
    _submit(page)
    logout(page, base)

    login(page, base, "guard_yc")
    _claim(page, base, "complaint/respond")
    expect(page.locator("#task-form")).to_contain_text("楼上每晚 11 点后装修噪音")  # what the resident wrote
    page.fill("#task-form [name=response]", "已上门提醒，对方承诺 22 点后停工")
    _submit(page)
    logout(page, base)

    login(page, base, "resident_yc")
    with page.expect_navigation():
        page.click("#tile-services")
    waiting = page.locator("#my-steps a")
    expect(waiting).to_have_count(1)
    with page.expect_navigation():
        waiting.first.click()
    expect(page.locator("#task-form")).to_contain_text("已上门提醒")  # the answer, before rating it
    page.select_option("#task-form select[name=satisfaction]", value="5")
    _submit(page)
    db.expire_all()
    assert db.get(ProcessInstance, instance_id).status == "completed"
    page.goto(f"{base}/me/services/")
    expect(page.locator("#my-steps")).to_have_count(0)  # nothing waits for the resident any more
