"""Foundation journeys (issue #2) through a real browser, on SQLite and on PostgreSQL.

1. admin and manager log in; the manager enables 报事报修 from the module menu after an
   out-of-range setting is refused beside its field; the audit log shows ``module.enable``;
2. 欠费催缴 (dunning) is refused until 物业费收缴 (fees) is enabled;
3. the UI starts in Chinese and switches to English and back;
4. a manager sees only their own community's households and gets "not found" for the other's;
5. household import on a phone: a file with a bad row is refused whole, a good one is
   previewed, confirmed and listed.

The journeys of one module share one database per backend (the live server is module-scoped);
each journey touches its own modules/records, and brings a module back to "not enabled" first
if an earlier step (or a future demo seed) left it enabled.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

pytestmark = pytest.mark.browser

FIXTURES = Path(__file__).resolve().parent / "fixtures"
PO_FILE = Path(__file__).resolve().parents[2] / "app" / "translations" / "zh" / "LC_MESSAGES" / "messages.po"
HOUSEHOLD_CODE = re.compile(r"\b(YC|FX)-\d+-\d+\b")
IMPORTED_CODES = ["YC-9-101", "YC-9-102", "YC-9-201"]
LIST_TABLE = "table.table:not(.filters)"  # FAB's list table (the filter form is a table too)


# ---------------------------------------------------------------------------
# small page helpers
# ---------------------------------------------------------------------------

def _open_module_menu_from_home(page: Page, community_code: str) -> None:
    """Home page → the community card's "Module menu"/"模块菜单" link."""
    card = page.locator(f".ef-card[data-community={community_code}]")
    expect(card).to_be_visible()
    link = card.locator("a", has_text=re.compile(r"模块菜单|Module menu"))
    with page.expect_navigation():
        link.click()
    assert re.search(r"/modules/\d+/$", page.url), page.url
    expect(page.locator("#module-cards")).to_be_visible()


def _card(page: Page, module_id: str):
    return page.locator(f"#module-{module_id}")


def _ensure_not_enabled(page: Page, module_id: str) -> None:
    """On the module menu: disable the module through its card if it is enabled."""
    card = _card(page, module_id)
    if card.get_attribute("data-enabled") == "yes":
        with page.expect_navigation():
            card.locator("form button[type=submit]").click()
        expect(_card(page, module_id)).to_have_attribute("data-enabled", "no")


def _open_enable_form(page: Page, module_id: str) -> None:
    card = _card(page, module_id)
    expect(card).to_have_attribute("data-enabled", "no")
    with page.expect_navigation():
        card.locator(".enable-btn").click()
    assert page.url.endswith(f"/{module_id}/settings"), page.url
    expect(page.locator("#settings-form")).to_be_visible()


def _save_settings(page: Page) -> None:
    with page.expect_navigation():
        page.click("#save-settings")


def _household_codes(page: Page) -> set[str]:
    """Household codes shown in the FAB list table of the current page."""
    table = page.locator(LIST_TABLE)
    if table.count() == 0:
        return set()
    return {m.group(0) for m in HOUSEHOLD_CODE.finditer(" ".join(table.all_inner_texts()))}


def _zh_translation(msgid: str) -> str | None:
    """The zh translation of ``msgid`` if our catalog has one (the catalog may still be growing)."""
    if not PO_FILE.exists():
        return None
    with PO_FILE.open("rb") as fh:
        message = read_po(fh).get(msgid)
    return (message.string or None) if message is not None else None


# ---------------------------------------------------------------------------
# 1. log in, enable a module with a refused then a fixed setting, audit log
# ---------------------------------------------------------------------------

def test_manager_enables_repair_after_fixing_an_out_of_range_setting(page: Page, live_server: str, login, logout):
    base = live_server

    # the platform administrator sees every community
    login(page, base, "admin", "admin")
    expect(page.locator(".ef-card[data-community=YC]")).to_be_visible()
    expect(page.locator(".ef-card[data-community=FX]")).to_be_visible()
    logout(page, base)

    # the YC manager sees only 怡翠花园
    login(page, base, "manager_yc")
    expect(page.locator(".ef-card[data-community=YC]")).to_be_visible()
    expect(page.locator(".ef-card[data-community=FX]")).to_have_count(0)
    _open_module_menu_from_home(page, "YC")
    expect(_card(page, "repair").locator("h4")).to_contain_text("报事报修")
    _ensure_not_enabled(page, "repair")
    _open_enable_form(page, "repair")

    # out of range (max 1440): refused beside the field, the typed value is kept
    field = page.locator("#setting-response_minutes")
    field.fill("99999")
    _save_settings(page)
    assert page.url.endswith("/repair/settings"), "an invalid setting must not leave the form"
    group = page.locator(".form-group", has=page.locator("#setting-response_minutes"))
    expect(group.locator(".field-error[data-field=response_minutes]")).to_be_visible()
    expect(group).to_have_class(re.compile(r"\bhas-error\b"))
    expect(page.locator("#setting-response_minutes")).to_have_value("99999")
    # only that field is flagged
    expect(page.locator(".field-error")).to_have_count(1)

    # fixed: saved, back on the menu, the card shows enabled
    page.locator("#setting-response_minutes").fill("45")
    _save_settings(page)
    assert re.search(r"/modules/\d+/$", page.url), page.url
    card = _card(page, "repair")
    expect(card).to_have_attribute("data-enabled", "yes")
    expect(card).to_have_class(re.compile(r"\benabled\b"))
    expect(card.locator(".label-success")).to_be_visible()
    expect(card.locator(".enable-btn")).to_have_count(0)

    # the saved value is what was typed
    with page.expect_navigation():
        card.locator("a[href$='/repair/settings']").click()
    expect(page.locator("#setting-response_minutes")).to_have_value("45")

    # the audit log records the change
    page.goto(f"{base}/audit/list/")
    table = page.locator(LIST_TABLE)
    expect(table).to_contain_text("模块 · 已启用")  # module.enable, in words
    row = table.locator("tr", has_text="模块 · 已启用").filter(has_text="报修").first  # the module, in words
    expect(row).to_contain_text("manager_yc")


# ---------------------------------------------------------------------------
# 2. dependencies: no dunning before fees
# ---------------------------------------------------------------------------

def test_dunning_needs_fees_first(page: Page, live_server: str, login):
    base = live_server
    login(page, base, "manager_yc")
    _open_module_menu_from_home(page, "YC")
    _ensure_not_enabled(page, "dunning")
    _ensure_not_enabled(page, "renovation")  # the demo's renovation permits depend on fees too
    _ensure_not_enabled(page, "parking")  # so do parking permits and tickets
    _ensure_not_enabled(page, "fees")

    # the dunning card names its missing dependency
    dunning = _card(page, "dunning")
    expect(dunning.locator(".label-danger")).to_contain_text("物业费收缴")

    # enabling dunning first is refused with the dependency error
    _open_enable_form(page, "dunning")
    _save_settings(page)
    error = page.locator("#settings-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("物业费收缴")
    expect(error).to_contain_text("欠费催缴")
    with page.expect_navigation():
        page.locator("#settings-form a.btn-default").click()  # "Back"/"返回"
    expect(page.locator("#module-cards")).to_be_visible()
    expect(_card(page, "dunning")).to_have_attribute("data-enabled", "no")

    # enable fees (defaults), then dunning goes through
    _open_enable_form(page, "fees")
    expect(page.locator("#setting-fee_rate_per_m2")).to_have_value("0.85")
    _save_settings(page)
    expect(_card(page, "fees")).to_have_attribute("data-enabled", "yes")
    expect(_card(page, "dunning").locator(".label-danger")).to_have_count(0)

    _open_enable_form(page, "dunning")
    _save_settings(page)
    expect(page.locator("#settings-error")).to_have_count(0)
    expect(_card(page, "dunning")).to_have_attribute("data-enabled", "yes")
    expect(_card(page, "fees")).to_have_attribute("data-enabled", "yes")


# ---------------------------------------------------------------------------
# 3. languages: zh by default, English on request, and back
# ---------------------------------------------------------------------------

def test_language_switch_between_chinese_and_english(page: Page, live_server: str, login):
    base = live_server
    login(page, base, "manager_yc")
    _open_module_menu_from_home(page, "YC")
    menu_url = page.url
    heading = page.locator("h2").first

    # default: Chinese (module titles are zh/en data in menus/*.yaml)
    expect(_card(page, "repair").locator("h4")).to_contain_text("报事报修")
    expect(_card(page, "fees").locator("h4")).to_contain_text("物业费收缴")
    expect(heading).to_contain_text("怡翠花园")
    zh_heading = _zh_translation("Module menu")
    if zh_heading:  # once the zh catalog translates the page chrome
        expect(heading).to_contain_text(zh_heading)

    # switch to English from the navbar's language menu
    page.locator(".navbar .dropdown-toggle", has=page.locator("i.flag")).click()
    with page.expect_navigation():
        page.locator(".navbar form[action$='/lang/en'] button").click()
    if page.url != menu_url:  # FAB redirects to the previous page when it knows it
        page.goto(menu_url)
    expect(_card(page, "repair").locator("h4")).to_contain_text("Repairs")
    expect(_card(page, "fees").locator("h4")).to_contain_text("Property fees")
    expect(_card(page, "repair").locator("h4")).not_to_contain_text("报事报修")
    expect(heading).to_contain_text("Module menu")
    expect(heading).to_contain_text("Yicui Garden")

    # the choice sticks for the session (another page, still English)
    page.goto(base + "/")
    expect(page.locator(".ef-card[data-community=YC] h4")).to_contain_text("Yicui Garden")

    # and back to Chinese through the same menu (a POST to /lang/zh)
    page.locator(".navbar .dropdown-toggle", has=page.locator("i.flag")).click()
    with page.expect_navigation():
        page.locator(".navbar form[action$='/lang/zh'] button").click()
    page.goto(menu_url)
    expect(_card(page, "repair").locator("h4")).to_contain_text("报事报修")
    expect(heading).to_contain_text("怡翠花园")


# ---------------------------------------------------------------------------
# 4. community isolation through the UI
# ---------------------------------------------------------------------------

def test_managers_see_only_their_own_community(page: Page, live_server: str, login, logout, demo_ids):
    base = live_server
    fx_code = demo_ids["FX_household_code"]
    yc_code = demo_ids["YC_household_code"]

    login(page, base, "manager_yc")
    page.goto(f"{base}/households/list/")
    codes = _household_codes(page)
    assert codes, "the YC manager should see YC households"
    assert all(c.startswith("YC-") for c in codes), sorted(c for c in codes if not c.startswith("YC-"))
    # searching for the other community finds nothing
    page.goto(f"{base}/households/list/?_flt_0_code=FX-")
    assert _household_codes(page) == set()
    expect(page.locator("body")).not_to_contain_text(fx_code)

    # the other community's module menu and a household of it: not found, nothing leaks
    response = page.goto(f"{base}/modules/{demo_ids['FX']}/")
    assert response.status == 404, response.status
    body = page.locator("body")
    expect(body).not_to_contain_text("枫香园")
    expect(body).not_to_contain_text("Fengxiang")
    expect(page.locator("#module-cards")).to_have_count(0)

    # README: "a record of another community answers 404" (FAB's base_filters on get-by-id)
    response = page.goto(f"{base}/households/show/{demo_ids['FX_household']}")
    assert response.status == 404, response.status
    expect(body).not_to_contain_text(fx_code)
    expect(body).not_to_contain_text("枫香园")

    # and the other way round
    logout(page, base)
    login(page, base, "manager_fx")
    expect(page.locator(".ef-card[data-community=FX]")).to_be_visible()
    expect(page.locator(".ef-card[data-community=YC]")).to_have_count(0)
    page.goto(f"{base}/households/list/")
    codes = _household_codes(page)
    assert codes, "the FX manager should see FX households"
    assert all(c.startswith("FX-") for c in codes), sorted(c for c in codes if not c.startswith("FX-"))
    response = page.goto(f"{base}/households/show/{demo_ids['YC_household']}")
    assert response.status == 404, response.status
    expect(page.locator("body")).not_to_contain_text(yc_code)
    response = page.goto(f"{base}/modules/{demo_ids['YC']}/")
    assert response.status == 404, response.status
    expect(page.locator("body")).not_to_contain_text("怡翠花园")


# ---------------------------------------------------------------------------
# 5. household import on a phone
# ---------------------------------------------------------------------------

def _count_imported(db_scalar) -> int:
    from app.domains.estate.models import Household

    return db_scalar(select(func.count()).select_from(Household).where(Household.code.in_(IMPORTED_CODES)))


def _assert_fits_the_screen(page: Page, selector: str) -> None:
    """The control lies within the phone's width (no sideways scrolling to reach it)."""
    box = page.locator(selector).bounding_box()
    width = page.viewport_size["width"]
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, (selector, box, width)


def test_household_import_on_a_phone(phone_page: Page, live_server: str, login, demo_ids, db_scalar):
    page = phone_page
    base = live_server
    login(page, base, "frontdesk_yc")
    import_url = f"{base}/import/{demo_ids['YC']}/"
    page.goto(import_url)
    file_input = page.locator("input[type=file][name=file]")
    expect(file_input).to_be_attached()
    expect(page.locator("#preview-btn")).to_be_visible()
    _assert_fits_the_screen(page, "#preview-btn")

    # a file with one bad row: every error by row and column, nothing imported
    file_input.set_input_files(str(FIXTURES / "households_bad.csv"))
    with page.expect_navigation():
        page.click("#preview-btn")
    expect(page.locator("#import-errors")).to_be_visible()
    expect(page.locator("#import-ok")).to_have_count(0)
    expect(page.locator("#confirm-btn")).to_have_count(0)
    error_rows = page.locator("tr.danger")
    expect(error_rows).to_have_count(1)
    cells = error_rows.first.locator("td")
    expect(cells.nth(0)).to_have_text("3")  # header is row 1, the bad row is the second data row
    expect(cells.nth(1)).to_have_text("area_m2")
    assert _count_imported(db_scalar) == 0
    page.goto(f"{base}/households/list/?_flt_0_code=YC-9-")
    assert _household_codes(page) == set()

    # a good file: preview, confirm, listed
    page.goto(import_url)
    page.locator("input[type=file][name=file]").set_input_files(str(FIXTURES / "households_good.csv"))
    with page.expect_navigation():
        page.click("#preview-btn")
    expect(page.locator("#import-errors")).to_have_count(0)
    expect(page.locator("#import-ok")).to_be_visible()
    expect(page.locator("#import-ok")).to_contain_text("3")
    assert _count_imported(db_scalar) == 0, "preview must not write"
    confirm = page.locator("#confirm-btn")
    confirm.scroll_into_view_if_needed()
    expect(confirm).to_be_visible()
    _assert_fits_the_screen(page, "#confirm-btn")
    with page.expect_navigation():
        confirm.tap()
    assert "/households/list" in page.url, page.url
    expect(page.locator(".alert-success")).to_contain_text(str(len(IMPORTED_CODES)))
    assert _count_imported(db_scalar) == len(IMPORTED_CODES)
    page.goto(f"{base}/households/list/?_flt_0_code=YC-9-")
    assert _household_codes(page) == set(IMPORTED_CODES)
    expect(page.locator(LIST_TABLE)).to_contain_text("测试丙")
