"""Checklists are data: every shipped one parses, becomes a form, and ``estateflow validate``
names file, line and item for a broken one (an unknown item type among them)."""
from __future__ import annotations

from pathlib import Path

from app.assets.validate import validate_paths
from app.domains.inspection.checklists import all_checklists, parse_checklist

SHIPPED = {"fire_lanes", "fire_equipment", "lift", "shared_facilities", "electrical_room"}
BAD = """\
id: broken
title: {zh: 坏表, en: Broken}
items:
  - name: lane_clear
    type: yes_no
    label: {zh: 通道畅通, en: Lane clear}
  - name: gauge
    type: slider
    label: {zh: 压力, en: Gauge}
  - name: temp
    type: number
    label: {zh: 温度, en: Temperature}
    min: 50
    max: 10
"""


def test_shipped_checklists_parse_with_their_clauses():
    found = all_checklists()
    assert SHIPPED <= set(found)
    for checklist in found.values():
        form = checklist.as_form()
        assert form.fields and all(f.label.get("zh") and f.label.get("en") for f in form.fields)
        assert any(item.clause for item in checklist.items)
    lanes = found["fire_lanes"]
    assert lanes.item("photo").required and lanes.as_form().field("photo").min_files == 1
    assert lanes.item("lane_clear").fails(False) and not lanes.item("lane_clear").fails(True)
    pressure = found["fire_equipment"].item("hydrant_pressure")
    assert pressure.fails("0.05") and not pressure.fails("0.3")


def test_a_broken_checklist_is_reported_with_file_line_and_item(tmp_path: Path):
    folder = tmp_path / "forms" / "inspection" / "checklists"
    folder.mkdir(parents=True)
    path = folder / "broken.yaml"
    path.write_text(BAD, encoding="utf-8")
    checklist, errors = parse_checklist(path, "broken.yaml")
    assert checklist is None
    assert [str(e) for e in errors] == [
        "broken.yaml:8: item gauge: unknown item type 'slider' (expected one of yes_no, number, photo, text)",
        "broken.yaml:13: item temp: min is above max",
    ]
    reported = [str(e) for e in validate_paths([path], assets_root=tmp_path)]
    assert any(":8: item gauge: unknown item type 'slider'" in line for line in reported), reported


def test_shipped_assets_validate_clean():
    root = Path(__file__).resolve().parents[3]
    assert validate_paths([root / "forms" / "inspection", root / "menus" / "inspection.yaml",
                           root / "bpmn" / "inspection"]) == []
