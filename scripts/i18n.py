"""Developer tool: extract translatable strings and merge them into the zh catalog.

    .venv/bin/python scripts/i18n.py          # update app/translations/zh/.../messages.po
    .venv/bin/python scripts/i18n.py --check  # exit 1 if any string lacks a zh translation

The test suite runs the check, so a new English string without Chinese fails CI.
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "app" / "translations" / "zh" / "LC_MESSAGES" / "messages.po"


def extract() -> Catalog:
    with tempfile.TemporaryDirectory() as tmp:
        pot = Path(tmp) / "messages.pot"
        subprocess.run(
            [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", str(ROOT / "babel.cfg"),
             "-k", "lazy_gettext", "-k", "_l", "--no-location", "-o", str(pot), str(ROOT)],
            check=True, capture_output=True, cwd=ROOT,
        )
        with pot.open("rb") as fh:
            return read_po(fh)


def load_po() -> Catalog:
    if not PO.exists():
        return Catalog(locale="zh")
    with PO.open("rb") as fh:
        return read_po(fh, locale="zh")


def missing(template: Catalog, po: Catalog) -> list[str]:
    sys.path.insert(0, str(ROOT))
    from app.i18n import extra_translations

    extra = extra_translations("zh")
    return [m.id for m in template
            if m.id and not (po.get(m.id) and po.get(m.id).string) and not extra.get(m.id)]


def main(argv: list[str]) -> int:
    template = extract()
    po = load_po()
    if "--check" in argv:
        gaps = missing(template, po)
        for gap in gaps:
            print(f"untranslated: {gap!r}")
        return 1 if gaps else 0
    po.update(template, no_fuzzy_matching=True)
    PO.parent.mkdir(parents=True, exist_ok=True)
    with PO.open("wb") as fh:
        write_po(fh, po, no_location=True, omit_header=False, sort_output=True, ignore_obsolete=True)
    print(f"{len(missing(template, po))} untranslated")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
