"""Inputs of fee items that are not in the estate model: parking permits and one-off charges.

A billing run reads them (``app/domains/fees/fee_items.py``): an active permit is charged every
month by its item; a one-off charge (e.g. a repair charged to a household) goes on the first
bill issued for its period or later, and remembers that bill so it is never charged twice.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Model, utcnow


class FeePermit(Model):
    """A recurring permit a household pays for monthly (a parking space, a bike shed)."""

    __tablename__ = "fee_permit"
    __table_args__ = (Index("ix_fee_permit_community_item", "community_id", "item"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"), index=True)
    item: Mapped[str] = mapped_column(String(60), default="parking", doc="fee item id")
    reference: Mapped[str | None] = mapped_column(String(60), doc="space number or plate")
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    start_period: Mapped[str] = mapped_column(String(7), doc="first month billed, YYYY-MM")
    end_period: Mapped[str | None] = mapped_column(String(7), doc="last month billed; open if empty")


class FeeCharge(Model):
    """A one-off charge waiting for (or already on) a bill."""

    __tablename__ = "fee_charge"
    __table_args__ = (Index("ix_fee_charge_community_bill", "community_id", "bill_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"), index=True)
    item: Mapped[str] = mapped_column(String(60), default="one_off", doc="fee item id")
    description: Mapped[str] = mapped_column(String(300))
    quantity: Mapped[Decimal] = mapped_column(Numeric(14, 3), default=Decimal("1"))
    unit_price: Mapped[Decimal] = mapped_column(Numeric(14, 4))
    period: Mapped[str] = mapped_column(String(7), doc="billed on the first run for this month or later")
    bill_id: Mapped[int | None] = mapped_column(ForeignKey("bill.id"), doc="set once billed")
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class BillingRun(Model):
    """One billing run for a community and period: preview first, then issue (once)."""

    __tablename__ = "billing_run"
    __table_args__ = (UniqueConstraint("community_id", "period", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), index=True)
    period: Mapped[str] = mapped_column(String(7), doc="YYYY-MM")
    kind: Mapped[str] = mapped_column(String(20), default="monthly")
    status: Mapped[str] = mapped_column(String(12), default="preview", doc="preview, running, issued, failed")
    summary: Mapped[dict] = mapped_column(JSON, default=dict)
    progress: Mapped[int] = mapped_column(Integer, default=0, doc="households done")
    total: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)


class Bill(Model):
    __tablename__ = "bill"
    __table_args__ = (
        UniqueConstraint("household_id", "period", "kind"),
        Index("ix_bill_community_status_due", "community_id", "status", "due_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True, doc="e.g. YC-202611-000123")
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"), index=True)
    billing_run_id: Mapped[int | None] = mapped_column(ForeignKey("billing_run.id"), index=True)
    period: Mapped[str] = mapped_column(String(7))
    kind: Mapped[str] = mapped_column(String(20), default="monthly", doc="monthly, one_off, repair")
    status: Mapped[str] = mapped_column(String(16), default="open", doc="open, partially_paid, paid, cancelled")
    amount_cents: Mapped[int] = mapped_column(Integer)
    paid_cents: Mapped[int] = mapped_column(Integer, default=0)
    issued_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    due_date: Mapped[date] = mapped_column(Date)
    paid_at: Mapped[datetime | None] = mapped_column(DateTime)

    lines: Mapped[list["BillLine"]] = relationship(back_populates="bill", order_by="BillLine.id")

    @property
    def outstanding_cents(self) -> int:
        return self.amount_cents - self.paid_cents


class BillLine(Model):
    __tablename__ = "bill_line"

    id: Mapped[int] = mapped_column(primary_key=True)
    bill_id: Mapped[int] = mapped_column(ForeignKey("bill.id"), index=True)
    item: Mapped[str] = mapped_column(String(60), doc="fee item id, e.g. property_fee, water, late_fee")
    kind: Mapped[str] = mapped_column(String(16), default="charge", doc="charge, late_fee, adjustment")
    description: Mapped[str] = mapped_column(String(300))
    quantity: Mapped[Decimal] = mapped_column(Numeric(14, 3))
    unit_price: Mapped[Decimal] = mapped_column(Numeric(14, 4))
    amount_cents: Mapped[int] = mapped_column(Integer)
    explanation: Mapped[dict] = mapped_column(JSON, default=dict, doc="inputs, formula, rounding")

    bill: Mapped[Bill] = relationship(back_populates="lines")


class PaymentOrder(Model):
    """An online payment attempt at a gateway for some bills (the cashier's order).

    ``status``: created (waiting for the payer), paid (the gateway's signed notification
    arrived), failed/cancelled (the payer gave up), refunded."""

    __tablename__ = "payment_order"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), index=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"), index=True)
    gateway: Mapped[str] = mapped_column(String(20), doc="sandbox, wechatpay")
    out_trade_no: Mapped[str] = mapped_column(String(40), unique=True, doc="our order number at the gateway")
    amount_cents: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12), default="created")
    bill_ids: Mapped[list[int]] = mapped_column(JSON, default=list, doc="bills this order pays")
    transaction_id: Mapped[str | None] = mapped_column(String(64), doc="the gateway's transaction id")
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    paid_at: Mapped[datetime | None] = mapped_column(DateTime)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payment.id"))


class Payment(Model):
    """Money received from (or, for ``prepaid``, applied for) a household.

    ``method``: sandbox, wechatpay (online), cash, bank_transfer (recorded by an accountant),
    prepaid (the household's prepaid balance paying bills: no new money, no receipt)."""

    __tablename__ = "payment"
    __table_args__ = (Index("ix_payment_community_received", "community_id", "received_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"))
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"), index=True)
    method: Mapped[str] = mapped_column(String(20))
    amount_cents: Mapped[int] = mapped_column(Integer)
    to_prepaid_cents: Mapped[int] = mapped_column(Integer, default=0, doc="part credited to the prepaid balance")
    refunded_cents: Mapped[int] = mapped_column(Integer, default=0)
    reference: Mapped[str | None] = mapped_column(String(100), doc="gateway transaction id, bank slip number")
    note: Mapped[str | None] = mapped_column(String(300))
    recorded_by: Mapped[str] = mapped_column(String(100))
    received_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    allocations: Mapped[list["PaymentAllocation"]] = relationship(
        back_populates="payment", order_by="PaymentAllocation.id")


class PaymentAllocation(Model):
    """The part of a payment that went to one bill (negative for a refund that reopens it)."""

    __tablename__ = "payment_allocation"

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payment.id"), index=True)
    bill_id: Mapped[int] = mapped_column(ForeignKey("bill.id"), index=True)
    amount_cents: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    payment: Mapped[Payment] = relationship(back_populates="allocations")


class LedgerEntry(Model):
    """One leg of a balanced ledger transaction (debit positive, credit negative).

    Accounts: ``receivable`` (what households owe), ``revenue`` (fees earned), ``cash``,
    ``bank``, ``gateway_clearing`` (paid online, not yet settled to the bank), ``prepaid``
    (households' prepaid balances, a liability), ``refunds`` (money paid back), ``deposits``
    (deposits held for a household, e.g. a renovation deposit, a liability; see deposits.py)."""

    __tablename__ = "ledger_entry"
    __table_args__ = (Index("ix_ledger_household_account", "household_id", "account"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    txn: Mapped[str] = mapped_column(String(32), index=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), index=True)
    household_id: Mapped[int | None] = mapped_column(ForeignKey("household.id"))
    account: Mapped[str] = mapped_column(String(24))
    amount_cents: Mapped[int] = mapped_column(Integer)
    bill_id: Mapped[int | None] = mapped_column(ForeignKey("bill.id"), index=True)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payment.id"), index=True)
    kind: Mapped[str] = mapped_column(String(24), doc="charge, payment, prepaid, refund, deposit, deposit_release")
    memo: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class GatewayNotification(Model):
    """Every payment callback we received, accepted or not (the log a forged one lands in).

    ``accepted_key`` = ``<gateway>:<transaction id>`` is set only on the accepted row and is
    unique: the same transaction notified twice credits once."""

    __tablename__ = "gateway_notification"

    id: Mapped[int] = mapped_column(primary_key=True)
    gateway: Mapped[str] = mapped_column(String(20))
    transaction_id: Mapped[str | None] = mapped_column(String(64), index=True)
    out_trade_no: Mapped[str | None] = mapped_column(String(40), index=True)
    amount_cents: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(16), doc="accepted, duplicate, rejected")
    signature_ok: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str | None] = mapped_column(String(300))
    accepted_key: Mapped[str | None] = mapped_column(String(90), unique=True)
    community_id: Mapped[int | None] = mapped_column(ForeignKey("community.id"), index=True,
                                                     doc="whose money it is (set on accepted rows)")
    body: Mapped[str | None] = mapped_column(Text)
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Receipt(Model):
    """The e-receipt of one payment of real money; ``verification_code`` is an HMAC of
    number and amount that the public verify page checks."""

    __tablename__ = "receipt"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payment.id"), unique=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), index=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"), index=True)
    amount_cents: Mapped[int] = mapped_column(Integer)
    verification_code: Mapped[str] = mapped_column(String(40), unique=True)
    lines: Mapped[list[dict]] = mapped_column(JSON, default=list, doc="what was paid, as printed")
    issued_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Refund(Model):
    """Money paid back to a household out of one payment."""

    __tablename__ = "refund"

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payment.id"), index=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), index=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"))
    amount_cents: Mapped[int] = mapped_column(Integer)
    from_prepaid_cents: Mapped[int] = mapped_column(Integer, default=0)
    reopened: Mapped[list[dict]] = mapped_column(JSON, default=list, doc="bills reopened: number, cents")
    reason: Mapped[str] = mapped_column(String(300))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(12), default="done", server_default="done",
                                        doc="done; pending (sent to the gateway, books not moved yet); failed")
    out_refund_no: Mapped[str | None] = mapped_column(String(64), unique=True, doc="our refund number at the gateway")
    gateway_refund_id: Mapped[str | None] = mapped_column(String(64))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime)


class StatementRun(Model):
    """One reading of a gateway's daily bill file (WeChat tradebill, Alipay account log)."""

    __tablename__ = "payment_statement_run"
    __table_args__ = (UniqueConstraint("gateway", "bill_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    gateway: Mapped[str] = mapped_column(String(20))
    bill_date: Mapped[date] = mapped_column(Date)
    gateway_rows: Mapped[int] = mapped_column(Integer, default=0)
    our_rows: Mapped[int] = mapped_column(Integer, default=0)
    matched: Mapped[int] = mapped_column(Integer, default=0)
    gateway_cents: Mapped[int] = mapped_column(Integer, default=0)
    our_cents: Mapped[int] = mapped_column(Integer, default=0)
    ran_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class StatementDifference(Model):
    """A payment the gateway's bill file and our books disagree on, for the accountant.

    ``kind``: gateway_only (paid at the gateway, not credited here), ours_only (credited here,
    not in the gateway's file), amount_mismatch."""

    __tablename__ = "payment_statement_difference"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("payment_statement_run.id", ondelete="CASCADE"), index=True)
    community_id: Mapped[int | None] = mapped_column(ForeignKey("community.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    out_trade_no: Mapped[str | None] = mapped_column(String(40))
    transaction_id: Mapped[str | None] = mapped_column(String(64))
    gateway_cents: Mapped[int | None] = mapped_column(Integer)
    our_cents: Mapped[int | None] = mapped_column(Integer)
    traded_at: Mapped[datetime | None] = mapped_column(DateTime)
