"""The studio modeler's sources agree with the engine: the palette's list of what runs is the
validator's SUPPORTED_BPMN, and the moddle extension declares only camunda attributes and
elements the validator accepts (so what the modeler writes is what the engine reads)."""
from __future__ import annotations

import json
import re
from pathlib import Path

from app.engine.validation import SUPPORTED_BPMN, SUPPORTED_CAMUNDA_ATTRIBUTES, SUPPORTED_CAMUNDA_ELEMENTS

MODELER = Path(__file__).resolve().parents[3] / "app" / "static" / "studio" / "modeler"


def test_the_modelers_supported_list_is_the_validators():
    text = (MODELER / "supported.js").read_text(encoding="utf-8")
    block = text[text.index("SUPPORTED_BPMN = ["):text.index("];")]
    assert set(re.findall(r"'([A-Za-z]+)'", block)) == set(SUPPORTED_BPMN)


def test_the_moddle_extension_declares_only_what_the_validator_accepts():
    descriptor = json.loads((MODELER / "camunda.json").read_text(encoding="utf-8"))
    assert descriptor["prefix"] == "camunda" and descriptor["uri"] == "http://camunda.org/schema/1.0/bpmn"
    attributes = {p["name"] for t in descriptor["types"] if t.get("extends") for p in t["properties"]}
    assert attributes <= SUPPORTED_CAMUNDA_ATTRIBUTES
    assert {"formKey", "candidateGroups", "assignee", "dueDate", "type", "topic"} <= attributes
    elements = {t["name"][0].lower() + t["name"][1:] for t in descriptor["types"] if not t.get("extends")}
    assert elements == set(SUPPORTED_CAMUNDA_ELEMENTS)
