"""Issue 12, item 12: a Modbus exception says what it means; an address must parse."""
import pytest

from connectors.modbus.address import parse_address
from connectors.modbus.reader import describe_exception


def test_exception_codes_name_their_meaning():
    assert describe_exception(4, 7).startswith("exception 4 from unit 7: device failure")
    assert "no such unit" in describe_exception(11, 7)
    assert "no such register" in describe_exception(2, 3)
    assert describe_exception(99, 1) == "exception 99 from unit 1: unknown exception code"


@pytest.mark.parametrize("text", ["not an address", "", ":502/1", "host:notaport/1", "10.0.0.1:502/300",
                                  "bad_host!:502/1"])
def test_an_address_that_does_not_parse_is_refused(text):
    with pytest.raises(ValueError):
        parse_address(text)


@pytest.mark.parametrize("text,unit", [("127.0.0.1:5020/3", 3), ("gw-1.estate.local:502/7", 7), ("10.0.0.5", 1)])
def test_good_addresses_parse(text, unit):
    assert parse_address(text).unit == unit
