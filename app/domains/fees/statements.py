"""Daily statement reconciliation: the gateway's bill file against our books.

Each morning the gateway's file for yesterday is read — WeChat Pay's ``tradebill`` (CSV, every
field prefixed with a backtick, a summary block at the end) or Alipay's account log (账务明细: a
zip of GBK CSV files, ``#`` comment lines, cells padded with tabs) — and compared with the
payments we credited (accepted gateway notifications, household bills and parking tickets
alike). Differences are kept for the accountant:

* ``gateway_only`` — paid at the gateway, not credited here (a lost callback the 5-minute
  reconciliation has not caught, or an order we do not know);
* ``ours_only`` — credited here that day, not in the gateway's file;
* ``amount_mismatch`` — both have it, for different amounts.

Reading the same day again replaces that day's differences (the job is safe to re-run). Only
payments are compared; refund rows of the files are not (refunds move our books only on the
gateway's confirmation, see ``payments.request_refund``). A payment made just before midnight and notified
after it can show as a difference of both days until the next day's file is read.
"""
from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.domains.fees.models import GatewayNotification, PaymentOrder, StatementDifference, StatementRun
from app.domains.fees.money import BadAmount, parse_yuan
from app.localtime import from_local
from app.platform.audit import record

KINDS = ("gateway_only", "ours_only", "amount_mismatch")


class StatementUnreadable(ValueError):
    """The bill file is not in the format its gateway documents."""


@dataclass(frozen=True)
class StatementRow:
    transaction_id: str
    out_trade_no: str
    amount_cents: int
    traded_at: datetime | None = None  # naive UTC


def _cents(text: str) -> int:
    try:
        return parse_yuan(text.replace(",", ""), allow_zero=True)
    except BadAmount:
        raise StatementUnreadable(f"bad amount {text!r}") from None


def _local_time(text: str) -> datetime | None:
    try:
        return from_local(datetime.strptime(text.strip(), "%Y-%m-%d %H:%M:%S"))
    except ValueError:
        return None


# --- WeChat Pay tradebill ----------------------------------------------------------------------------
def parse_wechat_tradebill(text: str) -> list[StatementRow]:
    """Successful payments of a ``bill_type=ALL`` trade bill (refund rows left out)."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header: list[str] | None = None
    rows: list[StatementRow] = []
    for cells in reader:
        cells = [c.strip().lstrip("`") for c in cells]
        if not cells or not any(cells):
            continue
        if header is None:
            if cells[0] != "交易时间":
                raise StatementUnreadable("a WeChat Pay trade bill starts with the 交易时间 header")
            header = cells
            continue
        if cells[0] == "总交易单数":  # the summary block
            break
        row = dict(zip(header, cells))
        try:
            state, number, ours = row["交易状态"], row["微信订单号"], row["商户订单号"]
        except KeyError as exc:
            raise StatementUnreadable(f"trade bill without column {exc}") from None
        if state != "SUCCESS":
            continue
        rows.append(StatementRow(number, ours, _cents(row.get("应结订单金额") or row.get("订单金额", "")),
                                 _local_time(row["交易时间"])))
    if header is None:
        raise StatementUnreadable("empty trade bill")
    return rows


# --- Alipay account log (账务明细) ----------------------------------------------------------------------
def _alipay_csv(data: bytes) -> str:
    if data[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = [n for n in archive.namelist() if n.endswith(".csv") and "汇总" not in n]
            detail = [n for n in names if "账务明细" in n] or names
            if not detail:
                raise StatementUnreadable("the Alipay bill archive holds no account log")
            data = archive.read(detail[0])
    for encoding in ("gbk", "utf-8-sig"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise StatementUnreadable("the Alipay account log is neither GBK nor UTF-8")


def parse_alipay_account_log(data: bytes) -> list[StatementRow]:
    """Income from online payments (业务类型 在线支付) in an Alipay account log."""
    header: list[str] | None = None
    rows: list[StatementRow] = []
    for cells in csv.reader(io.StringIO(_alipay_csv(data))):
        if not cells or cells[0].startswith("#"):
            continue
        cells = [c.strip() for c in cells]
        if header is None:
            if cells[0] != "账务流水号":
                raise StatementUnreadable("an Alipay account log has the 账务流水号 header")
            header = cells
            continue
        row = dict(zip(header, cells))
        if row.get("业务类型") != "在线支付":
            continue
        income = _cents(row.get("收入金额（+元）", "0") or "0")
        if income > 0:
            rows.append(StatementRow(row.get("业务流水号", ""), row.get("商户订单号", ""), income,
                                     _local_time(row.get("发生时间", ""))))
    if header is None:
        raise StatementUnreadable("empty Alipay account log")
    return rows


def read_statement(gateway, bill_date: date) -> list[StatementRow]:
    """Download and read ``gateway``'s file for ``bill_date`` (``GatewayError`` if unavailable)."""
    if gateway.name == "wechatpay":
        return parse_wechat_tradebill(gateway.tradebill(bill_date))
    if gateway.name == "alipay":
        return parse_alipay_account_log(gateway.account_log(bill_date))
    raise StatementUnreadable(f"gateway {gateway.name} has no bill file")


# --- comparing -------------------------------------------------------------------------------------------
def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = from_local(datetime.combine(day, time()))
    return start, from_local(datetime.combine(day + timedelta(days=1), time()))


def reconcile_statement(session: Session, gateway_name: str, bill_date: date,
                        rows: list[StatementRow]) -> StatementRun:
    """Compare the file's payments with ours and keep the differences (replacing the day's earlier
    ones). Does not commit."""
    start, end = _day_bounds(bill_date)
    accepted = GatewayNotification.outcome == "accepted"
    ours_that_day = list(session.scalars(select(GatewayNotification).where(
        GatewayNotification.gateway == gateway_name, accepted,
        GatewayNotification.received_at >= start, GatewayNotification.received_at < end)))
    ids = [r.transaction_id for r in rows if r.transaction_id]
    known = {n.transaction_id: n for n in session.scalars(select(GatewayNotification).where(
        GatewayNotification.gateway == gateway_name, accepted, GatewayNotification.transaction_id.in_(ids)))} \
        if ids else {}
    orders = {o.out_trade_no: o for o in session.scalars(select(PaymentOrder).where(
        PaymentOrder.out_trade_no.in_([r.out_trade_no for r in rows] or [""])))}
    earlier = select(StatementRun.id).where(StatementRun.gateway == gateway_name, StatementRun.bill_date == bill_date)
    session.execute(delete(StatementDifference).where(StatementDifference.run_id.in_(earlier)))
    session.execute(delete(StatementRun).where(StatementRun.id.in_(earlier)))
    session.flush()
    run = StatementRun(gateway=gateway_name, bill_date=bill_date, gateway_rows=len(rows),
                       our_rows=len(ours_that_day), matched=0, gateway_cents=sum(r.amount_cents for r in rows),
                       our_cents=sum(n.amount_cents or 0 for n in ours_that_day))
    session.add(run)
    session.flush()
    in_file = set(ids)
    for row in rows:
        ours = known.get(row.transaction_id)
        if ours is None:
            order = orders.get(row.out_trade_no)
            session.add(StatementDifference(run_id=run.id, kind="gateway_only", out_trade_no=row.out_trade_no[:40],
                                            transaction_id=row.transaction_id[:64], gateway_cents=row.amount_cents,
                                            community_id=order.community_id if order else None,
                                            traded_at=row.traded_at))
        elif ours.amount_cents != row.amount_cents:
            session.add(StatementDifference(run_id=run.id, kind="amount_mismatch", out_trade_no=row.out_trade_no[:40],
                                            transaction_id=row.transaction_id[:64], gateway_cents=row.amount_cents,
                                            our_cents=ours.amount_cents, community_id=ours.community_id,
                                            traded_at=row.traded_at))
        else:
            run.matched += 1
    for ours in ours_that_day:
        if ours.transaction_id not in in_file:
            session.add(StatementDifference(run_id=run.id, kind="ours_only", out_trade_no=ours.out_trade_no,
                                            transaction_id=ours.transaction_id, our_cents=ours.amount_cents,
                                            community_id=ours.community_id, traded_at=ours.received_at))
    session.flush()
    differences = len(rows) - run.matched + sum(1 for n in ours_that_day if n.transaction_id not in in_file)
    record(session, actor=f"reconciliation:{gateway_name}", action="payment.statement", target_type="statement_run",
           target_id=run.id, after={"bill_date": bill_date.isoformat(), "gateway_rows": len(rows),
                                    "matched": run.matched, "differences": differences})
    return run
