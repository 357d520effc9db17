"""The studio's finding words and menu edits, without a database: the validator's English
reasons in Chinese for a Chinese-reading consultant (English kept where no pattern fits), the
condition check the modeler calls as you type (the validator's own), and menu-entry edits that
keep the rest of the file."""
from __future__ import annotations

from app.studio.drafts import menu_fields, minimal_menu, set_menu_key
from app.studio.lint import check_expression, translate


def test_common_reasons_read_in_chinese_and_unknown_ones_stay_english():
    assert translate("condition `x ==` cannot run: it is not a valid expression (syntax error)", "zh") == \
        "条件 `x ==` 无法运行：不是有效的表达式（syntax error）"
    assert translate("unknown field type 'colour' (expected one of: text)", "zh").startswith("未知的字段类型“colour”")
    assert translate("warning: the condition on this flow is ignored: only flows out of …", "zh").startswith("警告：")
    assert translate("something nobody translated", "zh") == "something nobody translated"
    assert translate("unknown key", "en") == "unknown key"


def test_the_expression_check_is_the_validators():
    assert check_expression("${decision == 'approve'}", "en") == {"ok": True, "message": ""}
    broken = check_expression("approved ==", "en")
    assert broken["ok"] is False and "cannot run" in broken["message"]
    assert check_expression("__import__('os')", "en")["ok"] is False
    assert check_expression("", "zh")["message"].startswith("条件为空")


def test_menu_edits_replace_one_key_and_keep_comments_and_lists():
    text = "# a comment\n" + minimal_menu("pipes", "管道", "Pipes").replace(
        "processes: []\n", "processes:\n  - bpmn/pipes/a.bpmn\n\n")
    changed = set_menu_key(text, "title", {"zh": "管道: 检查", "en": "Pipes"})
    assert changed.startswith("# a comment\n")
    fields = menu_fields(changed)
    assert (fields["title_zh"], fields["processes"]) == ("管道: 检查", ["bpmn/pipes/a.bpmn"])
    emptied = set_menu_key(changed, "processes", [])
    assert menu_fields(emptied)["processes"] == [] and "forms: []" in emptied
