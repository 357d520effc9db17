import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from app.assets.errors import AssetInvalid
from app.forms.definitions import FIELD_TYPES, FormRegistry, load_form, validate_form_file
from app.settings import PROJECT_ROOT

FIXTURES = Path(__file__).parent / "fixtures"
BROKEN = FIXTURES / "broken" / "forms"


def test_notice_forms_of_the_project_load():
    root = PROJECT_ROOT / "forms"
    if not (root / "notice").is_dir():
        pytest.skip("forms/notice not present in this tree")
    reg = FormRegistry(root)
    assert [str(e) for e in reg.errors] == []
    review = reg.get("notice/review")
    assert review.field("decision").choice_values() == ["approve", "reject"]
    assert review.field("comment").visible_rule == {"eq": ["decision", "reject"]}
    assert [c.name for c in review.context] == ["title", "body"]


def test_fixture_forms_cover_every_type(registry):
    assert registry.ids() == ["demo/all_types", "demo/assign", "repair/accept"]
    types = {f.type for fid in registry.ids() for f in registry.get(fid).fields}
    assert types == set(FIELD_TYPES)
    demo = registry.get("demo/all_types")
    assert demo.field("amount").default == Decimal("10.00")
    assert demo.field("amount").min == Decimal("0.01")
    assert demo.field("floors").max == 40
    assert demo.field("tags").default == ["urgent"]
    assert registry.get("demo/assign").field("technician").skills == ("plumbing",)
    assert demo.field("receipt").accepted_types == ("application/pdf",)
    accept = registry.get("repair/accept")
    assert accept.title == {"zh": "接单", "en": "Accept order"}
    assert accept.file == "forms/repair/accept.yaml"


def test_every_problem_is_reported_with_file_line_and_element():
    errors = [str(e) for e in validate_form_file(BROKEN / "bad" / "many.yaml", BROKEN)]
    expected = [
        "forms/bad/many.yaml:1: id: 'bad/wrong_name' does not match the file path (expected 'bad/many')",
        "forms/bad/many.yaml:2: title.en: missing text",
        "forms/bad/many.yaml:3: colour: unknown key 'colour'",
        "forms/bad/many.yaml:6: fields[0].type: unknown field type 'dropdown'",
        "forms/bad/many.yaml:8: fields[1].choices: missing: a choice field needs a non-empty list of choices",
        "forms/bad/many.yaml:11: fields[2].name: duplicate field name 'pick' (first at fields[1])",
        "forms/bad/many.yaml:18: fields[3].default: must be text",
        "forms/bad/many.yaml:22: fields[4].default: not a valid money value (at most 2 decimal places)",
        "forms/bad/many.yaml:23: fields[4].max_files: 'max_files' does not apply to type 'money'",
        "forms/bad/many.yaml:27: fields[5].visible_if: refers to unknown field 'missing_field'",
        "forms/bad/many.yaml:31: fields[6].visible_if: cannot parse: unexpected character '='",
        "forms/bad/many.yaml:37: fields[7].default: 'bad' is not one of the choices",
    ]
    for line in expected:
        assert line in errors
    assert any(e.startswith("forms/bad/many.yaml:17: fields[3].pattern: bad regular expression")
               for e in errors)
    assert len(errors) == len(expected) + 1


def test_broken_yaml_names_its_line():
    errors = validate_form_file(BROKEN / "bad" / "syntax.yaml", BROKEN)
    assert len(errors) == 1
    assert errors[0].file == "forms/bad/syntax.yaml"
    assert errors[0].line == 7
    assert errors[0].element == "yaml"


def test_visibility_cycle_is_refused():
    errors = [str(e) for e in validate_form_file(BROKEN / "bad" / "cycle.yaml", BROKEN)]
    assert "forms/bad/cycle.yaml:7: fields[0].visible_if: visibility rules form a cycle" in errors


def test_load_form_raises_with_all_errors():
    with pytest.raises(AssetInvalid) as exc:
        load_form(BROKEN / "bad" / "many.yaml", BROKEN)
    assert len(exc.value.errors) == 13
    assert "forms/bad/many.yaml:6: fields[0].type: unknown field type 'dropdown'" in str(exc.value)


def test_registry_keeps_good_forms_next_to_broken_ones():
    reg = FormRegistry(BROKEN)
    assert reg.ids() == ["bad/fine"]
    assert {e.file for e in reg.errors} == {
        "forms/bad/many.yaml", "forms/bad/syntax.yaml", "forms/bad/cycle.yaml"}
    with pytest.raises(KeyError):
        reg.get("bad/many")


def test_id_must_match_path_after_moving_a_file(tmp_path):
    root = tmp_path / "forms"
    (root / "other").mkdir(parents=True)
    shutil.copy(FIXTURES / "forms" / "repair" / "accept.yaml", root / "other" / "accept.yaml")
    errors = [str(e) for e in validate_form_file(root / "other" / "accept.yaml", root)]
    assert errors == [
        "forms/other/accept.yaml:1: id: 'repair/accept' does not match the file path "
        "(expected 'other/accept')"
    ]


def test_label_without_english_and_bad_limits(tmp_path):
    root = tmp_path / "forms"
    (root / "m").mkdir(parents=True)
    (root / "m" / "f.yaml").write_text(
        "id: m/f\n"
        "title: {zh: 表, en: Form}\n"
        "fields:\n"
        "  - name: n\n"
        "    type: number\n"
        "    label: {zh: 数}\n"
        "    min: 10\n"
        "    max: 5\n"
        "  - name: Bad-Name\n"
        "    type: text\n"
        "    label: {zh: 名, en: Name}\n",
        encoding="utf-8",
    )
    errors = [str(e) for e in validate_form_file(root / "m" / "f.yaml", root)]
    assert errors == [
        "forms/m/f.yaml:6: fields[0].label.en: missing text",
        "forms/m/f.yaml:8: fields[0].max: is smaller than min",
        "forms/m/f.yaml:9: fields[1].name: missing or not a lowercase identifier (a-z, 0-9, _)",
    ]
