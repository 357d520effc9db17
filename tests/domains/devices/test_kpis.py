"""Device KPIs: online rate now and the share of devices with a fault logged in the window."""
from __future__ import annotations

from datetime import datetime

from app.domains.devices import kpis
from app.domains.devices.models import Device
from connectors.models import DeviceError
from tests.support.kpi_estate import build_kpi_estate


def test_online_and_failure_rates(session):
    estate = build_kpi_estate(session)
    cid = estate.community.id
    devices = [Device(community_id=cid, code=f"D{i}", name=f"d{i}", profile="door_controller", address=f"a{i}",
                      status=s, building_id=estate.buildings[0 if i < 2 else 1].id)
               for i, s in enumerate(["online", "online", "offline", "error"])]
    session.add_all(devices)
    session.flush()
    session.add_all([DeviceError(device_id=devices[2].id, kind="timeout", message="x", at=datetime(2026, 10, 3)),
                     DeviceError(device_id=devices[2].id, kind="timeout", message="x", at=datetime(2026, 10, 4)),
                     DeviceError(device_id=devices[0].id, kind="timeout", message="x", at=datetime(2026, 1, 1))])
    session.flush()
    health = kpis.health(session, estate.scope())
    assert (health["devices"], health["online"], health["failed"]) == (4, 2, 1)
    assert str(health["online_rate"]) == "50.0" and str(health["failure_rate"]) == "25.0"
    building = kpis.health(session, estate.scope(building=0))
    assert building["devices"] == 2 and str(building["online_rate"]) == "100.0"
    figures = {f.key: f for f in kpis.health_tile(session, estate.scope()).figures}
    assert figures["offline"].value == 1 and figures["error"].value == 1
    assert figures["offline"].link == ("DeviceView.list", {"_flt_0_status": "offline"})


def test_no_devices_says_so(session):
    estate = build_kpi_estate(session)
    figures = {f.key: f for f in kpis.health_tile(session, estate.scope()).figures}
    assert figures["online_rate"].value is None and figures["online_rate"].empty == "no devices registered"
