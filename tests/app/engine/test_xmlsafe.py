"""Issue #12, item 2: an uploaded model cannot carry code that runs in an admin's browser.

The probe stored XHTML ``<h:script>`` and an ``onerror`` attribute in a BPMN upload and had
``/instances/bpmn/<id>`` serve it as ``application/xml``. Upload validation now refuses what a
browser would run (app/engine/xmlsafe.py, ``file:line: element: reason``), keeps the extension
namespaces modelers write, and the file is served as a download (tests/app/web/
test_model_download.py).
"""
from __future__ import annotations

from pathlib import Path

import pytest

from app.engine.validation import validate_bpmn
from app.engine.xmlsafe import parse_xml
from app.roles import KNOWN_ROLES

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = Path(__file__).parent / "fixtures"
GATEWAYS = (FIXTURES / "gateways.bpmn").read_bytes()
NS = (b'xmlns:h="http://www.w3.org/1999/xhtml" xmlns:svg="http://www.w3.org/2000/svg" '
      b'xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:x="urn:whatever" ')
START = b'<bpmn:startEvent id="start" />'  # line 9 of gateways.bpmn


def _upload(inject: bytes, replace: bytes = START) -> list:
    data = GATEWAYS.replace(b"<bpmn:definitions ", b"<bpmn:definitions " + NS, 1)
    assert replace in data
    data = data.replace(replace, inject, 1)
    return validate_bpmn(data, "evil.bpmn", {"test/request", "test/approve"},
                         {"notify.log", "data.set"}, set(KNOWN_ROLES))


ATTACKS = {
    "xhtml_script": ((b'<bpmn:startEvent id="start"><bpmn:documentation><h:script>alert(1)'
                     b'</h:script></bpmn:documentation></bpmn:startEvent>'),
                     "h:script", "XHTML elements are not allowed"),
    "xhtml_img_onerror": ((b'<bpmn:startEvent id="start"><bpmn:extensionElements><h:img src="x" '
                          b'onerror="alert(1)"/></bpmn:extensionElements></bpmn:startEvent>'),
                          "h:img", "not allowed"),
    "svg_script": ((b'<bpmn:startEvent id="start"><svg:script>alert(1)</svg:script>'
                   b'</bpmn:startEvent>'), "svg:script", "SVG elements are not allowed"),
    "script_other_namespace": ((b'<bpmn:startEvent id="start"><x:script>alert(1)</x:script>'
                               b'</bpmn:startEvent>'), "x:script",
                               "script elements are not allowed outside BPMN"),
    "script_upper_case": ((b'<bpmn:startEvent id="start"><x:SCRIPT>alert(1)</x:SCRIPT>'
                          b'</bpmn:startEvent>'), "x:SCRIPT", "script elements are not allowed"),
    "onerror_on_bpmn_element": (b'<bpmn:startEvent id="start" onerror="alert(1)" />', "start",
                                "attribute 'onerror' is not allowed"),
    "onload_mixed_case_namespaced": (b'<bpmn:startEvent id="start" x:OnLoad="alert(1)" />',
                                     "start", "attribute 'x:OnLoad' is not allowed"),
    "javascript_href": (b'<bpmn:startEvent id="start" x:href="javascript:alert(1)" />',
                        "start", "'javascript:' URLs are not allowed"),
    "javascript_xlink_href": (b'<bpmn:startEvent id="start" xlink:href="JaVaScRiPt:alert(1)" />',
                              "start", "attribute 'xlink:href': 'javascript:'"),
    "javascript_whitespace_and_entities": (
        b'<bpmn:startEvent id="start" x:href=" &#x20;java&#x09;scr&#10;ipt&#x3A;alert(1)" />',
        "start", "'javascript:' URLs are not allowed"),
    "javascript_char_references": (
        b'<bpmn:startEvent id="start" name="&#106;&#97;vascript:alert(1)" />',
        "start", "'javascript:' URLs are not allowed"),
    "vbscript": (b'<bpmn:startEvent id="start" x:src="vbscript:msgbox(1)" />', "start",
                 "'vbscript:' URLs"),
    "data_url_in_href": ((b'<bpmn:startEvent id="start" xlink:href="data:text/html,&lt;script&gt;'
                         b'alert(1)&lt;/script&gt;" />'), "start", "'data:' URLs"),
}


@pytest.mark.parametrize("inject, element, reason", ATTACKS.values(), ids=list(ATTACKS))
def test_browser_code_is_refused_at_upload(inject: bytes, element: str, reason: str) -> None:
    errors = _upload(inject)
    assert errors, "must be refused"
    first = errors[0]
    assert (first.file, first.line, first.element) == ("evil.bpmn", 9, element)
    assert reason in first.reason
    assert str(first).startswith(f"evil.bpmn:9: {element}: ")


def test_stylesheet_processing_instruction_is_refused() -> None:
    data = GATEWAYS.replace(b'<?xml version="1.0" encoding="UTF-8"?>\n',
                            b'<?xml version="1.0" encoding="UTF-8"?>\n'
                            b'<?xml-stylesheet type="text/xsl" href="data:,x"?>\n', 1)
    tree, errors = parse_xml(data, "evil.bpmn")
    assert tree is None
    assert [(e.line, e.element) for e in errors] == [(2, "xml-stylesheet")]


def test_every_problem_is_reported_not_only_the_first() -> None:
    errors = _upload(b'<bpmn:startEvent id="start" onclick="a()" x:href="javascript:b()">'
                     b'<h:script>c()</h:script></bpmn:startEvent>')
    assert len(errors) == 3


def test_bpmn_script_tasks_and_modeler_namespaces_are_kept() -> None:
    """bpmn:script is a script task's body; bioc/color/modeler/camunda/bpmn.io attributes stay."""
    data = (ROOT / "bpmn" / "notice" / "notice.bpmn").read_bytes()
    data = data.replace(
        b'<bpmn:definitions ',
        b'<bpmn:definitions xmlns:bioc="http://bpmn.io/schema/bpmn/biocolor/1.0" '
        b'xmlns:color="http://www.omg.org/spec/BPMN/non-normative/color/1.0" '
        b'xmlns:modeler="http://camunda.org/schema/modeler/1.0" '
        b'modeler:executionPlatform="Camunda Platform" modeler:executionPlatformVersion="7.20.0" ', 1)
    data = data.replace(b"<bpmndi:BPMNShape ",
                        b'<bpmndi:BPMNShape bioc:stroke="#0d4372" bioc:fill="#bbdefb" '
                        b'color:background-color="#bbdefb" color:border-color="#0d4372" ', 1)
    assert data.count(b"bioc:stroke") == 1
    tree, errors = parse_xml(data, "notice.bpmn")
    assert errors == [] and tree is not None
    tree, errors = parse_xml(GATEWAYS, "gateways.bpmn")  # has bpmn:script bodies
    assert errors == [] and b"<bpmn:script>" in GATEWAYS
    # harmless text mentioning javascript stays (only URL-like attribute values count)
    assert _upload(b'<bpmn:startEvent id="start" name="Read the javascript: guide" />') == []


def test_every_bpmn_of_the_repository_still_parses() -> None:
    files = [*ROOT.joinpath("bpmn").rglob("*.bpmn"),
             *(p for p in ROOT.joinpath("tests").rglob("*.bpmn") if "broken" not in p.parts)]
    assert len(files) > 10
    for path in files:
        _tree, errors = parse_xml(path.read_bytes(), path.name)
        assert errors == [], errors
