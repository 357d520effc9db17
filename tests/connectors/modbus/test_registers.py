"""Register decoding for every type, word order and byte order."""
import itertools
from decimal import Decimal

import pytest

from connectors.modbus.registers import decode, decode_register, encode
from connectors.profiles import Register

VECTORS = [
    # type, value, big/big registers
    ("uint16", 0xBEEF, [0xBEEF]),
    ("int16", -2, [0xFFFE]),
    ("uint32", 0x12345678, [0x1234, 0x5678]),
    ("int32", -100000, [0xFFFE, 0x7960]),
    ("float32", 1.0, [0x3F80, 0x0000]),
]


def _swap(w):
    return ((w & 0xFF) << 8) | (w >> 8)


@pytest.mark.parametrize("type_,value,regs", VECTORS)
@pytest.mark.parametrize("word_order,byte_order", list(itertools.product(["big", "little"], repeat=2)))
def test_known_vectors_in_every_order(type_, value, regs, word_order, byte_order):
    wire = list(regs)
    if word_order == "little":
        wire.reverse()
    if byte_order == "little":
        wire = [_swap(w) for w in wire]
    assert decode(wire, type_, word_order, byte_order) == value
    assert encode(value, type_, word_order, byte_order) == wire


@pytest.mark.parametrize("type_,value", [("uint32", 4_000_000_000), ("int32", -1), ("float32", -230.5),
                                         ("int16", -32768), ("uint16", 65535)])
@pytest.mark.parametrize("word_order,byte_order", list(itertools.product(["big", "little"], repeat=2)))
def test_round_trip(type_, value, word_order, byte_order):
    assert decode(encode(value, type_, word_order, byte_order), type_, word_order, byte_order) == value


def test_scaled_values_are_exact_decimals():
    reg = Register("total", 0, type="uint32", scale=Decimal("0.001"), word_order="little")
    assert decode_register([0xE240, 0x0001], reg) == Decimal("123.456")
    volts = Register("v", 2, type="float32")
    assert decode_register(encode(230.1, "float32"), volts) == Decimal("230.1")


def test_too_few_registers_is_an_error():
    with pytest.raises(ValueError):
        decode([1], "uint32")
