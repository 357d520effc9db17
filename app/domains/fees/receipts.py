"""E-receipts: one per payment of real money, a PDF, and a code anyone can verify.

The receipt number is unique (``R-<community>-<YYYYMM>-<payment id>``). The verification
code is an HMAC-SHA256 of number and amount under a server key, so it cannot be made up
and a receipt whose amount was altered no longer verifies; the public page
``/receipts/verify?code=…`` recomputes it. PDFs use reportlab's CID font ``STSong-Light``,
so Chinese renders without shipping a font file.
"""
from __future__ import annotations

import hashlib
import hmac
import io

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import clock
from app.domains.estate.models import Community, Household
from app.domains.fees.gateways.settings import derived_secret, get_payment_settings
from app.domains.fees.models import Bill, Payment, Receipt
from app.domains.fees.money import capitals, yuan
from app.localtime import to_local

METHOD_LABELS = {
    "sandbox": {"zh": "在线支付（沙箱）", "en": "Online (sandbox)"},
    "wechatpay": {"zh": "微信支付", "en": "WeChat Pay"},
    "alipay": {"zh": "支付宝", "en": "Alipay"},
    "cash": {"zh": "现金", "en": "Cash"},
    "bank_transfer": {"zh": "银行转账", "en": "Bank transfer"},
}


def _secret() -> bytes:
    return derived_secret("receipt-verification", get_payment_settings().receipt_secret)


def verification_code(number: str, amount_cents: int) -> str:
    """16 hex digits in groups of four, e.g. ``3F2A-9C01-77DE-0B45``."""
    digest = hmac.new(_secret(), f"{number}|{amount_cents}".encode(), hashlib.sha256).hexdigest()[:16].upper()
    return "-".join(digest[i:i + 4] for i in range(0, 16, 4))


def receipt_number(community: Community, payment: Payment) -> str:
    return f"R-{community.code}-{payment.received_at:%Y%m}-{payment.id:07d}"


def issue_receipt(session: Session, payment: Payment) -> Receipt:
    """The receipt of ``payment`` (idempotent): what was paid, bill by bill, line by line."""
    existing = session.scalar(select(Receipt).where(Receipt.payment_id == payment.id))
    if existing is not None:
        return existing
    community = session.get(Community, payment.community_id)
    lines: list[dict] = []
    for alloc in payment.allocations:
        bill = session.get(Bill, alloc.bill_id)
        lines.append({"bill": bill.number, "period": bill.period, "amount_cents": alloc.amount_cents,
                      "bill_amount_cents": bill.amount_cents,
                      "items": [{"item": ln.item, "description": ln.description, "amount_cents": ln.amount_cents}
                                for ln in bill.lines]})
    if payment.to_prepaid_cents:
        lines.append({"bill": None, "period": None, "amount_cents": payment.to_prepaid_cents, "prepaid": True,
                      "items": []})
    number = receipt_number(community, payment)
    receipt = Receipt(number=number, payment_id=payment.id, community_id=payment.community_id,
                      household_id=payment.household_id, amount_cents=payment.amount_cents,
                      verification_code=verification_code(number, payment.amount_cents), lines=lines,
                      issued_at=clock.now())
    session.add(receipt)
    session.flush()
    return receipt


def verify(session: Session, code: str) -> Receipt | None:
    """The receipt whose code this is, if the code is genuine for its number and amount."""
    code = (code or "").strip().upper().replace(" ", "")
    if len(code) == 16 and "-" not in code:
        code = "-".join(code[i:i + 4] for i in range(0, 16, 4))
    if len(code) != 19:
        return None
    receipt = session.scalar(select(Receipt).where(Receipt.verification_code == code))
    if receipt is None:
        return None
    if not hmac.compare_digest(verification_code(receipt.number, receipt.amount_cents), code):
        return None
    return receipt


def _local_time(dt):
    return to_local(dt)  # receipts print local time


def receipt_facts(session: Session, receipt: Receipt, locale: str = "zh") -> dict:
    """What a receipt shows, for its page and its PDF alike: who paid whom, when, how, the
    amount in figures and in Chinese capitals (大写金额)."""
    community = session.get(Community, receipt.community_id)
    household = session.get(Household, receipt.household_id)
    payment = session.get(Payment, receipt.payment_id)
    company = community.company
    labels = METHOD_LABELS.get(payment.method, {"zh": payment.method, "en": payment.method})
    return {
        "receipt": receipt, "community": community, "household": household, "payment": payment,
        "payee": company.name if company else community.name,
        "payee_en": (company.name_en or company.name) if company else community.name,
        "cashier": payment.recorded_by if payment.method in ("cash", "bank_transfer") else "",
        "method": labels.get(locale[:2]) or labels["zh"], "method_zh": labels["zh"],
        "paid_at": f"{_local_time(payment.received_at):%Y-%m-%d %H:%M}",
        "amount": yuan(receipt.amount_cents), "capitals": capitals(receipt.amount_cents),
    }


def receipt_pdf(session: Session, receipt: Receipt, verify_url: str = "", compress: bool = True) -> bytes:
    """An A5 PDF receipt (Chinese with English captions), with 大写金额 and the payee."""
    from reportlab.graphics import renderPDF
    from reportlab.graphics.barcode.qr import QrCodeWidget
    from reportlab.graphics.shapes import Drawing
    from reportlab.lib.pagesizes import A5
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    if "STSong-Light" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    facts = receipt_facts(session, receipt)
    community, household, payment = facts["community"], facts["household"], facts["payment"]
    buf = io.BytesIO()
    width, height = A5
    c = canvas.Canvas(buf, pagesize=A5, pageCompression=1 if compress else 0)
    c.setTitle(f"收据 Receipt {receipt.number}")
    font = "STSong-Light"
    y = height - 18 * mm
    c.setFont(font, 16)
    c.drawCentredString(width / 2, y, f"{community.name} 物业费电子收据")
    y -= 6 * mm
    c.setFont(font, 9)
    c.drawCentredString(width / 2, y, "Property fee e-receipt")
    y -= 10 * mm
    c.setFont(font, 10)
    for label, value in (
        ("收据编号 No.", receipt.number),
        ("住户 Household", f"{household.code} {household.head_name}"),
        ("房屋 Unit", str(household.unit) if household.unit else ""),
        ("收款时间 Paid at", facts["paid_at"]),
        ("支付方式 Method", f"{facts['method_zh']}  {payment.reference or ''}".strip()),
    ):
        c.drawString(15 * mm, y, f"{label}：{value}")
        y -= 6 * mm
    y -= 2 * mm
    c.line(15 * mm, y, width - 15 * mm, y)
    y -= 6 * mm
    for line in receipt.lines:
        if line.get("prepaid"):
            c.drawString(15 * mm, y, "预存款 Prepaid balance")
            c.drawRightString(width - 15 * mm, y, f"¥ {yuan(line['amount_cents'])}")
            y -= 6 * mm
            continue
        c.drawString(15 * mm, y, f"账单 {line['bill']}（{line['period']}）")
        c.drawRightString(width - 15 * mm, y, f"¥ {yuan(line['amount_cents'])}")
        y -= 5 * mm
        c.setFont(font, 8)
        for item in line["items"]:
            c.drawString(20 * mm, y, item["description"][:48])
            c.drawRightString(width - 35 * mm, y, f"{yuan(item['amount_cents'])}")
            y -= 4.5 * mm
        c.setFont(font, 10)
        y -= 1.5 * mm
    c.line(15 * mm, y, width - 15 * mm, y)
    y -= 7 * mm
    c.setFont(font, 12)
    c.drawString(15 * mm, y, "合计 Total")
    c.drawRightString(width - 15 * mm, y, f"¥ {yuan(receipt.amount_cents)} 元")
    y -= 6 * mm
    c.setFont(font, 10)
    c.drawString(15 * mm, y, f"金额大写 In words：人民币{facts['capitals']}")
    y -= 7 * mm
    c.drawString(15 * mm, y, f"收款单位 Payee：{facts['payee']}（盖章 Seal）")
    if facts["cashier"]:
        c.drawRightString(width - 15 * mm, y, f"收款人 Cashier：{facts['cashier']}")
    y -= 9 * mm
    c.setFont(font, 10)
    c.drawString(15 * mm, y, f"验证码 Verification code：{receipt.verification_code}")
    y -= 5 * mm
    c.setFont(font, 8)
    c.drawString(15 * mm, y, "扫码或在 /receipts/verify 输入验证码核验 Verify at /receipts/verify")
    if verify_url:
        qr = QrCodeWidget(verify_url)
        x0, y0, x1, y1 = qr.getBounds()
        size = 28 * mm
        drawing = Drawing(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
        drawing.add(qr)
        renderPDF.draw(drawing, c, width - 15 * mm - size, 12 * mm)
    c.showPage()
    c.save()
    return buf.getvalue()
