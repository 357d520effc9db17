"""Polling real pymodbus servers: good values, silent meters, flagged values, order kept."""
from datetime import datetime
from decimal import Decimal

import pytest

from connectors.modbus import MeterRequest, read_meters_sync
from connectors.profiles import shipped_profiles
from connectors.simulators.meters import SimMeter, free_port, start_meter_server

AT = datetime(2026, 3, 1, 7, 30)
P = shipped_profiles()


@pytest.fixture
def gateway():
    meters = [SimMeter(1, start=Decimal("100")), SimMeter(2, "electricity_meter_dds", start=Decimal("2500")),
              SimMeter(3, pattern="out_of_range"), SimMeter(4, pattern="silent"),
              SimMeter(5, pattern="leak"), SimMeter(6, pattern="backwards", start=Decimal("500"))]
    with start_meter_server(meters, clock=lambda: AT) as handle:
        yield handle


def test_reads_water_and_electricity_meters_exactly(gateway):
    water, elec = gateway.meters[1], gateway.meters[2]
    readings = read_meters_sync([
        MeterRequest("W1", gateway.address(1), P["water_meter_dn20"]),
        MeterRequest("E2", gateway.address(2), P["electricity_meter_dds"]),
        MeterRequest("E2-V", gateway.address(2), P["electricity_meter_dds"], register="voltage"),
    ], timeout=0.5, retries=1)
    assert [r.device_code for r in readings] == ["W1", "E2", "E2-V"]
    assert readings[0].quality == "good" and readings[0].unit == "m3"
    assert readings[0].value == water.total_at(AT)
    assert readings[1].value == elec.total_at(AT) and readings[1].unit == "kWh"
    assert Decimal("215") < readings[2].value < Decimal("225") and readings[2].quality == "good"


def test_silent_meter_and_closed_port_are_reported_as_timeout_after_retries(gateway):
    closed = f"127.0.0.1:{free_port()}/1"
    readings = read_meters_sync([
        MeterRequest("SILENT", gateway.address(4), P["water_meter_dn20"]),
        MeterRequest("GONE", closed, P["water_meter_dn20"]),
        MeterRequest("W1", gateway.address(1), P["water_meter_dn20"]),
    ], timeout=0.2, retries=2)
    silent, gone, ok = readings
    assert silent.quality == "timeout" and silent.value is None and "after 3 attempts" in silent.error
    assert gone.quality == "timeout" and "unreachable" in gone.error
    assert ok.quality == "good"  # the connection survives the silent unit
    assert not silent.billable and ok.billable


def test_implausible_and_backwards_values_are_flagged(gateway):
    good_now = gateway.meters[1].total_at(AT)
    readings = read_meters_sync([
        MeterRequest("BAD", gateway.address(3), P["water_meter_dn20"]),
        MeterRequest("BACK", gateway.address(1), P["water_meter_dn20"], previous=good_now + 1),
        MeterRequest("SAME", gateway.address(1), P["water_meter_dn20"], previous=good_now),
        MeterRequest("FAULTY", gateway.address(6), P["water_meter_dn20"], previous=Decimal("500")),
    ], timeout=0.5, retries=0)
    bad, back, same, faulty = readings
    assert bad.quality == "out_of_range" and "plausible range" in bad.error and bad.value is not None
    assert back.quality == "backwards" and back.value == good_now
    assert same.quality == "good"
    assert faulty.quality == "backwards"
    assert [r.billable for r in readings] == [False, False, True, False]


def test_leaking_unit_shows_night_flow():
    night = datetime(2026, 3, 1, 3, 0)
    meters = [SimMeter(1), SimMeter(2, pattern="leak")]
    with start_meter_server(meters, clock=lambda: night) as gw:
        flows = read_meters_sync([MeterRequest(f"W{u}", gw.address(u), P["water_meter_dn20"], register="flow")
                                  for u in (1, 2)], timeout=0.5)
    normal, leaking = (r.value for r in flows)
    assert leaking > normal * 5 and leaking >= Decimal("0.015")


def test_many_meters_on_several_gateways_concurrently():
    servers = [start_meter_server([SimMeter(u) for u in range(1, 51)], clock=lambda: AT) for _ in range(4)]
    try:
        reqs = [MeterRequest(f"M{i}-{u}", s.address(u), P["water_meter_dn20"])
                for i, s in enumerate(servers) for u in range(1, 51)]
        readings = read_meters_sync(reqs, timeout=1.0, concurrency=4)
    finally:
        for s in servers:
            s.stop()
    assert len(readings) == 200 and all(r.quality == "good" for r in readings)
    assert [r.device_code for r in readings] == [r.device_code for r in reqs]
