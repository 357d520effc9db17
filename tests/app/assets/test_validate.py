"""``estateflow validate``: shipped assets pass; broken ones give file:line: element: reason."""
from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from app.cli import main

ROOT = Path(__file__).resolve().parents[3]


def test_every_shipped_asset_is_valid():
    result = CliRunner().invoke(main, ["validate"])
    assert result.exit_code == 0, result.output


def test_broken_assets_are_each_named_with_file_line_and_element(tmp_path):
    menus = tmp_path / "menus"
    forms = tmp_path / "forms" / "x"
    menus.mkdir()
    forms.mkdir(parents=True)
    (menus / "x.yaml").write_text(
        'id: x\nversion: "1.0.0"\ntitle: {zh: 坏}\ndescription: {zh: a, en: a}\ncategory: service\n'
        "settings:\n  - name: a\n    type: dropdown\n    default: 1\n    label: {zh: a, en: a}\n"
        "    description: {zh: a, en: a}\n", encoding="utf-8")
    (forms / "y.yaml").write_text(
        "id: x/y\ntitle: {zh: a, en: b}\nfields:\n  - name: a\n    type: dropdownz\n    label: {zh: a, en: a}\n",
        encoding="utf-8")
    bpmn = (ROOT / "bpmn" / "notice" / "notice.bpmn").read_text(encoding="utf-8")
    assert "notice/review" in bpmn
    bad_bpmn = tmp_path / "bad.bpmn"
    bad_bpmn.write_text(bpmn.replace("notice/review", "notice/nope"), encoding="utf-8")
    line = next(i for i, text in enumerate(bad_bpmn.read_text().splitlines(), 1) if "notice/nope" in text)

    result = CliRunner().invoke(main, ["validate", str(menus / "x.yaml"), str(forms / "y.yaml"), str(bad_bpmn)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert f"{menus / 'x.yaml'}:3: title.en: missing en text" in lines
    assert any(l.endswith("x.yaml:8: settings[a].type: unknown setting type 'dropdown' "
                          "(expected one of: bool, int, decimal, money, string, choice, duration_minutes, "
                          "duration_hours, days)") for l in lines)
    assert any(l.endswith("y.yaml:5: fields[0].type: unknown field type 'dropdownz'") for l in lines)
    assert any(l.startswith(f"{bad_bpmn}:{line}: ") and "unknown form 'notice/nope'" in l for l in lines)


def test_malformed_yaml_names_the_line(tmp_path):
    menus = tmp_path / "menus"
    menus.mkdir()
    (menus / "broken.yaml").write_text("id: broken\ntitle: {zh: a, en: b\nversion: 1\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", str(menus / "broken.yaml")])
    assert result.exit_code == 1
    assert f"{menus / 'broken.yaml'}:" in result.output and ": yaml: " in result.output


def test_warnings_are_shown_but_do_not_fail_and_errors_name_the_real_line(tmp_path):
    broken = ROOT / "tests" / "app" / "engine" / "fixtures" / "broken"
    result = CliRunner().invoke(main, ["validate", str(broken / "plain_task.bpmn")])
    assert result.exit_code == 0, result.output
    assert ": look: warning: task 'Look at it' runs as a pass-through step" in result.output
    assert "1 warning(s)" in result.output
    result = CliRunner().invoke(main, ["validate", str(broken / "timer_PT2HOURS.bpmn")])
    assert result.exit_code == 1
    assert "timer_PT2HOURS.bpmn:9: wait: timer duration `PT2HOURS` is not an ISO 8601 duration" \
        in result.output
