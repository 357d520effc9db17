"""Every page of every demo role on a 390x844 phone, in Chinese and in English (issue #17).

Data-driven, so pages other engineers add are covered without editing this file: for each role
the test signs in once, collects the links of the navbar menu and of the landing page, visits
each, and on every list page follows the first link to one record (a show page). On each page it
fails on

* horizontal overflow (``document.documentElement.scrollWidth > clientWidth``),
* console errors and uncaught page errors, and error statuses (a menu link must never 403/404/500),
* raw codes shown as text: the enum values stored in the seeded database (every status, method,
  kind, action, channel, role … column, see ``_raw_codes``) plus the role names; a code counts
  as shown when a text fragment (split at ``:``/``·``/``|``/brackets) is exactly that code,
* English-only chrome on a Chinese page: a heading, table header, button, label or menu entry
  with Latin words and no Chinese (FAB's default "List Device" titles), except the short
  ``LATIN_OK`` words.

Only SQLite (the pages, not the database, are under test). Screenshots of every page go to
``var/screenshots/<role>/<locale>-<page>.png`` (git-ignored) so a person can look.
"""
from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import create_engine, inspect, select, text

pytestmark = [pytest.mark.browser,
              pytest.mark.parametrize("demo_db_url", ["sqlite"], indirect=True, scope="module")]

ROLES = ["admin", "manager_yc", "accountant_yc", "frontdesk_yc", "tech_yc1", "guard_yc",
         "resident_yc", "regulator", "consultant"]
SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"

# Links that are not pages to look at (downloads, exports, raw JSON, the API, sign-out).
# Pages left out on purpose: FAB's login statistics chart loads Google's chart library from the
# internet (no network here, and no page of ours).
SKIP_PAGES = ("/userstatschartview/",)
SKIP = re.compile("|".join([*map(re.escape, SKIP_PAGES), r"\.(pdf|csv|xlsx|json)$", "/download", "/export", "/api/",
                             "/logout", "/lang/", "/static/", "/uploads/", "/receipt"]), re.I)
# Columns whose stored values are codes people must never see as such.
CODE_COLUMNS = re.compile(r"^(status|state|method|kind|action|channel|role|event|event_type|source|"
                          r"reason|category|severity|mode|quality|gateway|outcome|decision)$")
CODE_VALUE = re.compile(r"^[a-z][a-z0-9]*([._][a-z0-9]+)*$")
# FAB's permission administration (platform admins only) lists permission names and the built-in
# roles' permission regexes such as ^can_(index|household)$: identifiers by nature, not codes of
# our records; raw-code checks skip these pages (every other check still applies).
IDENTIFIER_PAGES = re.compile(r"^/(roles|permissions|permissionviews|viewmenus)/")
# Codes that are also ordinary words/abbreviations shown on purpose (keep this short).
CODE_OK = {"qr", "id", "sla", "kpi", "pdf"}
# Latin words allowed alone in Chinese chrome (product names, units, abbreviations).
LATIN_OK = re.compile(r"^(estateflow|KPI|KPIs|SLA|QR|ID|PDF|CSV|BPMN|MQTT|Modbus|JSON|API|IP|OK|"
                      r"kWh|m³|MPa|No\.|[A-Z]{1,3}|[A-Z0-9-]+)$")
# One time format for people: local "2026-12-01 09:30", never ISO "T" or microseconds.
MACHINE_TIME = re.compile(r"\d{2}:\d{2}:\d{2}\.\d+|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
# What a thumb taps: buttons, table links, menu entries (inline links in a sentence are left out).
TAPPABLE = ".btn, button, input[type=submit], td > a, .navbar-nav > li > a, .pagination a, .list-group-item"
CHROME = "h1, h2, h3, h4, th, button, .btn, label, .navbar-nav > li > a, .dropdown-menu a, .panel-title, legend"

PAGE_JS = r"""
() => {
  const de = document.documentElement;
  const texts = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!el || el.closest('script,style,noscript,[hidden],.sr-only,option')) continue;
    const t = n.textContent.trim();
    if (t) texts.push(t);
  }
  const chrome = [];
  for (const el of document.querySelectorAll(CHROME)) {
    const t = (el.innerText || '').trim();
    if (t && el.offsetParent !== null) chrome.push(t);
  }
  const wide = [];
  if (de.scrollWidth > de.clientWidth) {
    for (const el of document.querySelectorAll('body *')) {
      const r = el.getBoundingClientRect();
      if (r.right > de.clientWidth + 1 && el.offsetParent !== null) {
        wide.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
                  (el.className && typeof el.className === 'string' ? '.' + el.className.split(' ')[0] : ''));
        if (wide.length > 4) break;
      }
    }
  }
  const small = [];
  for (const el of document.querySelectorAll(TAPPABLE)) {
    const r = el.getBoundingClientRect();
    if (el.offsetParent === null || r.width === 0) continue;
    if (r.height < 43.5) {
      small.push((el.innerText || el.value || el.title || el.tagName).trim().slice(0, 20) + ` (${Math.round(r.height)}px)`);
      if (small.length > 3) break;
    }
  }
  return {scroll: de.scrollWidth, small, client: de.clientWidth, texts, chrome, wide,
          links: [...document.querySelectorAll('a[href]')].map(a => ({
            href: a.href, menu: !!a.closest('.navbar, #communities, #resident-tiles, .ef-tiles, .ef-cards'),
            main: !a.closest('.navbar, footer')}))};
}
""".replace("CHROME", repr(CHROME)).replace("TAPPABLE", repr(TAPPABLE))


def _raw_codes(url: str) -> set[str]:
    """Every code-like value of every enum-ish column of the seeded demo, plus the role names."""
    from app.security.roles import ROLE_LABELS

    codes = {r for r in ROLE_LABELS}
    engine = create_engine(url)
    try:
        insp = inspect(engine)
        with engine.connect() as conn:
            for table in insp.get_table_names():
                if table.startswith(("ab_", "alembic")):
                    continue
                for column in insp.get_columns(table):
                    if CODE_COLUMNS.match(column["name"]) and "CHAR" in str(column["type"]).upper():
                        rows = conn.execute(text(f'SELECT DISTINCT "{column["name"]}" FROM "{table}" LIMIT 60'))
                        codes.update(v for (v,) in rows if isinstance(v, str) and CODE_VALUE.match(v))
    finally:
        engine.dispose()
    return {c for c in codes if len(c) >= 3 and c.lower() not in CODE_OK}


def _fragments(value: str) -> list[str]:
    return [f.strip() for f in re.split(r"[:：·|()（）\[\]，,;；\n]", value) if f.strip()]


def _slug(url: str) -> str:
    parts = urlsplit(url)
    return re.sub(r"[^\w]+", "_", (parts.path + ("_" + parts.query if parts.query else "")).strip("/")) or "home"


def _set_locale(page, base: str, locale: str) -> None:
    page.goto(f"{base}/")
    form = page.locator(f"form[data-locale={locale}]")
    if form.count():
        with page.expect_navigation():
            form.first.evaluate("f => f.submit()")


def _visit(page, url: str, locale: str, codes: set[str], errors: list[str], problems: list[str],
           shot: Path | None) -> dict | None:
    errors.clear()
    try:
        response = page.goto(url, wait_until="load")
    except Exception as exc:  # a download or an aborted navigation is no page
        if "Download" in str(exc):
            return None
        problems.append(f"{url}: {exc}")
        return None
    path = urlsplit(url).path
    if response is not None and response.status >= 400:
        problems.append(f"{path}: HTTP {response.status}")
        return None
    if "html" not in (response.headers.get("content-type", "") if response else "html"):
        return None
    info = page.evaluate(PAGE_JS)
    where = f"[{locale}] {path}"
    if info["scroll"] > info["client"]:
        problems.append(f"{where}: {info['scroll']}px wide on a {info['client']}px screen ({', '.join(info['wide'])})")
    for message in errors:
        problems.append(f"{where}: console: {message[:160]}")
    machine_times = sorted({m for t in info["texts"] for m in MACHINE_TIME.findall(t)})
    if machine_times:
        problems.append(f"{where}: machine time format: {machine_times[:3]}")
    if info["small"]:
        problems.append(f"{where}: tap targets under 44px: {info['small']}")
    # in English a plain lowercase word may be its own label ("technician"); compound codes
    # (front_desk, module.settings) never are, and in Chinese no Latin code is
    shown = codes if locale == "zh" else {c for c in codes if re.search(r"[._]", c)}
    raw = sorted({f for t in info["texts"] for f in _fragments(t) if f in shown})
    if IDENTIFIER_PAGES.match(urlsplit(where.split(" ", 1)[-1]).path):
        raw = []
    if raw:
        problems.append(f"{where}: raw codes shown: {raw[:8]}")
    if locale == "zh":
        english = sorted({t for t in info["chrome"] if _english_only(t)})
        if english:
            problems.append(f"{where}: English on a Chinese page: {english[:6]}")
    if shot is not None:
        shot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shot))
    return info


def _english_only(value: str) -> bool:
    if re.search(r"[\u4e00-\u9fff]", value):
        return False
    words = re.findall(r"[A-Za-z][A-Za-z.'³-]*", value)
    return any(len(w) > 1 and not LATIN_OK.match(w) for w in words)


def _record_link(info: dict, page_url: str, seen: set[str]) -> str | None:
    """The first link in the page body to one record under the same section (a path with an id)."""
    section = urlsplit(page_url).path.strip("/").split("/")[0]
    for link in info["links"]:
        parts = urlsplit(link["href"])
        if not link["main"] or link["menu"] or SKIP.search(parts.path):
            continue
        if parts.path.strip("/").split("/")[0] == section and re.search(r"/\d+(/|$)", parts.path):
            key = re.sub(r"\d+", "N", parts.path)
            if key not in seen:
                seen.add(key)
                return link["href"]
    return None


def test_every_page_of_every_role_fits_a_phone_in_both_languages(browser, live_server, demo_db_url):
    base = live_server
    codes = _raw_codes(demo_db_url)
    problems: list[str] = []
    seen: dict = {}
    assets: dict = {}
    visited = 0
    for username in ROLES:
        context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                      has_touch=True, locale="zh-CN")
        context.set_default_timeout(15_000)
        context.route("**/static/**", lambda route: _cached(route, assets))
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        try:
            _login(page, base, username)
            start = page.url
            if username == ROLES[0]:
                _check_error_page(page, base, problems)
                _check_installable(page, base, problems)
            _check_landing(page, username, problems)
            for locale in ("zh", "en"):
                _set_locale(page, base, locale)
                landing = _visit(page, start, locale, codes, errors, problems, _shot(username, locale, start))
                for url in _page_links(landing, base):
                    if not _first(seen, locale, url):
                        continue  # another role saw this page already: same template, bounded time
                    info = _visit(page, url, locale, codes, errors, problems, _shot(username, locale, url))
                    visited += 1
                    record = info and _record_link(info, url, seen.setdefault((locale, "records"), set()))
                    if record:
                        _visit(page, record, locale, codes, errors, problems, _shot(username, locale, record))
                        visited += 1
        finally:
            context.close()
    assert visited > 60, f"only {visited} pages visited: did the menus render?"
    assert not problems, f"{len(problems)} problems on {visited} pages:\n" + "\n".join(problems)


def _check_error_page(page, base: str, problems: list[str]) -> None:
    """A missing page: 404 in the app's layout, in the user's language, fitting the phone."""
    for locale, words in (("zh", "页面不存在"), ("en", "Page not found")):
        _set_locale(page, base, locale)
        response = page.goto(f"{base}/no-such-page/")
        shown = page.locator("#error-page").inner_text() if page.locator("#error-page").count() else ""
        fits = page.evaluate("() => document.documentElement.scrollWidth <= document.documentElement.clientWidth")
        if response.status != 404 or words not in shown or not fits or page.locator(".navbar").count() == 0:
            problems.append(f"[{locale}] 404 page: status {response.status}, text {shown[:60]!r}, fits {fits}")


FIELD_STAFF = {"tech_yc1", "guard_yc", "frontdesk_yc"}


def _check_landing(page, username: str, problems: list[str]) -> None:
    """Field staff land on their work (cards, counters), with the pending-work badge on top."""
    if username in FIELD_STAFF and page.locator("#staff-home").count() == 0:
        problems.append(f"{username}: lands on {page.url}, not on the staff home")
    if username in FIELD_STAFF and page.locator("#ef-pending .badge").count() == 0:
        problems.append(f"{username}: no pending-work badge in the top bar")
    if username == "resident_yc" and page.locator("#ef-pending").count():
        problems.append("resident_yc: a staff inbox badge on a resident page")


def _check_installable(page, base: str, problems: list[str]) -> None:
    """The PWA manifest is linked and serves its icons, so staff can pin the app."""
    href = page.locator("link[rel=manifest]").first.get_attribute("href") if page.locator("link[rel=manifest]").count() else None
    if not href:
        problems.append("no <link rel=manifest>")
        return
    manifest = page.request.get(base + href).json()
    for icon in manifest.get("icons", []):
        if page.request.get(base + icon["src"]).status != 200:
            problems.append(f"manifest icon {icon['src']} missing")
    if not {"192x192", "512x512"} <= {i.get("sizes") for i in manifest.get("icons", [])}:
        problems.append("manifest lacks 192 and 512 px icons")


def _cached(route, assets: dict) -> None:
    """Static files once per run (the app sends them uncached): most of a page load otherwise."""
    url = route.request.url
    if url not in assets:
        response = route.fetch()
        assets[url] = (response.status, response.headers, response.body())
    status, headers, body = assets[url]
    route.fulfill(status=status, headers=headers, body=body)


def _first(seen: dict, locale: str, url: str) -> bool:
    """True the first time a page (ids folded) is met in this language, by any role."""
    parts = urlsplit(url)
    key = re.sub(r"\d+", "N", parts.path) + "?" + re.sub(r"\d+", "N", parts.query)
    pages = seen.setdefault((locale, "pages"), set())
    if key in pages:
        return False
    pages.add(key)
    return True


def _shot(username: str, locale: str, url: str) -> Path | None:
    """Screenshots of the Chinese pages only (a person looks at those; half the time)."""
    return SHOTS / username / f"{_slug(url)}.png" if locale == "zh" else None


def _page_links(landing: dict | None, base: str) -> list[str]:
    """Menu and landing-page links on this site, each once, in menu order."""
    if landing is None:
        return []
    urls: list[str] = []
    for link in landing["links"]:
        href = link["href"].split("#")[0]
        parts = urlsplit(href)
        if not href.startswith(base) or not link["menu"] or SKIP.search(parts.path) or parts.path in ("", "/"):
            continue
        if href not in urls:
            urls.append(href)
    return urls


def _login(page, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.fill("#username", username)
    page.fill("#password", "admin" if username == "admin" else "demo1234")
    with page.expect_navigation():
        page.click("form[name=login] [type=submit]")
    assert "/login" not in page.url, f"login failed for {username}"
