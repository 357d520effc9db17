"""Parsing untrusted BPMN uploads without XXE, entity bombs or oversized input.

A DOCTYPE has no use in BPMN, so any DTD or entity declaration is refused before
lxml sees the bytes; the lxml parser is additionally locked down (no entity
resolution, no network, no DTD loading) as a second fence.
"""
from __future__ import annotations

import re

from lxml import etree

from app.assets.errors import AssetError
from app.settings import get_settings

_FORBIDDEN = re.compile(rb"<!(DOCTYPE|ENTITY)", re.IGNORECASE)


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=False,
    )


def parse_xml(data: bytes, filename: str) -> tuple[etree._ElementTree | None, list[AssetError]]:
    """Return (tree, []) or (None, errors) with the file and line of the problem."""
    limit = get_settings().bpmn_max_bytes
    if len(data) > limit:
        return None, [AssetError(filename, 1, "file", f"larger than {limit} bytes")]
    found = _FORBIDDEN.search(data)
    if found:
        line = data.count(b"\n", 0, found.start()) + 1
        return None, [
            AssetError(filename, line, "DOCTYPE", "DTDs and entity declarations are not allowed")
        ]
    try:
        tree = etree.ElementTree(etree.fromstring(data, _parser()))
    except etree.XMLSyntaxError as exc:
        line = exc.lineno or 1
        return None, [AssetError(filename, line, "xml", f"malformed XML: {exc.msg}")]
    if tree.docinfo.doctype:
        return None, [AssetError(filename, 1, "DOCTYPE", "DTDs are not allowed")]
    return tree, []
