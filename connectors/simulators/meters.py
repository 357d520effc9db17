"""A pymodbus TCP server hosting many simulated meters (one unit id each) driven by a clock.

Values are computed when a register is read, from the meter's pattern and the clock, so a
demo can run time fast and a test can freeze it. Patterns:

- ``household``: daily use with morning and evening peaks, almost nothing at night;
- ``leak``: household use plus a constant flow, visible as night flow;
- ``out_of_range``: a faulty meter reporting an impossible value;
- ``backwards``: a faulty meter whose counter runs down;
- ``silent``: the unit never answers (a dead meter on the bus);
- ``stuck``: counts like a household meter until ``stuck_since``, then shows one value;
- ``lighting``: a public lighting circuit, on from 18:00 to 06:00;
- ``lighting_on``: the same circuit left on day and night (a broken timer).

pymodbus 3.16 copies a regular datastore into the running server, so instead of updating
registers we give the server a context that computes them on demand.
"""
from __future__ import annotations

import asyncio
import random
import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal

from pymodbus.datastore import ModbusServerContext
from pymodbus.exceptions import NoSuchIdException
from pymodbus.server import ModbusTcpServer

from connectors.modbus.registers import encode, encode_register
from connectors.profiles import Profile, shipped_profiles

PATTERNS = ("household", "leak", "out_of_range", "backwards", "silent", "stuck", "lighting", "lighting_on")
LIGHTING_KW = Decimal("2.0")  # a row of street lights
# share of a day's use per hour (0..23): quiet nights, morning and evening peaks
HOUR_WEIGHTS = [0.2, 0.1, 0.1, 0.1, 0.2, 0.8, 2.5, 3.0, 2.0, 1.0, 0.9, 1.2,
                1.5, 1.0, 0.8, 0.8, 1.0, 1.6, 2.6, 2.8, 2.2, 1.5, 0.8, 0.4]
_W_TOTAL = sum(HOUR_WEIGHTS)
EPOCH = datetime(2026, 1, 1)
DAILY_USE = {"m3": Decimal("0.35"), "kWh": Decimal("7.5")}  # a typical household day
LEAK_PER_HOUR = Decimal("0.015")  # m³/h, a running toilet cistern


def _utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def day_fraction(t: datetime) -> float:
    """Days of weighted use elapsed since EPOCH (a smooth, monotonic function of t)."""
    seconds = (t - EPOCH).total_seconds()
    days, rest = divmod(seconds, 86400)
    hour, within = divmod(rest, 3600)
    hour = int(hour)
    part = sum(HOUR_WEIGHTS[:hour]) + HOUR_WEIGHTS[hour] * within / 3600
    return days + part / _W_TOTAL


@dataclass
class SimMeter:
    """One simulated meter on a gateway. ``scale`` multiplies the typical daily use."""

    unit_id: int
    profile: str = "water_meter_dn20"
    pattern: str = "household"
    start: Decimal = Decimal("100")
    scale: float = 1.0
    code: str = ""
    stuck_since: datetime | None = None
    _profile: Profile | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.pattern not in PATTERNS:
            raise ValueError(f"unknown meter pattern {self.pattern!r} (known: {PATTERNS})")
        self.start = Decimal(str(self.start))
        if self._profile is None:
            self._profile = shipped_profiles()[self.profile]

    @property
    def primary(self):
        return self._profile.primary_register

    def total_at(self, t: datetime) -> Decimal:
        reg = self.primary
        if self.pattern == "stuck" and self.stuck_since is not None:
            t = min(t, self.stuck_since)
        if self.pattern in ("lighting", "lighting_on"):
            hours = Decimal(str((t - EPOCH).total_seconds() / 3600))
            if self.pattern == "lighting":  # 12 of every 24 hours, from 18:00
                days, rest = divmod(hours, 24)
                hours = days * 12 + max(Decimal(0), min(rest, Decimal(6))) + max(Decimal(0), rest - 18)
            total = self.start + LIGHTING_KW * Decimal(str(self.scale)) * hours
            return total.quantize(reg.scale) if reg.scale < 1 else total
        daily = DAILY_USE.get(reg.unit, Decimal(1)) * Decimal(str(self.scale))
        total = self.start + daily * Decimal(str(day_fraction(t)))
        if self.pattern == "leak":
            total += LEAK_PER_HOUR * Decimal(str((t - EPOCH).total_seconds() / 3600))
        if self.pattern == "backwards":
            total = max(Decimal(0), self.start - daily * Decimal(str(day_fraction(t) % 10)))
        if self.pattern == "out_of_range" and reg.range is not None:
            return reg.range[1] * 2 + 1
        return total.quantize(reg.scale) if reg.scale < 1 else total

    def rate_at(self, t: datetime) -> float:
        """Instantaneous use per hour (flow m³/h or power kW)."""
        reg = self.primary
        daily = float(DAILY_USE.get(reg.unit, Decimal(1))) * self.scale
        rate = daily * HOUR_WEIGHTS[t.hour] / _W_TOTAL
        if self.pattern == "leak":
            rate += float(LEAK_PER_HOUR)
        return rate

    def registers(self, function: str, t: datetime) -> dict[int, int]:
        """Register address -> 16-bit word for one function table at time t."""
        words: dict[int, int] = {}
        for reg in self._profile.registers.values():
            if reg.function != function:
                continue
            if reg.name == self._profile.primary:
                value: Decimal | float = self.total_at(t)
            elif reg.unit == "V":
                value = 220.0 + random.uniform(-3, 3)
            elif reg.unit == "W":
                value = self.rate_at(t) * 1000
            else:
                value = self.rate_at(t)
            try:
                regs = encode_register(value, reg)
            except Exception:  # value too big for the register type: wrap like hardware does
                regs = encode(0, reg.type, reg.word_order, reg.byte_order)
            for i, w in enumerate(regs):
                words[reg.address + i] = w
        return words


class MeterContext(ModbusServerContext):
    """A server context computing registers on read; unknown or silent units never answer."""

    def __init__(self, meters: Iterable[SimMeter], clock: Callable[[], datetime],
                 latency: float = 0.0):  # noqa: D107
        # deliberately not calling super().__init__: it would copy static datastores
        self.latency = latency  # seconds per request: an RS-485 bus behind a gateway is slow
        self.old_simulator = True
        self.simdevices = []
        self.meters = {m.unit_id: m for m in meters}
        self.clock = clock
        self.reads = 0

    def device_ids(self) -> list[int]:
        return list(self.meters)

    async def async_getValues(self, device_id: int, func_code: int, address: int, count: int = 1):
        meter = self.meters.get(device_id)
        if meter is None or meter.pattern == "silent":
            raise NoSuchIdException(f"no meter at unit {device_id}")
        self.reads += 1
        if self.latency:
            await asyncio.sleep(self.latency)
        if func_code in (1, 2):
            return [False] * count
        words = meter.registers("input" if func_code == 4 else "holding", self.clock())
        return [words.get(a, 0) for a in range(address, address + count)]

    async def async_setValues(self, device_id: int, func_code: int, address: int, values):
        if device_id not in self.meters:
            raise NoSuchIdException(f"no meter at unit {device_id}")
        return None  # meters are read-only here


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class MeterServerHandle:
    """A running simulated gateway; ``address(unit)`` gives a device address for it."""

    def __init__(self, meters: list[SimMeter], host: str, port: int, clock: Callable[[], datetime],
                 latency: float = 0.0):
        self.host, self.port = host, port
        self.context = MeterContext(meters, clock, latency)
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._server: ModbusTcpServer | None = None
        self._thread = threading.Thread(target=self._run, name=f"modbus-sim-{port}", daemon=True)
        self._thread.start()
        if not self._ready.wait(10) or self._error:
            raise RuntimeError(f"meter server on {host}:{port} did not start: {self._error}")

    @property
    def meters(self) -> dict[int, SimMeter]:
        return self.context.meters

    def address(self, unit_id: int) -> str:
        return f"{self.host}:{self.port}/{unit_id}"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())

    async def _serve(self) -> None:
        try:
            self._server = ModbusTcpServer(self.context, address=(self.host, self.port),
                                           ignore_missing_devices=True)
            task = asyncio.create_task(self._server.serve_forever())
            for _ in range(200):
                await asyncio.sleep(0.01)
                if self._server.transport is not None or task.done():
                    break
            if task.done() and task.exception():
                raise task.exception()
        except BaseException as exc:  # noqa: BLE001 - reported to the starting thread
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            await task
        except asyncio.CancelledError:
            pass

    def stop(self) -> None:
        if self._server is None or not self._thread.is_alive():
            return
        fut = asyncio.run_coroutine_threadsafe(self._server.shutdown(), self._loop)
        try:
            fut.result(10)
        except Exception:  # noqa: BLE001 - best effort on shutdown
            pass
        self._thread.join(10)

    def __enter__(self) -> "MeterServerHandle":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_meter_server(meters: Iterable[SimMeter], host: str = "127.0.0.1", port: int = 0,
                       clock: Callable[[], datetime] = _utcnow, latency: float = 0.0) -> MeterServerHandle:
    """Start a simulated Modbus TCP gateway in a background thread (port 0 = a free port).

    ``latency`` delays every answer (seconds), like a real RS-485 bus behind a gateway."""
    return MeterServerHandle(list(meters), host, port or free_port(host), clock, latency)
