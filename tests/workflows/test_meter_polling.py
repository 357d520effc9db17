"""Meter polling reads every Modbus meter against a real pymodbus server and stores readings."""
from __future__ import annotations

from sqlalchemy import select

from app.domains.estate.models import Community, PropertyCompany
from app.domains.devices.models import Device
from connectors.models import MeterReading
from connectors.simulators.meters import SimMeter, start_meter_server
from workflows.meter_polling import poll


def test_one_round_stores_good_readings_and_flags_a_faulty_meter(session, db_engine):
    server = start_meter_server([SimMeter(unit_id=1), SimMeter(unit_id=2, pattern="out_of_range")])
    try:
        company = PropertyCompany(name="P")
        community = Community(company=company, code="MP", name="抄表小区")
        session.add_all([company, community])
        session.flush()
        session.add_all([
            Device(community_id=community.id, code="W1", name="w1", profile="water_meter_dn20",
                   address=server.address(1)),
            Device(community_id=community.id, code="W2", name="w2", profile="water_meter_dn20",
                   address=server.address(2)),
        ])
        session.flush()
        from app.domains.energy.meters import register_meter

        for code in ("W1", "W2"):  # energy meters (public, so no unit needed) on these devices
            device = session.scalar(select(Device).where(Device.community_id == community.id, Device.code == code))
            register_meter(session, community.id, f"E-{code}", name=code, kind="water", role="public",
                           device_id=device.id)
        session.commit()
        counts = poll(db_engine.url.render_as_string(hide_password=False), timeout=1.0, retries=1)
        assert counts == {"good": 1, "out_of_range": 1}
        session.expire_all()
        qualities = sorted(session.scalars(select(MeterReading.quality)))
        assert "good" in qualities
        w1 = session.scalar(select(Device).where(Device.code == "W1"))
        assert w1.status == "online" and w1.last_value["quality"] == "good"
        # every reading is in the energy readings with its flag: the good one billable, the other apart
        from app.domains.energy.models import EnergyFlaggedReading, EnergyReading

        assert len(session.scalars(select(EnergyReading)).all()) == 1
        flagged = session.scalars(select(EnergyFlaggedReading)).all()
        assert [f.quality for f in flagged] == ["out_of_range"] and "outside plausible range" in flagged[0].reason
    finally:
        server.stop()
