"""Parsing untrusted BPMN uploads without XXE, entity bombs, oversized input or browser code.

A DOCTYPE has no use in BPMN, so any DTD or entity declaration is refused before
lxml sees the bytes; the lxml parser is additionally locked down (no entity
resolution, no network, no DTD loading) as a second fence.

A model file is also shown to other people (an admin opens the instance page of a consultant's
model), so whatever could run in a browser is refused too (:func:`active_content_errors`):
``script`` elements of any namespace but BPMN's own script task body, XHTML/SVG/XSLT/XInclude
elements, ``xml-stylesheet`` processing instructions, ``on*`` event-handler attributes, and
``javascript:``/``vbscript:``/``data:`` URLs (after the parser has decoded character references,
with case, whitespace and control characters normalised the way browsers do). Harmless extension
namespaces modelers write (bioc, color, modeler, camunda, bpmn.io DI) stay. The platform also
serves stored models only as ``text/plain`` downloads (app/web/views/instances.py); this is the
second fence.
"""
from __future__ import annotations

import re

from lxml import etree

from app.assets.errors import AssetError
from app.settings import get_settings

_FORBIDDEN = re.compile(rb"<!(DOCTYPE|ENTITY)", re.IGNORECASE)

BPMN_MODEL_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
_ACTIVE_NAMESPACES = {
    "http://www.w3.org/1999/xhtml": "XHTML",
    "http://www.w3.org/2000/svg": "SVG",
    "http://www.w3.org/1998/Math/MathML": "MathML",
    "http://www.w3.org/1999/XSL/Transform": "XSLT",
    "http://www.w3.org/2001/XInclude": "XInclude",
    "http://www.w3.org/2001/xml-events": "XML Events",
}
"""Namespaces whose elements a browser renders or executes; BPMN has no use for them."""
_ACTIVE_ELEMENTS = frozenset({
    "script", "iframe", "frame", "frameset", "object", "embed", "applet", "foreignobject",
    "handler", "listener", "base", "meta", "link", "style", "form", "img", "image", "svg",
    "html", "body", "animate", "set", "use",
})
"""Local names refused in every namespace except BPMN's own (``bpmn:script`` is a script
task's body, not browser code)."""
_URL_SCHEMES = ("javascript:", "vbscript:", "livescript:")
_URL_ATTRIBUTES = frozenset({
    "href", "src", "action", "formaction", "data", "codebase", "background", "poster",
    "lowsrc", "dynsrc", "xlink", "srcdoc", "values", "to", "from", "by",
})
_INVISIBLE = re.compile(r"[\x00-\x20\x7f\u00a0\u1680\u180e\u2000-\u200f\u2028\u2029\u202f"
                        r"\u205f\u3000\ufeff]+")


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
    if tree.getroot().tag != f"{{{BPMN_MODEL_NS}}}definitions":
        return tree, []  # not BPMN at all: validation refuses it as such, in one sentence
    errors = active_content_errors(tree, filename)
    if errors:
        return None, errors
    return tree, []


def _qualified(node: etree._Element) -> str:
    if not isinstance(node.tag, str):
        return "processing instruction"
    local = etree.QName(node).localname
    return f"{node.prefix}:{local}" if node.prefix else local


def _url_scheme(value: str) -> str | None:
    """The dangerous scheme ``value`` starts with, read as a browser reads a URL."""
    squeezed = _INVISIBLE.sub("", value).lower()
    for scheme in _URL_SCHEMES:
        if squeezed.startswith(scheme):
            return scheme
    if squeezed.startswith("data:"):
        return "data:"
    return None


def active_content_errors(tree: etree._ElementTree, filename: str) -> list[AssetError]:
    """Everything in the document that could run in a browser, as ``file:line: element: reason``."""
    errors: list[AssetError] = []
    root = tree.getroot()
    for sibling in (*root.itersiblings(preceding=True), *root.itersiblings()):
        if isinstance(sibling, etree._ProcessingInstruction) \
                and sibling.target.lower() == "xml-stylesheet":
            errors.append(AssetError(filename, sibling.sourceline or 1, "xml-stylesheet",
                                     "stylesheet processing instructions are not allowed "
                                     "(a browser would run them)"))
    for node in root.iter():
        line = node.sourceline or 1
        if isinstance(node, etree._ProcessingInstruction):
            if node.target.lower() == "xml-stylesheet":
                errors.append(AssetError(filename, line, "xml-stylesheet",
                                         "stylesheet processing instructions are not allowed "
                                         "(a browser would run them)"))
            continue
        if not isinstance(node.tag, str):  # comments
            continue
        qname = etree.QName(node)
        namespace, local = qname.namespace or "", qname.localname
        element = _qualified(node)
        if namespace in _ACTIVE_NAMESPACES:
            errors.append(AssetError(filename, line, element,
                                     f"{_ACTIVE_NAMESPACES[namespace]} elements are not allowed "
                                     "in a model (a browser would render or run them)"))
        elif namespace != BPMN_MODEL_NS and local.lower() in _ACTIVE_ELEMENTS:
            what = "script elements" if local.lower() == "script" else f"'{local}' elements"
            errors.append(AssetError(filename, line, element,
                                     f"{what} are not allowed outside BPMN (a browser would run "
                                     "them)"))
        owner = node.get("id") or element  # attributes: named by the element's id, like validation
        for name, value in node.attrib.items():
            attr = etree.QName(name)
            attr_local = attr.localname.lower()
            shown = f"{_prefix_of(node, attr.namespace)}{attr.localname}"
            if attr_local.startswith("on") and len(attr_local) > 2:
                errors.append(AssetError(filename, line, owner,
                                         f"attribute '{shown}' is not allowed (event handlers "
                                         "run in a browser)"))
                continue
            scheme = _url_scheme(value)
            if scheme is None:
                continue
            if scheme != "data:" or attr_local in _URL_ATTRIBUTES:
                errors.append(AssetError(filename, line, owner,
                                         f"attribute '{shown}': '{scheme}' URLs are not allowed "
                                         "(a browser would run them)"))
    return errors


def _prefix_of(node: etree._Element, namespace: str | None) -> str:
    if not namespace:
        return ""
    for prefix, uri in (node.nsmap or {}).items():
        if uri == namespace and prefix:
            return f"{prefix}:"
    return "{" + namespace + "}"
