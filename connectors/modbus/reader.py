"""Polling many Modbus meters concurrently, one connection per gateway.

Meters sit on RS-485 buses behind TCP gateways; a bus answers one request at a time, so
requests to one gateway are serialised on one connection and gateways are polled in parallel
(at most ``concurrency`` at once). Every meter asked for gets a ``Reading`` back, in the
order asked: a silent meter is reported with quality ``timeout``, never dropped. A value
outside the profile's plausible range, or a cumulative counter below the previous good
reading, is flagged (``out_of_range`` / ``backwards``) and must not be billed.
"""
from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from connectors.modbus.address import ModbusAddress, parse_address
from connectors.modbus.registers import decode_register
from connectors.profiles import Profile, Register

log = logging.getLogger(__name__)

QUALITIES = ("good", "out_of_range", "backwards", "timeout", "error")
GATEWAY_NO_RESPONSE = 0x0B  # exception code a gateway returns when the RS-485 unit is silent

#: what a Modbus exception code means (Modbus Application Protocol v1.1b3, section 7)
EXCEPTION_MEANINGS = {
    0x01: "illegal function: the unit does not support this read (wrong register function in the profile?)",
    0x02: "illegal data address: the unit has no such register (wrong register map in the profile?)",
    0x03: "illegal data value: the unit refused the request's quantity or value",
    0x04: "device failure: the unit answered but could not perform the read",
    0x05: "acknowledge: the unit accepted a long-running request",
    0x06: "device busy: the unit is busy, try again later",
    0x08: "memory parity error in the unit",
    0x0A: "gateway path unavailable: the gateway is misconfigured or overloaded",
    0x0B: "gateway target failed to respond: no such unit on the bus, or it is powered off/unwired",
}


def describe_exception(code: int | None, unit: int | str) -> str:
    """``exception 4 from unit 7: device failure: ...`` (an operator can act on it)."""
    meaning = EXCEPTION_MEANINGS.get(code if isinstance(code, int) else -1, "unknown exception code")
    return f"exception {code} from unit {unit}: {meaning}"


def _utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


@dataclass(frozen=True)
class Reading:
    """One meter read. ``value`` is None when nothing was read (timeout, error)."""

    device_code: str
    value: Decimal | None
    unit: str
    quality: str
    at: datetime
    error: str | None = None
    register: str = ""

    @property
    def billable(self) -> bool:
        return self.quality == "good"


@dataclass(frozen=True)
class MeterRequest:
    """A meter to read: its code, address, profile and last good value (for 'backwards')."""

    device_code: str
    address: str | ModbusAddress
    profile: Profile
    previous: Decimal | None = None
    register: str | None = None  # default: the profile's primary register

    @property
    def parsed(self) -> ModbusAddress:
        return self.address if isinstance(self.address, ModbusAddress) else parse_address(self.address)

    @property
    def reg(self) -> Register:
        return self.profile.registers[self.register] if self.register else self.profile.primary_register


def judge(value: Decimal, reg: Register, previous: Decimal | None) -> str:
    """Quality of a successfully decoded value."""
    if reg.range is not None and not reg.range[0] <= value <= reg.range[1]:
        return "out_of_range"
    if reg.cumulative and previous is not None and value < previous:
        return "backwards"
    return "good"


async def _read_one(client: AsyncModbusTcpClient, req: MeterRequest, addr: ModbusAddress,
                    timeout: float, retries: int, clock: Callable[[], datetime]) -> Reading:
    reg = req.reg
    fn = client.read_holding_registers if reg.function == "holding" else client.read_input_registers
    last_error = "no attempt"
    for attempt in range(retries + 1):
        try:
            if not client.connected:
                await asyncio.wait_for(client.connect(), timeout)
                if not client.connected:
                    raise ConnectionError(f"cannot connect to gateway {addr.host}:{addr.port}")
            rr = await asyncio.wait_for(fn(reg.address, count=reg.count, device_id=addr.unit), timeout * 2)
        except (asyncio.TimeoutError, ModbusException, ConnectionError, OSError) as exc:
            last_error = f"attempt {attempt + 1}: {type(exc).__name__}: {exc}".strip()
            continue
        if rr.isError():
            code = getattr(rr, "exception_code", None)
            if code == GATEWAY_NO_RESPONSE:
                last_error = f"attempt {attempt + 1}: {describe_exception(code, addr.unit)}"
                continue
            return Reading(req.device_code, None, reg.unit, "error", clock(),
                           f"{describe_exception(code, addr.unit)} (gateway {addr.host}:{addr.port})", reg.name)
        try:
            value = decode_register(rr.registers, reg)
        except ValueError as exc:
            return Reading(req.device_code, None, reg.unit, "error", clock(), str(exc), reg.name)
        quality = judge(value, reg, req.previous)
        error = None
        if quality == "out_of_range":
            error = f"{value} {reg.unit} outside plausible range {reg.range[0]}..{reg.range[1]}"
        elif quality == "backwards":
            error = f"{value} {reg.unit} below previous good reading {req.previous}"
        return Reading(req.device_code, value, reg.unit, quality, clock(), error, reg.name)
    return Reading(req.device_code, None, reg.unit, "timeout", clock(),
                   f"no answer from {addr} after {retries + 1} attempts ({last_error})", reg.name)


async def _poll_gateway(gateway: tuple[str, int], items: list[tuple[int, MeterRequest, ModbusAddress]],
                        out: list[Reading | None], sem: asyncio.Semaphore, timeout: float,
                        retries: int, clock: Callable[[], datetime]) -> None:
    async with sem:
        client = AsyncModbusTcpClient(gateway[0], port=gateway[1], timeout=timeout, retries=0,
                                      reconnect_delay=0)
        try:
            try:
                await asyncio.wait_for(client.connect(), timeout)
            except (asyncio.TimeoutError, OSError):
                pass
            if not client.connected:
                # one more attempt: a gateway that refuses twice is down for this round
                try:
                    await asyncio.wait_for(client.connect(), timeout)
                except (asyncio.TimeoutError, OSError):
                    pass
            if not client.connected:
                for index, req, addr in items:
                    out[index] = Reading(req.device_code, None, req.reg.unit, "timeout", clock(),
                                         f"gateway {addr.host}:{addr.port} unreachable", req.reg.name)
                return
            for index, req, addr in items:
                out[index] = await _read_one(client, req, addr, timeout, retries, clock)
        finally:
            client.close()


async def read_meters(requests: Iterable[MeterRequest], *, timeout: float = 1.0, retries: int = 2,
                      concurrency: int = 32, clock: Callable[[], datetime] = _utcnow) -> list[Reading]:
    """Read every meter; returns one ``Reading`` per request, in request order."""
    reqs = list(requests)
    out: list[Reading | None] = [None] * len(reqs)
    groups: dict[tuple[str, int], list] = defaultdict(list)
    for index, req in enumerate(reqs):
        try:
            addr = req.parsed
            _ = req.reg
        except (ValueError, LookupError, KeyError) as exc:
            out[index] = Reading(req.device_code, None, "", "error", clock(), str(exc))
            continue
        groups[addr.gateway].append((index, req, addr))
    sem = asyncio.Semaphore(max(1, concurrency))
    await asyncio.gather(*(_poll_gateway(gw, items, out, sem, timeout, retries, clock)
                           for gw, items in groups.items()))
    return [r for r in out if r is not None]


def read_meters_sync(requests: Iterable[MeterRequest], **kwargs) -> list[Reading]:
    """``read_meters`` for synchronous callers (services, the CLI, web views).

    If the calling thread already runs an event loop (a notebook, Playwright's sync API
    in tests), the reads run on a private loop in a helper thread instead.
    """
    requests = list(requests)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(read_meters(requests, **kwargs))
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, read_meters(requests, **kwargs)).result()
