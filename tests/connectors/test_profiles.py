"""Device profiles: the shipped ones load; broken ones name file, line and element."""
from pathlib import Path

from connectors.capabilities import CAPABILITIES
from connectors.profiles import PROFILES_DIR, load_profiles, validate_profile_file

BAD = Path(__file__).parent / "fixtures" / "profiles_bad"


def test_shipped_profiles_are_valid_and_cover_the_capabilities():
    profiles, errors = load_profiles(PROFILES_DIR)
    assert errors == []
    assert set(profiles) == {"water_meter_dn20", "electricity_meter_dds", "door_controller",
                             "barrier_gate", "ai_camera", "hydrant_pressure_sensor", "ev_charger"}
    offered = {c for p in profiles.values() for c in p.capabilities}
    assert offered == set(CAPABILITIES)
    water = profiles["water_meter_dn20"]
    assert water.protocol == "modbus" and water.primary_register.cumulative
    assert str(water.primary_register.scale) == "0.001"
    assert profiles["door_controller"].command_for("door.suspend").name == "suspend"


def _lines(path):
    return [str(e) for e in validate_profile_file(path)]


def test_modbus_profile_errors_name_file_line_and_element():
    f = str(BAD / "bad_meter.yaml")
    errors = _lines(BAD / "bad_meter.yaml")
    expected = [
        f"{f}:3: capabilities[1]: unknown capability 'meter.teleport'",
        f"{f}:5: modbus.word_order: must be big or little, got 'middle'",
        f"{f}:10: modbus.registers.total.type: must be one of",
        f"{f}:11: modbus.registers.total.scale: must be a non-zero decimal",
        f"{f}:12: modbus.registers.total.range: must be [low, high] with low <= high",
        f"{f}:14: modbus.registers.flow.address: must be an integer 0..65535, got 70000",
        f"{f}:15: modbus.registers.flow.function: must be one of",
        f"{f}:16: modbus.registers.flow.colour: unknown key",
    ]
    for start in expected:
        assert any(e.startswith(start) for e in errors), (start, errors)


def test_mqtt_profile_errors_name_file_line_and_element():
    f = str(BAD / "bad_door.yaml")
    errors = _lines(BAD / "bad_door.yaml")
    expected = [
        f"{f}:1: name: must match the file name 'bad_door'",
        f"{f}:9: mqtt.commands.grant.params.credential: type must be one of",
        f"{f}:10: mqtt.commands.grant.params.kind: enum must be a list",
        f"{f}:13: mqtt.events.entry.capability: 'camera.alert' is not in this profile's capabilities",
        f"{f}:3: capabilities: gate.open is offered but no command or event implements it",
    ]
    for start in expected:
        assert any(e.startswith(start) for e in errors), (start, errors)


def test_yaml_syntax_error_is_reported_not_raised_and_loading_continues():
    errors = validate_profile_file(BAD / "broken_yaml.yaml")
    assert len(errors) == 1 and errors[0].element == "yaml" and errors[0].line >= 2
    profiles, errs = load_profiles(BAD)
    assert profiles == {}  # no half-loaded profile
    assert {Path(e.file).name for e in errs} == {"bad_meter.yaml", "bad_door.yaml", "broken_yaml.yaml"}
