"""Modbus device addresses: ``host:port/unit`` (a TCP gateway and the RS-485 unit id)."""
from __future__ import annotations

import re
from dataclasses import dataclass

_HOST = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*)$")


@dataclass(frozen=True)
class ModbusAddress:
    host: str
    port: int
    unit: int

    @property
    def gateway(self) -> tuple[str, int]:
        return (self.host, self.port)

    def __str__(self) -> str:
        return f"{self.host}:{self.port}/{self.unit}"


def parse_address(text: str) -> ModbusAddress:
    """Parse ``'127.0.0.1:5020/3'``; port defaults to 502 and unit to 1 when omitted."""
    rest, _, unit = text.strip().partition("/")
    host, _, port = rest.rpartition(":") if ":" in rest else (rest, "", "502")
    try:
        port_n = int(port or 502)
        unit_n = int(unit) if unit else 1
    except ValueError as exc:
        raise ValueError(f"bad Modbus address {text!r}: expected host:port/unit") from exc
    if not _HOST.match(host):
        raise ValueError(f"bad Modbus address {text!r}: {host!r} is not a host name or IP address "
                         "(expected host:port/unit, e.g. 192.168.1.20:502/7)")
    if not host or not 0 < port_n < 65536 or not 0 <= unit_n <= 247:
        raise ValueError(f"bad Modbus address {text!r}: expected host:port/unit (unit 0..247)")
    return ModbusAddress(host, port_n, unit_n)
