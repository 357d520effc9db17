"""The MQTT consumer's device table: a device registered a moment ago is heard from its first
message (no waiting for the periodic reload), and messages from devices nobody registered do
not reload the table each time."""
from __future__ import annotations

from sqlalchemy import event

from app.domains.devices.event_consumer import RefreshingProfiles
from app.domains.devices.registry import register_device
from app.domains.estate.models import Community, PropertyCompany


def test_a_device_registered_just_now_is_known_at_its_first_message(db_engine):
    from sqlalchemy.orm import sessionmaker

    factory = sessionmaker(db_engine, expire_on_commit=False)
    with factory() as s:
        company = PropertyCompany(name="物业")
        community = Community(company=company, code="RP", name="测试小区")
        s.add_all([company, community])
        s.commit()
        cid = community.id
    profiles = RefreshingProfiles(factory, min_interval=3600, probe_interval=0)
    assert profiles("RP", "door-new") is None  # not there yet
    with factory() as s:
        register_device(s, cid, "DOOR-NEW", "新门禁", "door_controller", "door-new")
        s.commit()
    found = profiles("RP", "door-new")  # right away: the table changed, so it was reloaded
    assert found is not None and found.name == "door_controller"

    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db_engine, "before_cursor_execute", record)
    try:
        for _ in range(50):
            assert profiles("RP", "nobody") is None
    finally:
        event.remove(db_engine, "before_cursor_execute", record)
    reloads = [s for s in statements if "join community" in s.lower()]
    assert statements and reloads == []  # unknown devices probed the table, never reloaded it
