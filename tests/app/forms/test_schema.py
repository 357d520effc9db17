import io
import json
from datetime import date, datetime
from decimal import Decimal

import pytest
from marshmallow import ValidationError
from werkzeug.datastructures import FileStorage, MultiDict

from app.forms.schema import build_schema, jsonable, parse_submission

from .conftest import JPEG, PDF, PNG


def load_errors(schema, data) -> dict:
    with pytest.raises(ValidationError) as exc:
        schema.load(data)
    return exc.value.messages


@pytest.fixture
def demo(registry):
    return registry.get("demo/all_types")


@pytest.fixture
def accept(registry):
    return registry.get("repair/accept")


def test_valid_submission_becomes_typed_task_data(demo):
    data = build_schema(demo, locale="en").load({
        "phone": "13812345678", "note": "  hello ", "floors": "6", "area": "85.5",
        "amount": "12.5", "due": "2026-05-01", "visit_at": "2026-05-01T09:30",
        "category": "water", "tags": ["urgent", "repeat"], "paid": "no",
    })
    assert data == {
        "phone": "13812345678", "note": "hello", "floors": 6, "area": Decimal("85.5"),
        "amount": Decimal("12.50"), "due": date(2026, 5, 1),
        "visit_at": datetime(2026, 5, 1, 9, 30), "category": "water",
        "tags": ["urgent", "repeat"], "paid": False,
    }
    assert str(data["amount"]) == "12.50"
    assert not any(isinstance(v, float) for v in data.values())
    assert jsonable(data)["amount"] == "12.50"
    assert jsonable(data)["due"] == "2026-05-01"


@pytest.mark.parametrize("value", ["12.345", "abc", "NaN", "Infinity", "1e5x", True])
def test_money_refuses_more_than_two_places_and_non_numbers(demo, value):
    errors = load_errors(build_schema(demo, locale="en"), {"amount": value})
    assert errors == {"amount": ["Enter an amount with at most 2 decimal places, e.g. 12.50."]}


@pytest.mark.parametrize("value,expected", [("0.1", "0.10"), ("7", "7.00"), (12, "12.00"),
                                            ("99999.99", "99999.99")])
def test_money_is_quantized_decimal(demo, value, expected):
    data = build_schema(demo).load({"amount": value})
    assert isinstance(data["amount"], Decimal)
    assert str(data["amount"]) == expected


def test_limits_pattern_choices_in_english(demo):
    errors = load_errors(build_schema(demo, locale="en"), {
        "phone": "12345678901", "note": "x" * 21, "floors": "2.5", "area": "0.1",
        "amount": "0", "due": "2025-12-31", "visit_at": "tomorrow", "category": "gas",
        "tags": ["urgent", "nope"], "paid": "maybe",
    })
    assert errors == {
        "phone": ["The format is not valid."],
        "note": ["Enter at most 20 characters."],
        "floors": ["Enter a whole number."],
        "area": ["Must be at least 0.5."],
        "amount": ["Must be at least 0.01."],
        "due": ["Must be at least 2026-01-01."],
        "visit_at": ["Enter a valid date and time."],
        "category": ["Choose one of the listed options."],
        "tags": {1: ["Choose one of the listed options."]},
        "paid": ["Choose yes or no."],
    }


def test_required_and_unknown_in_chinese(demo):
    errors = load_errors(build_schema(demo, locale="zh"), {"amount": "  ", "hacker": "1"})
    assert errors == {"amount": ["此项必填。"], "hacker": ["未知字段。"]}


def test_hidden_field_is_dropped_and_not_required(accept):
    schema = build_schema(accept, locale="en")
    data = schema.load({"decision": "decline", "reason": "too far", "photos": []})
    assert data == {"decision": "decline", "reason": "too far"}
    # the reason is hidden when accepting: dropped even when sent
    errors = load_errors(schema, {"decision": "accept", "reason": "ignored"})
    assert errors == {"photos": ["Upload at least 1 file(s)."]}


def test_visible_field_is_required(accept):
    errors = load_errors(build_schema(accept, locale="zh"), {"decision": "decline"})
    assert errors == {"reason": ["此项必填。"]}


def test_visible_but_empty_optional_fields_are_none(demo):
    data = build_schema(demo).load({"amount": "1"})
    assert data["phone"] is None and data["tags"] == [] and "receipt" not in data


def test_reference_fields_need_a_community(registry):
    with pytest.raises(ValueError, match="community_id"):
        build_schema(registry.get("demo/assign"))


# --------------------------------------------------------------------------- HTML posts


def upload(content: bytes, name: str, content_type: str = "image/jpeg") -> FileStorage:
    return FileStorage(stream=io.BytesIO(content), filename=name, content_type=content_type)


def test_html_post_with_checkboxes_and_upload(demo, uploads_dir):
    form = MultiDict([("amount", "88.8"), ("tags", "urgent"), ("tags", "repeat"),
                      ("paid", "yes"), ("csrf_token", "t")])
    files = MultiDict([("receipt", upload(PDF, "receipt.pdf", "application/pdf"))])
    data, errors, raw = parse_submission(demo, form, files, locale="en")
    assert errors == {}
    assert data["amount"] == Decimal("88.80")
    assert data["tags"] == ["urgent", "repeat"]
    assert data["paid"] is True
    [ref] = data["receipt"]
    assert ref["content_type"] == "application/pdf"
    assert ref["name"] == "receipt.pdf"
    assert ref["size"] == len(PDF)


def test_uploaded_files_survive_an_error_elsewhere(accept, uploads_dir):
    # accepted, with a photo, but an unknown decision value → error; the photo is kept
    form = MultiDict([("decision", "accept")])
    files = MultiDict([("photos", upload(PNG, "leak.png", "image/png"))])
    data, errors, raw = parse_submission(accept, MultiDict([("decision", "maybe")]), files,
                                         locale="en")
    # 'maybe' hides the photo field: no file stored for a hidden field
    assert data == {} and raw["photos"] == []
    data, errors, raw = parse_submission(accept, form, MultiDict(
        [("photos", upload(PNG, "leak.png", "image/png")),
         ("photos", upload(b"not an image at all", "fake.jpg"))]), locale="en")
    assert data == {}
    assert errors == {"photos": ['File "fake.jpg" is not an accepted type (allowed: .jpg, .png, .webp, .gif).']}
    assert [r["name"] for r in raw["photos"]] == ["leak.png"]
    # the re-rendered form posts the stored photo back as a reference: no second upload
    kept = json.dumps({"sha256": raw["photos"][0]["sha256"], "name": "leak.png"})
    data, errors, raw = parse_submission(accept, MultiDict([("decision", "accept"), ("photos", kept)]),
                                         MultiDict(), locale="en")
    assert errors == {}
    assert [r["name"] for r in data["photos"]] == ["leak.png"]
    assert data["photos"][0]["content_type"] == "image/png"


def test_forged_reference_to_a_missing_upload_is_refused(accept, uploads_dir):
    schema = build_schema(accept, locale="en")
    errors = load_errors(schema, {"decision": "accept", "photos": [{"sha256": "0" * 64}]})
    assert errors == {"photos": ["A previously uploaded file is gone; upload it again."]}


def test_client_content_type_is_not_trusted(accept, uploads_dir):
    form = MultiDict([("decision", "accept")])
    data, errors, raw = parse_submission(
        accept, form, MultiDict([("photos", upload(PDF, "photo.jpg", "image/jpeg"))]), locale="zh")
    assert errors == {"photos": ["文件“photo.jpg”的类型不被接受（允许：.jpg, .png, .webp, .gif）。"]}
    data, errors, raw = parse_submission(
        accept, form, MultiDict([("photos", upload(JPEG, "photo.png", "image/png"))]), locale="zh")
    assert errors == {}
    assert data["photos"][0]["content_type"] == "image/jpeg"


def test_raw_values_keep_what_was_typed(demo, uploads_dir):
    form = MultiDict([("amount", "12.345"), ("note", "写了一半"), ("tags", "repeat")])
    data, errors, raw = parse_submission(demo, form, MultiDict(), locale="zh")
    assert data == {}
    assert errors["amount"] == ["请输入金额，最多两位小数，例如 12.50。"]
    assert raw["amount"] == "12.345" and raw["note"] == "写了一半" and raw["tags"] == ["repeat"]


def test_datetime_with_a_zone_is_refused_not_guessed(demo):
    errors = load_errors(build_schema(demo, locale="en"),
                         {"amount": "1", "visit_at": "2026-05-01T09:30:00+08:00"})
    assert errors == {"visit_at": ["Enter a valid date and time."]}


def test_locale_follows_flask_babel_in_a_request(demo):
    from flask import Flask
    from flask_babel import Babel

    app = Flask(__name__)
    Babel(app, locale_selector=lambda: "en")
    with app.test_request_context("/"):
        errors = load_errors(build_schema(demo), {})
    assert errors == {"amount": ["This field is required."]}
    assert load_errors(build_schema(demo), {}) == {"amount": ["此项必填。"]}  # no request: zh
