"""The arrears aging page over the demo estate: accountant and manager see owner, phone
(tap to call), buckets and the 催缴 button and can chase; the regulator reads without the
button and is refused the chase; another community's list is refused; the export reads back."""
from __future__ import annotations

import io
import re

import openpyxl


def _yc(client) -> int:
    return client.get("/api/v1/dashboard/").get_json()["community_ids"][0]


def test_accountant_sees_and_chases(login):
    client = login("accountant_yc")
    cid = _yc(login("manager_yc"))
    page = client.get(f"/fees/arrears/{cid}/")
    assert page.status_code == 200
    html = page.text
    cards = re.findall(r'data-household="([^"]+)"', html)
    assert cards, "the demo has households with overdue bills"
    assert 'href="tel:' in html and 'data-bucket="91-180"' in html and "逾期" not in "".join(cards)
    action = re.search(r'action="(/dunning/chase/\d+/\d+)"', html)
    assert action and "催缴" in html
    done = client.post(action.group(1), data={"as_of": ""})
    assert done.status_code == 302 and f"/fees/arrears/{cid}/" in done.headers["Location"]
    after = client.get(done.headers["Location"]).text
    assert "催缴中" in after or "启动催缴" in after
    book = openpyxl.load_workbook(io.BytesIO(client.get(f"/fees/arrears/{cid}/export.xlsx").data)).active
    assert "欠费账龄" in book["A1"].value and book.freeze_panes == "A4" and "户主" in [c.value for c in book[3]]


def test_regulator_reads_only_and_other_communities_are_refused(login):
    cid = _yc(login("manager_yc"))
    regulator = login("regulator")
    page = regulator.get(f"/fees/arrears/{cid}/")
    assert page.status_code == 200 and "/dunning/chase/" not in page.text
    household = re.findall(r'data-household="([^"]+)"', page.text)
    assert household
    refused = regulator.post(f"/dunning/chase/{cid}/1", data={})
    assert refused.status_code in (302, 403) and "/fees/arrears/" not in refused.headers.get("Location", "")
    assert login("manager_fx").get(f"/fees/arrears/{cid}/").status_code in (403, 404)
    assert login("tech_yc1").get(f"/fees/arrears/{cid}/").status_code in (302, 403)
