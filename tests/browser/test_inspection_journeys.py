"""Inspection journeys (issue #16) in Chromium on a 390×844 phone (SQLite; the services are
proved on SQLite and PostgreSQL in tests/domains/inspection):

1. the manager starts the day's fire-safety run; the guard walks it on a phone, feeding each
   point's code to the check-in field (what the camera scanner fills in), the second point
   first (recorded as out of order); one item fails with a photo; the run completes by itself;
2. the technician rectifies the finding in the inbox with an after photo, the manager accepts;
   the finding shows its before and after photos;
3. the regulator sees the compliance status and records a spot check, whose finding lands on
   the company's rectification list; the regulator sees no write control of the company's;
4. an offline phone keeps a check-in with its time and sends it when back, also when it stayed
   offline longer than the CSRF token's lifetime (the service worker fetches a fresh token).
"""
from __future__ import annotations

import struct
import zlib

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from app.domains.inspection.models import InspectionFinding, InspectionRun

pytestmark = [pytest.mark.browser,
              pytest.mark.parametrize("demo_db_url", ["sqlite"], indirect=True, scope="module")]
ROUTE = ["YC-FL-01", "YC-FH-01", "YC-FL-02", "YC-EX-03", "YC-ER-01", "YC-SF-01"]
NUMBERS = {"hydrant_pressure": "0.30", "temperature": "24"}


def _png(color: bytes) -> bytes:
    raw = b"".join(b"\x00" + color * 8 for _ in range(8))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def _photo(name: str, color: bytes) -> dict:
    return {"name": name, "mimeType": "image/png", "buffer": _png(color)}


def _fits(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"sideways scroll on {page.url}: {width}px"


def _check_point(page: Page, code: str, fail: str | None = None) -> None:
    page.fill("#code", code)
    with page.expect_navigation():
        page.click("#code-go")
    expect(page.locator("#checklist form")).to_be_visible()
    _fits(page)
    for radio in page.locator("#checklist input[type=radio][value=yes]").all():
        name = radio.get_attribute("name")
        page.check(f"#checklist input[name={name}][value={'no' if name == fail else 'yes'}]")
    for name, value in NUMBERS.items():
        if page.locator(f"#f-{name}").count():
            page.fill(f"#f-{name}", value)
    if page.locator("#f-photo").count():
        page.set_input_files("#f-photo", files=[_photo(f"{code}.png", b"\x90\x20\x20")])
    with page.expect_navigation():
        page.click("#checklist .ef-submit")
    expect(page.locator(f"#run-points [data-point='{code}']")).to_have_attribute(
        "data-state", "failed" if fail else "done")


def _inbox_task(page: Page, base: str, form: str, number: str) -> None:
    page.goto(f"{base}/inbox/")
    task = page.locator(f".ef-task[data-form='{form}']", has_text=number)
    expect(task).to_be_visible()
    claim = task.locator(".claim-btn")
    with page.expect_navigation():
        (claim if claim.count() else task.locator(".open-btn")).click()
    expect(page.locator("#task-form form")).to_be_visible()


def _submit_task(page: Page) -> None:
    with page.expect_navigation():
        page.click("#task-form .ef-submit")
    assert "/inbox/task/" not in page.url, page.locator(".ef-summary").all_inner_texts()


def test_guard_walks_a_route_a_technician_rectifies_the_manager_accepts(
        phone_page: Page, live_server: str, login, logout, db_scalar):
    page, base = phone_page, live_server
    login(page, base, "manager_yc")
    page.goto(f"{base}/inspection/")
    with page.expect_navigation():
        page.locator("#routes li", has_text="日间消防巡查").locator("button").click()
    run_url = page.url
    logout(page, base)

    login(page, base, "guard_yc")
    page.goto(run_url)
    expect(page.locator("#scan-start")).to_be_visible()  # the camera scanner, with the typed fallback
    _fits(page)
    _check_point(page, ROUTE[1], fail="extinguishers_in_date")  # second point first: out of order
    expect(page.locator(f"#run-points [data-point='{ROUTE[1]}']")).to_contain_text("未按顺序")
    page.fill("#code", ROUTE[1])  # twice: refused with the reason
    with page.expect_navigation():
        page.click("#code-go")
    expect(page.locator(".alert")).to_contain_text("不能重复打卡")
    for code in [ROUTE[0], *ROUTE[2:]]:
        _check_point(page, code)
    expect(page.locator("#inspection-run")).to_have_attribute("data-status", "completed")
    expect(page.locator("#run-findings")).to_contain_text("灭火器在有效期内")
    logout(page, base)

    run_id = int(run_url.rstrip("/").rsplit("/", 1)[1])
    finding = db_scalar(select(InspectionFinding.number).join(
        InspectionRun, InspectionRun.community_id == InspectionFinding.community_id).where(
        InspectionRun.id == run_id, InspectionFinding.item == "extinguishers_in_date"))
    login(page, base, "tech_yc1")
    _inbox_task(page, base, "inspection/rectify", finding)
    page.fill("#f-rectify_note", "更换过期灭火器2具")
    page.set_input_files("#f-after_photos", files=[_photo("after.png", b"\x20\x90\x20")])
    _submit_task(page)
    logout(page, base)

    login(page, base, "manager_yc")
    _inbox_task(page, base, "inspection/accept", finding)
    expect(page.locator("#task-form")).to_contain_text("更换过期灭火器2具")
    page.select_option("#f-decision", "accept")
    _submit_task(page)
    page.goto(f"{base}/inspection/findings/")
    with page.expect_navigation():
        page.click(f"#findings a:text('{finding}')")
    expect(page.locator("#inspection-finding")).to_have_attribute("data-status", "accepted")
    expect(page.locator("#before-photos img")).to_have_count(1)
    expect(page.locator("#after-photos img")).to_have_count(1)
    _fits(page)


def test_regulator_records_a_spot_check(phone_page: Page, live_server: str, login, db_scalar):
    page, base = phone_page, live_server
    login(page, base, "regulator")
    page.goto(f"{base}/inspection/")
    expect(page.locator("#runs")).to_be_visible()
    expect(page.locator("#routes")).to_have_count(0)  # no 'start a run' for the regulator
    page.goto(f"{base}/inspection/compliance/")
    _fits(page)
    row = page.locator("#compliance tr", has_text="怡翠花园")
    with page.expect_navigation():
        row.locator(".spot-check-link").click()
    page.fill("#f-summary", "抽查东门消防通道及楼道")
    page.fill("#f-problems", "2号楼楼道堆放纸箱")
    page.fill("#f-point_code", "YC-FL-02")
    page.set_input_files("#f-photos", files=[_photo("spot.png", b"\x20\x20\x90")])
    with page.expect_navigation():
        page.click("#spot-check .ef-submit")
    expect(page.locator("#findings")).to_contain_text("2号楼楼道堆放纸箱")
    expect(page.locator("#findings")).to_contain_text("监管抽查")
    assert db_scalar(select(InspectionFinding.role).where(InspectionFinding.source == "spot_check")) == "technician"
    with page.expect_navigation():
        page.locator("#findings tr", has_text="2号楼楼道堆放纸箱").locator("a").first.click()
    photo = page.locator("#before-photos img")
    expect(photo).to_have_count(1)
    page.wait_for_function("() => document.querySelector('#before-photos img').naturalWidth > 0")  # the evidence loads
    _fits(page)


def _queue_offline_check_in(page: Page, base: str, login, logout, db_scalar) -> tuple[str, int]:
    """The manager starts the day's run; the guard opens it (the service worker caches its point
    pages), goes offline, checks the first point: the check-in is kept on the phone, none sent."""
    from app.domains.inspection.models import InspectionCheckIn

    login(page, base, "manager_yc")
    page.goto(f"{base}/inspection/")
    with page.expect_navigation():
        page.locator("#routes li", has_text="日间消防巡查").locator("button").click()
    run_url = page.url
    run_id = int(run_url.rstrip("/").rsplit("/", 1)[1])
    logout(page, base)
    login(page, base, "guard_yc")
    page.goto(run_url)
    # the service worker caches the run's point pages while the phone is online
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    for _ in range(50):
        if page.evaluate("async () => (await (await caches.open('inspection-pages-v1')).keys()).length") >= 7:
            break
        page.wait_for_timeout(200)
    else:
        pytest.fail("the run's point pages were not cached")
    page.context.set_offline(True)
    page.fill("#code", ROUTE[0])
    with page.expect_navigation():
        page.click("#code-go")
    expect(page.locator("#checklist form")).to_be_visible()
    for radio in page.locator("#checklist input[type=radio][value=yes]").all():
        page.check(f"#checklist input[name={radio.get_attribute('name')}][value=yes]")
    page.set_input_files("#f-photo", files=[_photo("offline.png", b"\x90\x90\x20")])
    with page.expect_navigation():
        page.click("#checklist .ef-submit")
    expect(page.locator("#offline-saved")).to_contain_text("已保存在手机上")
    page.wait_for_timeout(1500)
    count = select(InspectionCheckIn.id).where(InspectionCheckIn.run_id == run_id)
    assert db_scalar(count) is None  # nothing reached the server
    return run_url, run_id


def _sent_when_back(page: Page, run_url: str, run_id: int, db_scalar) -> None:
    from app.domains.inspection.models import InspectionCheckIn

    page.context.set_offline(False)
    page.goto(run_url)
    expect(page.locator(f"#run-points [data-point='{ROUTE[0]}']")).to_have_attribute("data-state", "done",
                                                                                    timeout=15_000)
    at = db_scalar(select(InspectionCheckIn.at).where(InspectionCheckIn.run_id == run_id))
    received = db_scalar(select(InspectionCheckIn.received_at).where(InspectionCheckIn.run_id == run_id))
    assert at < received  # the phone's time of the check-in, not the upload's


def test_an_offline_check_in_is_kept_with_its_time_and_sent_when_back(
        phone_page: Page, live_server: str, login, logout, db_scalar):
    run_url, run_id = _queue_offline_check_in(phone_page, live_server, login, logout, db_scalar)
    _sent_when_back(phone_page, run_url, run_id, db_scalar)


def _live_app(base: str):
    """The Flask app behind ``live_server`` (same process, its own thread): the one whose public
    base URL is this server's."""
    import gc
    import weakref

    from flask import Flask

    found = [o for o in gc.get_objects() if isinstance(o, Flask) and not isinstance(o, weakref.ProxyTypes)
             and o.config.get("ESTATEFLOW_PUBLIC_BASE_URL") == base]
    assert len(found) == 1
    return found[0]


def test_an_offline_check_in_older_than_the_csrf_token_is_still_accepted(
        phone_page: Page, live_server: str, login, logout, db_scalar):
    """The queued form carries the token of the page cached while online; the phone stays offline
    longer than the token's lifetime (made 2 s here; an hour by default): the service worker
    fetches a fresh token before replaying, so the check-in is accepted, not refused as expired."""
    app = _live_app(live_server)
    before = app.config.get("WTF_CSRF_TIME_LIMIT", 3600)
    run_url, run_id = _queue_offline_check_in(phone_page, live_server, login, logout, db_scalar)
    app.config["WTF_CSRF_TIME_LIMIT"] = 2
    try:
        phone_page.wait_for_timeout(3000)  # the queued token is now expired
        queued = phone_page.evaluate("""async () => {
            const db = await new Promise(r => { const o = indexedDB.open('inspection-queue', 1); o.onsuccess = () => r(o.result); });
            const items = await new Promise(r => { const q = db.transaction('checkins').objectStore('checkins').getAll();
                                                   q.onsuccess = () => r(q.result); });
            return items.map(i => ({url: i.url, token: i.fields.find(f => f[0] === 'csrf_token')[1]})); }""")
        assert len(queued) == 1 and queued[0]["token"]
        # the token the queued form carries is refused now (this request bypasses the service worker)
        refused = phone_page.request.post(live_server + queued[0]["url"], form={"csrf_token": queued[0]["token"]},
                                          max_redirects=0)
        assert refused.status == 400
        _sent_when_back(phone_page, run_url, run_id, db_scalar)
    finally:
        app.config["WTF_CSRF_TIME_LIMIT"] = before
