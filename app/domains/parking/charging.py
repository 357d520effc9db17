"""EV charging: a resident's session from the phone to the bill.

Start: the resident chooses a charger and how to pay — ``prepaid`` (a budget taken from the
household's prepaid balance) or ``bill`` (pay after, with an optional budget); ``charger.start``
goes out with the session's number as ``session_id`` and the budget as ``max_kwh``. The
charger's ``session`` reports meter the energy (a report lower than the last one is logged and
ignored: meters never run backwards). Stop: by the resident (``charger.stop``), by the charger
(a full battery: it reports ``stopped`` by itself) or by the budget (we send ``charger.stop``
when the metered fee reaches it). Fee = energy × (price + service fee, module settings),
ROUND_HALF_UP to 1 分, put on the household's ``charging`` bill (``fees.charge_household``)
and, for prepaid sessions, paid from the prepaid balance at once (``fees.apply_prepaid``).
A ``fault`` report, or a session that reports nothing for ``charging_silent_minutes``
(``sweep_silent``), ends the session with what was metered and opens a repair work order.
"""
from __future__ import annotations

import base64
import logging
import secrets
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import ClassVar

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app import clock
from app.domains.devices.models import Device
from app.domains.devices.registry import apply_event, find_mqtt_device, profile_of
from app.domains.estate.models import Community, Household
from app.domains.parking.errors import ParkingError
from app.domains.parking.models import ChargingSession
from app.domains.parking.module import module_enabled
from app.platform.audit import record
from app.platform.module_settings import module_settings

log = logging.getLogger("estateflow.parking.charging")

ACTIVE = ("starting", "charging")
MODES = ("prepaid", "bill")
# a 1x1 PNG: the repair order's required photo when a charger breaks (no camera there)
_PLACEHOLDER_PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4"
                                    "DwABBAEAcCBlCwAAAABJRU5ErkJggg==")


class ChargingError(ParkingError):
    MESSAGES: ClassVar[dict[str, tuple[str, str]]] = {
        "no_charger": ("找不到这个充电桩。", "No such charger."),
        "busy": ("该充电桩正在使用中。", "This charger is in use."),
        "offline": ("充电桩离线，请稍后再试。", "The charger is offline; try again later."),
        "refused": ("充电桩拒绝启动：{error}", "The charger refused to start: {error}"),
        "bad_mode": ("请选择付款方式。", "Choose how to pay."),
        "budget": ("预付金额须大于 0 元。", "The budget must be more than 0 yuan."),
        "balance": ("预存款余额 ¥{balance} 不足 ¥{budget}。", "The prepaid balance ¥{balance} is less than ¥{budget}."),
        "not_active": ("该充电已结束。", "This charging session has ended."),
        "stop_failed": ("停止命令未成功：{error}", "The stop command did not succeed: {error}"),
    }


def unit_price(settings: dict) -> Decimal:
    return Decimal(str(settings["charging_price_per_kwh"])) + Decimal(str(settings["charging_service_fee_per_kwh"]))


def fee_cents(kwh: Decimal, price: Decimal) -> int:
    return int((Decimal(kwh) * price * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def chargers(session: Session, community_id: int) -> list[Device]:
    return [d for d in session.scalars(select(Device).where(Device.community_id == community_id)
                                       .order_by(Device.code))
            if "charger.start" in _capabilities(d)]


def _capabilities(device: Device) -> tuple:
    try:
        return tuple(profile_of(device).capabilities)
    except Exception:  # noqa: BLE001 - an unknown profile is no charger
        return ()


def _connector_state(session: Session, device: Device):
    from app.domains.devices.bus import connector_for

    community = session.get(Community, device.community_id)
    connector = connector_for(session)
    return connector, community.code


def start_session(session: Session, *, household: Household, device_id: int, mode: str, budget_cents: int | None,
                  actor: str) -> ChargingSession:
    device = session.get(Device, device_id)
    if device is None or device.community_id != household.community_id or "charger.start" not in _capabilities(device):
        raise ChargingError("no_charger")
    if mode not in MODES:
        raise ChargingError("bad_mode")
    if budget_cents is not None and budget_cents <= 0:
        raise ChargingError("budget")
    if mode == "prepaid":
        from app.domains.fees import yuan

        balance = household.prepaid_balance_cents or 0
        if budget_cents is None:
            budget_cents = balance
        if budget_cents <= 0 or budget_cents > balance:
            raise ChargingError("balance", balance=yuan(balance), budget=yuan(budget_cents or 0))
    if session.scalar(select(ChargingSession.id).where(ChargingSession.device_id == device.id,
                                                       ChargingSession.status.in_(ACTIVE))) is not None:
        raise ChargingError("busy")
    settings = module_settings(session, household.community_id, "parking")
    price = unit_price(settings)
    cs = ChargingSession(number=f"CS{clock.now():%Y%m%d%H%M%S}{secrets.token_hex(2).upper()}",
                         community_id=household.community_id, household_id=household.id, device_id=device.id,
                         status="starting", mode=mode, budget_cents=budget_cents, unit_price=price,
                         kwh=Decimal(0), started_at=clock.now(), created_by=actor)
    session.add(cs)
    session.flush()
    params: dict = {"session_id": cs.number}
    if budget_cents and price > 0:
        params["max_kwh"] = float((Decimal(budget_cents) / 100 / price).quantize(Decimal("0.001")))
    connector, code = _connector_state(session, device)
    if connector.is_online(code, device.address) is False:
        raise ChargingError("offline")
    ack = connector.send_command(code, device.address, profile_of(device).command_for("charger.start").name,
                                 params, timeout=5.0)
    if not ack.ok:
        raise ChargingError("refused", error=ack.error or ack.status)
    # the charger's answer says it started (its own "started" report may arrive before this
    # transaction commits, and is then ignored as a session it does not know yet)
    cs.status = "charging"
    cs.last_report_at = clock.now()
    record(session, actor=actor, action="parking.charging_started", target_type="charging_session",
           target_id=cs.number, community_id=cs.community_id,
           after={"charger": device.code, "mode": mode, "budget_cents": budget_cents, "unit_price": str(price)})
    return cs


def stop_session(session: Session, cs: ChargingSession, *, reason: str, actor: str) -> ChargingSession:
    """``charger.stop``; the session ends with the energy the charger answers (or last reported)."""
    if cs.status not in ACTIVE:
        raise ChargingError("not_active")
    device = session.get(Device, cs.device_id)
    # the reason first (this takes the row): the charger's own "stopped" report, handled in
    # another transaction, waits for ours and then finds the session settled
    session.execute(update(ChargingSession).where(ChargingSession.id == cs.id).values(stop_reason=reason)
                    .execution_options(synchronize_session=False))
    cs.stop_reason = reason
    connector, code = _connector_state(session, device)
    ack = connector.send_command(code, device.address, profile_of(device).command_for("charger.stop").name,
                                 {"session_id": cs.number}, timeout=5.0)
    if not ack.ok and ack.status != "queued":
        raise ChargingError("stop_failed", error=ack.error or ack.status)
    kwh = (ack.result or {}).get("kwh")
    if isinstance(kwh, (int, float)) and not isinstance(kwh, bool):
        _meter(cs, Decimal(str(kwh)))
    finish(session, cs, reason=reason, actor=actor)
    return cs


def _meter(cs: ChargingSession, kwh: Decimal) -> bool:
    """Take a meter report; False (logged) if it is below what was metered already."""
    if kwh < (cs.kwh or 0):
        log.warning("charging %s: charger reported %s kWh after %s kWh; ignored (meters never run backwards)",
                    cs.number, kwh, cs.kwh)
        return False
    cs.kwh = kwh.quantize(Decimal("0.001"))
    cs.last_report_at = clock.now()
    return True


def finish(session: Session, cs: ChargingSession, *, reason: str, actor: str, status: str = "finished") -> None:
    """End the session and settle it, once: the charger's own ``stopped`` report and the
    stop command's answer may race from two transactions; an atomic claim on ``settled_at``
    (the second writer waits for the first and then finds it set) lets only one bill it."""
    if cs.settled_at is not None:
        return
    from app.domains import fees

    now = clock.now()
    claimed = session.execute(update(ChargingSession).where(
        ChargingSession.id == cs.id, ChargingSession.settled_at.is_(None)).values(settled_at=now)
        .execution_options(synchronize_session=False)).rowcount
    if claimed != 1:
        session.refresh(cs)
        log.info("charging %s already settled elsewhere", cs.number)
        return
    cs.settled_at = now
    cs.status, cs.stop_reason, cs.stopped_at = status, reason, now
    cs.fee_cents = fee_cents(cs.kwh, cs.unit_price)
    if cs.fee_cents > 0:
        bill = fees.charge_household(
            session, community_id=cs.community_id, household_id=cs.household_id, kind="charging",
            number=f"{cs.number}-B", item="ev_charging",
            description=f"充电 {cs.number} {cs.kwh} kWh × ¥{cs.unit_price.normalize()}",
            amount_cents=cs.fee_cents, explanation={"session": cs.number, "kwh": str(cs.kwh),
                                                    "unit_price": str(cs.unit_price), "rounding": "ROUND_HALF_UP 0.01"})
        if bill is None:
            log.warning("charging %s: this month's charging bill is settled; %s cents not billed", cs.number,
                        cs.fee_cents)
        else:
            cs.bill_number = bill.number
            if cs.mode == "prepaid":
                fees.apply_prepaid(session, [bill.id], actor=actor)
        from app.domains.parking.revenue import post_public_revenue

        post_public_revenue(session, community_id=cs.community_id, source="charging", amount_cents=cs.fee_cents,
                            reference=cs.number)
    record(session, actor=actor, action="parking.charging_finished", target_type="charging_session",
           target_id=cs.number, community_id=cs.community_id,
           after={"reason": reason, "status": status, "kwh": str(cs.kwh), "fee_cents": cs.fee_cents,
                  "bill": cs.bill_number})


def _repair_order(session: Session, cs: ChargingSession, device: Device, what: str) -> None:
    import importlib

    if not module_enabled(session, cs.community_id, "repair"):
        log.warning("charger %s: %s, but the repair module is off here: no work order", device.code, what)
        return
    from app.forms.uploads import store_upload
    from app.platform.uploads import grant_uploads

    try:
        repair = importlib.import_module("app.domains.repair")
        photo = store_upload(_PLACEHOLDER_PNG, f"charger-{device.code}.png", accept=("image/png",))
        grant_uploads(session, {"photos": [photo]}, cs.community_id, "charger")
        with session.begin_nested():
            order = repair.create_order(
                session, community_id=cs.community_id, actor="charging-monitor", building_id=device.building_id,
                data={"category": "electrical", "photos": [photo],
                      "description": f"【充电桩故障】{device.name}（{device.location or ''}）：{what}；会话 {cs.number}",
                      "location_kind": "building_common" if device.building_id else "community_common",
                      "location_note": device.location or device.name})
        cs.repair_order = order.number
    except Exception as exc:  # noqa: BLE001 - a refused order must not lose the charging record
        log.warning("charger %s: repair order refused (%s)", device.code, exc)


def handle_session_event(session: Session, event) -> ChargingSession | None:
    """Router handler for an EV charger's ``session`` report."""
    apply_event(session, event)
    if event.profile != "ev_charger":
        return None
    device = find_mqtt_device(session, event.community, event.device)
    p = event.payload
    cs = session.scalar(select(ChargingSession).where(ChargingSession.number == str(p.get("session_id"))))
    if cs is None or device is None or cs.device_id != device.id:
        log.info("charger %s: report for unknown session %r ignored", event.device, p.get("session_id"))
        return None
    if cs.settled_at is not None:
        return cs  # a late report after the end (the stop answer settled it)
    status = p.get("status")
    _meter(cs, Decimal(str(p.get("kwh", 0))))
    if status in ("started", "charging"):
        cs.status = "charging"
        if cs.budget_cents and fee_cents(cs.kwh, cs.unit_price) >= cs.budget_cents:
            log.info("charging %s reached its budget; stopping", cs.number)
            try:
                stop_session(session, cs, reason="budget", actor="charging-monitor")
            except ChargingError as exc:
                log.warning("charging %s: budget stop failed: %s", cs.number, exc)
    elif status == "stopped":
        # stopped by the charger itself: at the session's limit (the budget) or a full battery
        at_budget = bool(cs.budget_cents) and fee_cents(cs.kwh, cs.unit_price) * 100 >= cs.budget_cents * 99
        finish(session, cs, reason=cs.stop_reason or ("budget" if at_budget else "full"), actor="charging-monitor")
    elif status == "fault":
        finish(session, cs, reason="fault", actor="charging-monitor", status="fault")
        _repair_order(session, cs, device, "充电中报告故障")
    return cs


def sweep_silent(session: Session) -> int:
    """Sessions whose charger stopped reporting: closed with what was metered, a work order each."""
    opened = 0
    now = clock.now()
    for cs in session.scalars(select(ChargingSession).where(ChargingSession.status.in_(ACTIVE))):
        settings = module_settings(session, cs.community_id, "parking")
        last = cs.last_report_at or cs.started_at
        if now - last < timedelta(minutes=int(settings["charging_silent_minutes"])):
            continue
        device = session.get(Device, cs.device_id)
        log.warning("charging %s on %s: no report since %s; closed", cs.number, device.code, last)
        finish(session, cs, reason="silent", actor="charging-monitor", status="silent")
        _repair_order(session, cs, device, "充电中长时间无上报")
        opened += 1
    return opened

