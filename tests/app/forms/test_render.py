import re
from decimal import Decimal

from werkzeug.datastructures import MultiDict

from app.forms.render import render_form
from app.forms.schema import parse_submission


def field_html(html: str, name: str) -> str:
    """The wrapper of one field (div or fieldset with data-field=name)."""
    m = re.search(rf'<(div|fieldset) class="ef-field[^"]*" data-field="{name}".*?</\1>', html, re.S)
    assert m, name
    return m.group(0)


def test_labels_in_both_languages(registry):
    form = registry.get("repair/accept")
    zh = render_form(form, locale="zh", context_values={"order_no": "WX-0001"})
    en = render_form(form, locale="en", context_values={"order_no": "WX-0001"})
    assert "接单" in zh and "决定" in zh and "工单号" in zh and "提交" in zh
    assert "Accept order" in en and "Decision" in en and "Order no." in en and "Submit" in en
    assert "WX-0001" in zh
    assert "决定" not in en


def test_defaults_and_visibility_on_first_render(registry):
    html = render_form(registry.get("repair/accept"), locale="en", action_url="/tasks/7",
                       csrf_token="tok<")
    assert '<option value="accept" selected>' in html
    assert 'action="/tasks/7"' in html and 'enctype="multipart/form-data"' in html
    assert 'name="csrf_token" value="tok&lt;"' in html
    reason = field_html(html, "reason")
    assert " hidden>" in reason.split("\n")[0]  # decision is 'accept': reason hidden
    assert "data-visible-if=" in reason and "disabled" in reason
    photos = field_html(html, "photos")
    assert 'accept="image/*"' in photos and 'capture="environment"' in photos
    assert "forms.js" in html


def test_typed_value_and_error_next_to_the_field_after_a_failed_post(registry, uploads_dir):
    form = registry.get("demo/all_types")
    post = MultiDict([("amount", "12.345"), ("note", "<script>x</script>"), ("tags", "repeat"),
                      ("paid", "no"), ("due", "2026-03-01")])
    data, errors, raw = parse_submission(form, post, MultiDict(), locale="en")
    html = render_form(form, values=raw, errors=errors, locale="en")
    amount = field_html(html, "amount")
    assert 'value="12.345"' in amount
    assert 'inputmode="decimal"' in amount
    assert 'aria-invalid="true"' in amount
    assert "Enter an amount with at most 2 decimal places" in amount
    note = field_html(html, "note")
    assert "&lt;script&gt;x&lt;/script&gt;" in note and "<script>x" not in html
    assert 'aria-invalid' not in note
    assert 'value="repeat" checked' in field_html(html, "tags")
    assert 'value="urgent" checked' not in field_html(html, "tags")
    assert 'value="no" checked' in field_html(html, "paid")
    assert 'type="date" value="2026-03-01"' in field_html(html, "due")
    assert "Please correct the marked fields." in html


def test_typed_task_data_renders_back(registry):
    form = registry.get("demo/all_types")
    html = render_form(form, values={"amount": Decimal("12.50"), "paid": True}, locale="zh")
    assert 'value="12.50"' in field_html(html, "amount")
    receipt = field_html(html, "receipt")
    assert " hidden>" not in receipt.split("\n")[0]  # paid → receipt visible
    assert 'accept="application/pdf"' in receipt and "capture" not in receipt


def test_reference_select_uses_caller_options(registry):
    form = registry.get("demo/assign")
    html = render_form(form, values={"household": "2"}, locale="zh",
                       options={"household": [(1, "A-1-101 王"), (2, "A-1-102 李")]})
    household = field_html(html, "household")
    assert '<option value="2" selected>A-1-102 李</option>' in household
    assert '<option value="1">A-1-101 王</option>' in household


def test_kept_uploads_are_posted_back(registry, uploads_dir):
    import io
    from werkzeug.datastructures import FileStorage

    from .conftest import PNG

    form = registry.get("repair/accept")
    files = MultiDict([("photos", FileStorage(io.BytesIO(PNG), "site.png"))])
    data, errors, raw = parse_submission(form, MultiDict([("decision", "accept")]), files,
                                         locale="en")
    assert errors == {}
    html = render_form(form, values=raw, errors={"decision": ["x"]}, locale="en",
                       upload_url="/uploads/{sha256}")
    photos = field_html(html, "photos")
    sha = raw["photos"][0]["sha256"]
    assert 'type="checkbox" name="photos"' in photos and sha in photos and "checked" in photos
    assert f'src="/uploads/{sha}"' in photos
    assert " required" not in photos  # a kept photo already satisfies min_files
