"""The studio's form preview and field palette (issue #20, part 2 "Form editor").

The preview renders a form's YAML text with the task page's renderer and names the real line
of each problem; the palette offers every field type the form loader accepts.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.forms import definitions as d
from app.forms.definitions import load_form, parse_form_text
from app.forms.render import render_form
from app.forms.schema import build_schema
from app.studio.form_palette import OPTION_LABELS, TYPE_LABELS, palette, snippet, type_options
from app.studio.form_preview import form_id_of, preview_form

ROOT = Path(__file__).resolve().parents[3]
FORMS = ROOT / "tests" / "app" / "forms" / "fixtures" / "forms"
ALL_TYPES = FORMS / "demo" / "all_types.yaml"


def _inputs(html: str) -> list[tuple[str, str]]:
    """(tag, name) of every input, select and textarea, in order."""
    return re.findall(r'<(input|select|textarea)\b[^>]*?\bname="([^"]+)"', html)


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


# --------------------------------------------------------------------------- preview


@pytest.mark.parametrize("locale", ["zh", "en"])
def test_a_valid_form_renders_the_same_field_inputs_as_the_task_page(locale):
    text = ALL_TYPES.read_text(encoding="utf-8")
    result = preview_form("forms/demo/all_types.yaml", text, {}, locale=locale)
    assert result.errors == []
    # the task page renders the loaded file with its defaults (InboxView._task_page's render_form)
    page = render_form(load_form(ALL_TYPES, FORMS), values=None, locale=locale)
    assert _inputs(result.html) == _inputs(str(page))
    names = {name for _tag, name in _inputs(result.html)}
    assert names == {f.name for f in result.form.fields}
    assert 'class="ef-form"' in result.html and 'data-form-id="demo/all_types"' in result.html
    assert ("全部字段类型" if locale == "zh" else "Every field type") in result.html
    assert 'name="csrf_token"' not in result.html  # a preview posts nothing


def test_a_bad_key_names_its_real_line():
    text = ALL_TYPES.read_text(encoding="utf-8").replace("    max_length: 20", "    max_lenght: 20")
    result = preview_form("forms/demo/all_types.yaml", text, {}, locale="en")
    assert result.html == ""
    assert [(e["line"], e["element"]) for e in result.errors] == [
        (_line_of(text, "max_lenght"), "fields[1].max_lenght")]
    assert "unknown key 'max_lenght'" in result.errors[0]["message"]


def test_a_key_of_another_type_and_a_bad_value_each_name_their_line():
    text = ALL_TYPES.read_text(encoding="utf-8")
    text = text.replace("    integer: true", "    integer: true\n    choices: []")
    text = text.replace("    min: 2026-01-01", "    min: someday")
    result = preview_form("forms/demo/all_types.yaml", text, {})
    found = {(e["line"], e["element"]) for e in result.errors}
    assert (_line_of(text, "choices: []"), "fields[2].choices") in found
    assert (_line_of(text, "min: someday"), "fields[5].min") in found
    assert all(e["line"] > 0 for e in result.errors)


def test_a_yaml_syntax_error_names_its_line():
    lines = ALL_TYPES.read_text(encoding="utf-8").splitlines()
    at = lines.index("  - name: area")
    lines.insert(at + 1, "    label: {zh: 面积, en: Area")  # the flow mapping is never closed
    text = "\n".join(lines) + "\n"
    result = preview_form("forms/demo/all_types.yaml", text, {})
    assert result.html == ""
    assert len(result.errors) == 1 and result.errors[0]["element"] == "yaml"
    # PyYAML notices the missing brace where the next key starts: the line after the bad one
    assert result.errors[0]["line"] in (at + 2, at + 3)

    broken = "id: demo/x\ntitle: {zh: 甲, en: A}\nfields:\n  - name: a\n   type: text\n"
    result = preview_form("forms/demo/x.yaml", broken, {})
    assert [e["line"] for e in result.errors] == [5]


def test_the_id_must_match_the_path_and_only_form_paths_preview():
    text = ALL_TYPES.read_text(encoding="utf-8")
    result = preview_form("forms/demo/other.yaml", text, {}, locale="en")
    assert [(e["line"], e["element"]) for e in result.errors] == [(1, "id")]
    assert "expected 'demo/other'" in result.errors[0]["message"]
    for path in ("bpmn/demo/a.bpmn", "forms/demo/checklists/a.yaml", "../forms/demo/a.yaml", "forms/a.yaml"):
        result = preview_form(path, text, {})
        assert result.html == "" and result.errors[0]["line"] == 0 and path in result.errors[0]["message"]
    assert form_id_of("forms/repair/accept.yaml") == "repair/accept"


def test_an_empty_or_scalar_text_is_an_error_not_a_crash():
    for text in ("", "just text", "- a\n- b\n"):
        result = preview_form("forms/demo/x.yaml", text, {})
        assert result.html == "" and result.errors and result.errors[0]["line"] >= 1


# --------------------------------------------------------------------------- palette


def test_the_palette_covers_every_type_of_the_schema(demo_app):
    with demo_app.test_request_context():
        items = palette("en")
    assert [i["type"] for i in items] == list(d.FIELD_TYPES)
    # the schema builds a field for each type (no type offered that a submission could not take)
    form, errors = parse_form_text(
        "id: demo/p\ntitle: {zh: 甲, en: A}\nfields:\n" + "".join(snippet(t) for t in d.FIELD_TYPES),
        "forms/demo/p.yaml", "demo/p")
    assert errors == [] and [f.type for f in form.fields] == list(d.FIELD_TYPES)
    schema = build_schema(form, session=object(), community_id=1)
    assert set(schema.fields) == {f"new_{t}" for t in d.FIELD_TYPES}
    for item in items:
        keys = [o["key"] for o in item["options"]]
        assert set(keys) == d._COMMON_KEYS | d._TYPE_KEYS[item["type"]]
        assert all(o["label"] and o["label"] != o["key"] for o in item["options"])
        assert item["label"] and item["label"] != item["type"]
    assert set(TYPE_LABELS) == set(d.FIELD_TYPES)
    assert set(OPTION_LABELS) == set(d._COMMON_KEYS).union(*d._TYPE_KEYS.values())


def test_the_palette_speaks_both_languages(demo_app):
    with demo_app.test_request_context():
        zh, en = palette("zh"), palette("en")
    by_type = {i["type"]: (z["label"], i["label"]) for i, z in zip(en, zh)}
    assert by_type["yes_no"] == ("是或否", "Yes or no")
    assert all(z != e for z, e in by_type.values())
    assert zh[0]["options"][0]["label"] != en[0]["options"][0]["label"]


@pytest.mark.parametrize("ftype", d.FIELD_TYPES)
def test_each_snippet_inserted_in_a_form_previews_as_that_field(demo_app, ftype):
    text = ALL_TYPES.read_text(encoding="utf-8") + snippet(ftype)
    with demo_app.test_request_context():
        result = preview_form("forms/demo/all_types.yaml", text, {}, locale="zh")
    assert result.errors == []
    assert f'data-field="new_{ftype}" data-type="{ftype}"' in result.html
    assert type_options(ftype)[:3] == ["name", "type", "label"]


# --------------------------------------------------------------------------- endpoints


def test_preview_endpoint_renders_or_reports_lines(demo_app, login):
    client = login("consultant")
    client.post("/lang/en")
    text = ALL_TYPES.read_text(encoding="utf-8")
    ok = client.post("/studio/forms-api/preview",
                     json={"path": "forms/demo/all_types.yaml", "text": text, "module": "demo"})
    assert ok.status_code == 200 and ok.json["errors"] == []
    assert 'data-field="amount"' in ok.json["html"] and "/static/forms/forms.css" in ok.json["html"]
    bad = client.post("/studio/forms-api/preview",
                      json={"path": "forms/demo/all_types.yaml", "text": text.replace("type: money", "type: cash")})
    assert bad.status_code == 200 and bad.json["html"] == ""
    assert bad.json["errors"][0]["line"] == _line_of(text, "type: money")
    assert "unknown field type 'cash'" in bad.json["errors"][0]["message"]
    client.post("/lang/zh")  # the validator's words as the studio's findings word them
    zh = client.post("/studio/forms-api/preview",
                     json={"path": "forms/demo/all_types.yaml", "text": text.replace("type: money", "type: cash")})
    assert "未知的字段类型“cash”" in zh.json["errors"][0]["message"]
    en = client.post("/studio/forms-api/preview",
                     json={"path": "forms/demo/all_types.yaml", "text": text, "locale": "en"})
    assert "Every field type" in en.json["html"] and "全部字段类型" not in en.json["html"]
    for body in (None, {"path": 1, "text": "x"}, {"path": "forms/demo/a.yaml"}):
        answer = client.post("/studio/forms-api/preview", json=body) if body is not None else \
            client.post("/studio/forms-api/preview", data="not json", content_type="application/json")
        assert answer.status_code == 400 and answer.json["message"]
    for username in ("consultant", "admin"):
        palette_answer = login(username).get("/studio/forms-api/palette")
        assert palette_answer.status_code == 200, username
        assert [t["type"] for t in palette_answer.json["types"]] == list(d.FIELD_TYPES)


def test_preview_uses_the_drafts_files(demo_app, login):
    """With ``module``, the draft's stored files are there beside the text being typed."""
    from app.db import db
    from app.studio import drafts
    from app.web.catalog import get_catalog
    from app.web.views.studio_forms import _draft_files

    with demo_app.app_context():
        draft = drafts.get_draft(db.session, "previewmod") or drafts.new_draft(
            db.session, "previewmod", "预览", "Preview", actor="consultant", catalog=get_catalog())
        path = drafts.add_form(db.session, draft, "ask", actor="consultant")
        db.session.commit()
        files = _draft_files("previewmod", {path: "id: changed\n"})
        assert set(files) >= {"menus/previewmod.yaml", path} and files[path] == "id: changed\n"
        stored = draft.files[path]
    answer = login("consultant").post("/studio/forms-api/preview",
                                      json={"path": path, "text": stored, "module": "previewmod"})
    assert answer.json["errors"] == [] and 'data-field="note"' in answer.json["html"]


def test_preview_and_palette_are_refused_to_other_roles(demo_app, login):
    text = ALL_TYPES.read_text(encoding="utf-8")
    for username in ("manager_yc", "regulator", "tech_yc1"):
        client = login(username)
        assert client.get("/studio/forms-api/palette").status_code == 403, username
        answer = client.post("/studio/forms-api/preview",
                             json={"path": "forms/demo/all_types.yaml", "text": text})
        assert answer.status_code == 403, username
    anonymous = demo_app.test_client()
    assert anonymous.get("/studio/forms-api/palette").status_code in (302, 401)
