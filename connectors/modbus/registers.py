"""Register decoding and encoding for every type, word order and byte order.

Modbus registers are 16-bit big-endian words. Meters differ in two ways: the order of the
words of a 32-bit value (``word_order``: big = high word first, "ABCD"; little = low word
first, "CDAB") and, more rarely, the order of the bytes inside each word (``byte_order``:
little = "BADC"). The simulator uses ``encode`` so both sides share one definition.
"""
from __future__ import annotations

import struct
from decimal import Decimal

from connectors.profiles import REGISTER_TYPES, Register

_FORMATS = {"uint16": ">H", "int16": ">h", "uint32": ">I", "int32": ">i", "float32": ">f"}


def _swap_bytes(word: int) -> int:
    return ((word & 0xFF) << 8) | (word >> 8)


def decode(registers: list[int], type: str, word_order: str = "big", byte_order: str = "big") -> int | float:
    """Raw numeric value of ``registers`` (before scale)."""
    count = REGISTER_TYPES[type]
    if len(registers) < count:
        raise ValueError(f"{type} needs {count} registers, got {len(registers)}")
    words = list(registers[:count])
    if byte_order == "little":
        words = [_swap_bytes(w) for w in words]
    if word_order == "little":
        words.reverse()
    return struct.unpack(_FORMATS[type], b"".join(w.to_bytes(2, "big") for w in words))[0]


def encode(value: int | float, type: str, word_order: str = "big", byte_order: str = "big") -> list[int]:
    """Registers that ``decode`` turns back into ``value`` (integers are truncated)."""
    raw = struct.pack(_FORMATS[type], value if type == "float32" else int(value))
    words = [int.from_bytes(raw[i:i + 2], "big") for i in range(0, len(raw), 2)]
    if word_order == "little":
        words.reverse()
    if byte_order == "little":
        words = [_swap_bytes(w) for w in words]
    return words


def to_decimal(raw: int | float, scale: Decimal) -> Decimal:
    """Scaled value as a Decimal; float32 keeps its ~7 significant digits, not binary noise."""
    if isinstance(raw, float):
        return Decimal(f"{raw:.7g}") * scale
    return Decimal(raw) * scale


def decode_register(registers: list[int], reg: Register) -> Decimal:
    """The engineering value of one profile register."""
    return to_decimal(decode(registers, reg.type, reg.word_order, reg.byte_order), reg.scale)


def encode_register(value: Decimal | float, reg: Register) -> list[int]:
    """Registers a meter would hold to show ``value`` (simulators)."""
    raw = Decimal(str(value)) / reg.scale
    return encode(float(raw) if reg.type == "float32" else int(raw), reg.type, reg.word_order, reg.byte_order)
