"""Receipts: unique numbers, a PDF with the lines paid, codes that verify and fail when forged."""
from __future__ import annotations


from sqlalchemy import func, select

from app.domains.fees import receipts
from app.domains.fees.models import Receipt
from app.domains.fees.payments import record_offline_payment

from tests.support import fees_estate as fe


def test_receipt_pdf_lines_and_verification(session):
    community, (home, other, _) = fe.make_estate(session, dunning=False)
    bill = fe.make_bill(session, home, [6800, 1525])
    payment = record_offline_payment(session, household_id=home.id, bill_ids=[bill.id], amount_cents=9325,
                                     method="cash", actor="acc", excess_to_prepaid=True)
    receipt = session.scalar(select(Receipt).where(Receipt.payment_id == payment.id))
    assert receipt.number.startswith(f"R-{community.code}-") and receipt.amount_cents == 9325
    assert [ln["amount_cents"] for ln in receipt.lines] == [8325, 1000]
    assert [i["amount_cents"] for i in receipt.lines[0]["items"]] == [6800, 1525]
    assert receipts.issue_receipt(session, payment) is receipt  # idempotent
    pdf = receipts.receipt_pdf(session, receipt, verify_url="https://x/receipts/verify?code=" + receipt.verification_code)
    assert pdf.startswith(b"%PDF") and b"STSong-Light" in pdf
    assert receipts.verify(session, receipt.verification_code) == receipt
    assert receipts.verify(session, receipt.verification_code.replace("-", "").lower()) == receipt
    assert receipts.verify(session, "0000-0000-0000-0000") is None
    assert receipts.verify(session, "junk") is None
    # a receipt whose amount was altered in the database no longer verifies
    receipt.amount_cents = 99999
    assert receipts.verify(session, receipt.verification_code) is None
    other_bill = fe.make_bill(session, other, 100)
    record_offline_payment(session, household_id=other.id, bill_ids=[other_bill.id], amount_cents=100,
                           method="cash", actor="acc")
    assert session.scalar(select(func.count(func.distinct(Receipt.number)))) == 2


def _pdf_texts(pdf: bytes) -> list[str]:
    """The strings an uncompressed PDF draws with the CID font (UTF-16BE, PDF-escaped)."""
    import re

    out = []
    for raw in re.findall(rb"\(((?:\\.|[^\\)])*)\) Tj", pdf):
        data = re.sub(rb"\\([0-7]{1,3}|.)", lambda m: bytes([int(m.group(1), 8)]) if m.group(1).isdigit()
                      else {b"n": b"\n", b"r": b"\r", b"t": b"\t"}.get(m.group(1), m.group(1)), raw)
        try:
            out.append(data.decode("utf-16-be"))
        except UnicodeDecodeError:
            out.append(data.decode("latin-1"))
    return out


def test_receipt_page_facts_and_pdf_carry_the_amount_in_capitals_and_the_payee(session):
    community, (home, _other, _) = fe.make_estate(session, dunning=False)
    bill = fe.make_bill(session, home, [12005])
    payment = record_offline_payment(session, household_id=home.id, bill_ids=[bill.id], amount_cents=12005,
                                     method="cash", actor="acc")
    receipt = session.scalar(select(Receipt).where(Receipt.payment_id == payment.id))
    facts = receipts.receipt_facts(session, receipt, "en")
    assert facts["capitals"] == "壹佰贰拾元零伍分" and facts["amount"] == "120.05"
    assert facts["payee"] == community.company.name and facts["cashier"] == "acc" and facts["method"] == "Cash"
    texts = " ".join(_pdf_texts(receipts.receipt_pdf(session, receipt, compress=False)))
    assert "人民币壹佰贰拾元零伍分" in texts and community.company.name in texts and "收款人" in texts
