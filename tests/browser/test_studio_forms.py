"""The studio's form editor in Chromium (issue #20, part 2 "Form editor", part 3 on form lines).

A consultant opens a form of a draft in the studio editor, inserts a field from the palette and
sees it in the live preview (the task page's renderer), breaks the YAML and sees the error at its
line with the typed text kept, fixes it and saves; the save's findings are marked at their lines.
On a phone (390 px) the editor and the preview stack without sideways scroll.
"""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

MODULE = "formstudio"
FORM = f"forms/{MODULE}/visit.yaml"


def _ensure_draft(page, base: str) -> None:
    """The draft and its form, made through the studio's own controls (new module, add form)."""
    answer = page.goto(f"{base}/studio/{MODULE}/")
    if answer.status == 404:
        page.goto(f"{base}/studio/")
        page.fill("#new-module-id", MODULE)
        page.fill("#new-name-zh", "上门登记")
        page.fill("#new-name-en", "Visit log")
        page.click("#studio-new-btn")
        expect(page.locator("#studio-module")).to_have_text(MODULE)
    page.wait_for_load_state("load")  # studio.js wires its buttons on DOMContentLoaded
    if not page.locator("#studio-file-list li", has_text=FORM).count():
        page.fill("#studio-new-name", "visit")
        page.click("#studio-add-form")
        expect(page.locator("#studio-file-list li", has_text=FORM)).to_have_count(1)


def _stored(db, path: str) -> str:
    from app.studio.models import StudioDraft

    db.expire_all()
    return db.scalar(select(StudioDraft).where(StudioDraft.module_id == MODULE)).files[path]


def _open_form(page, base: str) -> None:
    _ensure_draft(page, base)
    page.goto(f"{base}/studio/{MODULE}/")
    page.wait_for_load_state("load")
    page.locator("#studio-file-list a", has_text=FORM).click()
    editor = page.locator("#studio-form-editor")
    expect(editor).to_be_visible()
    expect(editor).to_have_attribute("data-path", FORM)
    expect(editor).to_have_attribute("data-preview-state", "ok")
    expect(editor).to_have_attribute("data-palette", "ready")


def test_open_insert_preview_break_fix_save(page, live_server, login, db):
    base = live_server
    login(page, base, "consultant")
    _open_form(page, base)
    editor = page.locator("#studio-form-editor")
    text = editor.locator("textarea.sf-text")
    preview = editor.locator(".sf-preview-body")
    # the form as the task page shows it: the draft's one text field and the submit button
    expect(preview.locator('form.ef-form [data-field="note"] input[name="note"]')).to_be_visible()
    expect(preview.locator("button.ef-submit")).to_be_visible()
    original = text.input_value()
    # the other language of the form, as a user who reads it would see the task page
    expect(preview.locator('label[for="f-note"]')).to_have_text("备注")
    editor.locator("select.sf-locale").select_option("en")
    expect(preview.locator('label[for="f-note"]')).to_have_text("Note")
    expect(preview.locator("button.ef-submit")).to_have_text("Submit")
    editor.locator("select.sf-locale").select_option("")
    expect(preview.locator('label[for="f-note"]')).to_have_text("备注")

    # the palette inserts a yes/no field at the cursor (end of the text); the preview shows it
    text.click()
    page.keyboard.press("Control+End")
    editor.locator('.sf-palette button[data-type="yes_no"]').click()
    expect(text).to_have_value(re.compile(r"- name: new_yes_no\n    type: yes_no\n"))
    expect(preview.locator('[data-field="new_yes_no"] input[type="radio"][value="yes"]')).to_be_visible()
    expect(editor.locator(".sf-errors li")).to_have_count(0)
    # inserting the same type again gives a new name; a choice field comes with its choices
    editor.locator('.sf-palette button[data-type="choice"]').click()
    expect(preview.locator('[data-field="new_choice"] select option[value="b"]')).to_have_count(1)

    # break the YAML by typing: the error is marked at the line, the typed text stays
    page.keyboard.press("Control+End")
    page.keyboard.type("  - name: broken\n   type: [text\n")
    typed = text.input_value()
    assert typed.endswith("  - name: broken\n   type: [text\n")
    expect(editor).to_have_attribute("data-preview-state", "errors")
    lines = typed.split("\n")
    bad_line = lines.index("   type: [text") + 1
    marked = editor.locator(".sf-gutter .sf-ln.sf-err")
    expect(marked).to_have_count(1)
    mark_line = int(marked.get_attribute("data-line"))
    assert mark_line in (bad_line, bad_line + 1), (mark_line, bad_line)  # where PyYAML sees it
    expect(editor.locator(f'.sf-backdrop .sf-bl.sf-err[data-line="{mark_line}"] .sf-bm')).to_contain_text("yaml")
    expect(editor.locator(".sf-errors li")).to_have_count(1)
    expect(editor.locator(".sf-preview-note")).to_be_visible()  # the last good preview stays
    expect(preview.locator('[data-field="new_yes_no"]')).to_have_count(1)
    assert text.input_value() == typed

    # a save of the broken text: refused lines come back as findings at their lines, text kept
    editor.locator(".sf-save").click()
    expect(editor.locator(".sf-status")).to_have_text(re.compile("已保存，标记的行有检查问题"))
    expect(editor.locator(f'.sf-gutter .sf-ln.sf-err[data-line="{mark_line}"]')).to_have_count(1)
    assert text.input_value() == typed

    # a bad key (not a syntax error) names its own line
    fixed = typed.replace("  - name: broken\n   type: [text\n", "")
    with_bad_key = fixed.replace("    type: yes_no\n", "    type: yes_no\n    colour: red\n")
    text.fill(with_bad_key)
    expect(editor).to_have_attribute("data-preview-state", "errors")
    colour_line = with_bad_key.split("\n").index("    colour: red") + 1
    expect(editor.locator(f'.sf-gutter .sf-ln.sf-err[data-line="{colour_line}"]')).to_have_count(1)
    expect(editor.locator(".sf-errors li")).to_contain_text(["colour"])

    # fixed: the preview is current again, then save; the draft holds the new fields
    text.fill(fixed)
    expect(editor).to_have_attribute("data-preview-state", "ok")
    expect(editor.locator(".sf-gutter .sf-ln.sf-err")).to_have_count(0)
    expect(editor.locator(".sf-preview-note")).to_be_hidden()
    editor.locator(".sf-save").click()
    expect(editor.locator(".sf-status")).to_have_text("表单已保存。")
    stored = _stored(db, FORM)
    assert stored == fixed and "new_yes_no" in stored and "new_choice" in stored and stored != original


def test_save_findings_are_marked_at_their_lines(page, live_server, login, db):
    """A form that loads but that the package check refuses (its id does not match the path)."""
    base = live_server
    login(page, base, "consultant")
    _open_form(page, base)
    editor = page.locator("#studio-form-editor")
    text = editor.locator("textarea.sf-text")
    good = text.input_value()
    wrong_id = re.sub(r"^id: .*$", f"id: {MODULE}/elsewhere", good, count=1, flags=re.M)
    text.fill(wrong_id)
    editor.locator(".sf-save").click()
    expect(editor.locator('.sf-gutter .sf-ln.sf-err[data-line="1"]')).to_have_count(1)
    expect(editor.locator(".sf-errors li").first).to_contain_text("elsewhere")
    assert text.input_value() == wrong_id
    # opened again later, the form shows the findings the editor page was rendered with
    page.reload()
    page.wait_for_load_state("load")
    page.locator("#studio-file-list a", has_text=FORM).click()
    expect(editor.locator('.sf-gutter .sf-ln.sf-err[data-line="1"]')).to_have_count(1)
    expect(text).to_have_value(wrong_id)
    # a click on the finding in the page's findings list selects its line in the editor
    text.evaluate("t => t.setSelectionRange(t.value.length, t.value.length)")
    page.locator(f'#studio-findings li.studio-finding[data-path="{FORM}"][data-line="1"]').first.click()
    assert text.evaluate("t => t.value.slice(t.selectionStart, t.selectionEnd)") == f"id: {MODULE}/elsewhere"
    text.fill(good)
    editor.locator(".sf-save").click()
    expect(editor.locator(".sf-status")).to_have_text("表单已保存。")
    expect(editor.locator(".sf-gutter .sf-ln.sf-err")).to_have_count(0)
    assert _stored(db, FORM) == good


def test_phone_stacks_editor_and_preview_without_sideways_scroll(phone_page, live_server, login):
    page = phone_page
    base = live_server
    login(page, base, "consultant")
    _open_form(page, base)
    editor = page.locator("#studio-form-editor")
    code, preview = editor.locator(".sf-code").bounding_box(), editor.locator(".sf-preview").bounding_box()
    assert preview["y"] >= code["y"] + code["height"] - 1  # stacked, not side by side
    editor.locator("textarea.sf-text").click()
    page.keyboard.press("Control+End")
    page.keyboard.type("  - name: a_very_long_field_name_that_is_much_wider_than_a_phone_screen_is\n")
    expect(editor).to_have_attribute("data-preview-state", "errors")
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, overflow


def test_other_roles_do_not_get_the_form_editor(page, live_server, login):
    base = live_server
    login(page, base, "manager_yc")
    answer = page.request.get(f"{base}/studio/forms-api/palette")
    assert answer.status == 403  # the POST preview is refused too (tests/app/studio/test_form_preview.py)
