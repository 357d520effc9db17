"""User-facing messages of the forms package, in Simplified Chinese and English.

Validation messages are chosen per request (a resident may read English while the
server runs in Chinese), so they live here as a table instead of in the Babel catalog.
"""
from __future__ import annotations

from typing import Any

LOCALES = ("zh", "en")

MESSAGES: dict[str, dict[str, str]] = {
    "required": {"zh": "此项必填。", "en": "This field is required."},
    "invalid_text": {"zh": "请输入文字。", "en": "Enter text."},
    "invalid_number": {"zh": "请输入数字。", "en": "Enter a number."},
    "invalid_integer": {"zh": "请输入整数。", "en": "Enter a whole number."},
    "invalid_money": {
        "zh": "请输入金额，最多两位小数，例如 12.50。",
        "en": "Enter an amount with at most 2 decimal places, e.g. 12.50.",
    },
    "invalid_date": {"zh": "请输入有效日期（年-月-日）。", "en": "Enter a valid date (YYYY-MM-DD)."},
    "invalid_datetime": {"zh": "请输入有效的日期和时间。", "en": "Enter a valid date and time."},
    "invalid_choice": {"zh": "请从列表中选择。", "en": "Choose one of the listed options."},
    "invalid_yes_no": {"zh": "请选择“是”或“否”。", "en": "Choose yes or no."},
    "invalid_list": {"zh": "格式不正确。", "en": "Invalid value."},
    "min": {"zh": "不能小于 {min}。", "en": "Must be at least {min}."},
    "max": {"zh": "不能大于 {max}。", "en": "Must be at most {max}."},
    "min_length": {"zh": "至少 {min} 个字符。", "en": "Enter at least {min} characters."},
    "max_length": {"zh": "最多 {max} 个字符。", "en": "Enter at most {max} characters."},
    "pattern": {"zh": "格式不正确。", "en": "The format is not valid."},
    "min_files": {"zh": "请至少上传 {min} 个文件。", "en": "Upload at least {min} file(s)."},
    "max_files": {"zh": "最多上传 {max} 个文件。", "en": "Upload at most {max} file(s)."},
    "too_large": {
        "zh": "文件“{name}”超过 {limit} 的大小限制。",
        "en": "File \"{name}\" is larger than the {limit} limit.",
    },
    "too_many_pixels": {
        "zh": "图片“{name}”的像素过多（最多 {limit} 百万像素）。",
        "en": "Image \"{name}\" has too many pixels (at most {limit} megapixels).",
    },
    "bad_image": {
        "zh": "图片“{name}”无法读取。",
        "en": "Image \"{name}\" cannot be read.",
    },
    "bad_type": {
        "zh": "文件“{name}”的类型不被接受（允许：{accept}）。",
        "en": "File \"{name}\" is not an accepted type (allowed: {accept}).",
    },
    "empty_file": {"zh": "文件“{name}”是空的。", "en": "File \"{name}\" is empty."},
    "upload_missing": {
        "zh": "之前上传的文件已不存在，请重新上传。",
        "en": "A previously uploaded file is gone; upload it again.",
    },
    "not_found": {"zh": "未找到所选记录。", "en": "The selected record was not found."},
    "not_eligible": {
        "zh": "所选人员不符合要求（技能或岗位）。",
        "en": "The selected person does not have the required skills or role.",
    },
    "unknown_field": {"zh": "未知字段。", "en": "Unknown field."},
    # rendering
    "submit": {"zh": "提交", "en": "Submit"},
    "yes": {"zh": "是", "en": "Yes"},
    "no": {"zh": "否", "en": "No"},
    "choose": {"zh": "请选择…", "en": "Choose…"},
    "keep_file": {"zh": "保留", "en": "Keep"},
    "form_has_errors": {
        "zh": "提交的内容有误，请检查标出的项目。",
        "en": "Please correct the marked fields.",
    },
    "required_mark": {"zh": "（必填）", "en": " (required)"},
}


def resolve_locale(locale: str | None = None) -> str:
    """``zh`` or ``en``: the given one, else Flask-Babel's for the request, else ``zh``."""
    if locale is None:
        try:
            from flask import has_request_context

            if has_request_context():
                from flask_babel import get_locale

                current = get_locale()
                locale = str(current) if current is not None else None
        except Exception:  # Babel not initialised on this app: fall back
            locale = None
    if locale and str(locale).lower().startswith("en"):
        return "en"
    return "zh"


def msg(key: str, locale: str, **params: Any) -> str:
    text = MESSAGES[key].get(locale) or MESSAGES[key]["zh"]
    return text.format(**params) if params else text


def human_bytes(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f} MB".replace(".0 MB", " MB")
    if n >= 1024:
        return f"{n // 1024} KB"
    return f"{n} B"
