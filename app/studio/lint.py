"""Lint on save: the whole draft through the package check (``estateflow validate``'s findings),
as the studio's findings ``{path, line, element, message, severity}``, in the user's language.

The validator words its reasons in English (they are the same words ``estateflow validate``
prints); ``app.assets.translate`` words every one of them in Chinese for a Chinese-reading
consultant (``translate`` and ``finding`` are also importable from here).
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from app.assets.translate import finding, translate  # noqa: F401 - translate also imported from here
from app.modules import packages
from app.studio.models import StudioDraft


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
