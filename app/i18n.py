"""Translations: our catalog is kept as a .po file and compiled on start-up.

The .mo binary is a build product (git-ignored); compiling a few hundred strings
takes milliseconds, so a fresh checkout needs no extra build step.
"""
from __future__ import annotations

from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"
LANGUAGES = {
    "zh": {"flag": "cn", "name": "简体中文"},
    "en": {"flag": "gb", "name": "English"},
}


def extra_translations(locale: str) -> dict[str, str]:
    """Translations kept beside their code: each domain's ``translations.<locale>.yaml``
    and the platform's ``translations/extra/*.<locale>.yaml``.

    Each domain's strings live in its own small file (English msgid → translation),
    so domains add translations without editing the shared .po file.
    """
    import yaml

    from app.platform.discovery import translation_files

    merged: dict[str, str] = {}
    for path in translation_files(locale):
        merged.update(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    return merged


def compile_catalogs(directory: Path = TRANSLATIONS_DIR) -> None:
    """Compile every messages.po (plus its extra/*.yaml) newer than its .mo."""
    for po_path in directory.glob("*/LC_MESSAGES/messages.po"):
        mo_path = po_path.with_suffix(".mo")
        locale = po_path.parent.parent.name
        from app.platform.discovery import translation_files

        sources = [po_path, *translation_files(locale)]
        if mo_path.exists() and all(mo_path.stat().st_mtime >= p.stat().st_mtime for p in sources):
            continue
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file)
        for msgid, text in extra_translations(locale).items():
            catalog.add(msgid, text)
        tmp = mo_path.with_suffix(".mo.tmp")
        with tmp.open("wb") as mo_file:
            write_mo(mo_file, catalog)
        tmp.replace(mo_path)


def pick(text: dict[str, str] | str | None, locale: str | None) -> str:
    """Choose the zh/en variant of a bilingual asset string (menus, forms, profiles)."""
    if text is None:
        return ""
    if isinstance(text, str):
        return text
    lang = (locale or "zh")[:2]
    return text.get(lang) or text.get("zh") or text.get("en") or ""
