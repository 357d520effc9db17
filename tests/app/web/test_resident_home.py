"""The resident side on the demo estate: the first screen with its
badges and notices, a bill explained in words, the receipt as a page with 大写金额 and the
payee, the repair quote answered on the order page, the household switcher and the
elderly-friendly mode."""
from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from app.db import db
from app.domains.estate.models import Household, Resident
from app.domains.estate.residents import link_login
from app.domains.fees.models import Bill, Receipt
from app.domains.repair.models import RepairOrder

# Pages over the demo: the database does not change what they show, so SQLite only (the
# services behind them run on both databases in tests/domains/).
pytestmark = pytest.mark.parametrize("demo_db_url", ["sqlite"], indirect=True)


def _db(app, fn):
    with app.app_context():
        return fn(db.session)


def test_home_badges_notices_bill_words_and_receipt_page(demo_app, login):
    client = login("resident_yc")
    home = client.get("/me/").text
    for tile in ("fees", "repair", "visitors", "notice", "messages"):
        assert f'id="tile-{tile}"' in home, tile
    assert re.search(r'id="badge-fees">¥[\d,]+\.\d\d<', home)       # what is owed
    assert re.search(r'id="badge-repair">\d+<', home)              # open orders
    assert "停水通知" in home and 'id="home-notices"' in home         # the demo's published notice
    assert "停水通知" in client.get("/me/notices").text

    bill_id = _db(demo_app, lambda s: s.scalar(select(Bill.id).join(Household, Household.id == Bill.household_id)
                                                .where(Household.code == "YC-1-101", Bill.kind == "monthly")
                                                .order_by(Bill.id)))
    page = client.get(f"/me/bills/{bill_id}").text
    assert re.search(r"建筑面积 [\d.]+ ㎡ × [\d.]+ 元/㎡/月 = [\d.]+ 元", page)
    assert "formula" not in page and "ROUND" not in page and "rounding" not in page
    client.post("/lang/en")
    assert re.search(r"Floor area [\d.]+ m² × [\d.]+ yuan/m²/month = [\d.]+ yuan", client.get(f"/me/bills/{bill_id}").text)
    client.post("/lang/zh")

    # the accountant takes cash for it: the resident's receipt is a page with 大写金额 and the payee
    household_id, owed = _db(demo_app, lambda s: (s.get(Bill, bill_id).household_id, s.get(Bill, bill_id).outstanding_cents))
    login("accountant_yc").post(f"/payments/household/{household_id}/record",
                                data={"bill_id": str(bill_id), "amount": f"{owed / 100:.2f}", "method": "cash"})
    number = _db(demo_app, lambda s: s.scalar(select(Receipt.number).where(Receipt.household_id == household_id)
                                              .order_by(Receipt.id.desc())))
    assert number, "the cash payment issued a receipt"
    receipt = client.get(f"/me/bills/receipts/{number}")
    assert receipt.status_code == 200
    assert re.search(r'id="receipt-capitals">人民币[零壹贰叁肆伍陆柒捌玖拾佰仟万元角分整]+<', receipt.text)
    assert "宜居物业服务有限公司" in receipt.text and f"/me/bills/receipt/{number}.pdf" in receipt.text
    pdf = client.get(f"/me/bills/receipt/{number}.pdf")
    assert pdf.data.startswith(b"%PDF")
    # another household's receipt is not theirs
    assert login("resident_yc").get("/me/bills/receipts/R-YC-000000-0000000").status_code == 404


def test_quote_answer_household_switch_and_elderly_mode(demo_app, login):
    client = login("resident_yc")
    number = _db(demo_app, lambda s: s.scalar(select(RepairOrder.number).where(
        RepairOrder.reported_by == "resident_yc", RepairOrder.quote_status == "pending")))
    assert number, "the demo leaves resident_yc a repair quote to answer"
    page = client.get(f"/me/repairs/order/{number}").text
    assert 'id="quote-materials">¥30.00<' in page and 'id="quote-labour">¥20.00<' in page
    assert "materials_cost_cents" not in page
    refused = client.post(f"/me/repairs/order/{number}/quote", data={"decision": "decline", "reason": ""})
    assert refused.status_code == 302
    assert _db(demo_app, lambda s: s.scalar(select(RepairOrder.quote_status).where(RepairOrder.number == number))) \
        == "pending"
    client.post(f"/me/repairs/order/{number}/quote", data={"decision": "decline", "reason": "太贵了"})
    order = _db(demo_app, lambda s: s.scalar(select(RepairOrder).where(RepairOrder.number == number)))
    assert (order.quote_status, order.quote_note, order.charge_cents) == ("declined", "太贵了", 0)
    manager = login("manager_yc")
    assert "太贵了" in manager.get(f"/repairs/show/{order.id}").text and 'id="quote-form"' in manager.get(
        f"/repairs/show/{order.id}").text
    # the manager's answer: a revised quote goes back to the resident
    manager.post(f"/repairs/show/{order.id}/quote", data={"decision": "revise", "materials_cost": "30",
                                                          "labour_cost": "10"})
    assert 'id="quote-labour">¥10.00<' in client.get(f"/me/repairs/order/{number}").text

    # a family member's login holds a second household: the switcher changes what the pages act for
    def link(s):
        user_id = s.scalar(select(Resident.user_id).where(Resident.user_id.is_not(None)).join(Household).where(
            Household.code == "YC-1-101"))
        other = s.scalar(select(Household).where(Household.code != "YC-1-101", Household.community_id ==
                                                 s.scalar(select(Household.community_id).where(Household.code == "YC-1-101")))
                         .order_by(Household.id))
        link_login(s, household=other, user_id=user_id, name="家属")
        s.commit()
        return other.id, other.code

    other_id, other_code = _db(demo_app, link)
    assert 'id="household-switch"' in client.get("/me/").text
    client.post("/me/household", data={"household_id": str(other_id)})
    assert f'data-household="{other_code}"' in client.get("/me/").text
    assert other_code in client.get("/me/bills/").text
    assert client.post("/me/household", data={"household_id": "999999"}).status_code == 404

    client.post("/me/mode", data={"elderly": "on"})
    home = client.get("/me/").text
    assert 'data-elderly="on"' in home and 'id="tile-visitors"' not in home and 'id="tile-fees"' in home
    assert 'data-elderly="on"' in login("resident_yc").get("/me/").text  # remembered for the next login
    client.post("/me/mode", data={"elderly": "off"})
    assert 'data-elderly="off"' in client.get("/me/").text


def test_visitor_pass_code_share_link_and_phone_check(demo_app, login):
    from app.domains.devices.models import Device
    from app.domains.visitors.passes import device_key

    client = login("resident_yc")
    bad = client.post("/me/visitors/", data={"visitor_name": "王叔叔", "visitor_phone": "12345", "hours": "2",
                                             "entries": "1"})
    assert bad.status_code == 422 and "11 位手机号码" in bad.text
    assert 'value="12345"' in bad.text and 'value="王叔叔"' in bad.text  # what was typed is kept
    made = client.post("/me/visitors/", data={"visitor_name": "王叔叔", "visitor_phone": "139 1111 2222",
                                              "hours": "2", "entries": "1"})
    assert made.status_code == 302
    page = client.get(made.headers["Location"]).text
    code = re.search(r'id="pass-code"[^>]*>(\d{6})<', page).group(1)
    share = re.search(r'data-url="([^"]+/v/[^"]+)"', page).group(1)
    # the visitor opens the shared link without a login and sees the same code
    shared = demo_app.test_client().get(urlsplit(share).path)
    assert shared.status_code == 200 and code in shared.text and 'id="pass-qr"' in shared.text
    assert demo_app.test_client().get("/v/forged.token").status_code == 404
    # the door's keypad sends the code instead of the token
    door = _db(demo_app, lambda s: s.scalar(select(Device.address).where(Device.profile == "door_controller")
                                            .order_by(Device.id)))
    key = device_key(demo_app.config["SECRET_KEY"], "YC", door)
    api = demo_app.test_client()
    answer = api.post("/api/v1/access/validate", json={"community": "YC", "device": door, "code": code},
                      headers={"X-Device-Key": key}).get_json()
    assert answer["ok"] is True and answer["visitor"] == "王叔叔"
