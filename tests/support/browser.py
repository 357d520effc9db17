"""Browser helpers importable from any journey (``tests`` is a namespace package)."""
from __future__ import annotations


def sign_out(page, base: str) -> None:
    """Logout is a POST with the CSRF token: submit the navbar's logout form (if signed in)."""
    page.goto(f"{base}/")
    form = page.locator("form#ef-logout")
    if form.count() == 0:
        return
    with page.expect_navigation():
        form.evaluate("f => f.submit()")
