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
