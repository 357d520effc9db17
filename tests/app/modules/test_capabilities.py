"""Device profiles tell which capabilities a community's devices provide."""
from __future__ import annotations

from pathlib import Path

from app.modules.capabilities import profile_capabilities

FIXTURES = Path(__file__).parent / "fixtures" / "catalog"


def test_profiles_map_names_to_capabilities():
    assert profile_capabilities(FIXTURES) == {
        "ai_camera": {"camera.alert"},
        "door_controller": {"door.grant", "door.suspend", "door.restore"},
    }


def test_missing_profiles_folder_means_no_capabilities(tmp_path):
    assert profile_capabilities(tmp_path) == {}


def test_broken_profile_provides_nothing_and_does_not_stop_others(tmp_path):
    folder = tmp_path / "connectors" / "profiles"
    folder.mkdir(parents=True)
    (folder / "broken.yaml").write_text("capabilities: [meter.read\n", encoding="utf-8")
    (folder / "meter.yaml").write_text("capabilities: [meter.read]\n", encoding="utf-8")
    assert profile_capabilities(tmp_path) == {"meter": {"meter.read"}}
