"""JSON API v1 (issue #19): per endpoint, with JWT and session callers, community and household
isolation (a neighbour or another community gets 404), read-only roles refused, per-field
validation errors, ETags, rate limits and the OpenAPI document (validated)."""
from __future__ import annotations

import io
import struct
import zlib

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from app.domains.estate.models import Community, Household
from app.domains.fees.models import Bill
from app.domains.repair.models import RepairOrder
from app.domains.visitors.models import VisitorPass
from app.engine.models import TaskRow


def _png(shade: int = 0) -> bytes:
    """A real 1×1 PNG (the upload check sniffs content); ``shade`` makes a different file."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(bytes([0, 255, shade % 256, 0]))) + chunk(b"IEND", b""))


@pytest.fixture(scope="module")
def jwt(demo_app):
    tokens: dict[str, str] = {}

    def _headers(username: str) -> dict[str, str]:
        if username not in tokens:
            reply = demo_app.test_client().post("/api/v1/security/login", json={
                "username": username, "password": "demo1234", "provider": "db"})
            assert reply.status_code == 200, reply.get_data(as_text=True)
            tokens[username] = reply.get_json()["access_token"]
        return {"Authorization": f"Bearer {tokens[username]}"}

    return _headers


@pytest.fixture(scope="module")
def api(demo_app, jwt):
    client = demo_app.test_client()

    def call(method: str, path: str, user: str | None = None, **kw):
        headers = {**(jwt(user) if user else {}), **kw.pop("headers", {})}
        return client.open(path, method=method, headers=headers, **kw)

    return call


@pytest.fixture(scope="module")
def rows(demo_app):
    engine = create_engine(demo_app.config["SQLALCHEMY_DATABASE_URI"])
    with Session(engine) as s:
        yc = s.scalar(select(Community.id).where(Community.code == "YC"))
        fx = s.scalar(select(Community.id).where(Community.code == "FX"))
        out = {"yc": yc, "fx": fx,
               "yc_order": s.scalar(select(RepairOrder.id).where(RepairOrder.community_id == yc).order_by(RepairOrder.id)),
               "yc_household": s.scalar(select(Household.id).where(Household.code == "YC-1-101"))}
    engine.dispose()
    return out


def _error_shape(reply, status: int) -> dict:
    assert reply.status_code == status, (reply.status_code, reply.get_data(as_text=True)[:500])
    body = reply.get_json()
    assert isinstance(body.get("message"), str) and body["message"]
    return body


# --- the document -----------------------------------------------------------------------------------
def test_openapi_document_validates_and_lists_every_route(api, demo_app):
    from openapi_spec_validator import validate

    reply = api("GET", "/api/v1/openapi.json")
    assert reply.status_code == 200
    doc = reply.get_json()
    validate(doc)
    for path in ("/api/v1/inbox/", "/api/v1/inbox/{task_id}/claim", "/api/v1/tasks/{task_id}/complete",
                 "/api/v1/instances/", "/api/v1/instances/{instance_id}/history", "/api/v1/me/bills/pay",
                 "/api/v1/me/repairs/", "/api/v1/me/visitors/", "/api/v1/repairs/", "/api/v1/alerts/",
                 "/api/v1/devices/{device_id}/status", "/api/v1/security/login",
                 "/api/v1/estate/communities", "/api/v1/estate/communities/{community_id}/buildings",
                 "/api/v1/estate/households", "/api/v1/estate/households/{pk}"):
        assert path in doc["paths"], path
    assert "multipart/form-data" in doc["paths"]["/api/v1/me/repairs/"]["post"]["requestBody"]["content"]
    page = api("GET", "/api/v1/docs")
    assert page.status_code == 200 and b"openapi.json" in page.data
    assert b"//cdn" not in page.data and b"https://" not in page.data  # local assets only


def test_no_token_is_401_in_the_common_shape(api):
    _error_shape(api("GET", "/api/v1/inbox/"), 401)
    _error_shape(api("POST", "/api/v1/instances/", json={}), 401)


# --- inbox and tasks --------------------------------------------------------------------------------
def test_inbox_lists_pages_and_answers_304_to_its_etag(api):
    first = api("GET", "/api/v1/inbox/?page_size=2", "tech_yc1")
    assert first.status_code == 200
    body = first.get_json()
    assert body["page_size"] == 2 and len(body["items"]) <= 2 and body["count"] >= len(body["items"])
    assert all(t["status"] in ("ready", "claimed") for t in body["items"])
    again = api("GET", "/api/v1/inbox/?page_size=2", "tech_yc1", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    errors = _error_shape(api("GET", "/api/v1/inbox/?page=0&order=sideways", "tech_yc1"), 400)["errors"]
    assert set(errors) == {"page", "order"}


def _open_task(demo_app, role: str, community: str = "YC", status: str = "ready") -> TaskRow | None:
    engine = create_engine(demo_app.config["SQLALCHEMY_DATABASE_URI"])
    with Session(engine) as s:
        cid = s.scalar(select(Community.id).where(Community.code == community))
        row = s.scalar(select(TaskRow).where(TaskRow.community_id == cid, TaskRow.role == role,
                                             TaskRow.status == status).order_by(TaskRow.id))
        if row is not None:
            s.expunge(row)
    engine.dispose()
    return row


def test_task_form_and_complete_with_field_errors_then_photos(api, demo_app):
    mine = api("GET", "/api/v1/inbox/?mine=true", "tech_yc1").get_json()["items"]
    task = next(t for t in mine if t["form_id"] == "repair/work")
    detail = api("GET", f"/api/v1/tasks/{task['id']}", "tech_yc1")
    assert detail.status_code == 200
    form = detail.get_json()["form"]
    names = {f["name"] for f in form["fields"]}
    assert {"before_photos", "after_photos", "work_note"} <= names
    assert any(c["name"] == "order_number" and c["value"] for c in form["context"])
    # a neighbour community's technician does not see it; nor does a resident
    _error_shape(api("GET", f"/api/v1/tasks/{task['id']}", "tech_fx1"), 404)
    _error_shape(api("POST", f"/api/v1/tasks/{task['id']}/complete", "tech_fx1", json={}), 404)
    _error_shape(api("GET", f"/api/v1/tasks/{task['id']}", "resident_yc"), 404)
    bad = _error_shape(api("POST", f"/api/v1/tasks/{task['id']}/complete", "tech_yc1", json={}), 422)
    assert {"before_photos", "after_photos", "work_note"} <= set(bad["errors"])
    data = {"work_note": "换了阀芯", "before_photos": (io.BytesIO(_png()), "before.png"),
            "after_photos": (io.BytesIO(_png()), "after.png")}
    done = api("POST", f"/api/v1/tasks/{task['id']}/complete", "tech_yc1", data=data,
               content_type="multipart/form-data")
    assert done.status_code == 200, done.get_data(as_text=True)
    assert all(t["id"] != task["id"] for t in done.get_json()["open_tasks"])
    _error_shape(api("POST", f"/api/v1/tasks/{task['id']}/complete", "tech_yc1", json={}), 409)


def test_claim_and_release(api, demo_app):
    row = _open_task(demo_app, "technician") or _open_task(demo_app, "manager")
    if row is None:
        pytest.skip("the demo has no ready pool task")
    user = "tech_yc1" if row.role == "technician" else "manager_yc"
    _error_shape(api("POST", f"/api/v1/inbox/{row.id}/claim", "tech_fx1"), 404)
    claimed = api("POST", f"/api/v1/inbox/{row.id}/claim", user)
    assert claimed.status_code == 200 and claimed.get_json()["assignee"] == user
    released = api("POST", f"/api/v1/inbox/{row.id}/release", user)
    assert released.status_code == 200 and released.get_json()["status"] == "ready"
    _error_shape(api("POST", f"/api/v1/inbox/{row.id}/release", user), 409)
    _error_shape(api("POST", f"/api/v1/inbox/{row.id}/claim", "regulator"), 403)


# --- instances --------------------------------------------------------------------------------------
def test_start_read_history_and_refusals(api, rows):
    bad = _error_shape(api("POST", "/api/v1/instances/", "manager_yc", json={"community_id": "x"}), 422)
    assert set(bad["errors"]) == {"community_id", "process_id"}
    unknown = _error_shape(api("POST", "/api/v1/instances/", "manager_yc",
                               json={"community_id": rows["yc"], "process_id": "no_such_process"}), 422)
    assert "process_id" in unknown["errors"]
    _error_shape(api("POST", "/api/v1/instances/", "manager_fx",
                     json={"community_id": rows["yc"], "process_id": "repair_order"}), 404)
    _error_shape(api("POST", "/api/v1/instances/", "regulator",
                     json={"community_id": rows["yc"], "process_id": "repair_order"}), 403)
    _error_shape(api("POST", "/api/v1/instances/", "tech_yc1",
                     json={"community_id": rows["yc"], "process_id": "repair_order"}), 403)
    listed = api("GET", f"/api/v1/instances/?community_id={rows['yc']}&page_size=1", "manager_yc").get_json()
    one = listed["items"][0]
    assert api("GET", f"/api/v1/instances/{one['id']}", "manager_yc").get_json()["id"] == one["id"]
    history = api("GET", f"/api/v1/instances/{one['id']}/history", "manager_yc").get_json()
    assert history["instance"]["id"] == one["id"] and isinstance(history["tasks"], list)
    _error_shape(api("GET", f"/api/v1/instances/{one['id']}", "manager_fx"), 404)
    _error_shape(api("GET", f"/api/v1/instances/?community_id={rows['yc']}", "manager_fx"), 404)


# --- residents --------------------------------------------------------------------------------------
def test_my_bills_and_paying_them(api, demo_app):
    mine = api("GET", "/api/v1/me/bills/?status=unpaid", "resident_yc")
    assert mine.status_code == 200
    body = mine.get_json()
    assert all(b["status"] in ("open", "partially_paid") for b in body["items"])
    neighbours = api("GET", "/api/v1/me/bills/", "resident_fx").get_json()["items"]
    assert not {b["id"] for b in body["items"]} & {b["id"] for b in neighbours}
    bad = _error_shape(api("POST", "/api/v1/me/bills/pay", "resident_yc", json={"bill_ids": []}), 422)
    assert "bill_ids" in bad["errors"]
    if neighbours:  # a neighbour's bill is refused, nothing is written
        other = _error_shape(api("POST", "/api/v1/me/bills/pay", "resident_yc",
                                 json={"bill_ids": [neighbours[0]["id"]]}), 422)
        assert "bill_ids" in other["errors"]
    _error_shape(api("POST", "/api/v1/me/bills/pay", "manager_yc", json={"bill_ids": [1]}), 403)
    if not body["items"]:
        pytest.skip("no unpaid bill in the demo")
    order = api("POST", "/api/v1/me/bills/pay", "resident_yc", json={"bill_ids": [body["items"][0]["id"]]})
    assert order.status_code == 201, order.get_data(as_text=True)
    paid = order.get_json()
    assert paid["amount_cents"] == body["items"][0]["outstanding_cents"]
    assert paid["pay"]["kind"] == "redirect" and paid["out_trade_no"] in paid["pay"]["url"]
    assert api("GET", f"/api/v1/me/bills/orders/{paid['out_trade_no']}", "resident_yc").get_json()["status"] == "created"
    _error_shape(api("GET", f"/api/v1/me/bills/orders/{paid['out_trade_no']}", "resident_fx"), 404)


def test_report_a_repair_with_a_photo_and_see_it(api, rows):
    bad = _error_shape(api("POST", "/api/v1/me/repairs/", "resident_yc", json={"category": "nonsense"}), 422)
    assert "description" in bad["errors"] or "category" in bad["errors"]
    data = {"category": "plumbing", "description": "卫生间地漏堵了", "location_kind": "unit",
            "photos": (io.BytesIO(_png()), "drain.png"), "token": "api-test-token-1"}
    made = api("POST", "/api/v1/me/repairs/", "resident_yc", data=data, content_type="multipart/form-data")
    assert made.status_code == 201, made.get_data(as_text=True)
    order = made.get_json()
    assert order["photos"] and order["photos"][0]["sha256"]
    data["photos"] = (io.BytesIO(_png()), "drain.png")  # the same report sent twice: one order
    again = api("POST", "/api/v1/me/repairs/", "resident_yc", data=data, content_type="multipart/form-data")
    assert _error_shape(again, 409)
    assert api("GET", f"/api/v1/me/repairs/{order['number']}", "resident_yc").status_code == 200
    _error_shape(api("GET", f"/api/v1/me/repairs/{order['number']}", "resident_fx"), 404)
    listed = api("GET", "/api/v1/me/repairs/", "resident_yc").get_json()
    assert order["number"] in {o["number"] for o in listed["items"]}
    # staff
    assert api("GET", f"/api/v1/repairs/{order['id']}", "manager_yc").status_code == 200
    _error_shape(api("GET", f"/api/v1/repairs/{order['id']}", "manager_fx"), 404)
    assert api("GET", "/api/v1/repairs/?status=reported", "regulator").status_code == 200
    _error_shape(api("GET", "/api/v1/repairs/", "resident_yc"), 403)
    tech = api("GET", "/api/v1/repairs/?page_size=100", "tech_yc1").get_json()["items"]
    assert all(o["technician"] == "tech_yc1" for o in tech)


def test_visitor_passes(api):
    bad = _error_shape(api("POST", "/api/v1/me/visitors/", "resident_yc", json={"hours": 0}), 422)
    assert {"visitor_name", "hours"} <= set(bad["errors"])
    phone = _error_shape(api("POST", "/api/v1/me/visitors/", "resident_yc",
                             json={"visitor_name": "老王", "visitor_phone": "12"}), 422)
    assert "visitor_phone" in phone["errors"]
    made = api("POST", "/api/v1/me/visitors/", "resident_yc", json={"visitor_name": "老王", "hours": 2})
    assert made.status_code == 201, made.get_data(as_text=True)
    vp = made.get_json()
    assert vp["status"] == "active" and vp["token"]
    _error_shape(api("GET", f"/api/v1/me/visitors/{vp['id']}", "resident_fx"), 404)
    _error_shape(api("POST", f"/api/v1/me/visitors/{vp['id']}/revoke", "resident_fx"), 404)
    _error_shape(api("POST", "/api/v1/me/visitors/", "guard_yc", json={"visitor_name": "x"}), 403)
    _error_shape(api("POST", f"/api/v1/me/visitors/{vp['id']}/decide", "resident_yc",
                     json={"decision": "approve"}), 409)
    revoked = api("POST", f"/api/v1/me/visitors/{vp['id']}/revoke", "resident_yc")
    assert revoked.status_code == 200 and revoked.get_json()["status"] == "revoked"
    assert vp["id"] in {p["id"] for p in api("GET", "/api/v1/me/visitors/", "resident_yc").get_json()["items"]}


# --- staff: alerts, devices -------------------------------------------------------------------------
def test_alerts_and_devices_are_per_community(api, rows):
    alerts = api("GET", "/api/v1/alerts/?status=open", "guard_yc")
    assert alerts.status_code == 200
    for item in alerts.get_json()["items"]:
        assert item["community_id"] == rows["yc"]
        _error_shape(api("GET", f"/api/v1/alerts/{item['id']}", "guard_fx"), 404)
    _error_shape(api("GET", "/api/v1/alerts/", "resident_yc"), 403)
    devices = api("GET", f"/api/v1/devices/?community_id={rows['yc']}", "tech_yc1").get_json()
    assert devices["count"] > 0 and all(d["community_id"] == rows["yc"] for d in devices["items"])
    one = devices["items"][0]["id"]
    status = api("GET", f"/api/v1/devices/{one}/status", "tech_yc1").get_json()
    assert "last_value" in status and status["id"] == one
    _error_shape(api("GET", f"/api/v1/devices/{one}/status", "tech_fx1"), 404)
    _error_shape(api("GET", f"/api/v1/devices/?community_id={rows['yc']}", "tech_fx1"), 404)


# --- session callers, CSRF, rate limits -------------------------------------------------------------
def test_session_caller_and_rate_limit(demo_app, login):
    client = login("manager_yc")  # a fresh session: its own counter
    demo_app.config["ESTATEFLOW_API_RATE_LIMIT"] = "3 per hour"
    try:
        replies = [client.get("/api/v1/alerts/") for _ in range(8)]
    finally:
        demo_app.config.pop("ESTATEFLOW_API_RATE_LIMIT")
    codes = [r.status_code for r in replies]
    assert codes[:3] == [200, 200, 200], codes  # a session caller is served
    limited = next(r for r in replies if r.status_code == 429)  # (8 calls: even across a window edge)
    assert limited.get_json()["message"] and int(limited.headers["Retry-After"]) >= 1
    assert login("manager_yc").get("/api/v1/alerts/").status_code == 200  # another caller is not limited


def test_reports_at_the_same_moment_get_distinct_numbers(demo_app, jwt):
    """Four residents' phones report at once: every report is an order with its own number, or a
    clean 503 'busy' on SQLite; never a 500 (the numbers collided before). Each sends its own photo:
    the same file granted twice at the same moment is a separate, still open race (upload_grant)."""
    import threading

    headers = jwt("resident_yc")
    replies = []

    def report(i: int) -> None:
        reply = demo_app.test_client().post("/api/v1/me/repairs/", headers=headers, data={
            "category": "plumbing", "description": f"同时报修 {i}", "location_kind": "unit",
            "token": f"api-race-{i}", "photos": (io.BytesIO(_png(100 + i)), "p.png")}, content_type="multipart/form-data")
        replies.append((reply.status_code, reply.get_json()))

    threads = [threading.Thread(target=report, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(code in (201, 503) for code, _ in replies), replies
    numbers = [body["number"] for code, body in replies if code == 201]
    assert numbers and len(numbers) == len(set(numbers))
