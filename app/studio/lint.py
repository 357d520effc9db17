"""Lint on save: the whole draft through the package check (``estateflow validate``'s findings),
as the studio's findings ``{path, line, element, message, severity}``, in the user's language.

The validator words its reasons in English (they are the same words ``estateflow validate``
prints); the studio translates the common ones for a Chinese-reading consultant by pattern and
keeps the English reason for the rest (the file, line and element still say where to look).
"""
from __future__ import annotations

import re

from sqlalchemy.orm import Session

from app.assets.errors import AssetError
from app.modules import packages
from app.studio.models import StudioDraft

#: (pattern on the English reason, Chinese template using the pattern's groups)
_ZH: list[tuple[re.Pattern, str]] = [(re.compile(p), zh) for p, zh in [
    (r"^not part of a module package \(expected (.+)\)$", r"不属于模块包的文件结构（应为 \1）"),
    (r"^not listed under (\w+): in (\S+); list it or leave it out$", r"未列在 \2 的 \1: 中；请列入或删除该文件"),
    (r"^the package has no menu entry", "模块包缺少菜单条目（menus/<id>.yaml）"),
    (r"^missing required key$", "缺少必填项"),
    (r"^unknown key$", "未知的键"),
    (r"^missing (zh|en) text$", r"缺少 \1 文本"),
    (r"^must be a mapping \{zh: \.\.\., en: \.\.\.\}$", "应为 {zh: ..., en: ...} 形式"),
    (r"^unknown category '([^']*)' \(expected one of: (.+)\)$", r"未知的分类“\1”（可选：\2）"),
    (r"^(.+): file does not exist$", r"\1：文件不存在"),
    (r"^must be a quoted version string like", "版本号应为带引号的字符串，例如 \"1.0.0\""),
    (r"^unknown field type '([^']*)'", r"未知的字段类型“\1”"),
    (r"^process has no start event", "流程没有开始事件；请在实例开始处添加一个"),
    (r"^condition `(.+)` cannot run: (.+)$", r"条件 `\1` 无法运行：\2"),
    (r"^condition is empty", "条件为空；请填写条件（例如 decision == 'approve'）或删除条件"),
    (r"^this flow out of (.+) has no condition", r"从 \1 出发的这条连线没有条件"),
    (r"^flow leads (from|to) '([^']*)', which does not exist", r"连线指向不存在的元素“\2”"),
    (r"^(.+) has an outgoing flow; nothing runs after an end event$", r"\1 有出线；结束事件之后不再运行任何内容"),
    (r"^(.+) has an incoming flow; nothing can lead into a start or boundary event$",
     r"\1 有入线；开始事件或边界事件不能有入线"),
    (r"^the condition on this flow is ignored", "此连线上的条件会被忽略：只有排他网关或包容网关的出线按条件选择"),
    (r"^the default flow's condition is ignored", "默认连线的条件会被忽略（其他条件都不成立时走默认连线）"),
    (r"^the id '([^']*)' is used twice", r"编号“\1”重复使用"),
    (r"^unknown form '([^']*)'", r"未知的表单“\1”"),
    (r"^unknown operation '([^']*)'", r"未知的操作“\1”"),
    (r"^unknown role '([^']*)'", r"未知的角色“\1”"),
    (r"^version (\S+) of module '([^']*)' was already uploaded with other content",
     r"模块“\2”的版本 \1 已用其他内容发布过；已发布的版本不能修改，请提高版本号"),
    (r"^module '([^']*)' ships with the installation", r"模块“\1”随系统安装提供，模块包不能替换它（请换一个模块编号）"),
    (r"^process id '([^']*)' belongs to module '([^']*)'", r"流程编号“\1”属于模块“\2”；请为流程改名"),
    (r"^it is not a valid expression \((.+)\)$", r"不是有效的表达式（\1）"),
]]


def translate(reason: str, locale: str) -> str:
    """The validator's English reason in the user's language (English when no pattern fits)."""
    if locale != "zh":
        return reason
    prefix = ""
    if reason.startswith("warning: "):
        prefix, reason = "警告：", reason[len("warning: "):]
    for pattern, zh in _ZH:
        match = pattern.search(reason)
        if match:
            head, sep, tail = match.expand(zh).partition("：")  # "…无法运行：<the reason>": that too
            return prefix + head + sep + (translate(tail, locale) if sep else "")
    return prefix + reason


def finding(error: AssetError, locale: str) -> dict:
    return {"path": error.file, "line": error.line, "element": error.element,
            "message": translate(error.reason, locale), "severity": "warning" if error.is_warning else "error"}


def draft_bytes(draft: StudioDraft) -> dict[str, bytes]:
    return {p: t.encode("utf-8") for p, t in (draft.files or {}).items()}


def is_shipped(module_id: str) -> bool:
    """Whether the installation ships this module (a draft of it is a revision of a shipped module)."""
    return (packages._installation_root() / "menus" / f"{module_id}.yaml").is_file()


def package_files(draft: StudioDraft) -> dict[str, bytes]:
    """The draft's files that make the package (saved test cases ride along when packages knows them)."""
    return {p: d for p, d in draft_bytes(draft).items() if packages._kind(p) is not None or not p.startswith("tests/")}


def check_draft(session: Session, draft: StudioDraft) -> packages.PackageCheck:
    """The package check of the whole draft, exactly as an upload would run it."""
    return packages.check_package(package_files(draft), session=session,
                                  revision_of_shipped=is_shipped(draft.module_id))


def lint_draft(session: Session, draft: StudioDraft, locale: str) -> list[dict]:
    """Every finding of the draft: errors first, then warnings, by file and line."""
    check = check_draft(session, draft)
    found = [finding(e, locale) for e in [*check.errors, *check.warnings]]
    return sorted(found, key=lambda f: (f["severity"] != "error", f["path"], f["line"]))


def check_expression(expression: str, locale: str) -> dict:
    """The validator's check of one condition (``${...}`` or bare): ``{ok, message}``."""
    from app.engine.checks import _plain
    from app.engine.evaluator import EvaluationError, validate_expression

    text = (expression or "").strip()
    if text.startswith("${") and text.endswith("}") and text.count("${") == 1:
        text = text[2:-1].strip()
    if not text:
        return {"ok": False, "message": translate("condition is empty; write one such as decision == 'approve' "
                                                  "or remove the condition element", locale)}
    try:
        validate_expression(text)
    except EvaluationError as err:
        return {"ok": False, "message": translate(f"condition `{text}` cannot run: {_plain(err)}", locale)}
    return {"ok": True, "message": ""}
