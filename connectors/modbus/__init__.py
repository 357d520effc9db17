"""Modbus TCP meters (usually RS-485 meters behind a TCP gateway): decoding and polling."""
from connectors.modbus.address import ModbusAddress, parse_address
from connectors.modbus.reader import (
    MeterRequest,
    Reading,
    read_meters,
    read_meters_sync,
)
from connectors.modbus.registers import decode, decode_register, encode

__all__ = [
    "MeterRequest", "ModbusAddress", "Reading", "decode", "decode_register", "encode",
    "parse_address", "read_meters", "read_meters_sync",
]
