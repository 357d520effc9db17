"""forms.js in a real browser: visibility rules follow what the user picks."""
import shutil
from pathlib import Path

import pytest

from app.forms.render import render_form

STATIC = Path(__file__).resolve().parents[3] / "app" / "static" / "forms"
CHROMIUM = shutil.which("chromium") or "/usr/lib/chromium/chromium"

pytestmark = pytest.mark.browser


@pytest.fixture
def page():
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM)
        yield browser.new_page()
        browser.close()


def load(page, html: str) -> None:
    script = (STATIC / "forms.js").read_text(encoding="utf-8")
    page.set_content(f"<!doctype html><html><body>{html}<script>{script}</script></body></html>")


def test_choosing_decline_shows_reason_and_hides_photos(page, registry):
    load(page, render_form(registry.get("repair/accept"), locale="en", static_url="/none"))
    assert page.is_hidden("[data-field=reason]")
    assert page.is_visible("[data-field=photos]")
    page.select_option("#f-decision", "decline")
    assert page.is_visible("[data-field=reason]")
    assert page.is_enabled("#f-reason")
    assert page.is_hidden("[data-field=photos]")
    assert page.is_disabled("#f-photos")
    page.select_option("#f-decision", "accept")
    assert page.is_hidden("[data-field=reason]")


def test_yes_no_radio_drives_a_truthy_rule(page, registry):
    load(page, render_form(registry.get("demo/all_types"), locale="zh", static_url="/none"))
    assert page.is_hidden("[data-field=receipt]")  # default paid: false
    page.check("[data-field=paid] input[value=yes]")
    assert page.is_visible("[data-field=receipt]")
    page.check("[data-field=paid] input[value=no]")
    assert page.is_hidden("[data-field=receipt]")
